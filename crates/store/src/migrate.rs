//! Schema versions and migrations.
//!
//! Migrations are embedded in the binary, one set per engine. Before
//! applying any, Rempart reads the version the database is at: a database
//! whose schema is newer than this binary is refused with nothing changed,
//! so that an old binary never writes into a schema it does not understand.
//!
//! Migrations are append-only: a released migration is never edited,
//! renamed or removed; a change of schema is a new migration, numbered
//! after the last, in both engines' folders. A database of any earlier
//! release must upgrade to the current schema with its data intact, and
//! the migrator refuses an applied migration whose checksum changed. The
//! upgrade test (crates/core/tests/core/service/upgrade.rs) applies the current
//! migrations to a database built by an earlier release's migrations and
//! holding its data (a committed fixture), then reads the data and
//! verifies the audit log, on both engines.

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
