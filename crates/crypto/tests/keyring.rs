//! End-to-end behaviour of the public API: sealing and unsealing with each
//! root-key source, environment and tenant isolation, rotation, retirement,
//! shredding, and property tests that any byte or binding change fails.
// Test helpers outside `#[test]` functions: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use rempart_crypto::{
    Binding, CryptoError, DataKey, Environment, KdfParams, KeyFileProvider, Keyring,
    PassphraseProvider, Purpose, RootKey, SealDescription, ShamirProvider, UsageBound,
    WrappedDataKey, describe_sealed,
};
use time::OffsetDateTime;
use uuid::Uuid;

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
}

fn prod() -> Environment {
    Environment::production()
}

fn dev() -> Environment {
    Environment::development()
}

fn fast_kdf() -> KdfParams {
    KdfParams::new(64, 1, 1).unwrap()
}

fn file_provider() -> KeyFileProvider {
    KeyFileProvider::from_root_key(RootKey::generate().unwrap())
}

fn keyring(provider: &KeyFileProvider) -> Keyring {
    Keyring::create(provider, &[prod(), dev()], t0()).unwrap()
}

fn binding(env: Environment, tenant: Option<Uuid>, purpose: &str) -> Binding {
    Binding::new(env, tenant, Purpose::new(purpose).unwrap())
}

#[test]
fn key_file_keyring_saves_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("root.key");
    let ring_path = dir.path().join("keyring");
    let provider = KeyFileProvider::create(&key_path).unwrap();
    let ring = keyring(&provider);
    ring.save(&ring_path).unwrap();
    let (key, wrapped) = ring.new_data_key(&binding(prod(), None, "p")).unwrap();
    let ct = key.encrypt(b"r", b"hello").unwrap();

    let reopened = Keyring::load(&ring_path, &KeyFileProvider::load(&key_path).unwrap()).unwrap();
    let key = reopened
        .unwrap_data_key(&wrapped, &binding(prod(), None, "p"), 1)
        .unwrap();
    assert_eq!(key.decrypt(b"r", &ct).unwrap(), b"hello");
    assert_eq!(key.usage().encryptions, 1);
    assert_eq!(
        reopened.audit_signing_key().public_key(),
        ring.audit_signing_key().public_key()
    );

    let other = KeyFileProvider::create(&dir.path().join("other.key")).unwrap();
    assert!(matches!(
        Keyring::load(&ring_path, &other),
        Err(CryptoError::RootKeyRejected)
    ));
}

#[test]
fn passphrase_keyring_rejects_wrong_passphrase() {
    let right = PassphraseProvider::new("right".into(), fast_kdf());
    let ring = Keyring::create(&right, &[prod()], t0()).unwrap();
    let sealed = ring.to_sealed_bytes().unwrap();
    assert!(Keyring::open(&sealed, &right).is_ok());
    let wrong = PassphraseProvider::new("wrong".into(), fast_kdf());
    let err = Keyring::open(&sealed, &wrong).unwrap_err();
    assert!(matches!(err, CryptoError::RootKeyRejected));
    assert!(!err.to_string().contains("right"));
    assert_eq!(
        describe_sealed(&sealed).unwrap(),
        SealDescription::Passphrase { kdf: fast_kdf() }
    );
    assert!(matches!(
        Keyring::open(&sealed, &file_provider()),
        Err(CryptoError::RootKeyProviderMismatch { .. })
    ));
}

#[test]
fn shamir_keyring_unseals_with_any_threshold_and_detects_bad_shares() {
    let (provider, shares) = ShamirProvider::split(2, 3).unwrap();
    let ring = Keyring::create(&provider, &[prod()], t0()).unwrap();
    let sealed = ring.to_sealed_bytes().unwrap();
    let texts: Vec<String> = shares.iter().map(|s| s.expose().to_owned()).collect();
    let combined = ShamirProvider::combine(&[&texts[2], &texts[0]]).unwrap();
    Keyring::open(&sealed, &combined).unwrap();
    assert_eq!(
        describe_sealed(&sealed).unwrap(),
        SealDescription::Shamir {
            threshold: 2,
            shares: 3
        }
    );

    let mut typo = texts[0].clone();
    typo.pop();
    assert!(matches!(
        ShamirProvider::combine(&[&texts[1], &typo]),
        Err(CryptoError::CorruptShare { number: 2 })
    ));
    let (_, foreign) = ShamirProvider::split(2, 3).unwrap();
    let foreign: Vec<String> = foreign.iter().map(|s| s.expose().to_owned()).collect();
    let wrong = ShamirProvider::combine(&[&foreign[0], &foreign[1]]).unwrap();
    assert!(matches!(
        Keyring::open(&sealed, &wrong),
        Err(CryptoError::SharesForAnotherKeyring)
    ));
}

