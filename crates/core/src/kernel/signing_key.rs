//! The audit log's signing key as the kernel holds it: a signer backed by
//! the keyring (the private key never leaves it), and the public key's
//! record in the database so that verification needs no keyring.

use std::sync::Arc;

use rempart_audit::{PublicKey, SIGNATURE_LEN, Signer, SignerError};
use rempart_store::AuditKeyRecord;
use time::OffsetDateTime;

use crate::kernel::keyring::KeyVault;

/// A [`Signer`] that signs with the keyring's audit signing key. It exists
/// only while the keyring is open ([`KeyringSigner::open`]); signing fails,
/// naming no key material, if the keyring was sealed since.
pub struct KeyringSigner {
    vault: Arc<KeyVault>,
    public: PublicKey,
}

impl std::fmt::Debug for KeyringSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyringSigner({:?})", self.public.key_id())
    }
}

impl KeyringSigner {
    /// The keyring's signer, or `None` while the keyring is sealed (or not
    /// configured).
    pub fn open(vault: &Arc<KeyVault>) -> Option<Self> {
        let public = keyring_public_key(vault)?;
        Some(Self {
            vault: Arc::clone(vault),
            public,
        })
    }
}

impl Signer for KeyringSigner {
    fn public_key(&self) -> PublicKey {
        self.public
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], SignerError> {
        let expected = self.public;
        self.vault
            .with_keyring(|k| {
                let key = k.audit_signing_key();
                if PublicKey::from_bytes(key.public_key()) == expected {
                    Ok(Some(key.sign(message)))
                } else {
                    Ok(None)
                }
            })
            .map_err(|e| SignerError {
                reason: e.to_string(),
            })?
            .ok_or_else(|| SignerError {
                reason: "the keyring's audit signing key changed; restart to use it".into(),
            })
    }
}

/// The keyring's audit public key, or `None` while it is sealed.
pub fn keyring_public_key(vault: &KeyVault) -> Option<PublicKey> {
    vault
        .with_keyring(|k| Ok(PublicKey::from_bytes(k.audit_signing_key().public_key())))
        .ok()
}

/// The row that records `key` (public, not secret).
pub fn key_record(key: &PublicKey, now: OffsetDateTime) -> AuditKeyRecord {
    AuditKeyRecord {
        key_id: key.key_id().0,
        public_key: *key.as_bytes(),
        recorded_at: now,
    }
}
