//! Committed test vectors for the envelope, wrapped-key and keyring formats
//! (docs/formats/vectors/). Invariant: the bytes this build writes for fixed
//! keys and nonces are exactly the committed ones, and the committed ones
//! read back. The fixed-nonce paths used here are test-only.
//!
//! Regenerate after a deliberate format change (a new version, never an
//! edit of v1): `REMPART_WRITE_VECTORS=1 cargo test -p rempart-crypto vectors`.

#![allow(clippy::cast_possible_truncation)] // small fixed test indices

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::binding::{Binding, Purpose};
use crate::envelope::{DataKey, DataKeyId};
use crate::environment::Environment;
use crate::keyring::{EnvironmentKeys, Kek, Keyring, SealContext, TenantKey};
use crate::passphrase::{KdfParams, PassphraseProvider, encode_params};
use crate::root_key::{ProviderKind, RootKeyProvider};
use crate::secret::{KeyBytes, RootKey};
use crate::shamir::ShamirProvider;
use crate::signing::AuditSigningKey;
use crate::usage::{UsageBound, UsageCounter};
use crate::wrapped_key::wrapping_key;
use crate::{KeyFileProvider, keyring_file};

fn dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/formats/vectors")
        .join(kind)
}

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn arr<const N: usize>(seed: u8) -> [u8; N] {
    bytes(seed, N).try_into().unwrap()
}

fn tenant() -> Uuid {
    Uuid::parse_str("0190d5a8-3c2e-7a4b-8f00-112233445566").unwrap()
}

fn at(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(s).unwrap()
}

fn binding_json(b: &Binding) -> Value {
    json!({
        "environment": b.environment.as_str(),
        "tenant": b.tenant.map(|t| t.to_string()),
        "purpose": b.purpose.as_str(),
    })
}

fn envelope_cases() -> Value {
    let cases = [
        (None, "platform:settings", b"".as_slice(), b"".as_slice()),
        (
            Some(tenant()),
            "vault:customers.email",
            b"customers/42/email".as_slice(),
            b"alice@example.com".as_slice(),
        ),
    ];
    let mut out = Vec::new();
    for (i, (tenant, purpose, record, plaintext)) in cases.into_iter().enumerate() {
        let seed = 0x10 * (i as u8 + 1);
        let binding = Binding::new(
            Environment::production(),
            tenant,
            Purpose::new(purpose).unwrap(),
        );
        let key_bytes: [u8; 32] = arr(seed);
        let id = DataKeyId::from_bytes(arr(seed + 0x40));
        let nonce: [u8; 12] = arr(seed + 0x80);
        let key = DataKey::new(
            id,
            binding.clone(),
            &KeyBytes::from_array(key_bytes),
            0,
            UsageBound::default(),
        )
        .unwrap();
        let envelope = key.encrypt_with_nonce(nonce, record, plaintext).unwrap();
        let mut aad = b"rempart/envelope/v1\x01".to_vec();
        aad.extend_from_slice(id.as_bytes());
        binding.encode(&mut aad);
        aad.extend_from_slice(&u32::try_from(record.len()).unwrap().to_be_bytes());
        aad.extend_from_slice(record);
        out.push(json!({
            "data_key": hex::encode(key_bytes),
            "key_id": hex::encode(id.as_bytes()),
            "binding": binding_json(&binding),
            "record": hex::encode(record),
            "nonce": hex::encode(nonce),
            "plaintext": hex::encode(plaintext),
            "aad": hex::encode(aad),
            "envelope": hex::encode(envelope),
        }));
    }
    json!({ "format": "rempart envelope v1", "cases": out })
}

/// A keyring with fixed keys: production (versions 1 and 2, min 1),
/// development (version 1), one enrolled and one shredded tenant.
fn fixed_keyring(seal: SealContext) -> Keyring {
    let kek = |seed, created, wraps| Kek {
        key: KeyBytes::from_array(arr(seed)),
        created_at: at(created),
        wraps: UsageCounter::new(wraps),
    };
    let mut environments = BTreeMap::new();
    environments.insert(
        Environment::production(),
        EnvironmentKeys {
            encryption_version: 2,
            min_decryption_version: 1,
            keks: BTreeMap::from([
                (1, kek(0xA0, 1_767_225_600, 3)),
                (2, kek(0xC0, 1_769_904_000, 0)),
            ]),
        },
    );
    environments.insert(
        Environment::development(),
        EnvironmentKeys {
            encryption_version: 1,
            min_decryption_version: 1,
            keks: BTreeMap::from([(1, kek(0xE0, 1_767_225_600, 0))]),
        },
    );
    let tenants = BTreeMap::from([(
        (Environment::production(), tenant()),
        TenantKey {
            key: KeyBytes::from_array(arr(0x50)),
            enrolled_at: at(1_767_312_000),
        },
    )]);
    let shredded = BTreeMap::from([(
        (Environment::production(), Uuid::from_u128(0xdead)),
        at(1_767_398_400),
    )]);
    Keyring {
        environments,
        tenants,
        shredded,
        audit: AuditSigningKey::from_seed(KeyBytes::from_array(arr(0x70))).unwrap(),
        bound: UsageBound::default(),
        seal,
    }
}