#[test]
fn reseal_changes_root_key_but_not_data_keys() {
    let old = file_provider();
    let mut ring = keyring(&old);
    let b = binding(prod(), None, "p");
    let (key, wrapped) = ring.new_data_key(&b).unwrap();
    let ct = key.encrypt(b"r", b"v").unwrap();

    let (shamir, _) = ShamirProvider::split(2, 2).unwrap();
    ring.reseal(&shamir).unwrap();
    let sealed = ring.to_sealed_bytes().unwrap();
    assert!(Keyring::open(&sealed, &old).is_err());
    let reopened = Keyring::open(&sealed, &shamir).unwrap();
    let key = reopened.unwrap_data_key(&wrapped, &b, 0).unwrap();
    assert_eq!(key.decrypt(b"r", &ct).unwrap(), b"v");
}

#[test]
fn corrupt_truncated_and_foreign_files_are_refused() {
    let provider = file_provider();
    let sealed = keyring(&provider).to_sealed_bytes().unwrap();
    for len in [0, 5, 12, 40, sealed.len() - 1] {
        let err = Keyring::open(&sealed[..len], &provider).unwrap_err();
        assert!(
            matches!(
                err,
                CryptoError::NotAKeyring | CryptoError::Truncated { .. }
            ),
            "{len}: {err}"
        );
    }
    let mut bad = sealed.clone();
    bad[0] ^= 1;
    assert!(matches!(
        Keyring::open(&bad, &provider),
        Err(CryptoError::NotAKeyring)
    ));
    let mut bad = sealed.clone();
    bad[9] = 9;
    assert!(matches!(
        Keyring::open(&bad, &provider),
        Err(CryptoError::UnsupportedVersion { version: 9, .. })
    ));
    let mut bad = sealed.clone();
    bad[10] = 77;
    assert!(matches!(
        Keyring::open(&bad, &provider),
        Err(CryptoError::UnknownRootKeyProvider { kind: 77 })
    ));
    let mut bad = sealed.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    assert!(matches!(
        Keyring::open(&bad, &provider),
        Err(CryptoError::RootKeyRejected)
    ));
    let mut bad = sealed;
    bad.push(0);
    assert!(matches!(
        Keyring::open(&bad, &provider),
        Err(CryptoError::Malformed { .. })
    ));
}

#[test]
fn development_cannot_decrypt_production_and_vice_versa() {
    let provider = file_provider();
    let ring = keyring(&provider);
    let (prod_key, prod_wrapped) = ring.new_data_key(&binding(prod(), None, "p")).unwrap();
    let (_, dev_wrapped) = ring.new_data_key(&binding(dev(), None, "p")).unwrap();
    assert!(matches!(
        ring.unwrap_data_key(&prod_wrapped, &binding(dev(), None, "p"), 0),
        Err(CryptoError::BindingMismatch)
    ));
    assert!(matches!(
        ring.unwrap_data_key(&dev_wrapped, &binding(prod(), None, "p"), 0),
        Err(CryptoError::BindingMismatch)
    ));
    // Relabel the wrapped key's environment: the AEAD refuses it.
    let relabelled = relabel(&prod_wrapped, b"production", b"development");
    assert!(matches!(
        ring.unwrap_data_key(&relabelled, &binding(dev(), None, "p"), 0),
        Err(CryptoError::DecryptionFailed)
    ));
    // A separately created development-only keyring knows nothing of production.
    let dev_ring = Keyring::create(&file_provider(), &[dev()], t0()).unwrap();
    assert!(matches!(
        dev_ring.unwrap_data_key(&prod_wrapped, &binding(prod(), None, "p"), 0),
        Err(CryptoError::UnknownEnvironment { .. })
    ));
    let other_prod = keyring(&file_provider());
    assert!(matches!(
        other_prod.unwrap_data_key(&prod_wrapped, &binding(prod(), None, "p"), 0),
        Err(CryptoError::DecryptionFailed)
    ));
    // A ciphertext made in production does not open under a development key.
    let ct = prod_key.encrypt(b"r", b"secret").unwrap();
    let dev_key = ring
        .unwrap_data_key(&dev_wrapped, &binding(dev(), None, "p"), 0)
        .unwrap();
    assert!(dev_key.decrypt(b"r", &ct).is_err());
}

fn relabel(wrapped: &WrappedDataKey, from: &[u8], to: &[u8]) -> WrappedDataKey {
    let bytes = wrapped.as_bytes();
    let pos = bytes.windows(from.len()).position(|w| w == from).unwrap();
    let mut out = bytes[..pos - 1].to_vec();
    out.push(u8::try_from(to.len()).unwrap());
    out.extend_from_slice(to);
    out.extend_from_slice(&bytes[pos + from.len()..]);
    WrappedDataKey::from_bytes(out).unwrap()
}

