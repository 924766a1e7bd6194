//! The audit log over HTTP: search, and inclusion and consistency proofs
//! against signed checkpoints. Hashes and signatures are lowercase hex, as
//! in the export format (docs/formats/audit.md).

#![allow(
    unused_qualifications,
    reason = "utoipa's IntoParams expansion qualifies the parameter types"
)]

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use rempart_audit::Checkpoint;
use rempart_audit::event::unix_micros;
use rempart_store::{AuditQuery, AuditRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiPath, Authenticated, Ctx};
use crate::problem::Problem;
use crate::state::AppState;
use crate::wire_format::{OutcomeName, SeqNumber};

/// Filters of an audit search; every one narrows it.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Events before this time (RFC 3339).
    #[param(format = DateTime)]
    until: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    /// A tenant id.
    #[param(format = Uuid)]
    tenant: Option<String>,
    /// `success`, `denied` or `failed`.
    #[param(value_type = Option<OutcomeName>)]
    outcome: Option<String>,
    /// Events after this seq: the `next_after` of the previous page.
    #[param(value_type = Option<SeqNumber>)]
    after: Option<u64>,
    /// At most this many events (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// One audit event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

impl From<AuditRecord> for AuditEventView {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            time: r.time.format(&Rfc3339).unwrap_or_default(),
            actor: r.actor,
            action: r.action,
            target: r.target,
            tenant: r.tenant.map(|t| t.to_string()),
            outcome: r.outcome,
            request_id: r.request_id,
            source: r.source,
            has_details: r.details.is_some(),
            prev_hash: hex::encode(r.prev_hash),
            hash: hex::encode(r.hash),
        }
    }
}

/// A page of search results.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEventPage {
    pub events: Vec<AuditEventView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<u64>,
}

/// A signed checkpoint, as in the export format.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckpointView {
    pub version: u8,
    pub key_id: String,
    pub size: u64,
    pub root: String,
    pub time_us: i64,
    pub prev_hash: String,
    pub signature: String,
}

impl From<&Checkpoint> for CheckpointView {
    fn from(cp: &Checkpoint) -> Self {
        Self {
            version: 1,
            key_id: cp.key_id.to_string(),
            size: cp.size,
            root: hex::encode(cp.root),
            time_us: unix_micros(cp.time),
            prev_hash: hex::encode(cp.prev_hash),
            signature: hex::encode(cp.signature),
        }
    }
}

/// An event's inclusion proof (RFC 6962 audit path) against a checkpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofView {
    pub event: AuditEventView,
    pub leaf_index: u64,
    /// SHA-256(0x00 || event hash).
    pub leaf_hash: String,
    pub checkpoint: CheckpointView,
    pub path: Vec<String>,
}

/// A consistency proof (RFC 6962) between two checkpoints.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofView {
    pub old: CheckpointView,
    pub new: CheckpointView,
    pub path: Vec<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProofParams {
    /// The size of the checkpoint to prove against; default the latest.
    #[param(value_type = Option<SeqNumber>)]
    checkpoint: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    /// The older checkpoint's size.
    #[param(value_type = SeqNumber)]
    from: u64,
    /// The newer checkpoint's size.
    #[param(value_type = SeqNumber)]
    to: u64,
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, Problem> {
    q.map(|Query(v)| v)
        .map_err(|e| Problem::invalid_field("query", e.body_text()))
}

fn time_param(field: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, Problem> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339)
                .map_err(|_| Problem::invalid_field(field, "expected an RFC 3339 time"))
        })
        .transpose()
}

