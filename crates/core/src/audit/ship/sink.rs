//! The outbound side of shipping: a [`Sink`] takes one [`Batch`] of the
//! audit log at a time and says whether its receiver now holds it. The
//! shipper does the rest (lease, cursor, pacing, retries), the same for
//! every provider.

use async_trait::async_trait;

/// The media type of a batch body: JSON lines.
pub const CONTENT_TYPE: &str = "application/x-ndjson";

/// One batch of the log, ready to send: events after `after_seq` and the
/// checkpoints that follow them, framed as docs/formats/audit.md section 8
/// says (a `batch` header line, event and checkpoint lines in the export
/// format, an `end` line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The framed batch, [`CONTENT_TYPE`].
    pub body: Vec<u8>,
    /// The last event the receiver had before this batch (the header's
    /// `after_seq`).
    pub after_seq: u64,
    /// The last event in the batch (`after_seq` when it carries only
    /// checkpoints).
    pub through_seq: u64,
    /// Event lines in the batch.
    pub events: u64,
    /// Checkpoint lines in the batch.
    pub checkpoints: u64,
}

/// The receiver holds the batch: the cursor may move past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ack;

/// Why a batch was not delivered. The shipper keeps its cursor and sends
/// the same batch again later. Never holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The receiver could not be reached (network, TLS, time-out).
    #[error("unreachable: {reason}")]
    Unreachable { reason: String },
    /// The receiver answered and did not take the batch; `status` is its
    /// answer (the HTTP status, for the HTTPS sink).
    #[error("refused the batch with status {status}")]
    Refused { status: u16 },
}

/// Where the audit log is shipped to (see the module comment of
/// [`super`] for how a provider is added).
///
/// Delivery is at least once: a batch whose acknowledgement was lost goes
/// again with the same `seq` numbers, so a receiver keeps each `seq` once.
#[async_trait]
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// The sink's identity: the key of its cursor and lease in the
    /// database, and its name in logs and errors. Stable across restarts
    /// (another identity starts again from event 1); never a secret (no
    /// credential, no query string).
    fn id(&self) -> &str;

    /// Sends `batch`; `Ok` only once the receiver holds it durably.
    async fn deliver(&self, batch: &Batch) -> Result<Ack, SinkError>;
}
