//! The sealed keyring file format (docs/formats/keyring.md).
//!
//! `magic "RMPKEYRG" | u16 version | u8 provider | u16 params_len | params |
//! nonce[12] | u32 body_len | AES-256-GCM(root key, body, aad = header)`.
//! Invariants: the header (everything before the nonce) is the AEAD
//! associated data, so it cannot be altered; the body plaintext only exists
//! in zeroizing buffers; a reader refuses unknown magic or versions,
//! truncation and trailing bytes with a typed error before touching keys.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::aead::{self, NONCE_LEN};
use crate::environment::Environment;
use crate::error::{CryptoError, Result};
use crate::keyring::{EnvironmentKeys, Kek, Keyring, SealContext, TenantKey};
use crate::root_key::{ProviderKind, RootKeyProvider, SealDescription};
use crate::secret::{KEY_LEN, KeyBytes};
use crate::signing::AuditSigningKey;
use crate::usage::{UsageBound, UsageCounter};
use crate::wire::{Reader, put_short};

/// First bytes of every keyring file.
pub const KEYRING_MAGIC: &[u8; 8] = b"RMPKEYRG";
/// Keyring format version written by this build.
pub const KEYRING_VERSION: u16 = 1;

const WHAT: &str = "keyring file";
const BODY: &str = "keyring body";

struct Header<'a> {
    kind: ProviderKind,
    params: &'a [u8],
    aad: &'a [u8],
    nonce: [u8; NONCE_LEN],
    sealed: &'a [u8],
}

fn parse_header(bytes: &[u8]) -> Result<Header<'_>> {
    let mut reader = Reader::new(bytes, WHAT);
    let magic: [u8; 8] = reader.array().map_err(|_| CryptoError::NotAKeyring)?;
    if &magic != KEYRING_MAGIC {
        return Err(CryptoError::NotAKeyring);
    }
    let version = reader.u16()?;
    if version != KEYRING_VERSION {
        return Err(CryptoError::UnsupportedVersion {
            what: "keyring",
            version,
            supported: KEYRING_VERSION,
        });
    }
    let kind = ProviderKind::from_code(reader.u8()?)?;
    let params_len = usize::from(reader.u16()?);
    let params = reader.take(params_len)?;
    let aad_len = 8 + 2 + 1 + 2 + params_len;
    let nonce = reader.array()?;
    let body_len =
        usize::try_from(reader.u32()?).map_err(|_| CryptoError::Truncated { what: WHAT })?;
    let sealed = reader.take(body_len)?;
    reader.finish()?;
    Ok(Header {
        kind,
        params,
        aad: bytes.get(..aad_len).unwrap_or_default(),
        nonce,
        sealed,
    })
}

/// How a sealed keyring is sealed, read without any key (for `status` of a
/// keyring that is still sealed, and to know which prompt to show).
pub fn describe_sealed(bytes: &[u8]) -> Result<SealDescription> {
    let header = parse_header(bytes)?;
    SealDescription::from_header(header.kind, header.params)
}

pub(crate) fn seal(keyring: &Keyring, nonce: [u8; NONCE_LEN]) -> Result<Vec<u8>> {
    let params_len =
        u16::try_from(keyring.seal.params.len()).map_err(|_| CryptoError::Malformed {
            what: WHAT,
            reason: "provider parameters longer than 65535 bytes",
        })?;
    let mut out = Vec::new();
    out.extend_from_slice(KEYRING_MAGIC);
    out.extend_from_slice(&KEYRING_VERSION.to_be_bytes());
    out.push(keyring.seal.kind.code());
    out.extend_from_slice(&params_len.to_be_bytes());
    out.extend_from_slice(&keyring.seal.params);
    let aad = out.clone();
    let body = encode_body(keyring)?;
    let body_len =
        u32::try_from(body.len() + aead::TAG_LEN).map_err(|_| CryptoError::Malformed {
            what: WHAT,
            reason: "body longer than 4 GiB",
        })?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body_len.to_be_bytes());
    let cipher = aead::cipher(&keyring.seal.root.0)?;
    aead::seal_append(&cipher, nonce, &aad, &body, &mut out)?;
    Ok(out)
}

