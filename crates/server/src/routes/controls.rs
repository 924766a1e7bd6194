//! The control checks over HTTP: run the checks the domains register over
//! live state and answer one result per control (pass, fail with findings,
//! or not run with the reason), each with the evidence it looked at. The
//! service layer authorizes the run (`controls.check`) and audits it.

use axum::Json;
use axum::extract::State;
use rempart_api::controls::{CheckControlsRequest, ControlReportView, ControlResultView};
use rempart_model::control::{Catalogue, CheckOutcome, ControlId};

use crate::extract::{ApiJson, Authenticated, Ctx};
use crate::problem::Problem;
use crate::routes::answers::NoValidToken;
use crate::state::AppState;

/// Runs the control checks over live state. Needs `controls.check`
/// staff-wide; the run is audited (`controls.check`).
#[utoipa::path(post, path = "/api/v1/controls/check", tag = "controls",
    security(("bearer" = [])),
    request_body = CheckControlsRequest,
    responses(
        (status = 200, description = "One result per control checked", body = ControlReportView),
        NoValidToken,
        (status = 403, description = "The token's grants do not carry controls.check", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A control id that is malformed, unknown, or has no check", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn check(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(request): ApiJson<CheckControlsRequest>,
) -> Result<Json<ControlReportView>, Problem> {
    let only = request
        .controls
        .iter()
        .map(|id| {
            id.parse::<ControlId>()
                .map_err(|e| Problem::invalid_field("controls", e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let report = state.core.check_controls(&actor, &ctx, &only).await?;
    let catalogue = Catalogue::builtin().ok();
    let claim = |id: ControlId| {
        catalogue
            .and_then(|c| c.get(id))
            .map(|c| c.claim.clone())
            .unwrap_or_default()
    };
    let all_pass = report.all_pass();
    let results = report
        .results
        .into_iter()
        .map(|r| {
            let (result, findings, reason) = match r.outcome {
                CheckOutcome::Pass => ("pass", Vec::new(), None),
                CheckOutcome::Fail { findings } => ("fail", findings, None),
                CheckOutcome::NotRun { reason } => ("not_run", Vec::new(), Some(reason)),
            };
            ControlResultView {
                control: r.control.to_string(),
                claim: claim(r.control),
                result: result.to_owned(),
                findings,
                reason,
                evidence: r.evidence,
            }
        })
        .collect();
    Ok(Json(ControlReportView {
        checked_at: report.checked_at,
        all_pass,
        results,
    }))
}
