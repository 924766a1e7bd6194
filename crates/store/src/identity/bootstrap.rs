//! The bootstrap credential: the one-time secret that creates the first
//! administrator, stored as a SHA-256 hash only.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, opt_to_micros, to_micros,
};

/// A bootstrap credential. `hash` is SHA-256 of the credential.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapRecord {
    pub id: Uuid,
    pub hash: [u8; 32],
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for BootstrapRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapRecord")
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .field("used_at", &self.used_at)
            .finish_non_exhaustive()
    }
}

const INSERT: &str = "INSERT INTO bootstrap_credentials \
                      (id, secret_hash, created_at, expires_at, used_at) \
                      VALUES ($1, $2, $3, $4, $5)";
const BY_HASH: &str = "SELECT id, secret_hash, created_at, expires_at, used_at \
                       FROM bootstrap_credentials WHERE secret_hash = $1";
const LATEST: &str = "SELECT id, secret_hash, created_at, expires_at, used_at \
                      FROM bootstrap_credentials ORDER BY created_at DESC LIMIT 1";
const MARK_USED: &str =
    "UPDATE bootstrap_credentials SET used_at = $1 WHERE id = $2 AND used_at IS NULL";

fn bootstrap(row: &dyn Columns) -> Result<BootstrapRecord, StoreError> {
    Ok(BootstrapRecord {
        id: row.uuid("id")?,
        hash: row.hash("secret_hash")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        used_at: row.opt_time("used_at")?,
    })
}

/// The bootstrap credential's reads.
#[async_trait]
pub trait BootstrapReadTx: SqlRead {
    async fn bootstrap_by_hash(
        &mut self,
        hash: &[u8; 32],
    ) -> Result<Option<BootstrapRecord>, StoreError> {
        self.optional(Stmt::new(BY_HASH).bind(hash.as_slice()), bootstrap)
            .await
    }

    async fn latest_bootstrap(&mut self) -> Result<Option<BootstrapRecord>, StoreError> {
        self.optional(Stmt::new(LATEST), bootstrap).await
    }
}

/// The bootstrap credential's writes.
#[async_trait]
pub trait BootstrapTx: BootstrapReadTx + SqlWrite {
    async fn insert_bootstrap(&mut self, record: &BootstrapRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT)
            .bind(record.id)
            .bind(record.hash.as_slice())
            .bind(to_micros(record.created_at)?)
            .bind(to_micros(record.expires_at)?)
            .bind(opt_to_micros(record.used_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Marks a credential used; false if it was already used (so that two
    /// concurrent exchanges cannot both succeed).
    async fn mark_bootstrap_used(
        &mut self,
        id: Uuid,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(MARK_USED).bind(to_micros(at)?).bind(id);
        Ok(self.execute(stmt).await? == 1)
    }
}

impl<D: Db> BootstrapReadTx for EngineTx<D> {}
impl<D: Db> BootstrapTx for EngineTx<D> {}
