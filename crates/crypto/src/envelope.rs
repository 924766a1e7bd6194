//! Data keys and the ciphertext envelope (docs/formats/envelope.md).
//!
//! A data key encrypts a tenant's data for one purpose. Each encryption uses
//! a fresh random nonce and binds, as AEAD associated data, the environment,
//! tenant, purpose, data key id and the caller's record reference.
//! Invariants: a ciphertext only decrypts under the key, binding and record
//! it was made for; a data key refuses to encrypt past its usage bound.

use std::fmt;

use aws_lc_rs::aead::LessSafeKey;

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::binding::Binding;
use crate::error::{CryptoError, Result};
use crate::secret::KeyBytes;
use crate::usage::{KeyUsage, UsageBound, UsageCounter};
use crate::wire::Reader;

/// Envelope format version written by this build.
pub const ENVELOPE_VERSION: u8 = 1;
const ENVELOPE_AAD_LABEL: &[u8] = b"rempart/envelope/v1";
/// Bytes an envelope adds to the plaintext: version, key id, nonce, tag.
pub const ENVELOPE_OVERHEAD: usize = 1 + DataKeyId::LEN + NONCE_LEN + TAG_LEN;

/// Identifies a data key; not secret. Stored in every envelope so the caller
/// can find the wrapped key that decrypts it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DataKeyId([u8; Self::LEN]);

impl DataKeyId {
    /// Length in bytes.
    pub const LEN: usize = 16;

    pub(crate) fn random() -> Result<Self> {
        let mut id = [0u8; Self::LEN];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| CryptoError::RandomUnavailable)?;
        Ok(Self(id))
    }

    /// From stored bytes.
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Display for DataKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for DataKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKeyId({self})")
    }
}

/// An unwrapped data key, ready to encrypt and decrypt. Obtained from
/// [`crate::Keyring::new_data_key`] or [`crate::Keyring::unwrap_data_key`];
/// the raw bytes are not reachable (aws-lc cleanses them on drop).
pub struct DataKey {
    id: DataKeyId,
    binding: Binding,
    cipher: LessSafeKey,
    aad_prefix: Vec<u8>,
    usage: UsageCounter,
    bound: UsageBound,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .field("binding", &self.binding)
            .field("usage", &self.usage())
            .finish_non_exhaustive()
    }
}

impl DataKey {
    pub(crate) fn new(
        id: DataKeyId,
        binding: Binding,
        key: &KeyBytes,
        prior_encryptions: u64,
        bound: UsageBound,
    ) -> Result<Self> {
        let mut aad_prefix = Vec::with_capacity(ENVELOPE_AAD_LABEL.len() + 64);
        aad_prefix.extend_from_slice(ENVELOPE_AAD_LABEL);
        aad_prefix.push(ENVELOPE_VERSION);
        aad_prefix.extend_from_slice(id.as_bytes());
        binding.encode(&mut aad_prefix);
        Ok(Self {
            id,
            binding,
            cipher: aead::cipher(key)?,
            aad_prefix,
            usage: UsageCounter::new(prior_encryptions),
            bound,
        })
    }

    /// The key's id, as written in its envelopes.
    pub fn id(&self) -> DataKeyId {
        self.id
    }

    /// What the key is bound to.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// Encryptions so far (including the count restored at unwrap); persist
    /// `usage().encryptions` and pass it back to `unwrap_data_key`.
    pub fn usage(&self) -> KeyUsage {
        self.bound.report(self.usage.get())
    }

    fn aad(&self, record: &[u8]) -> Result<Vec<u8>> {
        let len = u32::try_from(record.len()).map_err(|_| CryptoError::Malformed {
            what: "record reference",
            reason: "longer than 4 GiB",
        })?;
        let mut aad = Vec::with_capacity(self.aad_prefix.len() + 4 + record.len());
        aad.extend_from_slice(&self.aad_prefix);
        aad.extend_from_slice(&len.to_be_bytes());
        aad.extend_from_slice(record);
        Ok(aad)
    }

    /// Encrypts `plaintext` for `record` (the caller's reference to where the
    /// value lives, e.g. `customers/<id>/email`) with a random nonce.
    pub fn encrypt(&self, record: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        self.encrypt_with_nonce(aead::random_nonce()?, record, plaintext)
    }

