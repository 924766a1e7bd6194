//! Schema versions and migrations.
//!
//! Migrations are embedded in the binary, one set per engine. Before
//! applying any, Rempart reads the version the database is at: a database
//! whose schema is newer than this binary is refused with nothing changed,
//! so that an old binary never writes into a schema it does not understand.

use sqlx::migrate::Migrator;

use crate::StoreError;

/// The schema version of a database against what this binary knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersion {
    /// The newest migration applied to the database (0: none).
    pub found: i64,
    /// The newest migration this binary carries.
    pub known: i64,
}

impl SchemaVersion {
    pub fn check_not_newer(self) -> Result<(), StoreError> {
        if self.found > self.known {
            Err(StoreError::SchemaTooNew {
                found: self.found,
                known: self.known,
            })
        } else {
            Ok(())
        }
    }

    pub fn check_current(self) -> Result<(), StoreError> {
        self.check_not_newer()?;
        if self.found < self.known {
            Err(StoreError::SchemaTooOld {
                found: self.found,
                known: self.known,
            })
        } else {
            Ok(())
        }
    }
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub before: i64,
    pub after: i64,
}

impl MigrationStatus {
    pub fn applied_any(&self) -> bool {
        self.after > self.before
    }
}

pub(crate) fn newest_known(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

pub(crate) fn migration_error(err: &sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Migration(err.to_string())
}
