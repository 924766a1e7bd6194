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
//! Both engines run the same SQL text (numbered `$n` parameters work on
//! both) from one implementation, instantiated per engine by
//! [`engine_impl!`](crate::engine); only the schema and the locking differ.

pub mod auth_lease;
mod data_keys;
mod engine;
mod error;
pub mod identity;
pub mod migrate;
pub mod postgres;
pub mod records;
pub mod sqlite;
pub mod webauthn;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use rempart_model::{Grant, PrincipalId, Tenant, TenantId};
use uuid::Uuid;

pub use data_keys::{DATA_KEY_ID_LEN, DataKeyRecord, DataKeyVersionCount};
pub use error::StoreError;
pub use identity::{
    AccountFilter, AccountKind, GrantRecord, IdentityReadTx, IdentityTx, PasswordRecord,
    RoleRecord, SessionRecord, SessionStage, TenantAccessRecord, ThrottleRecord, TotpRecord,
};
pub use migrate::{MigrationStatus, SchemaVersion};
pub use records::{
    AuditHead, AuditKeyCertificateRecord, AuditKeyRecord, AuditQuery, AuditRecord, BootstrapRecord,
    CheckpointRecord, PendingAuditRecord, PrincipalRecord, PrincipalState, ShipCursor,
    TenantFilter, TokenRecord,
};
pub use webauthn::{CeremonyKind, WebauthnCeremonyRecord, WebauthnCredentialRecord};

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
    /// ([`auth_lease`](crate::auth_lease)).
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

/// A write transaction: the reads of [`ReadTx`], the writes, and the
/// commit. Dropping it without [`Tx::commit`] rolls it back.
#[async_trait]
pub trait Tx: ReadTx + IdentityTx + Send {
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    // Tenants.

    /// Inserts a tenant; a name that differs from an existing one only in
    /// case is a [`StoreError::Conflict`].
    async fn insert_tenant(&mut self, tenant: &Tenant) -> Result<(), StoreError>;

    // Principals and grants.

    async fn insert_principal(&mut self, principal: &PrincipalRecord) -> Result<(), StoreError>;
    async fn insert_grant(
        &mut self,
        id: Uuid,
        principal: PrincipalId,
        grant: &Grant,
        created_at: time::OffsetDateTime,
    ) -> Result<(), StoreError>;

    // API tokens (stored as SHA-256 hashes only).

    async fn insert_token(&mut self, token: &TokenRecord) -> Result<(), StoreError>;
    async fn touch_token(&mut self, id: Uuid, at: time::OffsetDateTime) -> Result<(), StoreError>;

    // The bootstrap credential (stored as a SHA-256 hash only).

