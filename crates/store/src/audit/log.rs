//! The audit log's events: the chain's head, the chained events, the
//! events waiting for the sequencer (group commit), and search within a
//! tenant scope.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, Param, SqlRead, SqlWrite, Stmt, after_i64, lookup_i64,
    to_i64, to_micros,
};
use crate::tenants::{TenantColumn, TenantFilter};
use crate::{Engine, StoreError};

/// The last event of the audit chain (`seq` 0 and a zero hash when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: [u8; 32],
}

/// One audit event as stored. The `audit` crate defines its encoding and
/// hashes; the store keeps the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: u64,
    pub time: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub tenant: Option<Uuid>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub source: Option<String>,
    pub details: Option<Vec<u8>>,
    /// The event's random id (encoding version 2); `None` for the events
    /// of encoding version 1, written before ids existed.
    pub id: Option<Uuid>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// An audit event recorded in its action's transaction and not yet sealed
/// into the chain (the audit log's group commit): the sequencer gives it its
/// `seq`, `prev_hash` and `hash` later, in insertion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuditRecord {
    /// Insertion order, assigned by the database (ignored on insert).
    pub order: u64,
    /// The event's random id, carried into the chained event.
    pub id: Uuid,
    pub time: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub tenant: Option<Uuid>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub source: Option<String>,
    /// Sealed details only (an envelope bound to `id`), never plaintext.
    pub details: Option<Vec<u8>>,
}

/// A search of the audit log. Every field narrows it; the tenant scope is
/// passed separately, as a [`TenantFilter`] (invariant 2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Events before this time.
    pub until: Option<OffsetDateTime>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub tenant: Option<Uuid>,
    pub outcome: Option<String>,
    /// Events after this `seq` (the pagination cursor).
    pub after_seq: u64,
    pub limit: u32,
}

const HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";
/// The head, locked until the transaction ends. SQLite has no row locks:
/// its write transactions begin holding the database's write lock, so
/// there [`HEAD`] is enough.
const LOCK_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";
/// Moves the head from `$3` to (`$1`, `$2`): it moves by one event or one
/// batch, from where this transaction found it.
const MOVE_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3";
const INSERT_EVENT: &str = "INSERT INTO audit_events (seq, time, actor, action, target, \
                            tenant_id, outcome, request_id, source, details, prev_hash, hash, \
                            event_id) \
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
const INSERT_EVENTS: &str = "INSERT INTO audit_events (seq, time, actor, action, target, \
                             tenant_id, outcome, request_id, source, details, prev_hash, hash, \
                             event_id) VALUES ";
const EVENTS_AFTER: &str = "SELECT seq, time, actor, action, target, tenant_id, outcome, \
                            request_id, source, details, event_id, prev_hash, hash \
                            FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2";
const EVENT: &str = "SELECT seq, time, actor, action, target, tenant_id, outcome, request_id, \
                     source, details, event_id, prev_hash, hash FROM audit_events WHERE seq = $1";
const SEARCH: &str = "SELECT seq, time, actor, action, target, tenant_id, outcome, request_id, \
                      source, details, event_id, prev_hash, hash FROM audit_events WHERE seq > ";
const HASHES: &str = "SELECT seq, hash FROM audit_events WHERE seq IN (";
const INSERT_PENDING: &str = "INSERT INTO audit_pending (event_id, time, actor, action, target, \
                              tenant_id, outcome, request_id, source, details) \
                              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const PENDING: &str = "SELECT id, event_id, time, actor, action, target, tenant_id, outcome, \
                       request_id, source, details FROM audit_pending ORDER BY id LIMIT $1";
const TAKE_PENDING: &str = "DELETE FROM audit_pending \
                            WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT $1) \
                            RETURNING id, event_id, time, actor, action, target, tenant_id, \
                            outcome, request_id, source, details";

fn head(row: &dyn Columns) -> Result<AuditHead, StoreError> {
    Ok(AuditHead {
        seq: row.u64("seq")?,
        hash: row.hash("hash")?,
    })
}

