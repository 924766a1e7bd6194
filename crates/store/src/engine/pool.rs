//! The one implementation of [`Store`], generic over the engine: a
//! connection pool, this replica's lease on the auth epoch, and what each
//! engine does its own way ([`Backend`]): how a write or a read
//! transaction begins, how to tell whether migrations ever ran, and its
//! migrations. The engines' modules (`sqlite.rs`, `postgres.rs`) only
//! connect.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::pool::PoolOptions;
use sqlx::{Database, Pool};

use super::{Db, EngineTx, Rows, Stmt, to_u64};
use crate::auth_lease::AuthLease;
use crate::migrate::{MigrationStatus, SchemaVersion, migration_error, newest_known};
use crate::{Engine, ReadTx, Store, StoreError, Tx};

/// What an engine does its own way.
pub trait Backend: Db<Connection: Migrate> {
    const ENGINE: Engine;
    /// How a write transaction begins (`None`: the engine's `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;
    /// How a read transaction begins.
    const BEGIN_READ: &'static str;
    /// One row whose `n` is 1 when the migrations' table exists, else 0.
    const MIGRATIONS_TABLE_EXISTS: &'static str;

    /// This engine's migrations, embedded in the binary.
    fn migrator() -> &'static Migrator;
}

const AUTH_EPOCH: &str = "SELECT epoch AS n FROM auth_epoch WHERE id = 1";
const SCHEMA_VERSION: &str =
    "SELECT COALESCE(MAX(version), 0) AS n FROM _sqlx_migrations WHERE success";
const PING: &str = "SELECT 1";

/// The pool's settings, the same on every engine: at least one
/// connection, and a bounded wait for one.
pub fn pool_options<D: Database>(max_connections: u32) -> PoolOptions<D> {
    PoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(Duration::from_secs(10))
}

/// A database on one engine.
pub struct EngineStore<D: Database> {
    pool: Pool<D>,
    /// The URL without its password, for messages.
    shown_url: String,
    /// This replica's lease on the auth epoch.
    lease: Arc<AuthLease>,
}

impl<D: Database> EngineStore<D> {
    /// A store on `pool`, named by `shown_url` (never with a password) in
    /// messages.
    pub(crate) fn new(pool: Pool<D>, shown_url: String) -> Self {
        Self {
            pool,
            shown_url,
            lease: Arc::default(),
        }
    }
}

impl<D: Db> EngineStore<D> {
    /// The `n` of the one row `sql` answers, on a connection of the pool.
    async fn number(&self, sql: &'static str) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = D::rows(&mut conn, Stmt::new(sql), Rows::First).await?;
        let row = rows.first().ok_or(sqlx::Error::RowNotFound)?;
        crate::engine::Columns::i64(row, "n")
    }
}

impl<D: Database> fmt::Debug for EngineStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineStore")
            .field("engine", &D::NAME)
            .field("url", &self.shown_url)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<D: Backend> Store for EngineStore<D> {
    fn engine(&self) -> Engine {
        D::ENGINE
    }

    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError> {
        let inner = match D::BEGIN_WRITE {
            Some(begin) => self.pool.begin_with(begin).await?,
            None => self.pool.begin().await?,
        };
        Ok(Box::new(EngineTx::new(
            inner,
            D::ENGINE,
            self.lease.clone(),
        )))
    }

    async fn begin_read(&self) -> Result<Box<dyn ReadTx>, StoreError> {
        let inner = self.pool.begin_with(D::BEGIN_READ).await?;
        Ok(Box::new(EngineTx::new(
            inner,
            D::ENGINE,
            self.lease.clone(),
        )))
    }

    async fn auth_epoch(&self) -> Result<u64, StoreError> {
        self.lease
            .epoch(|| async { to_u64(self.number(AUTH_EPOCH).await?) })
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let unreachable = |reason: String| StoreError::Unreachable {
            url: self.shown_url.clone(),
            reason,
        };
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        D::run(&mut conn, Stmt::new(PING))
            .await
            .map_err(|e| match e {
                StoreError::Database(reason) => unreachable(reason),
                other => unreachable(other.to_string()),
            })?;
        Ok(())
    }

    async fn schema_version(&self) -> Result<SchemaVersion, StoreError> {
        let found = if self.number(D::MIGRATIONS_TABLE_EXISTS).await? == 0 {
            0
        } else {
            self.number(SCHEMA_VERSION).await?
        };
        Ok(SchemaVersion {
            found,
            known: newest_known(D::migrator()),
        })
    }

    async fn migrate(&self) -> Result<MigrationStatus, StoreError> {
        let before = self.schema_version().await?;
        before.check_not_newer()?;
        D::migrator()
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
