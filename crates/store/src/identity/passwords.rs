//! Password credentials: the current Argon2id hash of each account and the
//! history of past hashes (never a password).

use async_trait::async_trait;
use rempart_model::PrincipalId;
use time::OffsetDateTime;

use crate::StoreError;
use crate::engine::{Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, to_micros};

/// A password credential: an Argon2id PHC string, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordRecord {
    pub principal: PrincipalId,
    pub hash: String,
    pub changed_at: OffsetDateTime,
    /// Set by an administrator's reset: the next login must change it.
    pub must_change: bool,
}

impl std::fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordRecord")
            .field("principal", &self.principal)
            .field("changed_at", &self.changed_at)
            .field("must_change", &self.must_change)
            .finish_non_exhaustive()
    }
}

const PUT: &str = "INSERT INTO passwords (principal_id, hash, changed_at, must_change) \
                   VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (principal_id) DO UPDATE \
                   SET hash = $2, changed_at = $3, must_change = $4";
const REHASH: &str = "UPDATE passwords SET hash = $1 WHERE principal_id = $2";
const GET: &str = "SELECT hash, changed_at, must_change FROM passwords WHERE principal_id = $1";
const APPEND_HISTORY: &str =
    "INSERT INTO password_history (principal_id, hash, set_at) VALUES ($1, $2, $3)";
/// Keeps the newest `$2 + 1` hashes of the history.
const TRIM_HISTORY: &str = "DELETE FROM password_history WHERE principal_id = $1 AND set_at < \
                            COALESCE((SELECT set_at FROM password_history \
                            WHERE principal_id = $1 \
                            ORDER BY set_at DESC LIMIT 1 OFFSET $2), -1)";
const HISTORY: &str = "SELECT hash FROM password_history WHERE principal_id = $1 \
                       ORDER BY set_at DESC LIMIT $2";

/// The password reads of a transaction.
#[async_trait]
pub trait PasswordReadTx: SqlRead {
    async fn password(&mut self, id: PrincipalId) -> Result<Option<PasswordRecord>, StoreError> {
        self.optional(Stmt::new(GET).bind(id.0), |row| {
            Ok(PasswordRecord {
                principal: id,
                hash: row.text("hash")?,
                changed_at: row.time("changed_at")?,
                must_change: row.bool("must_change")?,
            })
        })
        .await
    }

    /// The last `limit` password hashes, newest first.
    async fn password_history(
        &mut self,
        id: PrincipalId,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let stmt = Stmt::new(HISTORY).bind(id.0).bind(i64::from(limit));
        self.all(stmt, |row| row.text("hash")).await
    }
}

/// The password writes of a write transaction.
#[async_trait]
pub trait PasswordTx: PasswordReadTx + SqlWrite {
    /// Sets the password and appends the hash to the history, keeping the
    /// last `keep` hashes.
    async fn set_password(&mut self, record: &PasswordRecord, keep: u32) -> Result<(), StoreError> {
        let at = to_micros(record.changed_at)?;
        let put = Stmt::new(PUT)
            .bind(record.principal.0)
            .bind(record.hash.as_str())
            .bind(at)
            .bind(record.must_change);
        self.execute(put).await?;
        let append = Stmt::new(APPEND_HISTORY)
            .bind(record.principal.0)
            .bind(record.hash.as_str())
            .bind(at);
        self.execute(append).await?;
        // Keep the newest `keep` (at least the current one).
        let trim = Stmt::new(TRIM_HISTORY)
            .bind(record.principal.0)
            .bind(i64::from(keep.max(1)) - 1);
        self.execute(trim).await?;
        Ok(())
    }

    /// Replaces the hash only (a re-hash with new parameters).
    async fn rehash_password(&mut self, id: PrincipalId, hash: &str) -> Result<(), StoreError> {
        self.execute(Stmt::new(REHASH).bind(hash).bind(id.0))
            .await?;
        Ok(())
    }
}

impl<D: Db> PasswordReadTx for EngineTx<D> {}
impl<D: Db> PasswordTx for EngineTx<D> {}
