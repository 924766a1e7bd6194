//! Rempart's HTTP interface.
//!
//! The server holds no business rule: each handler turns a request into a
//! call of the service layer (`rempart_core::Rempart`) and its answer into
//! JSON or an RFC 9457 problem. Around every route: a request id, security
//! headers, a body size limit, a time limit, metrics; TLS from rustls when
//! configured; graceful shutdown that lets in-flight requests finish.

pub mod client;
pub mod contract;
pub mod extract;
pub mod headers;
pub mod metrics;
pub mod problem;
pub mod request_id;
pub mod routes;
pub mod state;
pub mod tls;

use std::future::{Future, IntoFuture as _};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::{Extension, Router};
use rempart_core::{Config, Rempart};
use rempart_model::AllowList;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::client::TrustedProxies;
use crate::extract::PeerAddr;
use crate::problem::Problem;
use crate::state::AppState;

/// The limits and flags the router needs from the configuration.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    pub tls: bool,
    /// Whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Arc<AllowList>,
}

impl AppOptions {
    pub fn from_config(config: &Config) -> Self {
        Self {
            body_limit_bytes: config.server.body_limit_bytes,
            request_timeout: Duration::from_secs(config.server.request_timeout_secs),
            tls: config.tls_enabled(),
            trusted_proxies: Arc::new(config.server.trusted_proxies.clone()),
        }
    }
}

/// The OpenAPI document of every route.
pub fn openapi() -> OpenApi {
    document(routes::router().split_for_parts().1)
}

fn document(mut doc: OpenApi) -> OpenApi {
    contract::document_extractor_answers(&mut doc);
    "Rempart API".clone_into(&mut doc.info.title);
    env!("CARGO_PKG_VERSION").clone_into(&mut doc.info.version);
    doc.info.description = Some(
        "Rempart's JSON API. Errors are RFC 9457 problem documents (application/problem+json)."
            .to_owned(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    rempart_api::format::register(components);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API token (rmp_at_…), or a login session's secret (rmp_ses_…)",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            "rempart_session",
            "A browser login session (HttpOnly, Secure, SameSite=Strict)",
        ))),
    );
    doc
}

/// The whole application: every route with its layers.
pub fn app(core: Rempart, options: AppOptions) -> Router {
    let (router, doc) = routes::router().split_for_parts();
    let openapi_json = serde_json::to_string_pretty(&document(doc)).unwrap_or_default();
    let state = AppState {
        core,
        metrics: metrics::Metrics::install(),
        openapi_json: Arc::new(openapi_json),
    };
    let metrics = state.metrics.clone();
    router
        .fallback(|| async { Problem::not_found() })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this route does not accept that method",
            )
        })
        .with_state(state)
        .layer(middleware::from_fn_with_state(metrics, metrics::layer))
        .layer(Extension(TrustedProxies(options.trusted_proxies)))
        .layer(DefaultBodyLimit::max(options.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.request_timeout,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(middleware::from_fn_with_state(
            headers::Tls(options.tls),
            headers::layer,
        ))
        .layer(middleware::from_fn(request_id::layer))
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

enum Bound {
    Plain(TcpListener),
    Tls(tls::TlsListener),
}

/// A bound server, not yet serving.
pub struct Server {
    bound: Bound,
    router: Router,
    local_addr: SocketAddr,
    grace: Duration,
}

rempart_model::debug_fields!(Server { local_addr });

impl Server {
    /// Binds the configured address (TLS if configured). The caller has
    /// already validated the configuration, which refuses a non-loopback
    /// address without TLS unless a TLS proxy is declared.
    pub async fn bind(config: &Config, core: Rempart) -> Result<Self, ServeError> {
        let addr = config.server.listen;
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let local_addr = tcp
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let bound = match (&config.server.tls_cert_file, &config.server.tls_key_file) {
            (Some(cert), Some(key)) => {
                let tls_config = tls::load_config(cert, key)?;
                let listener = tls::TlsListener::new(tcp, Arc::new(tls_config))
                    .map_err(|source| ServeError::Bind { addr, source })?;
                Bound::Tls(listener)
            }
            _ => Bound::Plain(tcp),
        };
        Ok(Self {
            bound,
            router: app(core, AppOptions::from_config(config)),
            local_addr,
            grace: Duration::from_secs(config.server.shutdown_grace_secs),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.bound, Bound::Tls(_))
    }

    /// Serves until `shutdown` completes; then stops accepting, lets
    /// in-flight requests finish for up to the grace period, and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = started_tx.send(());
        };
        let grace = self.grace;
        let deadline = async move {
            if started_rx.await.is_ok() {
                rempart_core::clock::pause(grace).await;
                tracing::warn!(
                    ?grace,
                    "grace period over: closing the remaining connections"
                );
            } else {
                std::future::pending::<()>().await;
            }
        };
        let make = self
            .router
            .into_make_service_with_connect_info::<PeerAddr>();
        match self.bound {
            Bound::Plain(listener) => {
                let serve = axum::serve(listener, make).with_graceful_shutdown(signal);
                tokio::select! {
                    result = serve.into_future() => result,
                    () = deadline => Ok(()),
                }
            }
            Bound::Tls(listener) => {
                let serve = axum::serve(listener, make).with_graceful_shutdown(signal);
                tokio::select! {
                    result = serve.into_future() => result,
                    () = deadline => Ok(()),
                }
            }
        }
    }
}