pub(crate) fn open(bytes: &[u8], provider: &dyn RootKeyProvider) -> Result<Keyring> {
    let header = parse_header(bytes)?;
    if header.kind != provider.kind() {
        return Err(CryptoError::RootKeyProviderMismatch {
            sealed_with: header.kind,
            offered: provider.kind(),
        });
    }
    let root = provider.unseal(header.params)?;
    let seal = SealContext {
        kind: header.kind,
        params: header.params.to_vec(),
        root,
    };
    open_body(&header, seal)
}

/// Opens sealed bytes with the root key `seal` already holds: how a process
/// picks up a change another process saved under the same root key. A file
/// sealed under another root key (re-sealed meanwhile) is refused.
pub(crate) fn reopen(bytes: &[u8], seal: &SealContext) -> Result<Keyring> {
    let header = parse_header(bytes)?;
    if header.kind != seal.kind || header.params != seal.params.as_slice() {
        return Err(CryptoError::RootKeyRejected);
    }
    let seal = SealContext {
        kind: seal.kind,
        params: seal.params.clone(),
        root: seal.root.clone(),
    };
    open_body(&header, seal)
}

/// Decrypts the body under `seal`'s root key (a wrong key is refused) and
/// decodes the keyring, which keeps `seal` for its next save.
fn open_body(header: &Header<'_>, seal: SealContext) -> Result<Keyring> {
    let cipher = aead::cipher(&seal.root.0)?;
    let mut body = Zeroizing::new(header.sealed.to_vec());
    aead::open_in_place(&cipher, header.nonce, header.aad, &mut body)
        .map_err(|_| CryptoError::RootKeyRejected)?;
    decode_body(&body, seal)
}

fn put_time(out: &mut Vec<u8>, at: OffsetDateTime) {
    out.extend_from_slice(&at.unix_timestamp().to_be_bytes());
}

fn count<T>(items: usize, what: &'static str) -> Result<T>
where
    T: TryFrom<usize>,
{
    T::try_from(items).map_err(|_| CryptoError::Malformed {
        what: BODY,
        reason: what,
    })
}

/// How an enrolled tenant's and a shredded tenant's entries both begin:
/// its environment, its id, and when it was enrolled or shredded.
fn put_tenant_entry(out: &mut Vec<u8>, env: &Environment, tenant: &Uuid, at: OffsetDateTime) {
    put_short(out, env.as_str().as_bytes());
    out.extend_from_slice(tenant.as_bytes());
    put_time(out, at);
}

pub(crate) fn encode_body(keyring: &Keyring) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(1024));
    out.extend_from_slice(keyring.audit.seed().expose());
    out.extend_from_slice(
        &count::<u16>(keyring.environments.len(), "too many environments")?.to_be_bytes(),
    );
    for (name, env) in &keyring.environments {
        put_short(&mut out, name.as_str().as_bytes());
        out.extend_from_slice(&env.encryption_version.to_be_bytes());
        out.extend_from_slice(&env.min_decryption_version.to_be_bytes());
        out.extend_from_slice(
            &count::<u16>(env.keks.len(), "too many KEK versions")?.to_be_bytes(),
        );
        for (version, kek) in &env.keks {
            out.extend_from_slice(&version.to_be_bytes());
            put_time(&mut out, kek.created_at);
            out.extend_from_slice(&kek.wraps.get().to_be_bytes());
            out.extend_from_slice(kek.key.expose());
        }
    }
    out.extend_from_slice(&count::<u32>(keyring.tenants.len(), "too many tenants")?.to_be_bytes());
    for ((env, tenant), key) in &keyring.tenants {
        put_tenant_entry(&mut out, env, tenant, key.enrolled_at);
        out.extend_from_slice(key.key.expose());
    }
    out.extend_from_slice(
        &count::<u32>(keyring.shredded.len(), "too many shredded tenants")?.to_be_bytes(),
    );
    for ((env, tenant), at) in &keyring.shredded {
        put_tenant_entry(&mut out, env, tenant, *at);
    }
    Ok(out)
}

