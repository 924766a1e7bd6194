//! The wrapped data key: a data key encrypted under an environment's
//! key-encryption key (docs/formats/envelope.md, "Wrapped data key").
//!
//! The caller stores these bytes in its database. The header (version, data
//! key id, binding, KEK version) is in clear so the keyring can find the
//! right KEK, and is bound as AEAD associated data, so changing any of it
//! makes unwrapping fail. The wrapping key is derived with HKDF-SHA256 from
//! the KEK and, for tenant data, the tenant key held in the keyring:
//! destroying the tenant key crypto-shreds every wrapped key of the tenant,
//! including copies in database backups.

use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};

use crate::aead::{NONCE_LEN, TAG_LEN};
use crate::binding::Binding;
use crate::envelope::DataKeyId;
use crate::error::{CryptoError, Result};
use crate::secret::{KEY_LEN, KeyBytes};
use crate::wire::Reader;

/// Wrapped data key format version written by this build.
pub const WRAPPED_KEY_VERSION: u8 = 1;
pub(crate) const WRAPPED_KEY_AAD_LABEL: &[u8] = b"rempart/wrapped-data-key/v1";
const WRAPPING_KEY_INFO: &[u8] = b"rempart/wrapping-key/v1";

/// A data key wrapped under a key-encryption key; safe to store anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedDataKey {
    bytes: Vec<u8>,
    id: DataKeyId,
    binding: Binding,
    kek_version: u32,
    header_len: usize,
}

impl WrappedDataKey {
    /// Parses stored bytes; refuses unknown versions and truncation.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let mut reader = Reader::new(&bytes, "wrapped data key");
        reader.version_byte("wrapped data key", WRAPPED_KEY_VERSION)?;
        let id = DataKeyId::from_bytes(reader.array()?);
        let binding = Binding::decode(&mut reader)?;
        let kek_version = reader.u32()?;
        let rest = reader.rest();
        if rest.len() < NONCE_LEN + KEY_LEN + TAG_LEN {
            return Err(CryptoError::Truncated {
                what: "wrapped data key",
            });
        }
        if rest.len() > NONCE_LEN + KEY_LEN + TAG_LEN {
            return Err(CryptoError::Malformed {
                what: "wrapped data key",
                reason: "trailing bytes after the end",
            });
        }
        let header_len = bytes.len() - rest.len();
        Ok(Self {
            bytes,
            id,
            binding,
            kek_version,
            header_len,
        })
    }

    pub(crate) fn header(id: DataKeyId, binding: &Binding, kek_version: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.push(WRAPPED_KEY_VERSION);
        out.extend_from_slice(id.as_bytes());
        binding.encode(&mut out);
        out.extend_from_slice(&kek_version.to_be_bytes());
        out
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The stored form, consuming.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The data key id (the same one its envelopes carry).
    pub fn id(&self) -> DataKeyId {
        self.id
    }

    /// What the data key is bound to.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// The KEK version that wrapped it.
    pub fn kek_version(&self) -> u32 {
        self.kek_version
    }

    /// The associated data: label || header.
    pub(crate) fn aad(&self) -> Vec<u8> {
        let header = self.bytes.get(..self.header_len).unwrap_or_default();
        [WRAPPED_KEY_AAD_LABEL, header].concat()
    }

    pub(crate) fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        if let Some(src) = self.bytes.get(self.header_len..self.header_len + NONCE_LEN) {
            nonce.copy_from_slice(src);
        }
        nonce
    }

    pub(crate) fn sealed(&self) -> &[u8] {
        self.bytes
            .get(self.header_len + NONCE_LEN..)
            .unwrap_or_default()
    }
}

/// HKDF-SHA256(salt = empty, ikm = KEK || tenant key, info = label), 32 bytes.
pub(crate) fn wrapping_key(kek: &KeyBytes, tenant_key: Option<&KeyBytes>) -> Result<KeyBytes> {
    let mut ikm = zeroize::Zeroizing::new(Vec::with_capacity(2 * KEY_LEN));
    ikm.extend_from_slice(kek.expose());
    if let Some(tenant_key) = tenant_key {
        ikm.extend_from_slice(tenant_key.expose());
    }
    let prk = Salt::new(HKDF_SHA256, &[]).extract(&ikm);
    let mut bytes = zeroize::Zeroizing::new([0u8; KEY_LEN]);
    prk.expand(&[WRAPPING_KEY_INFO], HKDF_SHA256)
        .and_then(|okm| okm.fill(bytes.as_mut_slice()))
        .map_err(|_| CryptoError::Backend)?;
    Ok(KeyBytes::from_array(*bytes))
}
