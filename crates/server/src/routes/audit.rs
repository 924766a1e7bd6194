//! The audit log over HTTP: search, and inclusion and consistency proofs
//! against signed checkpoints. Hashes and signatures are lowercase hex, as
//! in the export format (docs/formats/audit.md).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use rempart_api::audit::{
    AuditDetailsView, AuditEventPage, AuditEventView, CheckpointView, ConsistencyParams,
    ConsistencyProofView, InclusionProofView, ProofParams, SearchParams,
};
use rempart_api::format::SeqNumber;
use rempart_audit::Checkpoint;
use rempart_audit::event::unix_micros;
use rempart_store::{AuditQuery, AuditRecord};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::extract::{ApiPath, Authenticated, Ctx};
use crate::problem::Problem;
use crate::routes::answers::{KeyringSealed, NoValidToken, TenantShredded};
use crate::state::AppState;

fn event_view(r: AuditRecord) -> AuditEventView {
    AuditEventView {
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

fn checkpoint_view(cp: &Checkpoint) -> CheckpointView {
    CheckpointView {
        version: 1,
        key_id: cp.key_id.to_string(),
        size: cp.size,
        root: hex::encode(cp.root),
        time_us: unix_micros(cp.time),
        prev_hash: hex::encode(cp.prev_hash),
        signature: hex::encode(cp.signature),
    }
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
        NoValidToken,
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
        events: events.into_iter().map(event_view).collect(),
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
        NoValidToken,
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
        checkpoint: checkpoint_view(&proof.checkpoint),
        path: proof.path.iter().map(hex::encode).collect(),
        event: event_view(proof.event),
    }))
}

/// The decrypted details of one event (sealed at rest under the event's
/// tenant's `audit-details` data key). Needs `audit.search` over the
/// event's tenant; the read is itself audited.
#[utoipa::path(get, path = "/api/v1/audit/events/{seq}/details", tag = "audit",
    params(("seq" = SeqNumber, Path, description = "The event's sequence number")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The details (null if none)", body = AuditDetailsView),
        NoValidToken,
        (status = 403, description = "The grants see the event (audit.proof) but do not carry audit.search over its tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event, or one outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        TenantShredded,
        (status = 422, description = "The details do not decrypt (moved from another event, or a retired key)", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
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
        NoValidToken,
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
        old: checkpoint_view(&proof.old),
        new: checkpoint_view(&proof.new),
        path: proof.path.iter().map(hex::encode).collect(),
    }))
}
