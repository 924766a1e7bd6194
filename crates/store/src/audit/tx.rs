//! The audit log's reads and writes of a transaction: for each part (the
//! events, the proofs, the signing keys, the shipping cursors), its SQL
//! text, its row mapping, and its read and write traits, whose provided
//! methods are the one implementation on both engines.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::records::{
    AuditHead, AuditKeyCertificateRecord, AuditKeyRecord, AuditQuery, AuditRecord,
    CheckpointRecord, PendingAuditRecord, ShipCursor,
};
use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, Param, SqlRead, SqlWrite, Stmt, after_i64, lookup_i64,
    to_i64, to_micros,
};
use crate::tenants::{TenantColumn, TenantFilter};
use crate::{Engine, StoreError};

// The audit log's events: the chain's head, the chained events, the events
// waiting for the sequencer (group commit), and search within a tenant
// scope.

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

// The audit log's proofs: the Merkle tree's inner nodes and the signed
// checkpoints over it.

const INSERT_NODES: &str = "INSERT INTO audit_nodes (level, idx, hash) VALUES ";
const NODES: &str = "SELECT level, idx, hash FROM audit_nodes WHERE ";
const INSERT_CHECKPOINT: &str = "INSERT INTO audit_checkpoints \
                                 (number, size, key_id, root, time, prev_hash, signature) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7)";
const LAST_CHECKPOINT: &str = "SELECT number, size, key_id, root, time, prev_hash, signature \
                               FROM audit_checkpoints ORDER BY number DESC LIMIT 1";
const CHECKPOINTS_AFTER: &str = "SELECT number, size, key_id, root, time, prev_hash, signature \
                                 FROM audit_checkpoints WHERE number > $1 \
                                 ORDER BY number LIMIT $2";
const CHECKPOINT_OF_SIZE: &str = "SELECT number, size, key_id, root, time, prev_hash, \
                                  signature FROM audit_checkpoints WHERE size = $1";

fn checkpoint(row: &dyn Columns) -> Result<CheckpointRecord, StoreError> {
    Ok(CheckpointRecord {
        number: row.u64("number")?,
        size: row.u64("size")?,
        key_id: row.key_id("key_id")?,
        root: row.hash("root")?,
        time: row.time("time")?,
        prev_hash: row.hash("prev_hash")?,
        signature: row.bytes("signature")?,
    })
}

/// A Merkle level as stored (levels are small: one past every real level
/// finds nothing).
fn level(level: u32) -> i32 {
    i32::try_from(level).unwrap_or(i32::MAX)
}

/// The reads of the audit log's proofs.
#[async_trait]
pub trait CheckpointReadTx: SqlRead {
    /// The Merkle nodes asked for, in any order; missing ones are absent.
    async fn audit_nodes(
        &mut self,
        keys: &[(u32, u64)],
    ) -> Result<Vec<(u32, u64, [u8; 32])>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(200) {
            let mut stmt = Stmt::new(NODES);
            for (i, (node_level, index)) in chunk.iter().enumerate() {
                if i > 0 {
                    stmt.push(" OR ");
                }
                stmt.push("(level = ")
                    .push_bind(level(*node_level))
                    .push(" AND idx = ")
                    .push_bind(to_i64(*index)?)
                    .push(")");
            }
            let found = self
                .all(stmt, |row| {
                    Ok((
                        u32::try_from(row.i32("level")?)
                            .map_err(|_| StoreError::corrupt("negative Merkle level"))?,
                        row.u64("idx")?,
                        row.hash("hash")?,
                    ))
                })
                .await?;
            out.extend(found);
        }
        Ok(out)
    }

    /// The checkpoint with the highest number.
    async fn last_audit_checkpoint(&mut self) -> Result<Option<CheckpointRecord>, StoreError> {
        self.optional(Stmt::new(LAST_CHECKPOINT), checkpoint).await
    }

    /// Checkpoints numbered after `after_number`, in order.
    async fn audit_checkpoints(
        &mut self,
        after_number: u64,
        limit: u32,
    ) -> Result<Vec<CheckpointRecord>, StoreError> {
        let stmt = Stmt::new(CHECKPOINTS_AFTER)
            .bind(to_i64(after_number)?)
            .bind(i64::from(limit));
        self.all(stmt, checkpoint).await
    }

    /// The checkpoint of exactly `size` events.
    async fn audit_checkpoint_of_size(
        &mut self,
        size: u64,
    ) -> Result<Option<CheckpointRecord>, StoreError> {
        let Some(size) = lookup_i64(size) else {
            return Ok(None);
        };
        self.optional(Stmt::new(CHECKPOINT_OF_SIZE).bind(size), checkpoint)
            .await
    }
}

