//! Audit log storage: the chained events and their head, the events
//! waiting for the sequencer, the Merkle nodes and signed checkpoints, the
//! signing keys' public halves, and the shipping cursors. The `audit`
//! crate defines the encodings and verifies; the store keeps the columns.
//!
//! [`AuditReadTx`] gathers the reads (a supertrait of
//! [`ReadTx`](crate::ReadTx)); [`AuditTx`] the writes (a supertrait of
//! [`Tx`](crate::Tx)).

mod checkpoints;
mod keys;
mod log;
mod shipping;

pub use checkpoints::{CheckpointReadTx, CheckpointRecord, CheckpointTx};
pub use keys::{AuditKeyCertificateRecord, AuditKeyReadTx, AuditKeyRecord, AuditKeyTx};
pub use log::{AuditHead, AuditLogReadTx, AuditLogTx, AuditQuery, AuditRecord, PendingAuditRecord};
pub use shipping::{ShipCursor, ShipReadTx, ShipTx};

use crate::engine::{Db, EngineTx};

/// The audit log's reads (see [`crate::ReadTx`]).
pub trait AuditReadTx: AuditLogReadTx + CheckpointReadTx + AuditKeyReadTx + ShipReadTx {}

/// The audit log's writes (see [`crate::Tx`]).
pub trait AuditTx: AuditReadTx + AuditLogTx + CheckpointTx + AuditKeyTx + ShipTx {}

impl<D: Db> AuditReadTx for EngineTx<D> {}
impl<D: Db> AuditTx for EngineTx<D> {}
