//! The audit log: search, an event's sealed details, and inclusion and
//! consistency proofs against signed checkpoints. Hashes and signatures are
//! lowercase hex, as in the export format (docs/formats/audit.md).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::format::{OutcomeName, SeqNumber};

/// Filters of an audit search; every one narrows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Events before this time (RFC 3339).
    #[param(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// A tenant id.
    #[param(format = Uuid)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// `success`, `denied` or `failed`.
    #[param(value_type = Option<OutcomeName>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Events after this seq: the `next_after` of the previous page.
    #[param(value_type = Option<SeqNumber>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// At most this many events (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEventView {
    pub seq: u64,
    /// RFC 3339, microseconds.
    pub time: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub tenant: Option<String>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub source: Option<String>,
    /// Whether sealed details are attached (they are never returned here:
    /// see `GET /api/v1/audit/events/{seq}/details`).
    pub has_details: bool,
    pub prev_hash: String,
    pub hash: String,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEventPage {
    pub events: Vec<AuditEventView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u64>,
}

/// A signed checkpoint, as in the export format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckpointView {
    pub version: u8,
    pub key_id: String,
    pub size: u64,
    pub root: String,
    pub time_us: i64,
    pub prev_hash: String,
    pub signature: String,
}

/// An event's inclusion proof (RFC 6962 audit path) against a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofView {
    pub event: AuditEventView,
    pub leaf_index: u64,
    /// SHA-256(0x00 || event hash).
    pub leaf_hash: String,
    pub checkpoint: CheckpointView,
    pub path: Vec<String>,
}

/// A consistency proof (RFC 6962) between two checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofView {
    pub old: CheckpointView,
    pub new: CheckpointView,
    pub path: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProofParams {
    /// The size of the checkpoint to prove against; default the latest.
    #[param(value_type = Option<SeqNumber>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    /// The older checkpoint's size.
    #[param(value_type = SeqNumber)]
    pub from: u64,
    /// The newer checkpoint's size.
    #[param(value_type = SeqNumber)]
    pub to: u64,
}

/// The decrypted details of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditDetailsView {
    pub seq: u64,
    /// The details as the service recorded them (a JSON object), or null
    /// when the event carries none.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}
