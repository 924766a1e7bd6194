//! Continuous shipping of the audit log to a sink outside Rempart
//! (control ML-2).
//!
//! A copy of the log outside Rempart's database is what makes a rewrite of
//! the database detectable by someone other than its administrator. The
//! [`Shipper`] sends batches (docs/formats/audit.md section 8: events and
//! checkpoints in the export format) to one [`Sink`], one batch in flight
//! at a time, and moves the sink's cursor in the database only after the
//! sink acknowledged the batch: a sink that is down loses nothing, and
//! shipping resumes at the cursor after any restart. A lease row lets one
//! replica ship at a time; the cursor moves only from the value the lease
//! holder read, so a replica that lost its lease cannot move it. The lease
//! and the cursor are bookkeeping (`Kernel::bookkeeping`), not audited
//! actions: shipping does not make the log grow.
//!
//! Delivery is at least once: an acknowledgement that is lost on the way
//! back makes the batch go again, with the same `seq` numbers, so a sink
//! keeps each `seq` once.
//!
//! # Providers
//!
//! A sink is anything that implements [`Sink`]: an identity (the key of
//! its cursor, never a secret) and `deliver`, which answers [`Ack`] once
//! the receiver holds the batch or a [`SinkError`] (unreachable, or
//! refused with a status). The shipper does the rest (lease, cursor,
//! pacing, retries with back-off) the same way for all of them. Today's
//! provider is HTTPS ([`https`]: a `POST` per batch, a bearer token read
//! from a file). A new provider (object storage, a syslog relay …) is one
//! file beside it: a struct that builds its client from its own settings,
//! checks them up front (as [`check`] does), and implements [`Sink`]; the
//! shipper takes it with [`Shipper::with_sink`], and a test swaps in an
//! in-memory one the same way.

pub mod https;
mod sink;

pub use https::{HttpsSink, check, sink_url};
pub use sink::{Ack, Batch, CONTENT_TYPE, Sink, SinkError};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use rempart_audit::{BatchWriter, PublicKey};
use rempart_store::{AuditRecord, CheckpointRecord, ShipCursor};

use crate::kernel::audit_chain::{to_checkpoint, to_event};
use crate::kernel::clock::pause;
use crate::kernel::error::ServiceError;
use crate::service::Rempart;

/// The largest `audit.ship_batch_size`.
pub const MAX_BATCH_SIZE: u32 = 10_000;

/// The metric counting events the sink acknowledged.
pub const SHIPPED_METRIC: &str = "rempart_audit_shipped_events_total";
/// The metric giving the events appended and not yet acknowledged.
pub const LAG_METRIC: &str = "rempart_audit_ship_lag_events";

/// Why shipping cannot start or a batch did not go. Never holds the token.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error("the audit sink URL is not usable: {0}")]
    BadUrl(String),
    #[error("cannot read the audit sink's CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("cannot read the audit sink's token file {path}: {reason}")]
    TokenFile { path: PathBuf, reason: String },
    #[error("the HTTP client for the audit sink cannot be built: {0}")]
    Client(String),
    #[error("audit shipping needs the checkpoint signing key, and none is configured")]
    NoSigningKey,
    #[error("the audit sink {sink} is unreachable: {reason}")]
    Unreachable { sink: String, reason: String },
    #[error("the audit sink {sink} refused the batch with HTTP {status}")]
    Refused { sink: String, status: u16 },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl ShipError {
    /// A sink's failure, naming the sink.
    fn from_sink(sink: &str, error: SinkError) -> Self {
        let sink = sink.to_owned();
        match error {
            SinkError::Unreachable { reason } => Self::Unreachable { sink, reason },
            SinkError::Refused { status } => Self::Refused { sink, status },
        }
    }
}

/// How to ship: the HTTPS sink's settings, and the pacing.
#[derive(Debug, Clone)]
pub struct ShipOptions {
    pub url: String,
    pub ca_file: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    /// Events per batch at most.
    pub batch_size: u32,
    /// The first wait after a failure; doubled at each failure up to
    /// `retry_max`.
    pub retry_min: StdDuration,
    pub retry_max: StdDuration,
    /// The wait when there is nothing to ship or another replica ships.
    pub poll: StdDuration,
    /// How long a lease lasts without renewal (renewed at every batch and
    /// every poll).
    pub lease: time::Duration,
    /// The time limit of one request.
    pub timeout: StdDuration,
}

