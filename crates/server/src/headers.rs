//! Security headers on every response, errors included.
//!
//! The API serves JSON only: the content security policy allows nothing to
//! load, nothing may frame a response, and no response is cached. HSTS is
//! sent only when this process itself speaks TLS (a proxy in front sets its
//! own).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

const FIXED: &[(HeaderName, &str)] = &[
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
];

const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether this process terminates TLS itself.
#[derive(Debug, Clone, Copy)]
pub struct Tls(pub bool);

pub async fn layer(State(tls): State<Tls>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in FIXED {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    if tls.0 {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}
