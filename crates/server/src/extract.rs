//! Extractors that turn a request into what the service layer takes: a
//! JSON body whose every rejection is a problem document, the request
//! context (request id, client address, transport), the refusal of
//! credentials over plain HTTP, and the authenticated actor.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use rempart_core::{Actor, RequestContext, Transport};
use rempart_model::AllowList;
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use crate::client::{TrustedProxies, client_of};
use crate::problem::Problem;
use crate::request_id::RequestId;
use crate::state::AppState;

/// A JSON body; malformed JSON, a wrong content type, unknown fields and an
/// oversized body are all answered with a problem document.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(Problem::from(rejection)),
        }
    }
}

/// A path parameter; one that does not parse (a malformed id) is answered
/// with a problem document like every other rejection.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Bad request",
                rejection.body_text(),
            )),
        }
    }
}

/// Query parameters; ones that do not parse are a validation problem on
/// the field `query`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(Problem::invalid_field("query", rejection.body_text())),
        }
    }
}

/// The peer that opened the connection, and whether it did so on
/// Rempart's own TLS listener.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr {
    pub addr: SocketAddr,
    pub tls: bool,
}

/// The request's context for the audit log.
#[derive(Debug)]
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(context_of(parts)))
    }
}

/// The request's context: its id, its effective client (the peer, or the
/// client a trusted proxy names) and its transport. Without connection
/// information (a router driven without a listener) the source is unknown
/// and the transport is taken as plain, so no credential is accepted.
pub(crate) fn context_of(parts: &Parts) -> RequestContext {
    let request_id = parts.extensions.get::<RequestId>().map(|id| id.0.clone());
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<PeerAddr>>() else {
        return RequestContext {
            request_id,
            source: None,
            transport: Transport::Plain,
        };
    };
    let none = AllowList::none();
    let trusted = parts
        .extensions
        .get::<TrustedProxies>()
        .map_or(&none, |t| &*t.0);
    let client = client_of(peer.addr.ip(), peer.tls, &parts.headers, trusted);
    RequestContext {
        request_id,
        source: Some(client.source),
        transport: client.transport,
    }
}

/// Refuses a request that came over plain HTTP from another machine: put it
/// before any extractor that reads a credential (a password, a token, a
/// bootstrap credential), so the request is refused before the credential
/// is looked at. TLS (Rempart's own, or a trusted proxy's that says
/// `X-Forwarded-Proto: https`) and loopback pass.
///
/// The credential has already crossed the network in the clear by then;
/// the refusal makes the mistake visible at once instead of letting it
/// work.
#[derive(Debug, Clone, Copy)]
pub struct SecureTransport(pub Transport);

impl<S: Send + Sync> FromRequestParts<S> for SecureTransport {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ctx = context_of(parts);
        if ctx.transport.carries_credentials() {
            Ok(Self(ctx.transport))
        } else {
            tracing::warn!(
                source = ?ctx.source,
                path = %parts.uri.path(),
                "credentials over plain HTTP refused"
            );
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                "insecure-transport",
                "Credentials over plain HTTP refused",
                "this route carries a credential and accepts it only over HTTPS (or from the loopback interface); the credential sent should be considered exposed",
            ))
        }
    }
}

/// The cookie a browser session travels in (HttpOnly, Secure,
/// SameSite=Strict).
pub const SESSION_COOKIE: &str = "rempart_session";

/// The credential a request presents: `Authorization: Bearer …` (an API
/// token or a session secret), else the session cookie. A request that
/// authenticates with the cookie and changes something must come from the
/// same origin (browsers send `Origin` on cross-site requests): the
/// cookie's SameSite=Strict is the first defence against cross-site
/// request forgery, this the second.
fn credential_of(parts: &Parts) -> Result<SecretString, Problem> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Problem::unauthenticated("the Authorization header must be: Bearer <token>")
            })?;
        return Ok(SecretString::from(token.to_owned()));
    }
    let cookie = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty());
    let Some(cookie) = cookie else {
        return Err(Problem::unauthenticated(
            "this route needs a credential: Authorization: Bearer <token>, or a login session",
        ));
    };
    if !parts.method.is_safe() && !same_origin(parts) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "cross-origin",
            "Cross-origin request refused",
            "a request authenticated by the session cookie must come from Rempart's own origin",
        ));
    }
    Ok(SecretString::from(cookie))
}

/// Whether a request's `Origin` (if any) is the host it was sent to.
fn same_origin(parts: &Parts) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return true;
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// The actor behind an API token or a fully logged-in session. A missing
/// or malformed credential is a 401; an unknown, expired or revoked one is
/// a 401 recorded in the audit log.
#[derive(Debug)]
pub struct Authenticated(pub Actor);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = credential_of(parts)?;
        let ctx = context_of(parts);
        let actor = state.core.authenticate(&ctx, &secret).await?;
        Ok(Self(actor))
    }
}

/// The actor behind an API token or a session that is logged in or whose
/// next login step is enrolling a second factor or changing the password:
/// for the routes that perform those steps.
#[derive(Debug)]
pub struct Partial(pub Actor);

impl FromRequestParts<AppState> for Partial {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use rempart_store::SessionStage as S;
        let secret = credential_of(parts)?;
        let ctx = context_of(parts);
        let actor = if rempart_core::secret::is_session(&secret) {
            state
                .core
                .authenticate_session(&ctx, &secret, &[S::EnrolMfa, S::ChangePassword, S::Full])
                .await?
                .0
        } else {
            state.core.authenticate(&ctx, &secret).await?
        };
        Ok(Self(actor))
    }
}

/// The session secret of a login in progress (bearer or cookie), checked
/// by the service that finishes the step.
pub struct SessionSecret(pub SecretString);

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(redacted)")
    }
}

impl FromRequestParts<AppState> for SessionSecret {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(credential_of(parts)?))
    }
}
