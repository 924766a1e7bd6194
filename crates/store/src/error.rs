//! Storage errors, in the words an operator can act on.
//!
//! Rules: a message never contains a password (URLs are redacted) nor a
//! stored secret or hash; a constraint violation the caller can explain to
//! a user (a duplicate name) is its own variant; everything else is
//! `Database` with the engine's message.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL: expected sqlite://PATH or postgres://USER@HOST/DATABASE")]
    UnsupportedUrl,
    #[error("cannot reach the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "the database schema is at version {found}, newer than this binary knows ({known}); upgrade rempart before using this database"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error(
        "the database schema is at version {found}; run `rempart migrate` (this binary knows {known})"
    )]
    SchemaTooOld { found: i64, known: i64 },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("already exists ({constraint})")]
    Conflict { constraint: String },
    #[error("a stored value is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            return Self::Conflict {
                constraint: db.constraint().unwrap_or("unique").to_owned(),
            };
        }
        Self::Database(err.to_string())
    }
}
