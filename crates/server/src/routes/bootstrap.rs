//! Exchanging the bootstrap credential for the first administrator.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rempart_api::bootstrap::{BootstrapRequest, BootstrapResponse, PrincipalView};
use rempart_model::PrincipalName;
use secrecy::{ExposeSecret, SecretString};

use crate::extract::{ApiJson, Ctx, SecureTransport};
use crate::problem::Problem;
use crate::routes::answers::InvalidField;
use crate::state::AppState;

/// Creates the first administrator from the bootstrap credential printed at
/// first start, and returns its first API token. Single use. The credential
/// is accepted only over HTTPS or from the loopback interface.
#[utoipa::path(post, path = "/api/v1/bootstrap", tag = "bootstrap",
    request_body = BootstrapRequest,
    responses(
        (status = 201, description = "The administrator and its first token", body = BootstrapResponse),
        (status = 403, description = "The credential is unknown, used or expired (bootstrap-refused), or was sent over plain HTTP from another machine (insecure-transport)", body = Problem, content_type = "application/problem+json"),
        InvalidField,
    ))]
pub async fn exchange(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<BootstrapRequest>,
) -> Result<(StatusCode, Json<BootstrapResponse>), Problem> {
    let administrator = PrincipalName::parse(&body.administrator)
        .map_err(|e| Problem::invalid_field("administrator", e.to_string()))?;
    let credential = SecretString::from(body.credential);
    let result = state
        .core
        .exchange_bootstrap(&ctx, &credential, administrator)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BootstrapResponse {
            administrator: PrincipalView {
                id: result.administrator.id.0,
                name: result.administrator.name.into(),
            },
            token: result.token.expose_secret().to_owned(),
            token_expires_at: result.token_expires_at,
        }),
    ))
}