#[test]
fn tenants_are_isolated_and_shredding_is_final() {
    let mut ring = keyring(&file_provider());
    let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
    assert!(matches!(
        ring.new_data_key(&binding(prod(), Some(a), "p")),
        Err(CryptoError::TenantNotEnrolled { .. })
    ));
    ring.enroll_tenant(&prod(), a, t0()).unwrap();
    ring.enroll_tenant(&prod(), b, t0()).unwrap();
    let (key_a, wrapped_a) = ring.new_data_key(&binding(prod(), Some(a), "p")).unwrap();
    let ct = key_a.encrypt(b"r", b"tenant a data").unwrap();
    assert!(matches!(
        ring.unwrap_data_key(&wrapped_a, &binding(prod(), Some(b), "p"), 0),
        Err(CryptoError::BindingMismatch)
    ));

    // Keep a "backup" of the keyring file before shredding.
    let provider = file_provider();
    ring.reseal(&provider).unwrap();
    let backup = ring.to_sealed_bytes().unwrap();
    ring.shred_tenant(&prod(), a, t0()).unwrap();
    assert!(matches!(
        ring.unwrap_data_key(&wrapped_a, &binding(prod(), Some(a), "p"), 0),
        Err(CryptoError::TenantShredded { .. })
    ));
    assert!(matches!(
        ring.enroll_tenant(&prod(), a, t0()),
        Err(CryptoError::TenantShredded { .. })
    ));
    let after = Keyring::open(&ring.to_sealed_bytes().unwrap(), &provider).unwrap();
    assert!(
        after
            .unwrap_data_key(&wrapped_a, &binding(prod(), Some(a), "p"), 0)
            .is_err()
    );
    assert_eq!(after.status().unwrap().tenants_shredded, 1);
    // The honest limit, documented: an older keyring copy still opens it.
    let old = Keyring::open(&backup, &provider).unwrap();
    let key = old
        .unwrap_data_key(&wrapped_a, &binding(prod(), Some(a), "p"), 0)
        .unwrap();
    assert_eq!(key.decrypt(b"r", &ct).unwrap(), b"tenant a data");
}

#[test]
fn rotation_rewrap_retirement_and_purge() {
    let mut ring = keyring(&file_provider());
    let b = binding(prod(), None, "p");
    let (key, v1) = ring.new_data_key(&b).unwrap();
    let ct = key.encrypt(b"r", b"v").unwrap();
    assert_eq!(v1.kek_version(), 1);
    assert_eq!(ring.rotate(&prod(), t0()).unwrap(), 2);
    let (_, fresh) = ring.new_data_key(&b).unwrap();
    assert_eq!(fresh.kek_version(), 2);
    assert!(
        ring.unwrap_data_key(&v1, &b, 0).is_ok(),
        "old versions decrypt"
    );

    let v2 = ring.rewrap(&v1).unwrap();
    assert_eq!(v2.kek_version(), 2);
    assert_eq!(v2.id(), v1.id());
    ring.set_min_decryption_version(&prod(), 2).unwrap();
    assert!(matches!(
        ring.unwrap_data_key(&v1, &b, 0),
        Err(CryptoError::KekVersionRetired { version: 1, .. })
    ));
    assert!(matches!(
        ring.set_min_decryption_version(&prod(), 1),
        Err(CryptoError::InvalidMinDecryptionVersion { .. })
    ));
    assert!(matches!(
        ring.set_min_decryption_version(&prod(), 3),
        Err(CryptoError::InvalidMinDecryptionVersion { .. })
    ));
    let key = ring.unwrap_data_key(&v2, &b, 0).unwrap();
    assert_eq!(key.decrypt(b"r", &ct).unwrap(), b"v");

    let status = ring.status().unwrap();
    let p = status
        .environments
        .iter()
        .find(|e| e.environment == prod())
        .unwrap();
    assert_eq!((p.encryption_version, p.min_decryption_version), (2, 2));
    assert!(p.keks[0].retired && !p.keks[1].retired);
    assert_eq!(p.keks[0].usage.encryptions, 1);
    assert_eq!(p.keks[1].usage.encryptions, 2);
    assert_eq!(p.keks[0].created_at, t0());

    assert_eq!(ring.purge_retired(&prod()).unwrap(), 1);
    ring.set_min_decryption_version(&prod(), 2).unwrap();
    assert!(ring.unwrap_data_key(&v1, &b, 0).is_err());
    let shown = format!("{ring:?}");
    assert!(shown.contains("<redacted>") && !shown.contains("KeyBytes(["));
}

