//! Audit log storage: the chained events and their head, the events
//! waiting for the sequencer, the Merkle nodes and signed checkpoints, the
//! signing keys' public halves, and the shipping cursors. The `audit`
//! crate defines the encodings and verifies; the store keeps the columns.
//! The records are in `records.rs`; each part's SQL text, row mapping,
//! and read and write traits are in `tx.rs`.
//!
//! [`AuditReadTx`] gathers the reads (a supertrait of
//! [`ReadTx`](crate::ReadTx)); [`AuditTx`] the writes (a supertrait of
//! [`Tx`](crate::Tx)).

mod records;
mod tx;

pub use records::{
    AuditHead, AuditKeyCertificateRecord, AuditKeyRecord, AuditQuery, AuditRecord,
    CheckpointRecord, PendingAuditRecord, ShipCursor,
};
pub use tx::{
    AuditKeyReadTx, AuditKeyTx, AuditLogReadTx, AuditLogTx, CheckpointReadTx, CheckpointTx,
    ShipReadTx, ShipTx,
};

use crate::engine::{Db, EngineTx};

/// The audit log's reads (see [`crate::ReadTx`]).
pub trait AuditReadTx: AuditLogReadTx + CheckpointReadTx + AuditKeyReadTx + ShipReadTx {}

/// The audit log's writes (see [`crate::Tx`]).
pub trait AuditTx: AuditReadTx + AuditLogTx + CheckpointTx + AuditKeyTx + ShipTx {}

impl<D: Db> AuditReadTx for EngineTx<D> {}
impl<D: Db> AuditTx for EngineTx<D> {}
