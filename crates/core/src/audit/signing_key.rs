//! The audit domain's view of the signing key: recording the keyring's
//! public key in the database, and reading the recorded one.

use rempart_audit::PublicKey;

use crate::kernel::error::ServiceError;
use crate::kernel::signing_key::{key_record, keyring_public_key};

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