fn event(row: &dyn Columns) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: row.u64("seq")?,
        time: row.time("time")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        target: row.opt_text("target")?,
        tenant: row.opt_uuid("tenant_id")?,
        outcome: row.text("outcome")?,
        request_id: row.opt_text("request_id")?,
        source: row.opt_text("source")?,
        details: row.opt_bytes("details")?,
        id: row.opt_uuid("event_id")?,
        prev_hash: row.hash("prev_hash")?,
        hash: row.hash("hash")?,
    })
}

fn pending(row: &dyn Columns) -> Result<PendingAuditRecord, StoreError> {
    Ok(PendingAuditRecord {
        order: row.u64("id")?,
        id: row.uuid("event_id")?,
        time: row.time("time")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        target: row.opt_text("target")?,
        tenant: row.opt_uuid("tenant_id")?,
        outcome: row.text("outcome")?,
        request_id: row.opt_text("request_id")?,
        source: row.opt_text("source")?,
        details: row.opt_bytes("details")?,
    })
}

/// An event's columns, in the order of [`INSERT_EVENT`] and
/// [`INSERT_EVENTS`], its `seq` already checked.
fn event_values(seq: i64, event: &AuditRecord) -> Result<[Param<'_>; 13], StoreError> {
    Ok([
        seq.into(),
        to_micros(event.time)?.into(),
        event.actor.as_str().into(),
        event.action.as_str().into(),
        event.target.as_deref().into(),
        event.tenant.into(),
        event.outcome.as_str().into(),
        event.request_id.as_deref().into(),
        event.source.as_deref().into(),
        event.details.as_deref().into(),
        event.prev_hash.as_slice().into(),
        event.hash.as_slice().into(),
        event.id.into(),
    ])
}

/// Moves the head from `from` to `to` (whose hash is `hash`); an error if
/// it is no longer at `from` (it was not locked).
async fn move_head<T: SqlWrite + ?Sized>(
    tx: &mut T,
    from: i64,
    to: i64,
    hash: &[u8; 32],
) -> Result<(), StoreError> {
    let stmt = Stmt::new(MOVE_HEAD)
        .bind(to)
        .bind(hash.as_slice())
        .bind(from);
    if tx.execute(stmt).await? == 1 {
        Ok(())
    } else {
        Err(StoreError::corrupt(
            "the audit head moved during the transaction; it was not locked",
        ))
    }
}

/// The audit log's reads.
#[async_trait]
pub trait AuditLogReadTx: SqlRead {
    /// The last appended event, read without locking it.
    async fn audit_head(&mut self) -> Result<AuditHead, StoreError> {
        self.one(Stmt::new(HEAD), head).await
    }

    async fn audit_events(
        &mut self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let stmt = Stmt::new(EVENTS_AFTER)
            .bind(after_i64(after_seq))
            .bind(i64::from(limit));
        self.all(stmt, event).await
    }

    /// One event by its `seq`.
    async fn audit_event(&mut self, seq: u64) -> Result<Option<AuditRecord>, StoreError> {
        let Some(seq) = lookup_i64(seq) else {
            return Ok(None);
        };
        self.optional(Stmt::new(EVENT).bind(seq), event).await
    }

    /// The hashes of the events asked for by `seq`, in any order; missing
    /// ones are absent (the Merkle tree's leaves, which are not stored as
    /// nodes since migration 0007).
    async fn audit_event_hashes(
        &mut self,
        seqs: &[u64],
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        let mut out = Vec::with_capacity(seqs.len());
        // Chunks of 32: few distinct statement texts to prepare.
        for chunk in seqs.chunks(32) {
            let mut stmt = Stmt::new(HASHES);
            stmt.push_list(
                chunk
                    .iter()
                    .map(|seq| to_i64(*seq))
                    .collect::<Result<Vec<_>, _>>()?,
            );
            stmt.push(")");
            let found = self
                .all(stmt, |row| Ok((row.u64("seq")?, row.hash("hash")?)))
                .await?;
            out.extend(found);
        }
        Ok(out)
    }

    /// Up to `limit` pending events, in insertion order.
    async fn audit_pending(&mut self, limit: u32) -> Result<Vec<PendingAuditRecord>, StoreError> {
        self.all(Stmt::new(PENDING).bind(i64::from(limit)), pending)
            .await
    }

