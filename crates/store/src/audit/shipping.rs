//! Shipping the audit log to external sinks: one cursor per sink, moved
//! only by the replica that holds the sink's lease.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;
use crate::engine::{Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, to_i64, to_micros};

/// How far one shipping sink has acknowledged the audit log, and which
/// replica holds the lease to ship to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipCursor {
    /// The sink's identity (its URL, which holds no credential).
    pub sink: String,
    /// The last event the sink answered 2xx for (0: none).
    pub shipped_seq: u64,
    /// The last checkpoint `number` the sink answered 2xx for (0: none).
    pub shipped_checkpoint: u64,
    pub lease_holder: Option<String>,
    pub lease_until: Option<OffsetDateTime>,
    /// When the cursor last moved.
    pub shipped_at: Option<OffsetDateTime>,
}

const CURSOR: &str = "SELECT sink, shipped_seq, shipped_checkpoint, lease_holder, lease_until, \
                      shipped_at FROM audit_shipping WHERE sink = $1";
const CREATE: &str = "INSERT INTO audit_shipping (sink, shipped_seq, shipped_checkpoint) \
                      VALUES ($1, 0, 0) ON CONFLICT (sink) DO NOTHING";
/// Takes the lease for `$1` until `$2` if it is free, `$1`'s, or expired at `$4`.
const TAKE_LEASE: &str = "UPDATE audit_shipping SET lease_holder = $1, lease_until = $2 \
                          WHERE sink = $3 AND (lease_holder IS NULL OR lease_holder = $1 \
                          OR lease_until IS NULL OR lease_until <= $4)";
const ADVANCE: &str = "UPDATE audit_shipping \
                       SET shipped_seq = $1, shipped_checkpoint = $2, shipped_at = $3 \
                       WHERE sink = $4 AND lease_holder = $5 \
                       AND shipped_seq = $6 AND shipped_checkpoint = $7";
const RELEASE: &str = "UPDATE audit_shipping SET lease_holder = NULL, lease_until = NULL \
                       WHERE sink = $1 AND lease_holder = $2";

/// The shipping cursors' reads.
#[async_trait]
pub trait ShipReadTx: SqlRead {
    /// The sink's cursor, if it has one.
    async fn ship_cursor(&mut self, sink: &str) -> Result<Option<ShipCursor>, StoreError> {
        self.optional(Stmt::new(CURSOR).bind(sink), |row| {
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
        self.execute(Stmt::new(CREATE).bind(sink)).await?;
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
        let stmt = Stmt::new(ADVANCE)
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
        self.execute(Stmt::new(RELEASE).bind(sink).bind(holder))
            .await?;
        Ok(())
    }
}

impl<D: Db> ShipReadTx for EngineTx<D> {}
impl<D: Db> ShipTx for EngineTx<D> {}
