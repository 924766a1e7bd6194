//! The PostgreSQL engine: for several replicas sharing one database.
//! Appends to the audit log lock the head row, so that concurrent replicas
//! extend one chain.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::engine::{EngineTx, RowsAffected, to_u64};
use crate::migrate::{MigrationStatus, SchemaVersion, migration_error, newest_known};
use crate::{Engine, ReadTx, Store, StoreError, Tx, redact_url};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The URL without its password, for messages.
    shown_url: String,
    /// This replica's lease on the auth epoch.
    lease: std::sync::Arc<crate::auth_lease::AuthLease>,
}

impl PostgresStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let shown_url = redact_url(url);
        let unreachable = |reason: String| StoreError::Unreachable {
            url: shown_url.clone(),
            reason,
        };
        // The parse error of a URL can quote it; say only that it is malformed.
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| unreachable("the URL is not a valid PostgreSQL URL".to_owned()))?
            .application_name("rempart");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self {
            pool,
            shown_url,
            lease: std::sync::Arc::default(),
        })
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError> {
        let inner = self.pool.begin().await?;
        Ok(Box::new(EngineTx::new(
            inner,
            Engine::Postgres,
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
        // Row locks are taken only by writes: a plain transaction already
        // reads without blocking anyone. Read-only, so that the database
        // also refuses a write that would reach it.
        let inner = self.pool.begin_with("BEGIN READ ONLY").await?;
        Ok(Box::new(EngineTx::new(
            inner,
            Engine::Postgres,
            self.lease.clone(),
        )))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::Unreachable {
                url: self.shown_url.clone(),
                reason: e.to_string(),
            })?;
        Ok(())
    }

    async fn schema_version(&self) -> Result<SchemaVersion, StoreError> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        let found: i64 = if exists {
            sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
            )
            .fetch_one(&self.pool)
            .await?
        } else {
            0
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

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}