/// The writes of the audit log's proofs.
#[async_trait]
pub trait CheckpointTx: CheckpointReadTx + SqlWrite {
    /// Stores Merkle nodes `(level, index, hash)`; a node is written once,
    /// when the event that completes it is appended. Level 0 (leaves) is
    /// not stored since migration 0007: it is derived from the events.
    async fn insert_audit_nodes(
        &mut self,
        nodes: &[(u32, u64, [u8; 32])],
    ) -> Result<(), StoreError> {
        if nodes.is_empty() {
            return Ok(());
        }
        let mut stmt = Stmt::new(INSERT_NODES);
        for (i, (node_level, index, hash)) in nodes.iter().enumerate() {
            if i > 0 {
                stmt.push(", ");
            }
            stmt.push("(")
                .push_bind(level(*node_level))
                .push(", ")
                .push_bind(to_i64(*index)?)
                .push(", ")
                .push_bind(hash.as_slice())
                .push(")");
        }
        self.execute(stmt).await?;
        Ok(())
    }

    async fn insert_audit_checkpoint(&mut self, cp: &CheckpointRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_CHECKPOINT)
            .bind(to_i64(cp.number)?)
            .bind(to_i64(cp.size)?)
            .bind(cp.key_id.as_slice())
            .bind(cp.root.as_slice())
            .bind(to_micros(cp.time)?)
            .bind(cp.prev_hash.as_slice())
            .bind(cp.signature.as_slice());
        self.execute(stmt).await?;
        Ok(())
    }
}

impl<D: Db> CheckpointReadTx for EngineTx<D> {}
impl<D: Db> CheckpointTx for EngineTx<D> {}

// The public keys that sign audit checkpoints, and the certificates of
// their rotations (docs/formats/audit.md section 3.3). Not secret: they
// verify, they cannot sign.

const LATEST_KEY: &str = "SELECT key_id, public_key, recorded_at FROM audit_keys \
                          ORDER BY recorded_at DESC, key_id DESC LIMIT 1";
const KEY: &str = "SELECT public_key, recorded_at FROM audit_keys WHERE key_id = $1";
const RECORD_KEY: &str = "INSERT INTO audit_keys (key_id, public_key, recorded_at) \
                          VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING";
const CERTIFICATES: &str = "SELECT key_id, public_key, certified_by, certificate, recorded_at \
                            FROM audit_key_certificates ORDER BY recorded_at, key_id";
const RECORD_CERTIFICATE: &str = "INSERT INTO audit_key_certificates \
                                  (key_id, public_key, certified_by, certificate, recorded_at) \
                                  VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id) DO NOTHING";

/// The audit signing keys' reads.
#[async_trait]
pub trait AuditKeyReadTx: SqlRead {
    /// The most recently recorded checkpoint signing key.
    async fn latest_audit_key(&mut self) -> Result<Option<AuditKeyRecord>, StoreError> {
        self.optional(Stmt::new(LATEST_KEY), |row| {
            Ok(AuditKeyRecord {
                key_id: row.key_id("key_id")?,
                public_key: row.hash("public_key")?,
                recorded_at: row.time("recorded_at")?,
            })
        })
        .await
    }

    /// A recorded checkpoint signing key by its id.
    async fn audit_key(&mut self, key_id: [u8; 8]) -> Result<Option<AuditKeyRecord>, StoreError> {
        self.optional(Stmt::new(KEY).bind(key_id.as_slice()), |row| {
            Ok(AuditKeyRecord {
                key_id,
                public_key: row.hash("public_key")?,
                recorded_at: row.time("recorded_at")?,
            })
        })
        .await
    }

    /// Every certificate of a rotation, oldest first.
    async fn audit_key_certificates(
        &mut self,
    ) -> Result<Vec<AuditKeyCertificateRecord>, StoreError> {
        self.all(Stmt::new(CERTIFICATES), |row| {
            Ok(AuditKeyCertificateRecord {
                key_id: row.key_id("key_id")?,
                public_key: row.hash("public_key")?,
                certified_by: row.key_id("certified_by")?,
                certificate: row.bytes("certificate")?,
                recorded_at: row.time("recorded_at")?,
            })
        })
        .await
    }
}