    /// Deterministic path for test vectors only: a repeated nonce under one
    /// key breaks GCM, so this is never public.
    pub(crate) fn encrypt_with_nonce(
        &self,
        nonce: [u8; NONCE_LEN],
        record: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let aad = self.aad(record)?;
        self.usage.reserve(self.bound)?;
        let mut out = Vec::with_capacity(ENVELOPE_OVERHEAD + plaintext.len());
        out.push(ENVELOPE_VERSION);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&nonce);
        aead::seal_append(&self.cipher, nonce, &aad, plaintext, &mut out)?;
        Ok(out)
    }

    /// Decrypts an envelope made by this key for `record`.
    pub fn decrypt(&self, record: &[u8], envelope: &[u8]) -> Result<Vec<u8>> {
        let parsed = ParsedEnvelope::parse(envelope)?;
        if parsed.key_id != self.id {
            return Err(CryptoError::DecryptionFailed);
        }
        let aad = self.aad(record)?;
        let mut buf = parsed.sealed.to_vec();
        aead::open_in_place(&self.cipher, parsed.nonce, &aad, &mut buf)?;
        Ok(buf)
    }
}

struct ParsedEnvelope<'a> {
    key_id: DataKeyId,
    nonce: [u8; NONCE_LEN],
    sealed: &'a [u8],
}

impl<'a> ParsedEnvelope<'a> {
    fn parse(envelope: &'a [u8]) -> Result<Self> {
        let mut reader = Reader::new(envelope, "envelope");
        reader.version_byte("envelope", ENVELOPE_VERSION)?;
        let key_id = DataKeyId(reader.array()?);
        let nonce = reader.array()?;
        let sealed = reader.rest();
        if sealed.len() < TAG_LEN {
            return Err(CryptoError::Truncated { what: "envelope" });
        }
        Ok(Self {
            key_id,
            nonce,
            sealed,
        })
    }
}

/// The id of the data key an envelope was made with, read without a key.
pub fn envelope_key_id(envelope: &[u8]) -> Result<DataKeyId> {
    Ok(ParsedEnvelope::parse(envelope)?.key_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::Purpose;
    use crate::environment::Environment;

    fn key(bound: UsageBound) -> DataKey {
        let binding = Binding::new(
            Environment::production(),
            Some(uuid::Uuid::from_u128(1)),
            Purpose::new("vault:notes").unwrap(),
        );
        DataKey::new(
            DataKeyId::random().unwrap(),
            binding,
            &KeyBytes::random().unwrap(),
            0,
            bound,
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_record_binding() {
        let key = key(UsageBound::default());
        let env = key.encrypt(b"rec-1", b"secret").unwrap();
        assert_eq!(env.len(), ENVELOPE_OVERHEAD + 6);
        assert_eq!(envelope_key_id(&env).unwrap(), key.id());
        assert_eq!(key.decrypt(b"rec-1", &env).unwrap(), b"secret");
        assert!(matches!(
            key.decrypt(b"rec-2", &env),
            Err(CryptoError::DecryptionFailed)
        ));
        assert_ne!(
            env,
            key.encrypt(b"rec-1", b"secret").unwrap(),
            "random nonces"
        );
    }

    #[test]
    fn refuses_unknown_version_and_truncation() {
        let key = key(UsageBound::default());
        let mut env = key.encrypt(b"r", b"x").unwrap();
        assert!(matches!(
            key.decrypt(b"r", &env[..ENVELOPE_OVERHEAD - 1]),
            Err(CryptoError::Truncated { .. })
        ));
        env[0] = 2;
        assert!(matches!(
            key.decrypt(b"r", &env),
            Err(CryptoError::UnsupportedVersion { version: 2, .. })
        ));
    }

    #[test]
    fn usage_bound_is_enforced() {
        let key = key(UsageBound::new(2, 1));
        key.encrypt(b"r", b"x").unwrap();
        assert!(key.usage().rotation_due);
        key.encrypt(b"r", b"x").unwrap();
        assert!(matches!(
            key.encrypt(b"r", b"x"),
            Err(CryptoError::RotationRequired { limit: 2 })
        ));
        assert_eq!(key.usage().encryptions, 2);
    }
}
