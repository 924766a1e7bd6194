//! Audit records as the store keeps them. The `audit` crate defines their
//! encodings, hashes and signatures, and verifies them; the store keeps
//! the columns.

use time::OffsetDateTime;
use uuid::Uuid;

// The events and their head.

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
/// passed separately, as a [`TenantFilter`](crate::TenantFilter) (invariant 2).
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

// Signed checkpoints.

/// A signed checkpoint as stored. The `audit` crate defines its encoding
/// and verifies it; the store keeps the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// 1-based position in the checkpoint chain.
    pub number: u64,
    /// Events covered (1 to `size`).
    pub size: u64,
    pub key_id: [u8; 8],
    pub root: [u8; 32],
    pub time: OffsetDateTime,
    pub prev_hash: [u8; 32],
    pub signature: Vec<u8>,
}

// The signing keys and their rotations.

/// A public key that signs audit checkpoints, as recorded when the keyring
/// was opened (not secret: it verifies, it cannot sign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKeyRecord {
    /// The id checkpoints name it by.
    pub key_id: [u8; 8],
    pub public_key: [u8; 32],
    pub recorded_at: OffsetDateTime,
}

/// A rotation of the audit signing key: the predecessor's signature over
/// its successor (docs/formats/audit.md section 3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKeyCertificateRecord {
    /// The successor's id.
    pub key_id: [u8; 8],
    /// The successor's public key.
    pub public_key: [u8; 32],
    /// The predecessor's id.
    pub certified_by: [u8; 8],
    /// The predecessor's Ed25519 signature.
    pub certificate: Vec<u8>,
    pub recorded_at: OffsetDateTime,
}

// Shipping to external sinks.

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