impl ShipOptions {
    pub fn new(url: impl Into<String>) -> Self {
        let pacing = Pacing::default();
        Self {
            url: url.into(),
            ca_file: None,
            token_file: None,
            batch_size: pacing.batch_size,
            retry_min: pacing.retry_min,
            retry_max: pacing.retry_max,
            poll: pacing.poll,
            lease: pacing.lease,
            timeout: StdDuration::from_secs(30),
        }
    }

    /// The pacing these options ask for, whatever the sink.
    pub fn pacing(&self) -> Pacing {
        Pacing {
            batch_size: self.batch_size,
            retry_min: self.retry_min,
            retry_max: self.retry_max,
            poll: self.poll,
            lease: self.lease,
        }
    }
}

/// How the shipper paces itself, whatever the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Events per batch at most (1 to [`MAX_BATCH_SIZE`]).
    pub batch_size: u32,
    /// The first wait after a failure; doubled at each failure up to
    /// `retry_max`.
    pub retry_min: StdDuration,
    pub retry_max: StdDuration,
    /// The wait when there is nothing to ship or another replica ships.
    pub poll: StdDuration,
    /// How long a lease lasts without renewal.
    pub lease: time::Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            batch_size: 500,
            retry_min: StdDuration::from_secs(1),
            retry_max: StdDuration::from_secs(30),
            poll: StdDuration::from_secs(1),
            lease: time::Duration::minutes(2),
        }
    }
}

/// What one shipping step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shipped {
    /// The sink acknowledged a batch; the cursor is now at `through_seq`.
    Batch {
        events: u64,
        checkpoints: u64,
        through_seq: u64,
    },
    /// The sink has everything.
    UpToDate,
    /// Another replica holds the lease.
    NotLeader,
}

/// Ships the audit log to one sink.
pub struct Shipper {
    core: Rempart,
    sink: Arc<dyn Sink>,
    key: PublicKey,
    holder: String,
    pacing: Pacing,
}

rempart_model::debug_fields!(Shipper { sink, holder });

/// What the next batch holds, read in one transaction.
struct Next {
    events: Vec<AuditRecord>,
    checkpoints: Vec<CheckpointRecord>,
    /// The last chained event (for the lag).
    head: u64,
}

impl Shipper {
    /// Ships to the HTTPS sink `options` names. Checks the options and
    /// builds the client; nothing is sent yet. A bad URL, CA file or token
    /// file is an error here, before anything starts.
    pub fn new(core: Rempart, options: ShipOptions) -> Result<Self, ShipError> {
        let pacing = options.pacing();
        let sink = HttpsSink::new(options)?;
        Self::with_sink(core, Arc::new(sink), pacing)
    }

    /// Ships to `sink`, any provider.
    pub fn with_sink(
        core: Rempart,
        sink: Arc<dyn Sink>,
        pacing: Pacing,
    ) -> Result<Self, ShipError> {
        let key = core.audit_public_key().ok_or(ShipError::NoSigningKey)?;
        let holder = core.clock().new_id().to_string();
        Ok(Self {
            core,
            sink,
            key,
            holder,
            pacing,
        })
    }

    /// The sink's identity (for HTTPS, its URL without query), as logs
    /// name it.
    pub fn sink(&self) -> &str {
        self.sink.id()
    }

    /// The sink's cursor as the database holds it.
    pub async fn cursor(&self) -> Result<Option<ShipCursor>, ShipError> {
        let mut tx = self.core.kernel.read().await?;
        Ok(tx
            .ship_cursor(self.sink.id())
            .await
            .map_err(ServiceError::from)?)
    }

    /// One step: takes or renews the lease, sends the next batch after the
    /// cursor, and moves the cursor if the sink acknowledges it.
    pub async fn ship_once(&self) -> Result<Shipped, ShipError> {
        // Only chained events are shipped: chain what is pending first.
        self.core.drain_audit().await?;
        let Some(cursor) = self.lease().await? else {
            return Ok(Shipped::NotLeader);
        };
        let next = self.next(&cursor).await?;
        if next.events.is_empty() && next.checkpoints.is_empty() {
            record_lag(next.head.saturating_sub(cursor.shipped_seq));
            return Ok(Shipped::UpToDate);
        }
        let batch = self.batch(&cursor, &next)?;
        self.sink
            .deliver(&batch)
            .await
            .map_err(|e| ShipError::from_sink(self.sink.id(), e))?;
        let to_checkpoint_number = next
            .checkpoints
            .last()
            .map_or(cursor.shipped_checkpoint, |cp| cp.number);
        let mut book = self.core.kernel.bookkeeping().await?;
        let moved = book
            .advance_ship_cursor(
                self.sink.id(),
                &self.holder,
                (cursor.shipped_seq, cursor.shipped_checkpoint),
                (batch.through_seq, to_checkpoint_number),
                self.core.clock().now(),
            )
            .await?;
        book.commit().await?;
        if !moved {
            // Another replica took the lease meanwhile; it sends this batch
            // again from the cursor, and the sink keeps each seq once.
            return Ok(Shipped::NotLeader);
        }
        metrics::counter!(SHIPPED_METRIC).increment(batch.events);
        record_lag(next.head.saturating_sub(batch.through_seq));
        Ok(Shipped::Batch {
            events: batch.events,
            checkpoints: batch.checkpoints,
            through_seq: batch.through_seq,
        })
    }