/// Searches the audit log. Needs `audit.search`; a tenant-scoped caller
/// sees only its tenants' events. The search is itself audited.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit",
    params(SearchParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of events, oldest first", body = AuditEventPage),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's grants do not carry audit.search", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter is not valid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<AuditEventPage>, Problem> {
    let p = query(params)?;
    let tenant = p
        .tenant
        .as_deref()
        .map(|t| {
            uuid::Uuid::parse_str(t)
                .map_err(|_| Problem::invalid_field("tenant", "expected a UUID"))
        })
        .transpose()?;
    if let Some(outcome) = &p.outcome
        && rempart_model::Outcome::parse(outcome).is_none()
    {
        return Err(Problem::invalid_field(
            "outcome",
            "expected success, denied or failed",
        ));
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=rempart_core::audit::MAX_SEARCH_LIMIT).contains(&limit) {
        return Err(Problem::invalid_field("limit", "expected 1 to 1000"));
    }
    let q = AuditQuery {
        since: time_param("since", p.since.as_deref())?,
        until: time_param("until", p.until.as_deref())?,
        actor: p.actor,
        action: p.action,
        tenant,
        outcome: p.outcome,
        after_seq: p.after.unwrap_or(0),
        limit,
    };
    let events = state.core.search_audit(&actor, &ctx, q).await?;
    let full = events.len() == usize::try_from(limit).unwrap_or(usize::MAX);
    let next_after = if full {
        events.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(Json(AuditEventPage {
        events: events.into_iter().map(AuditEventView::from).collect(),
        next_after,
    }))
}

/// The inclusion proof of one event against a signed checkpoint. Needs
/// `audit.proof` over the event's tenant.
#[utoipa::path(get, path = "/api/v1/audit/events/{seq}/proof", tag = "audit",
    params(("seq" = SeqNumber, Path, description = "The event's sequence number"), ProofParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The proof", body = InclusionProofView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The grants see the event (audit.search) but do not carry audit.proof over its tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event or checkpoint, or an event outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The checkpoint does not cover the event yet", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn inclusion(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(seq): ApiPath<u64>,
    params: Result<Query<ProofParams>, QueryRejection>,
) -> Result<Json<InclusionProofView>, Problem> {
    let p = query(params)?;
    let proof = state
        .core
        .audit_inclusion_proof(&actor, &ctx, seq, p.checkpoint)
        .await?;
    Ok(Json(InclusionProofView {
        leaf_index: proof.leaf_index,
        leaf_hash: hex::encode(proof.leaf_hash),
        checkpoint: CheckpointView::from(&proof.checkpoint),
        path: proof.path.iter().map(hex::encode).collect(),
        event: proof.event.into(),
    }))
}

/// The decrypted details of one event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditDetailsView {
    pub seq: u64,
    /// The details as the service recorded them (a JSON object), or null
    /// when the event carries none.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// The decrypted details of one event (sealed at rest under the event's
/// tenant's `audit-details` data key). Needs `audit.search` over the
/// event's tenant; the read is itself audited.
#[utoipa::path(get, path = "/api/v1/audit/events/{seq}/details", tag = "audit",
    params(("seq" = SeqNumber, Path, description = "The event's sequence number")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The details (null if none)", body = AuditDetailsView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The grants see the event (audit.proof) but do not carry audit.search over its tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event, or one outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The details do not decrypt (moved from another event, or a retired key)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The keyring is sealed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn details(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(seq): ApiPath<u64>,
) -> Result<Json<AuditDetailsView>, Problem> {
    let details = state.core.audit_event_details(&actor, &ctx, seq).await?;
    Ok(Json(AuditDetailsView { seq, details }))
}

/// The consistency proof between two signed checkpoints. Needs
/// `audit.proof`.
#[utoipa::path(get, path = "/api/v1/audit/consistency", tag = "audit",
    params(ConsistencyParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProofView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The grants do not carry audit.proof", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No checkpoint of that size", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The sizes are out of order", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn consistency(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    params: Result<Query<ConsistencyParams>, QueryRejection>,
) -> Result<Json<ConsistencyProofView>, Problem> {
    let p = query(params)?;
    let proof = state
        .core
        .audit_consistency_proof(&actor, &ctx, p.from, p.to)
        .await?;
    Ok(Json(ConsistencyProofView {
        old: CheckpointView::from(&proof.old),
        new: CheckpointView::from(&proof.new),
        path: proof.path.iter().map(hex::encode).collect(),
    }))
}
