//! The SQLite engine: the zero-setup default, one file in the data
//! directory. WAL journal, full fsync on commit (the audit log must survive
//! a power cut), foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::engine::{EngineTx, RowsAffected, to_u64};
use crate::migrate::{MigrationStatus, SchemaVersion, migration_error, newest_known};
use crate::{Engine, ReadTx, Store, StoreError, Tx};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    url: String,
    /// This replica's lease on the auth epoch.
    lease: std::sync::Arc<crate::auth_lease::AuthLease>,
}

impl SqliteStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let unreachable = |reason: String| StoreError::Unreachable {
            url: url.to_owned(),
            reason,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| unreachable(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self {
            pool,
            url: url.to_owned(),
            lease: std::sync::Arc::default(),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError> {
        let inner = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Box::new(EngineTx::new(
            inner,
            Engine::Sqlite,
            self.lease.clone(),
        )))
    }

    async fn auth_epoch(&self) -> Result<u64, StoreError> {
        self.lease
            .epoch(|| async {
                let epoch: i64 = sqlx::query_scalar("SELECT epoch FROM auth_epoch WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                to_u64(epoch)
            })
            .await
    }

    async fn begin_read(&self) -> Result<Box<dyn ReadTx>, StoreError> {
        // Deferred: readers run alongside each other and the writer (WAL).
        let inner = self.pool.begin_with("BEGIN DEFERRED").await?;
        Ok(Box::new(EngineTx::new(
            inner,
            Engine::Sqlite,
            self.lease.clone(),
        )))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Unreachable {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        Ok(())
    }

    async fn schema_version(&self) -> Result<SchemaVersion, StoreError> {
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await?;
        let found: i64 = if exists == 0 {
            0
        } else {
            sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
            )
            .fetch_one(&self.pool)
            .await?
        };
        Ok(SchemaVersion {
            found,
            known: newest_known(&MIGRATOR),
        })
    }

    async fn migrate(&self) -> Result<MigrationStatus, StoreError> {
        let before = self.schema_version().await?;
        before.check_not_newer()?;
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| migration_error(&e))?;
        let after = self.schema_version().await?;
        Ok(MigrationStatus {
            before: before.found,
            after: after.found,
        })
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}