#[test]
fn kek_usage_bound_demands_rotation() {
    let provider = file_provider();
    let mut ring = keyring(&provider).with_usage_bound(UsageBound::new(2, 1));
    let b = binding(prod(), None, "p");
    ring.new_data_key(&b).unwrap();
    let status = ring.status().unwrap();
    assert!(
        status
            .environments
            .iter()
            .any(|e| e.keks[0].usage.rotation_due)
    );
    ring.new_data_key(&b).unwrap();
    assert!(matches!(
        ring.new_data_key(&b),
        Err(CryptoError::RotationRequired { limit: 2 })
    ));
    ring.rotate(&prod(), t0()).unwrap();
    ring.new_data_key(&b).unwrap();
    // Counts survive a save and reload.
    let reopened = Keyring::open(&ring.to_sealed_bytes().unwrap(), &provider)
        .unwrap()
        .with_usage_bound(UsageBound::new(2, 1));
    let p = reopened.status().unwrap();
    let p = p
        .environments
        .iter()
        .find(|e| e.environment == prod())
        .unwrap();
    assert_eq!(p.keks[0].usage.encryptions, 2);
    assert_eq!(p.keks[1].usage.encryptions, 1);
}

#[test]
fn environments_can_be_added_and_errors_name_them() {
    let mut ring = keyring(&file_provider());
    let staging = Environment::new("staging-eu").unwrap();
    let err = ring
        .new_data_key(&binding(staging.clone(), None, "p"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment staging-eu is not in the keyring"
    );
    ring.add_environment(&staging, t0()).unwrap();
    ring.new_data_key(&binding(staging.clone(), None, "p"))
        .unwrap();
    assert!(ring.add_environment(&staging, t0()).is_err());
}

#[test]
fn audit_signing_key_signs() {
    let ring = keyring(&file_provider());
    let key = ring.audit_signing_key();
    let sig = key.sign(b"checkpoint 1");
    assert!(rempart_crypto::AuditSigningKey::verify(
        &key.public_key(),
        b"checkpoint 1",
        &sig
    ));
}

struct Fixture {
    ring: Keyring,
    key: DataKey,
    wrapped: WrappedDataKey,
    binding: Binding,
    envelope: Vec<u8>,
}

fn fixture() -> Fixture {
    let mut ring = keyring(&file_provider());
    let tenant = Uuid::from_u128(42);
    ring.enroll_tenant(&prod(), tenant, t0()).unwrap();
    ring.enroll_tenant(&prod(), Uuid::from_u128(43), t0())
        .unwrap();
    let binding = binding(prod(), Some(tenant), "vault:customers.email");
    let (key, wrapped) = ring.new_data_key(&binding).unwrap();
    let envelope = key
        .encrypt(b"customers/1/email", b"alice@example.com")
        .unwrap();
    Fixture {
        ring,
        key,
        wrapped,
        binding,
        envelope,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_envelope_byte_change_fails(index in 0usize..1000, flip in 1u8..=255) {
        let f = fixture();
        let mut bad = f.envelope.clone();
        let i = index % bad.len();
        bad[i] ^= flip;
        prop_assert!(f.key.decrypt(b"customers/1/email", &bad).is_err());
    }

    #[test]
    fn any_wrapped_key_byte_change_fails(index in 0usize..1000, flip in 1u8..=255) {
        let f = fixture();
        let mut bad = f.wrapped.as_bytes().to_vec();
        let i = index % bad.len();
        bad[i] ^= flip;
        let result = WrappedDataKey::from_bytes(bad)
            .and_then(|w| f.ring.unwrap_data_key(&w, &f.binding, 0));
        prop_assert!(result.is_err());
    }

    #[test]
    fn any_record_change_fails(record in proptest::collection::vec(any::<u8>(), 0..40)) {
        let f = fixture();
        prop_assume!(record != b"customers/1/email");
        prop_assert!(f.key.decrypt(&record, &f.envelope).is_err());
    }

    #[test]
    fn any_binding_change_fails(
        env in "[a-z0-9-]{1,32}",
        tenant in proptest::option::of(42u128..44),
        purpose in "[a-z:.]{1,30}",
    ) {
        let f = fixture();
        let other = binding(Environment::new(&env).unwrap(), tenant.map(Uuid::from_u128), &purpose);
        prop_assume!(other != f.binding);
        // Through the API: refused as a binding mismatch.
        prop_assert!(f.ring.unwrap_data_key(&f.wrapped, &other, 0).is_err());
        // Even with a key forged for the other binding, the envelope does not open.
        if let Ok((other_key, _)) = f.ring.new_data_key(&other) {
            prop_assert!(other_key.decrypt(b"customers/1/email", &f.envelope).is_err());
        }
    }
}
