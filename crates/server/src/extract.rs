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

/// The actor behind a bearer token. A missing or malformed header is a 401;
/// an unknown, expired or revoked token is a 401 recorded in the audit log.
#[derive(Debug)]
pub struct Authenticated(pub Actor);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(Problem::unauthenticated(
                "this route needs an API token: Authorization: Bearer <token>",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Problem::unauthenticated("the Authorization header must be: Bearer <token>")
            })?;
        let token = SecretString::from(token.to_owned());
        let ctx = context_of(parts);
        let actor = state.core.authenticate(&ctx, &token).await?;
        Ok(Self(actor))
    }
}