    /// Takes or renews the lease: the cursor, or `None` while another
    /// replica holds it.
    async fn lease(&self) -> Result<Option<ShipCursor>, ShipError> {
        let now = self.core.clock().now();
        let mut book = self.core.kernel.bookkeeping().await?;
        let cursor = book
            .acquire_ship_lease(self.sink.id(), &self.holder, now, now + self.pacing.lease)
            .await?;
        book.commit().await?;
        Ok(cursor)
    }

    /// The events after the cursor, then the checkpoints up to the last of
    /// them: a checkpoint of a size below the last event read was committed
    /// no later than that event (signed under the head lock, in the same
    /// sequencer batch or an earlier one), so none can be missed and turn
    /// up later out of place.
    async fn next(&self, cursor: &ShipCursor) -> Result<Next, ShipError> {
        let limit = self.pacing.batch_size.clamp(1, MAX_BATCH_SIZE);
        let mut tx = self.core.kernel.read().await?;
        let events = tx
            .audit_events(cursor.shipped_seq, limit)
            .await
            .map_err(ServiceError::from)?;
        let through = events.last().map_or(cursor.shipped_seq, |e| e.seq);
        let checkpoints = tx
            .audit_checkpoints(cursor.shipped_checkpoint, limit)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .take_while(|cp| cp.size <= through)
            .collect();
        let head = tx.audit_head().await.map_err(ServiceError::from)?.seq;
        Ok(Next {
            events,
            checkpoints,
            head,
        })
    }

    /// The batch of `next`, each checkpoint after the events it covers.
    fn batch(&self, cursor: &ShipCursor, next: &Next) -> Result<Batch, ShipError> {
        let bad = |e: rempart_audit::ExportError| ServiceError::AuditLog(e.to_string());
        let mut writer =
            BatchWriter::new(Vec::new(), self.key.key_id(), cursor.shipped_seq).map_err(bad)?;
        let mut pending = next.checkpoints.iter().peekable();
        for record in &next.events {
            while let Some(cp) = pending.next_if(|cp| cp.size < record.seq) {
                writer.checkpoint(&to_checkpoint(cp)?).map_err(bad)?;
            }
            writer.event(&to_event(record)?).map_err(bad)?;
        }
        for cp in pending {
            writer.checkpoint(&to_checkpoint(cp)?).map_err(bad)?;
        }
        let through_seq = writer.last_seq();
        let body = writer.finish().map_err(bad)?;
        Ok(Batch {
            body,
            after_seq: cursor.shipped_seq,
            through_seq,
            events: u64::try_from(next.events.len()).unwrap_or(u64::MAX),
            checkpoints: u64::try_from(next.checkpoints.len()).unwrap_or(u64::MAX),
        })
    }

    /// Ships for ever: drains the backlog batch by batch, then polls; backs
    /// off exponentially (up to `retry_max`) while the sink fails.
    pub async fn run(&self) {
        let mut backoff = self.pacing.retry_min;
        loop {
            match self.ship_once().await {
                Ok(Shipped::Batch {
                    events,
                    through_seq,
                    ..
                }) => {
                    tracing::debug!(sink = %self.sink(), events, through_seq, "shipped audit events");
                    backoff = self.pacing.retry_min;
                }
                Ok(Shipped::UpToDate | Shipped::NotLeader) => {
                    backoff = self.pacing.retry_min;
                    pause(self.pacing.poll).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX), "audit shipping failed; the cursor did not move");
                    pause(backoff).await;
                    backoff = (backoff * 2).min(self.pacing.retry_max);
                }
            }
        }
    }

    /// Gives the lease up, so that another replica takes over at once.
    pub async fn release(&self) -> Result<(), ShipError> {
        let mut book = self.core.kernel.bookkeeping().await?;
        book.release_ship_lease(self.sink.id(), &self.holder)
            .await?;
        book.commit().await?;
        Ok(())
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "a gauge: precision beyond 2^53 events does not matter"
)]
fn record_lag(lag: u64) {
    metrics::gauge!(LAG_METRIC).set(lag as f64);
}