fn malformed(reason: &'static str) -> CryptoError {
    CryptoError::Malformed { what: BODY, reason }
}

fn read_env(reader: &mut Reader<'_>) -> Result<Environment> {
    let len = usize::from(reader.u8()?);
    std::str::from_utf8(reader.take(len)?)
        .ok()
        .and_then(|name| Environment::new(name).ok())
        .ok_or(malformed("invalid environment name"))
}

fn read_time(reader: &mut Reader<'_>) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(reader.i64()?).map_err(|_| malformed("time out of range"))
}

/// Reads what [`put_tenant_entry`] writes.
fn read_tenant_entry(reader: &mut Reader<'_>) -> Result<((Environment, Uuid), OffsetDateTime)> {
    let env = read_env(reader)?;
    let tenant = Uuid::from_bytes(reader.array()?);
    Ok(((env, tenant), read_time(reader)?))
}

fn read_key(reader: &mut Reader<'_>) -> Result<KeyBytes> {
    let key = KeyBytes::from_slice(reader.take(KEY_LEN)?);
    key.ok_or(CryptoError::Truncated { what: BODY })
}

pub(crate) fn decode_body(body: &[u8], seal: SealContext) -> Result<Keyring> {
    let mut reader = Reader::new(body, BODY);
    let audit = AuditSigningKey::from_seed(read_key(&mut reader)?)?;
    let mut environments = BTreeMap::new();
    for _ in 0..reader.u16()? {
        let name = read_env(&mut reader)?;
        let encryption_version = reader.u32()?;
        let min_decryption_version = reader.u32()?;
        let mut keks = BTreeMap::new();
        for _ in 0..reader.u16()? {
            let version = reader.u32()?;
            let created_at = read_time(&mut reader)?;
            let wraps = UsageCounter::new(reader.u64()?);
            let key = read_key(&mut reader)?;
            if version == 0
                || keks
                    .insert(
                        version,
                        Kek {
                            key,
                            created_at,
                            wraps,
                        },
                    )
                    .is_some()
            {
                return Err(malformed("invalid or repeated KEK version"));
            }
        }
        if !keks.contains_key(&encryption_version)
            || min_decryption_version > encryption_version
            || min_decryption_version == 0
        {
            return Err(malformed("inconsistent encryption and decryption versions"));
        }
        let env = EnvironmentKeys {
            encryption_version,
            min_decryption_version,
            keks,
        };
        if environments.insert(name, env).is_some() {
            return Err(malformed("repeated environment"));
        }
    }
    let mut tenants = BTreeMap::new();
    for _ in 0..reader.u32()? {
        let ((env, tenant), enrolled_at) = read_tenant_entry(&mut reader)?;
        let key = read_key(&mut reader)?;
        if !environments.contains_key(&env)
            || tenants
                .insert((env, tenant), TenantKey { key, enrolled_at })
                .is_some()
        {
            return Err(malformed("tenant key of unknown environment or repeated"));
        }
    }
    let mut shredded = BTreeMap::new();
    for _ in 0..reader.u32()? {
        let (entry, at) = read_tenant_entry(&mut reader)?;
        if tenants.contains_key(&entry) || shredded.insert(entry, at).is_some() {
            return Err(malformed("shredded tenant repeated or still enrolled"));
        }
    }
    reader.finish()?;
    Ok(Keyring {
        environments,
        tenants,
        shredded,
        audit,
        bound: UsageBound::default(),
        seal,
    })
}
