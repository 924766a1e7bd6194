//! Rempart's persistence, behind one interface, on SQLite and PostgreSQL.
//!
//! The store keeps state; it makes no policy decision. Every write happens
//! inside a [`Tx`], so that the service layer can put a change and its audit
//! event in one transaction (invariant 1). A read transaction is a
//! [`ReadTx`], a type with no write method, so that a write can only be
//! made in a transaction opened for writing (on SQLite, one that holds the
//! write lock from its start). Queries of tenant data take the
//! tenant scope as an argument (invariant 2): there is no "list everything"
//! that a caller could forget to filter.
//!
//! Each domain has its module: [`tenants`], [`identity`], [`keys`] and
//! [`audit`], each with its records, its read and write traits, its SQL
//! text and its row mapping. [`ReadTx`] and [`Tx`] gather every domain's
//! traits. Both engines run the same SQL text (numbered `$n` parameters
//! work on both) from one implementation, generic over the engine (the
//! private `engine` module); only the schema and the locking differ.
//! The auth epoch moves in one place, the commit of a transaction that
//! changed what cached authentications hold.

pub mod audit;
pub mod auth_lease;
mod engine;
mod error;
pub mod identity;
pub mod keys;
pub mod migrate;
pub mod postgres;
pub mod sqlite;
pub mod tenants;
pub mod vault;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

pub use audit::{
    AuditHead, AuditKeyCertificateRecord, AuditKeyReadTx, AuditKeyRecord, AuditKeyTx,
    AuditLogReadTx, AuditLogTx, AuditQuery, AuditReadTx, AuditRecord, AuditTx, CheckpointReadTx,
    CheckpointRecord, CheckpointTx, PendingAuditRecord, ShipCursor, ShipReadTx, ShipTx,
};
pub use error::StoreError;
pub use identity::{
    AccountFilter, AccountKind, AccountReadTx, AccountTx, BootstrapReadTx, BootstrapRecord,
    BootstrapTx, CeremonyKind, GrantReadTx, GrantRecord, GrantTx, IdentityReadTx, IdentityTx,
    PasswordReadTx, PasswordRecord, PasswordTx, PrincipalRecord, PrincipalState, RoleRecord,
    SessionReadTx, SessionRecord, SessionStage, SessionTx, TenantAccessReadTx, TenantAccessRecord,
    TenantAccessTx, ThrottleReadTx, ThrottleRecord, ThrottleTx, TokenReadTx, TokenRecord, TokenTx,
    TotpReadTx, TotpRecord, TotpTx, WebauthnCeremonyRecord, WebauthnCredentialRecord,
    WebauthnReadTx, WebauthnTx,
};
pub use keys::{DATA_KEY_ID_LEN, DataKeyRecord, DataKeyVersionCount, KeyReadTx, KeyTx};
pub use migrate::{MigrationStatus, SchemaVersion};
pub use tenants::{TenantFilter, TenantReadTx, TenantTx};
pub use vault::{
    CollectionRow, DisposalRow, IndexEntry, RecordRow, SchemaRow, TokenRow, VaultKeyRow,
    VaultKeyState, VaultReadTx, VaultTx,
};

/// Which database engine holds the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A database holding Rempart's state.
#[async_trait]
pub trait Store: Send + Sync + Debug {
    fn engine(&self) -> Engine;

    /// Starts a read-write transaction. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`), so that two writers never deadlock on a
    /// lock upgrade.
    async fn begin(&self) -> Result<Box<dyn Tx>, StoreError>;

    /// A transaction that only reads: on SQLite it does not take the write
    /// lock, so that reads (authenticating a request) do not queue behind
    /// each other (on PostgreSQL, reads never queue). Its type has no write
    /// method: a write in it does not compile. (On SQLite, a deferred
    /// transaction that writes cannot wait for the write lock: it fails
    /// with `database is locked` as soon as another writer commits.)
    async fn begin_read(&self) -> Result<Box<dyn ReadTx>, StoreError>;

    /// The auth epoch: a counter every change that can end or narrow a
    /// credential moves, in the change's transaction; what each request
    /// checks before trusting a cached authentication. Read at most once
    /// per lease, and a commit that moved it outlasts every lease, so the
    /// value is never older than the last move that has returned
    /// ([`auth_lease`]).
    async fn auth_epoch(&self) -> Result<u64, StoreError>;

    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies pending migrations. Refuses, changing nothing, a database
    /// whose schema is newer than this binary.
    async fn migrate(&self) -> Result<MigrationStatus, StoreError>;

    /// What the database's schema is, against what this binary knows.
    async fn schema_version(&self) -> Result<SchemaVersion, StoreError>;

    /// Closes every connection; in-flight transactions finish first.
    async fn close(&self);
}

/// A write transaction: the reads of [`ReadTx`], every domain's writes,
/// and the commit. Dropping it without [`Tx::commit`] rolls it back.
///
/// Each domain declares its writes in its own module ([`tenants`],
/// [`identity`], [`keys`], [`audit`]); this trait gathers them, so that a
/// `Box<dyn Tx>` carries a change of any domain and its audit event in one
/// transaction.
#[async_trait]
pub trait Tx: ReadTx + TenantTx + IdentityTx + KeyTx + AuditTx + VaultTx + Send {
    /// Commits. A transaction that changed what cached authentications
    /// hold moves the auth epoch as it commits, and returns only once
    /// every replica sees the move ([`auth_lease`]).
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// The reads of a transaction, every domain's. [`Store::begin_read`]
/// returns only this, so a write inside a read transaction does not
/// compile. Dropping it ends it.
///
/// A write goes in a write transaction:
///
/// ```no_run
/// # async fn f(store: &dyn rempart_store::Store, tenant: &rempart_model::Tenant)
/// # -> Result<(), rempart_store::StoreError> {
/// let mut tx = store.begin().await?;
/// tx.insert_tenant(tenant).await?;
/// tx.commit().await
/// # }
/// ```
///
/// and the same write in a read transaction does not compile:
///
/// ```compile_fail
/// # async fn f(store: &dyn rempart_store::Store, tenant: &rempart_model::Tenant)
/// # -> Result<(), rempart_store::StoreError> {
/// let mut tx = store.begin_read().await?;
/// tx.insert_tenant(tenant).await?;
/// # Ok(())
/// # }
/// ```
pub trait ReadTx:
    TenantReadTx + IdentityReadTx + KeyReadTx + AuditReadTx + VaultReadTx + Send
{
}

#[async_trait]
impl<D: engine::Db> Tx for engine::EngineTx<D> {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        (*self).commit().await
    }
}

impl<D: engine::Db> ReadTx for engine::EngineTx<D> {}

/// Opens the database at `url` (`sqlite://path?mode=rwc` or
/// `postgres://…`). Does not migrate.
pub async fn connect(url: &str, max_connections: u32) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqliteStore::connect(url, max_connections).await?,
        ))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PostgresStore::connect(url, max_connections).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// Removes the password from a database URL, so that it can be shown.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    if path.is_empty() && !rest.contains('/') {
        format!("{scheme}://{authority}")
    } else {
        format!("{scheme}://{authority}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("postgres://rempart:s3cret@db:5432/rempart"),
            "postgres://rempart:***@db:5432/rempart"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_url("sqlite://./x.db"), "sqlite://./x.db");
        assert_eq!(redact_url("postgres://h"), "postgres://h");
    }
}
