//! 256-bit secret key bytes that cannot leak by accident.
//!
//! Invariant 4: key bytes are zeroized on drop, print as `<redacted>`, and
//! have no `Serialize`; the only way out is `expose`, used by this crate to
//! build cipher keys and to write the sealed keyring body.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{CryptoError, Result};

/// Length of every symmetric key in this crate (AES-256).
pub(crate) const KEY_LEN: usize = 32;

/// 32 secret bytes, zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct KeyBytes([u8; KEY_LEN]);

impl KeyBytes {
    pub(crate) fn random() -> Result<Self> {
        let mut key = Self([0u8; KEY_LEN]);
        aws_lc_rs::rand::fill(&mut key.0).map_err(|_| CryptoError::RandomUnavailable)?;
        Ok(key)
    }

    pub(crate) fn from_array(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Copies exactly 32 bytes out of `bytes`.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut key = Self([0u8; KEY_LEN]);
        key.0.copy_from_slice(bytes.get(..KEY_LEN)?);
        (bytes.len() == KEY_LEN).then_some(key)
    }

    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBytes(<redacted>)")
    }
}

/// The root key: opens the sealed keyring and nothing else.
///
/// Produced by a [`crate::RootKeyProvider`]; an external KMS provider builds
/// one with [`RootKey::from_bytes`] after the KMS has unwrapped it.
#[derive(Clone)]
pub struct RootKey(pub(crate) KeyBytes);

impl RootKey {
    /// Wraps 32 bytes obtained from a key-management system.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(KeyBytes::from_array(bytes))
    }

    /// A fresh random root key.
    pub fn generate() -> Result<Self> {
        Ok(Self(KeyBytes::random()?))
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = RootKey::from_bytes([0xAB; KEY_LEN]);
        let shown = format!("{key:?} {:?}", key.0);
        assert!(!shown.contains("171") && !shown.to_lowercase().contains("ab,"));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn from_slice_requires_exact_length() {
        assert!(KeyBytes::from_slice(&[1; 31]).is_none());
        assert!(KeyBytes::from_slice(&[1; 33]).is_none());
        assert!(KeyBytes::from_slice(&[1; 32]).is_some());
    }
}
