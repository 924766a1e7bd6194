//! WebAuthn security keys and passkeys (control AC-1): registration by a
//! logged-in holder (or one whose login waits for MFA enrolment), and
//! authentication as the second factor of a login or as step-up. Each
//! ceremony is two requests; its state stays in the database, so the two
//! may reach different replicas.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rempart_api::identity::{
    LoginResponse, WebauthnCredentialList, WebauthnCredentialWire, WebauthnFinishRequest,
    WebauthnRegisterFinishRequest, WebauthnRegisterStartResponse, WebauthnStartResponse,
};
use rempart_core::identity::webauthn::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, WebauthnCredentialView,
};
use secrecy::ExposeSecret as _;
use uuid::Uuid;

use super::auth::login_response;
use crate::extract::{
    ApiJson, ApiPath, Authenticated, Ctx, Partial, SecureTransport, SessionSecret,
};
use crate::problem::Problem;
use crate::routes::answers::{
    LockedOut, NoValidCredential, SecondFactorRefused, TenantShredded, WebauthnNotConfigured,
};
use crate::state::AppState;

fn credential_view(v: WebauthnCredentialView) -> WebauthnCredentialWire {
    WebauthnCredentialWire {
        id: v.id,
        name: v.name,
        created_at: v.created_at,
        last_used_at: v.last_used_at,
        stage: v.stage.map(|s| s.as_str().to_owned()),
        recovery_codes: v.recovery_codes.map(|codes| {
            codes
                .0
                .iter()
                .map(|c| c.expose_secret().to_owned())
                .collect()
        }),
    }
}

/// Starts registering a security key or passkey for the caller.
#[utoipa::path(post, path = "/api/v1/mfa/webauthn/register/start", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The options for navigator.credentials.create()", body = WebauthnRegisterStartResponse),
        WebauthnNotConfigured,
        TenantShredded,
        (status = 422, description = "Not from a login session, or too many keys", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn register_start(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Partial(actor): Partial,
) -> Result<Json<WebauthnRegisterStartResponse<CreationChallengeResponse>>, Problem> {
    let started = state.core.webauthn_register_start(&actor, &ctx).await?;
    Ok(Json(WebauthnRegisterStartResponse {
        ceremony: started.ceremony,
        options: started.options,
    }))
}

/// Finishes a registration. Counts as MFA enrolment: a login waiting for
/// it moves on.
#[utoipa::path(post, path = "/api/v1/mfa/webauthn/register/finish", tag = "auth",
    request_body = WebauthnRegisterFinishRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Registered", body = WebauthnCredentialWire),
        (status = 401, description = "The ceremony is unknown, used, expired or another session's, or the credential is refused (second-factor-refused)", body = Problem, content_type = "application/problem+json"),
        WebauthnNotConfigured,
        TenantShredded,
    ))]
pub async fn register_finish(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Partial(actor): Partial,
    ApiJson(body): ApiJson<WebauthnRegisterFinishRequest<RegisterPublicKeyCredential>>,
) -> Result<Json<WebauthnCredentialWire>, Problem> {
    let view = state
        .core
        .webauthn_register_finish(&actor, &ctx, body.ceremony, &body.name, &body.credential)
        .await?;
    Ok(Json(credential_view(view)))
}

/// The caller's security keys and passkeys.
#[utoipa::path(get, path = "/api/v1/mfa/webauthn", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Registered keys", body = WebauthnCredentialList),
        NoValidCredential,
    ))]
pub async fn list(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<WebauthnCredentialList>, Problem> {
    let credentials = state.core.webauthn_credentials(&actor).await?;
    Ok(Json(WebauthnCredentialList {
        credentials: credentials.into_iter().map(credential_view).collect(),
    }))
}

/// Removes one of the caller's security keys or passkeys (a lost one).
/// Needs a recent login (step-up); the account's last second factor is
/// refused (enrol another first, or an administrator resets MFA).
#[utoipa::path(delete, path = "/api/v1/mfa/webauthn/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "The key, as listed")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The id is not a UUID (bad-request)", body = Problem, content_type = "application/problem+json"),
        NoValidCredential,
        (status = 403, description = "No recent login (step-up-required), or the account's last second factor (rule-refused)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key on the caller's account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    state
        .core
        .remove_webauthn_credential(&actor, &ctx, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a WebAuthn authentication: the second factor of a login, or
/// step-up from a logged-in session.
#[utoipa::path(post, path = "/api/v1/auth/webauthn/start", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The options for navigator.credentials.get()", body = WebauthnStartResponse),
        (status = 401, description = "No such session, or no key registered (second-factor-refused)", body = Problem, content_type = "application/problem+json"),
        WebauthnNotConfigured,
        LockedOut,
    ))]
pub async fn start(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    SessionSecret(session): SessionSecret,
) -> Result<Json<WebauthnStartResponse<RequestChallengeResponse>>, Problem> {
    let started = state.core.webauthn_start(&ctx, &session).await?;
    Ok(Json(WebauthnStartResponse {
        ceremony: started.ceremony,
        options: started.options,
    }))
}

/// Finishes a WebAuthn authentication. A replayed assertion, a cloned
/// authenticator (its counter did not increase), or a ceremony that is
/// unknown, used, expired or another session's is refused and recorded,
/// and changes nothing.
#[utoipa::path(post, path = "/api/v1/auth/webauthn/finish", tag = "auth",
    request_body = WebauthnFinishRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Accepted; the next step", body = LoginResponse),
        SecondFactorRefused,
        WebauthnNotConfigured,
        LockedOut,
    ))]
pub async fn finish(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    SessionSecret(session): SessionSecret,
    ApiJson(body): ApiJson<WebauthnFinishRequest<PublicKeyCredential>>,
) -> Result<Json<LoginResponse>, Problem> {
    let step = state
        .core
        .webauthn_finish(&ctx, &session, body.ceremony, &body.credential)
        .await?;
    Ok(Json(login_response(&step, false)))
}