    /// Events matching `query` within `scope`, in `seq` order. An event
    /// with no tenant is seen only with [`TenantFilter::All`].
    async fn search_audit(
        &mut self,
        query: &AuditQuery,
        scope: &TenantFilter,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut stmt = Stmt::new(SEARCH);
        stmt.push_bind(after_i64(query.after_seq));
        if let Some(since) = query.since {
            stmt.push(" AND time >= ").push_bind(to_micros(since)?);
        }
        if let Some(until) = query.until {
            stmt.push(" AND time < ").push_bind(to_micros(until)?);
        }
        if let Some(actor) = &query.actor {
            stmt.push(" AND actor = ").push_bind(actor.as_str());
        }
        if let Some(action) = &query.action {
            stmt.push(" AND action = ").push_bind(action.as_str());
        }
        if let Some(tenant) = query.tenant {
            stmt.push(" AND tenant_id = ").push_bind(tenant);
        }
        if let Some(outcome) = &query.outcome {
            stmt.push(" AND outcome = ").push_bind(outcome.as_str());
        }
        // The caller's scope, in the query itself (invariant 2).
        scope.push_to(&mut stmt, " AND ", TenantColumn::TenantId);
        stmt.push(" ORDER BY seq LIMIT ")
            .push_bind(i64::from(query.limit));
        self.all(stmt, event).await
    }
}

/// The audit log's writes.
#[async_trait]
pub trait AuditLogTx: AuditLogReadTx + SqlWrite {
    /// The last appended event, locked until this transaction ends, so that
    /// concurrent writers extend one chain.
    async fn lock_audit_head(&mut self) -> Result<AuditHead, StoreError> {
        let lock = match self.engine() {
            Engine::Sqlite => HEAD,
            Engine::Postgres => LOCK_HEAD,
        };
        self.one(Stmt::new(lock), head).await
    }

    /// Appends an event and moves the head to it. The event's `seq` must be
    /// the head's plus one.
    async fn append_audit(&mut self, event: &AuditRecord) -> Result<(), StoreError> {
        let seq = to_i64(event.seq)?;
        let mut insert = Stmt::new(INSERT_EVENT);
        for value in event_values(seq, event)? {
            insert = insert.bind(value);
        }
        self.execute(insert).await?;
        move_head(self, seq - 1, seq, &event.hash).await
    }

    /// Appends consecutive events (multi-row inserts) and moves the head to the
    /// last one. The first `seq` must be the head's plus one.
    async fn append_audit_batch(&mut self, events: &[AuditRecord]) -> Result<(), StoreError> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return Ok(());
        };
        let before = to_i64(first.seq)? - 1;
        // At most 13 parameters a row: 64 rows stay far below both
        // engines' limits on bound parameters.
        for chunk in events.chunks(64) {
            let mut insert = Stmt::new(INSERT_EVENTS);
            for (i, event) in chunk.iter().enumerate() {
                if i > 0 {
                    insert.push(", ");
                }
                insert.push_tuple(event_values(to_i64(event.seq)?, event)?);
            }
            self.execute(insert).await?;
        }
        move_head(self, before, to_i64(last.seq)?, &last.hash).await
    }

    /// Records an event in this transaction, without touching the chain's
    /// head (so that concurrent writers do not serialize).
    async fn insert_audit_pending(&mut self, event: &PendingAuditRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_PENDING)
            .bind(event.id)
            .bind(to_micros(event.time)?)
            .bind(event.actor.as_str())
            .bind(event.action.as_str())
            .bind(event.target.as_deref())
            .bind(event.tenant)
            .bind(event.outcome.as_str())
            .bind(event.request_id.as_deref())
            .bind(event.source.as_deref())
            .bind(event.details.as_deref());
        self.execute(stmt).await?;
        Ok(())
    }

    /// Removes the first `limit` pending events and returns them, in
    /// insertion order (one statement: exactly the rows returned are
    /// removed, and only if this transaction commits).
    async fn take_audit_pending(
        &mut self,
        limit: u32,
    ) -> Result<Vec<PendingAuditRecord>, StoreError> {
        let mut taken = self
            .all(Stmt::new(TAKE_PENDING).bind(i64::from(limit)), pending)
            .await?;
        // RETURNING gives no order.
        taken.sort_unstable_by_key(|p| p.order);
        Ok(taken)
    }
}

impl<D: Db> AuditLogReadTx for EngineTx<D> {}
impl<D: Db> AuditLogTx for EngineTx<D> {}