/// The audit signing keys' writes.
#[async_trait]
pub trait AuditKeyTx: AuditKeyReadTx + SqlWrite {
    /// Records a checkpoint signing key's public half; a key already
    /// recorded is left as it is.
    async fn record_audit_key(&mut self, key: &AuditKeyRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(RECORD_KEY)
            .bind(key.key_id.as_slice())
            .bind(key.public_key.as_slice())
            .bind(to_micros(key.recorded_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Records that a key certified its successor (a rotation of the audit
    /// signing key); a key already certified is left as it is.
    async fn record_audit_key_certificate(
        &mut self,
        certificate: &AuditKeyCertificateRecord,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(RECORD_CERTIFICATE)
            .bind(certificate.key_id.as_slice())
            .bind(certificate.public_key.as_slice())
            .bind(certificate.certified_by.as_slice())
            .bind(certificate.certificate.as_slice())
            .bind(to_micros(certificate.recorded_at)?);
        self.execute(stmt).await?;
        Ok(())
    }
}

impl<D: Db> AuditKeyReadTx for EngineTx<D> {}
impl<D: Db> AuditKeyTx for EngineTx<D> {}

// Shipping the audit log to external sinks: one cursor per sink, moved only
// by the replica that holds the sink's lease.

const SHIP_CURSOR: &str = "SELECT sink, shipped_seq, shipped_checkpoint, lease_holder, \
                           lease_until, shipped_at FROM audit_shipping WHERE sink = $1";
const CREATE_CURSOR: &str = "INSERT INTO audit_shipping (sink, shipped_seq, shipped_checkpoint) \
                             VALUES ($1, 0, 0) ON CONFLICT (sink) DO NOTHING";
/// Takes the lease for `$1` until `$2` if it is free, `$1`'s, or expired at `$4`.
const TAKE_LEASE: &str = "UPDATE audit_shipping SET lease_holder = $1, lease_until = $2 \
                          WHERE sink = $3 AND (lease_holder IS NULL OR lease_holder = $1 \
                          OR lease_until IS NULL OR lease_until <= $4)";
const ADVANCE_CURSOR: &str = "UPDATE audit_shipping \
                              SET shipped_seq = $1, shipped_checkpoint = $2, shipped_at = $3 \
                              WHERE sink = $4 AND lease_holder = $5 \
                              AND shipped_seq = $6 AND shipped_checkpoint = $7";
const RELEASE_LEASE: &str = "UPDATE audit_shipping SET lease_holder = NULL, lease_until = NULL \
                             WHERE sink = $1 AND lease_holder = $2";

/// The shipping cursors' reads.
#[async_trait]
pub trait ShipReadTx: SqlRead {
    /// The sink's cursor, if it has one.
    async fn ship_cursor(&mut self, sink: &str) -> Result<Option<ShipCursor>, StoreError> {
        self.optional(Stmt::new(SHIP_CURSOR).bind(sink), |row| {
            Ok(ShipCursor {
                sink: row.text("sink")?,
                shipped_seq: row.u64("shipped_seq")?,
                shipped_checkpoint: row.u64("shipped_checkpoint")?,
                lease_holder: row.opt_text("lease_holder")?,
                lease_until: row.opt_time("lease_until")?,
                shipped_at: row.opt_time("shipped_at")?,
            })
        })
        .await
    }
}

/// The shipping cursors' writes.
#[async_trait]
pub trait ShipTx: ShipReadTx + SqlWrite {
    /// Takes or renews the lease to ship to `sink` until `until`, creating
    /// the sink's cursor at 0 on first use. Returns the cursor when
    /// `holder` holds the lease, `None` while another holder's lease runs.
    async fn acquire_ship_lease(
        &mut self,
        sink: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<ShipCursor>, StoreError> {
        self.execute(Stmt::new(CREATE_CURSOR).bind(sink)).await?;
        let take = Stmt::new(TAKE_LEASE)
            .bind(holder)
            .bind(to_micros(until)?)
            .bind(sink)
            .bind(to_micros(now)?);
        if self.execute(take).await? != 1 {
            return Ok(None);
        }
        self.ship_cursor(sink).await
    }

    /// Moves the cursor from `from` to `to` (`(seq, checkpoint number)`),
    /// only if `holder` holds the lease and the cursor is still at `from`.
    /// False if it was not moved.
    async fn advance_ship_cursor(
        &mut self,
        sink: &str,
        holder: &str,
        from: (u64, u64),
        to: (u64, u64),
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(ADVANCE_CURSOR)
            .bind(to_i64(to.0)?)
            .bind(to_i64(to.1)?)
            .bind(to_micros(now)?)
            .bind(sink)
            .bind(holder)
            .bind(to_i64(from.0)?)
            .bind(to_i64(from.1)?);
        Ok(self.execute(stmt).await? == 1)
    }

    /// Gives the lease up (a clean stop), if `holder` holds it.
    async fn release_ship_lease(&mut self, sink: &str, holder: &str) -> Result<(), StoreError> {
        self.execute(Stmt::new(RELEASE_LEASE).bind(sink).bind(holder))
            .await?;
        Ok(())
    }
}

impl<D: Db> ShipReadTx for EngineTx<D> {}
impl<D: Db> ShipTx for EngineTx<D> {}
