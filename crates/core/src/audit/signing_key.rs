//! The audit signing key, held in the keyring (control ML-7): checkpoints
//! are signed with the keyring's Ed25519 [`AuditSigningKey`]; its private
//! half never leaves the keyring (invariant 4), and its public half is
//! recorded in the database (`audit_keys`) whenever the keyring is opened,
//! so that `rempart audit public-key` and `rempart audit verify` work
//! offline without unsealing.
//!
//! While the keyring is sealed no checkpoint can be signed: events are still
//! appended and chained, and the next due checkpoint after unsealing covers
//! them all.
//!
//! [`AuditSigningKey`]: rempart_crypto::AuditSigningKey

use std::sync::Arc;

use rempart_audit::{PublicKey, SIGNATURE_LEN, Signer, SignerError};
use rempart_store::AuditKeyRecord;
use time::OffsetDateTime;

use crate::kernel::error::ServiceError;
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

/// The audit chain `rempart serve` runs with: signed by the keyring's key
/// (when open), with the configured checkpoint intervals.
pub fn chain_for(
    config: &crate::Config,
    vault: Arc<KeyVault>,
) -> crate::kernel::audit_chain::AuditChain {
    crate::kernel::audit_chain::AuditChain::with_keyring(
        vault,
        config.audit.checkpoint_every_events,
        time::Duration::seconds(
            i64::try_from(config.audit.checkpoint_every_secs).unwrap_or(i64::MAX),
        ),
    )
}

impl crate::Rempart {
    /// Records the keyring's audit public key in the database, if the
    /// keyring is open. Idempotent. Returns the key recorded.
    pub async fn record_audit_public_key(&self) -> Result<Option<PublicKey>, ServiceError> {
        let Some(key) = keyring_public_key(&self.kernel.keys) else {
            return Ok(None);
        };
        let now = self.kernel.clock().now();
        let mut book = self.kernel.bookkeeping().await?;
        book.record_audit_key(&key_record(&key, now)).await?;
        book.commit().await?;
        Ok(Some(key))
    }

    /// The key that verifies checkpoints, as recorded in the database (no
    /// keyring needed): the most recently recorded one.
    pub async fn recorded_audit_public_key(&self) -> Result<Option<PublicKey>, ServiceError> {
        let mut tx = self.kernel.read().await?;
        let found = tx.latest_audit_key().await?;
        drop(tx);
        Ok(found.map(|r| PublicKey::from_bytes(r.public_key)))
    }
}
