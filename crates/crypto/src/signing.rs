//! The Ed25519 key that signs audit-log checkpoints.
//!
//! Invariant 4: the private half lives only in the sealed keyring body and in
//! this type (seed zeroized on drop, redacted `Debug`); callers can sign and
//! read the 32-byte public key, never the seed.

use std::fmt;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::error::{CryptoError, Result};
use crate::secret::KeyBytes;

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// The audit-log checkpoint signing key.
pub struct AuditSigningKey {
    pair: Ed25519KeyPair,
    seed: KeyBytes,
}

impl AuditSigningKey {
    pub(crate) fn generate() -> Result<Self> {
        Self::from_seed(KeyBytes::random()?)
    }

    pub(crate) fn from_seed(seed: KeyBytes) -> Result<Self> {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(seed.expose()).map_err(|_| CryptoError::Backend)?;
        Ok(Self { pair, seed })
    }

    pub(crate) fn seed(&self) -> &KeyBytes {
        &self.seed
    }

    /// Signs `message` (pure Ed25519, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }

    /// The 32-byte public key, to publish beside checkpoints.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Checks a signature made by the holder of `public_key`.
    pub fn verify(public_key: &[u8; PUBLIC_KEY_LEN], message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Debug for AuditSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditSigningKey")
            .field("public_key", &PublicKeyHex(self.public_key()))
            .finish_non_exhaustive()
    }
}

struct PublicKeyHex([u8; PUBLIC_KEY_LEN]);

impl fmt::Debug for PublicKeyHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let key = AuditSigningKey::generate().unwrap();
        let sig = key.sign(b"checkpoint");
        assert!(AuditSigningKey::verify(
            &key.public_key(),
            b"checkpoint",
            &sig
        ));
        assert!(!AuditSigningKey::verify(
            &key.public_key(),
            b"checkpoinT",
            &sig
        ));
    }

    #[test]
    fn rfc8032_test_vector_1() {
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let key = AuditSigningKey::from_seed(KeyBytes::from_array(seed)).unwrap();
        assert_eq!(
            hex::encode(key.public_key()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        let shown = format!("{key:?}");
        assert!(!shown.contains("9d61b1"));
    }
}