    async fn insert_bootstrap(&mut self, record: &BootstrapRecord) -> Result<(), StoreError>;
    /// Marks a credential used; false if it was already used (so that two
    /// concurrent exchanges cannot both succeed).
    async fn mark_bootstrap_used(
        &mut self,
        id: Uuid,
        at: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;

    // The audit log.

    /// The last appended event, locked until this transaction ends, so that
    /// concurrent writers extend one chain.
    async fn lock_audit_head(&mut self) -> Result<AuditHead, StoreError>;
    /// Appends an event and moves the head to it. The event's `seq` must be
    /// the head's plus one.
    async fn append_audit(&mut self, event: &AuditRecord) -> Result<(), StoreError>;

    // Audit events waiting for the sequencer (group commit, migration 0007).

    /// Records an event in this transaction, without touching the chain's
    /// head (so that concurrent writers do not serialize).
    async fn insert_audit_pending(&mut self, event: &PendingAuditRecord) -> Result<(), StoreError>;
    /// Removes the first `limit` pending events and returns them, in
    /// insertion order (one statement: exactly the rows returned are
    /// removed, and only if this transaction commits).
    async fn take_audit_pending(
        &mut self,
        limit: u32,
    ) -> Result<Vec<PendingAuditRecord>, StoreError>;
    /// Appends consecutive events (multi-row inserts) and moves the head to the
    /// last one. The first `seq` must be the head's plus one.
    async fn append_audit_batch(&mut self, events: &[AuditRecord]) -> Result<(), StoreError>;

    // The audit log's Merkle nodes, checkpoints and signing keys.

    /// Stores Merkle nodes `(level, index, hash)`; a node is written once,
    /// when the event that completes it is appended. Level 0 (leaves) is
    /// not stored since migration 0007: it is derived from the events.
    async fn insert_audit_nodes(
        &mut self,
        nodes: &[(u32, u64, [u8; 32])],
    ) -> Result<(), StoreError>;
    async fn insert_audit_checkpoint(
        &mut self,
        checkpoint: &CheckpointRecord,
    ) -> Result<(), StoreError>;
    /// Records a checkpoint signing key's public half; a key already
    /// recorded is left as it is.
    async fn record_audit_key(&mut self, key: &AuditKeyRecord) -> Result<(), StoreError>;
    /// Records that a key certified its successor (a rotation of the audit
    /// signing key); a key already certified is left as it is.
    async fn record_audit_key_certificate(
        &mut self,
        certificate: &AuditKeyCertificateRecord,
    ) -> Result<(), StoreError>;

    // Data keys, stored wrapped only.

    /// Stores a new data key, unless the tenant (or the system, for a key
    /// of no tenant) already has one for the same purpose: then nothing is
    /// written and the answer is `false` (two transactions creating the
    /// first key of a purpose at once; the loser reads the winner's key).
    async fn insert_data_key(&mut self, key: &DataKeyRecord) -> Result<bool, StoreError>;
    async fn set_data_key_encryptions(
        &mut self,
        id: &[u8; DATA_KEY_ID_LEN],
        encryptions: u64,
    ) -> Result<(), StoreError>;
    /// Replaces a wrapped key (same data key, newer KEK version).
    async fn update_wrapped_data_key(
        &mut self,
        id: &[u8; DATA_KEY_ID_LEN],
        wrapped: &[u8],
        kek_version: u32,
        at: time::OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Deletes the tenant's wrapped data keys (after crypto-shredding);
    /// returns how many.
    async fn delete_data_keys_of_tenant(&mut self, tenant: TenantId) -> Result<u64, StoreError>;

    // Shipping the audit log to external sinks.

    /// Takes or renews the lease to ship to `sink` until `until`, creating
    /// the sink's cursor at 0 on first use. Returns the cursor when
    /// `holder` holds the lease, `None` while another holder's lease runs.
    async fn acquire_ship_lease(
        &mut self,
        sink: &str,
        holder: &str,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
    ) -> Result<Option<ShipCursor>, StoreError>;
    /// Moves the cursor from `from` to `to` (`(seq, checkpoint number)`),
    /// only if `holder` holds the lease and the cursor is still at `from`.
    /// False if it was not moved.
    async fn advance_ship_cursor(
        &mut self,
        sink: &str,
        holder: &str,
        from: (u64, u64),
        to: (u64, u64),
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Gives the lease up (a clean stop), if `holder` holds it.
    async fn release_ship_lease(&mut self, sink: &str, holder: &str) -> Result<(), StoreError>;
}

/// The reads of a transaction. [`Store::begin_read`] returns only this,
/// so a write inside a read transaction does not compile. Dropping it
/// ends it.
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
#[async_trait]
pub trait ReadTx: IdentityReadTx + Send {
    // Tenants.

    async fn list_tenants(&mut self, filter: &TenantFilter) -> Result<Vec<Tenant>, StoreError>;
    async fn count_tenants(&mut self) -> Result<u64, StoreError>;
    async fn tenant(&mut self, id: TenantId) -> Result<Option<Tenant>, StoreError>;

    // Principals and grants.

    async fn count_principals(&mut self) -> Result<u64, StoreError>;
    async fn principal(&mut self, id: PrincipalId) -> Result<Option<PrincipalRecord>, StoreError>;
    async fn grants_of(&mut self, principal: PrincipalId) -> Result<Vec<Grant>, StoreError>;

    // API tokens and the bootstrap credential.

    async fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    async fn bootstrap_by_hash(
        &mut self,
        hash: &[u8; 32],
    ) -> Result<Option<BootstrapRecord>, StoreError>;
    async fn latest_bootstrap(&mut self) -> Result<Option<BootstrapRecord>, StoreError>;

    // The audit log: events, pending events, Merkle nodes, checkpoints and
    // search.

    async fn audit_events(
        &mut self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// Up to `limit` pending events, in insertion order.
    async fn audit_pending(&mut self, limit: u32) -> Result<Vec<PendingAuditRecord>, StoreError>;
    /// The hashes of the events asked for by `seq`, in any order; missing
    /// ones are absent (the Merkle tree's leaves, which are not stored as
    /// nodes since migration 0007).
    async fn audit_event_hashes(
        &mut self,
        seqs: &[u64],
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError>;
    /// The Merkle nodes asked for, in any order; missing ones are absent.
    async fn audit_nodes(
        &mut self,
        keys: &[(u32, u64)],
    ) -> Result<Vec<(u32, u64, [u8; 32])>, StoreError>;
    /// One event by its `seq`.
    async fn audit_event(&mut self, seq: u64) -> Result<Option<AuditRecord>, StoreError>;
    /// The most recently recorded checkpoint signing key.
    async fn latest_audit_key(&mut self) -> Result<Option<AuditKeyRecord>, StoreError>;
    /// A recorded checkpoint signing key by its id.
    async fn audit_key(&mut self, key_id: [u8; 8]) -> Result<Option<AuditKeyRecord>, StoreError>;
    /// Every certificate of a rotation, oldest first.
    async fn audit_key_certificates(
        &mut self,
    ) -> Result<Vec<AuditKeyCertificateRecord>, StoreError>;
    /// The checkpoint with the highest number.
    async fn last_audit_checkpoint(&mut self) -> Result<Option<CheckpointRecord>, StoreError>;
    /// Checkpoints numbered after `after_number`, in order.
    async fn audit_checkpoints(
        &mut self,
        after_number: u64,
        limit: u32,
    ) -> Result<Vec<CheckpointRecord>, StoreError>;
    /// The checkpoint of exactly `size` events.
    async fn audit_checkpoint_of_size(
        &mut self,
        size: u64,
    ) -> Result<Option<CheckpointRecord>, StoreError>;
    /// Events matching `query` within `scope`, in `seq` order. An event
    /// with no tenant is seen only with [`TenantFilter::All`].
    async fn search_audit(
        &mut self,
        query: &AuditQuery,
        scope: &TenantFilter,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    // Data keys, stored wrapped only.

    /// The tenant's data key for `purpose`, if it has one.
    async fn data_key_for(
        &mut self,
        tenant: TenantId,
        purpose: &str,
    ) -> Result<Option<DataKeyRecord>, StoreError>;
    /// The system-wide data key (no tenant) for `purpose`, if there is one.
    async fn system_data_key_for(
        &mut self,
        purpose: &str,
    ) -> Result<Option<DataKeyRecord>, StoreError>;
    /// A system-wide data key by id (never a tenant's).
    async fn system_data_key_by_id(
        &mut self,
        id: &[u8; DATA_KEY_ID_LEN],
    ) -> Result<Option<DataKeyRecord>, StoreError>;
    /// A data key by id, only if it belongs to `tenant`.
    async fn data_key_by_id(
        &mut self,
        tenant: TenantId,
        id: &[u8; DATA_KEY_ID_LEN],
    ) -> Result<Option<DataKeyRecord>, StoreError>;
    /// Up to `limit` data keys of `environment` wrapped under a version
    /// below `below_version`, with ids after `after`, in id order: the
    /// resumable work list of a re-wrap.
    async fn data_keys_to_rewrap(
        &mut self,
        environment: &str,
        below_version: u32,
        after: Option<&[u8; DATA_KEY_ID_LEN]>,
        limit: u32,
    ) -> Result<Vec<DataKeyRecord>, StoreError>;
    /// Data keys per environment and KEK version.
    async fn data_key_versions(&mut self) -> Result<Vec<DataKeyVersionCount>, StoreError>;

    // Shipping the audit log to external sinks.

    /// The last appended event, read without locking it.
    async fn audit_head(&mut self) -> Result<AuditHead, StoreError>;
    /// The sink's cursor, if it has one.
    async fn ship_cursor(&mut self, sink: &str) -> Result<Option<ShipCursor>, StoreError>;
}

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
