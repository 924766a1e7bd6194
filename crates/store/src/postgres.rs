//! The PostgreSQL engine: for several replicas sharing one database.
//! Appends to the audit log lock the head row, so that concurrent replicas
//! extend one chain.

use std::str::FromStr;

use sqlx::Postgres;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgQueryResult};

use crate::engine::{Backend, EngineStore, RowsAffected, pool_options};
use crate::{Engine, StoreError, redact_url};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A PostgreSQL database.
pub type PostgresStore = EngineStore<Postgres>;

impl Backend for Postgres {
    const ENGINE: Engine = Engine::Postgres;
    const BEGIN_WRITE: Option<&'static str> = None;
    /// Row locks are taken only by writes: a plain transaction already
    /// reads without blocking anyone. Read-only, so that the database also
    /// refuses a write that would reach it.
    const BEGIN_READ: &'static str = "BEGIN READ ONLY";
    /// `to_regclass` is NULL for a table that does not exist.
    const MIGRATIONS_TABLE_EXISTS: &'static str =
        "SELECT COUNT(to_regclass('_sqlx_migrations')) AS n";

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }
}

impl EngineStore<Postgres> {
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
        let pool = pool_options(max_connections)
            .connect_with(options)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self::new(pool, shown_url))
    }
}

impl RowsAffected for PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}
