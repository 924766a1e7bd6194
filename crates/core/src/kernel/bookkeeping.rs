//! Writes that are not actions: the time a credential was last used, and
//! the like. They change no one's rights and record no event, so they do
//! not pass the gate; each is a named method here, over a transaction the
//! domain cannot use for anything else. A new kind of bookkeeping is a new
//! method in this file, where a reviewer sees the whole list.

use rempart_store::Tx;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Kernel;
use super::error::ServiceError;

/// A write transaction limited to bookkeeping.
pub struct Bookkeeping {
    tx: Box<dyn Tx>,
}

impl std::fmt::Debug for Bookkeeping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bookkeeping")
    }
}

impl Kernel {
    pub async fn bookkeeping(&self) -> Result<Bookkeeping, ServiceError> {
        Ok(Bookkeeping {
            tx: self.store.begin().await?,
        })
    }
}

impl Bookkeeping {
    /// When an API token was last used (at most once a minute).
    pub async fn touch_token(&mut self, id: Uuid, now: OffsetDateTime) -> Result<(), ServiceError> {
        Ok(self.tx.touch_token(id, now).await?)
    }

    /// When a session was last seen (its idle timeout).
    pub async fn touch_session(
        &mut self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), ServiceError> {
        Ok(self.tx.touch_session(id, now).await?)
    }

    /// Records the login-name key's check value on first start, and
    /// returns the value recorded (the first replica's): not an action
    /// but how replicas find out that they count login failures under
    /// different keys.
    pub async fn record_login_key_check(&mut self, value: &str) -> Result<String, ServiceError> {
        Ok(self.tx.record_login_key_check(value).await?)
    }

    pub async fn commit(self) -> Result<(), ServiceError> {
        Ok(self.tx.commit().await?)
    }
}

/// The audit log's own bookkeeping: what verifies it and how far it has
/// been shipped. None of it is an action on anyone's data or rights, and
/// recording each as an event would make the log grow by itself.
impl Bookkeeping {
    /// An audit signing key's public half (not secret), so that the log
    /// verifies offline without the keyring. Idempotent.
    pub async fn record_audit_key(
        &mut self,
        key: &rempart_store::AuditKeyRecord,
    ) -> Result<(), ServiceError> {
        Ok(self.tx.record_audit_key(key).await?)
    }

    /// Takes or renews a shipping lease on `sink` until `until`; the sink's
    /// cursor, or `None` while another holder's lease runs.
    pub async fn acquire_ship_lease(
        &mut self,
        sink: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<rempart_store::ShipCursor>, ServiceError> {
        Ok(self.tx.acquire_ship_lease(sink, holder, now, until).await?)
    }

    /// Moves `sink`'s cursor from `from` to `to` (`(seq, checkpoint)`)
    /// once the sink acknowledged them, if `holder` still holds the lease
    /// and the cursor is still at `from`; whether it moved.
    pub async fn advance_ship_cursor(
        &mut self,
        sink: &str,
        holder: &str,
        from: (u64, u64),
        to: (u64, u64),
        now: OffsetDateTime,
    ) -> Result<bool, ServiceError> {
        Ok(self
            .tx
            .advance_ship_cursor(sink, holder, from, to, now)
            .await?)
    }

    /// Gives `holder`'s lease on `sink` up.
    pub async fn release_ship_lease(
        &mut self,
        sink: &str,
        holder: &str,
    ) -> Result<(), ServiceError> {
        Ok(self.tx.release_ship_lease(sink, holder).await?)
    }
}
