//! Login, the second factor, step-up, logout, password change, TOTP
//! enrolment and sessions (control AC-1). Every route that carries a password,
//! a code or a session secret refuses plain HTTP except from loopback.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rempart_api::identity::{
    ChangePasswordRequest, CodeRequest, LoginRequest, LoginResponse, RecoveryCodesResponse,
    SessionList, SessionListQuery, SessionViewWire, StepUpRequest, TotpEnrolmentResponse, WhoAmI,
    WhoAmIGrant,
};
use rempart_core::identity::{LoginStep, SessionView};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::extract::{
    ApiJson, ApiPath, ApiQuery, Authenticated, Ctx, Partial, SESSION_COOKIE, SecureTransport,
    SessionSecret,
};
use crate::problem::Problem;
use crate::routes::answers::{
    AccountNotFound, KeyringSealed, LockedOut, LockedOutAfterFailures, NoValidCredential,
    SecondFactorRefused, TenantShredded,
};
use crate::state::AppState;

fn session_cookie(secret: &SecretString, max_age_secs: i64) -> Result<HeaderValue, Problem> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age_secs}",
        secret.expose_secret()
    ))
    .map_err(|_| Problem::internal())
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "rempart_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
    )
}

/// The answer to a login step; the session secret only when asked for.
pub(crate) fn login_response(step: &LoginStep, return_token: bool) -> LoginResponse {
    LoginResponse {
        stage: step.stage.as_str().to_owned(),
        session_id: step.session_id,
        principal: step.principal.0,
        expires_at: step.expires_at,
        token: return_token.then(|| step.session.expose_secret().to_owned()),
    }
}

fn session_view(s: SessionView) -> SessionViewWire {
    SessionViewWire {
        id: s.id,
        user: s.principal.0,
        stage: s.stage.as_str().to_owned(),
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        expires_at: s.expires_at,
        source: s.source,
        current: s.current,
    }
}

/// Logs in with a login name and password. The answer names the next
/// step; the session secret is set as an HttpOnly, Secure, SameSite=Strict
/// cookie (and returned in the body when `return_token` is set). A wrong
/// name and a wrong password get the same answer.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Password accepted; the next step", body = LoginResponse),
        (status = 401, description = "Wrong login name or password (login-failed)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Plain HTTP from another machine (insecure-transport)", body = Problem, content_type = "application/problem+json"),
        LockedOutAfterFailures,
    ))]
pub async fn login(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, Problem> {
    let step = state
        .core
        .login(&ctx, &body.name, SecretString::from(body.password))
        .await?;
    let max_age = (step.expires_at - state.core.clock().now()).whole_seconds();
    let cookie = session_cookie(&step.session, max_age)?;
    let mut response = Json(login_response(&step, body.return_token)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The second factor: a TOTP code (each code once) or a recovery code
/// (each once), with the session from the password step.
#[utoipa::path(post, path = "/api/v1/auth/second-factor", tag = "auth",
    request_body = CodeRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Accepted; the next step", body = LoginResponse),
        (status = 401, description = "No such pending session, or the code is refused (second-factor-refused)", body = Problem, content_type = "application/problem+json"),
        LockedOut,
    ))]
pub async fn second_factor(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    SessionSecret(session): SessionSecret,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Json<LoginResponse>, Problem> {
    let step = state
        .core
        .second_factor(&ctx, &session, &SecretString::from(body.code))
        .await?;
    Ok(Json(login_response(&step, false)))
}

/// Proves identity again (password, and TOTP code when enrolled) so that
/// sensitive actions are allowed for the next few minutes.
#[utoipa::path(post, path = "/api/v1/auth/step-up", tag = "auth",
    request_body = StepUpRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Re-authenticated"),
        SecondFactorRefused,
        LockedOut,
    ))]
pub async fn step_up(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<StepUpRequest>,
) -> Result<StatusCode, Problem> {
    state
        .core
        .step_up(
            &actor,
            &ctx,
            SecretString::from(body.password),
            body.code.map(SecretString::from),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends the caller's session and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The credential is an API token, which is revoked instead", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
) -> Result<Response, Problem> {
    state.core.logout(&actor, &ctx).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    Ok(response)
}

/// Changes the caller's password (the current one first). Allowed while a
/// login waits for this change.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth",
    request_body = ChangePasswordRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "The current password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks the policy; each rule is named (password-refused)", body = Problem, content_type = "application/problem+json"),
        LockedOutAfterFailures,
    ))]