fn keyring_contents_json(k: &Keyring) -> Value {
    json!({
        "audit_signing_seed": hex::encode(k.audit.seed().expose()),
        "audit_public_key": hex::encode(k.audit.public_key()),
        "environments": k.environments.iter().map(|(name, env)| json!({
            "name": name.as_str(),
            "encryption_version": env.encryption_version,
            "min_decryption_version": env.min_decryption_version,
            "keks": env.keks.iter().map(|(v, kek)| json!({
                "version": v,
                "created_at_unix": kek.created_at.unix_timestamp(),
                "wraps": kek.wraps.get(),
                "key": hex::encode(kek.key.expose()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "tenants": k.tenants.iter().map(|((env, t), key)| json!({
            "environment": env.as_str(),
            "tenant": t.to_string(),
            "enrolled_at_unix": key.enrolled_at.unix_timestamp(),
            "key": hex::encode(key.key.expose()),
        })).collect::<Vec<_>>(),
        "shredded": k.shredded.iter().map(|((env, t), when)| json!({
            "environment": env.as_str(),
            "tenant": t.to_string(),
            "shredded_at_unix": when.unix_timestamp(),
        })).collect::<Vec<_>>(),
    })
}

fn wrapped_cases() -> Value {
    let keyring = fixed_keyring(SealContext {
        kind: ProviderKind::KeyFile,
        params: Vec::new(),
        root: RootKey::from_bytes(arr(0x01)),
    });
    let mut out = Vec::new();
    for (i, tenant) in [None, Some(tenant())].into_iter().enumerate() {
        let seed = 0x21 * (i as u8 + 1);
        let binding = Binding::new(
            Environment::production(),
            tenant,
            Purpose::new("vault:customers.email").unwrap(),
        );
        let data_key: [u8; 32] = arr(seed);
        let id = DataKeyId::from_bytes(arr(seed + 0x40));
        let nonce: [u8; 12] = arr(seed + 0x80);
        let wrapped = keyring
            .wrap_with_nonce(id, &binding, data_key, nonce)
            .unwrap();
        let env = &keyring.environments[&Environment::production()];
        let tenant_key = tenant.map(|t| &keyring.tenants[&(Environment::production(), t)].key);
        let wk = wrapping_key(&env.keks[&2].key, tenant_key).unwrap();
        out.push(json!({
            "kek_version": 2,
            "kek": hex::encode(env.keks[&2].key.expose()),
            "tenant_key": tenant_key.map(|k| hex::encode(k.expose())),
            "wrapping_key": hex::encode(wk.expose()),
            "key_id": hex::encode(id.as_bytes()),
            "binding": binding_json(&binding),
            "nonce": hex::encode(nonce),
            "data_key": hex::encode(data_key),
            "aad": hex::encode(wrapped.aad()),
            "wrapped": hex::encode(wrapped.as_bytes()),
        }));
    }
    json!({ "format": "rempart wrapped data key v1", "cases": out })
}

const PASSPHRASE: &str = "correct horse battery staple";

fn keyring_cases() -> Value {
    let root: [u8; 32] = arr(0x01);
    let file_keyring = fixed_keyring(SealContext {
        kind: ProviderKind::KeyFile,
        params: Vec::new(),
        root: RootKey::from_bytes(root),
    });
    let nonce: [u8; 12] = arr(0x90);
    let sealed = keyring_file::seal(&file_keyring, nonce).unwrap();

    let kdf = KdfParams::new(64, 1, 1).unwrap();
    let salt: [u8; 16] = arr(0x30);
    let params = encode_params(kdf, &salt);
    let provider = PassphraseProvider::new(PASSPHRASE.into(), kdf);
    let pass_root = provider.unseal(&params).unwrap();
    let pass_keyring = fixed_keyring(SealContext {
        kind: ProviderKind::Passphrase,
        params: params.clone(),
        root: pass_root.clone(),
    });
    let pass_sealed = keyring_file::seal(&pass_keyring, nonce).unwrap();

    json!({
        "format": "rempart keyring v1",
        "contents": keyring_contents_json(&file_keyring),
        "key_file": {
            "root_key": hex::encode(root),
            "key_file_text": format!("rempart-root-key-1-{}\n", base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, root)),
            "nonce": hex::encode(nonce),
            "sealed": hex::encode(&sealed),
        },
        "passphrase": {
            "passphrase": PASSPHRASE,
            "m_cost_kib": kdf.m_cost_kib,
            "t_cost": kdf.t_cost,
            "p_cost": kdf.p_cost,
            "salt": hex::encode(salt),
            "params": hex::encode(&params),
            "root_key": hex::encode(pass_root.0.expose()),
            "nonce": hex::encode(nonce),
            "sealed": hex::encode(&pass_sealed),
        },
    })
}

fn shamir_cases() -> Value {
    let root = RootKey::from_bytes(arr(0x01));
    let (_, shares) = ShamirProvider::split_key(root, 2, 3).unwrap();
    json!({
        "format": "rempart share v1",
        "threshold": 2,
        "root_key": hex::encode(arr::<32>(0x01)),
        "shares": shares.iter().map(|s| s.expose().to_owned()).collect::<Vec<_>>(),
    })
}

/// The committed vectors `kind/name` (first rewritten from `fresh` when
/// `REMPART_WRITE_VECTORS` is set), asserted equal to `fresh`: changed
/// `what` bytes are a new format version.
fn check_or_write(kind: &str, name: &str, fresh: &Value, what: &str) -> Value {
    let path = dir(kind).join(name);
    if std::env::var_os("REMPART_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(dir(kind)).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(fresh).unwrap() + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let committed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        &committed, fresh,
        "{what} bytes changed: that is a new format version"
    );
    committed
}

fn h(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn envelope_vectors_match() {
    let fresh = envelope_cases();
    let committed = check_or_write("envelope", "envelope-v1.json", &fresh, "envelope");
    for case in committed["cases"].as_array().unwrap() {
        let b = &case["binding"];
        let binding = Binding::new(
            Environment::new(b["environment"].as_str().unwrap()).unwrap(),
            b["tenant"].as_str().map(|t| Uuid::parse_str(t).unwrap()),
            Purpose::new(b["purpose"].as_str().unwrap()).unwrap(),
        );
        let key = DataKey::new(
            DataKeyId::from_bytes(h(&case["key_id"]).try_into().unwrap()),
            binding,
            &KeyBytes::from_slice(&h(&case["data_key"])).unwrap(),
            0,
            UsageBound::default(),
        )
        .unwrap();
        let plain = key
            .decrypt(&h(&case["record"]), &h(&case["envelope"]))
            .unwrap();
        assert_eq!(plain, h(&case["plaintext"]));
    }
}

#[test]
fn wrapped_key_vectors_match() {
    let fresh = wrapped_cases();
    check_or_write(
        "envelope",
        "wrapped-data-key-v1.json",
        &fresh,
        "wrapped key",
    );
}

#[test]
fn keyring_vectors_match_and_open() {
    let fresh = keyring_cases();
    let committed = check_or_write("keyring", "keyring-v1.json", &fresh, "keyring");

    let root = RootKey::from_bytes(h(&committed["key_file"]["root_key"]).try_into().unwrap());
    let opened = Keyring::open(
        &h(&committed["key_file"]["sealed"]),
        &KeyFileProvider::from_root_key(root),
    )
    .unwrap();
    assert_eq!(keyring_contents_json(&opened), committed["contents"]);

    let provider = PassphraseProvider::new(PASSPHRASE.into(), KdfParams::default());
    let opened = Keyring::open(&h(&committed["passphrase"]["sealed"]), &provider).unwrap();
    assert_eq!(keyring_contents_json(&opened), committed["contents"]);
}

#[test]
fn share_vectors_recover_root_key() {
    let fresh = shamir_cases();
    // Shares are random by construction: written once if missing, then only read.
    let path = dir("keyring").join("shares-v1.json");
    if !path.exists() {
        std::fs::create_dir_all(dir("keyring")).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&fresh).unwrap() + "\n").unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let shares: Vec<&str> = committed["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for pair in [[0, 1], [1, 2], [2, 0]] {
        let provider = ShamirProvider::combine(&[shares[pair[0]], shares[pair[1]]]).unwrap();
        assert_eq!(
            hex::encode(provider.key_bytes_for_tests()),
            committed["root_key"].as_str().unwrap()
        );
    }
}
