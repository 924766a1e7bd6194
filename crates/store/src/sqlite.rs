//! The SQLite engine: the zero-setup default, one file in the data
//! directory. WAL journal, full fsync on commit (the audit log must survive
//! a power cut), foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteQueryResult, SqliteSynchronous};

use crate::engine::{Backend, EngineStore, RowsAffected, pool_options};
use crate::{Engine, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A SQLite database.
pub type SqliteStore = EngineStore<Sqlite>;

impl Backend for Sqlite {
    const ENGINE: Engine = Engine::Sqlite;
    /// Takes the write lock at once, so that two writers never deadlock on
    /// a lock upgrade; it also serializes appends to the audit log (SQLite
    /// has no row locks).
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    /// Deferred: readers run alongside each other and the writer (WAL).
    const BEGIN_READ: &'static str = "BEGIN DEFERRED";
    const MIGRATIONS_TABLE_EXISTS: &'static str = "SELECT COUNT(*) AS n FROM sqlite_master \
                                                   WHERE type = 'table' \
                                                   AND name = '_sqlx_migrations'";

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }
}

impl RowsAffected for SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl EngineStore<Sqlite> {
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
            // Deleted and superseded content is overwritten with zeros
            // rather than left in free pages, so that a record deleted,
            // a subject erased or a value re-sealed cannot be read back
            // from the file (control DS-6). Superseded page images stay
            // in the write-ahead log until its next checkpoint.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        let pool = pool_options(max_connections)
            .connect_with(options)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(Self::new(pool, url.to_owned()))
    }
}