pub async fn change_password(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Partial(actor): Partial,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, Problem> {
    state
        .core
        .change_password(
            &actor,
            &ctx,
            SecretString::from(body.current_password),
            SecretString::from(body.new_password),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts TOTP enrolment for the caller: the `otpauth://` URI and secret,
/// shown once. Allowed while a login waits for enrolment.
#[utoipa::path(post, path = "/api/v1/mfa/totp", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The authenticator's secret", body = TotpEnrolmentResponse),
        TenantShredded,
        (status = 422, description = "An authenticator is already enrolled", body = Problem, content_type = "application/problem+json"),
        KeyringSealed,
    ))]
pub async fn enrol_totp(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Partial(actor): Partial,
) -> Result<Json<TotpEnrolmentResponse>, Problem> {
    let enrolment = state.core.enrol_totp(&actor, &ctx).await?;
    Ok(Json(TotpEnrolmentResponse {
        uri: enrolment.uri.expose_secret().to_owned(),
        secret: enrolment.secret.expose_secret().to_owned(),
    }))
}

/// Confirms TOTP enrolment with a code, and returns ten single-use
/// recovery codes (shown once).
#[utoipa::path(post, path = "/api/v1/mfa/totp/confirm", tag = "auth",
    request_body = CodeRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Enrolled; the recovery codes", body = RecoveryCodesResponse),
        (status = 401, description = "The code is refused", body = Problem, content_type = "application/problem+json"),
        TenantShredded,
        (status = 422, description = "No enrolment is pending", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm_totp(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Partial(actor): Partial,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Json<RecoveryCodesResponse>, Problem> {
    let codes = state
        .core
        .confirm_totp(&actor, &ctx, &SecretString::from(body.code))
        .await?;
    Ok(Json(RecoveryCodesResponse {
        recovery_codes: codes
            .0
            .iter()
            .map(|c| c.expose_secret().to_owned())
            .collect(),
    }))
}

/// Lists live sessions: the caller's, or another account's.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "auth",
    params(SessionListQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Live sessions", body = SessionList),
        (status = 403, description = "No user.read over that account", body = Problem, content_type = "application/problem+json"),
        AccountNotFound,
        TenantShredded,
    ))]
pub async fn list_sessions(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<SessionListQuery>,
) -> Result<Json<SessionList>, Problem> {
    let sessions = state
        .core
        .list_sessions(&actor, &ctx, query.user.map(rempart_model::PrincipalId))
        .await?;
    Ok(Json(SessionList {
        sessions: sessions.into_iter().map(session_view).collect(),
    }))
}

/// Ends a session: one's own, or anyone's with `session.revoke`. The next
/// request with it fails, on every replica.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "auth",
    params(("id" = Uuid, Path, description = "The session")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Ended"),
        (status = 403, description = "Another's session without session.revoke", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such session, or one whose holder is outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_session(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    state.core.revoke_session(&actor, &ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller is: the account behind the credential, the kind of
/// credential, and the grants it carries now. Reading one's own identity
/// changes nothing and is not audited.
#[utoipa::path(get, path = "/api/v1/auth/whoami", tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller", body = WhoAmI),
        NoValidCredential,
    ))]
pub async fn whoami(Authenticated(actor): Authenticated) -> Json<WhoAmI> {
    let credential = match actor.credential {
        rempart_core::Credential::Token(_) => "token",
        rempart_core::Credential::Session { .. } => "session",
    };
    Json(WhoAmI {
        id: actor.principal.0,
        name: actor.name.to_string(),
        credential: credential.to_owned(),
        grants: actor
            .grants()
            .iter()
            .map(|g| WhoAmIGrant {
                role: g.role.to_string(),
                scope: super::users::scope_text(&g.scope),
                permissions: g
                    .permissions
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect(),
            })
            .collect(),
    })
}
