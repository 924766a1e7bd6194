//! Extractors that turn a request into what the service layer takes: a
//! JSON body whose every rejection is a problem document, the request
//! context (request id, source address), and the authenticated actor.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use rempart_core::{Actor, RequestContext};
use secrecy::SecretString;
use serde::de::DeserializeOwned;

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

/// The address of the peer that opened the connection.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The request's context for the audit log.
#[derive(Debug)]
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(context_of(parts)))
    }
}

pub(crate) fn context_of(parts: &Parts) -> RequestContext {
    let source: Option<IpAddr> = parts
        .extensions
        .get::<ConnectInfo<PeerAddr>>()
        .map(|info| info.0.0.ip());
    RequestContext {
        request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
        source,
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
