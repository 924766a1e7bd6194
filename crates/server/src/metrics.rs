//! Prometheus metrics: request counts by route and status.
//!
//! One recorder per process (the `metrics` facade is global); servers
//! started in one test process share it.

use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

#[derive(Debug, Clone)]
pub struct Metrics {
    handle: Option<PrometheusHandle>,
}

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

impl Metrics {
    /// The process's recorder, installed on first use.
    pub fn install() -> Self {
        let handle = HANDLE.get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        });
        Self {
            handle: handle.clone(),
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle
            .as_ref()
            .map(PrometheusHandle::render)
            .unwrap_or_default()
    }
}

pub async fn layer(State(_metrics): State<Metrics>, request: Request, next: Next) -> Response {
    // The route template, not the path: ids must not multiply the series.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    metrics::counter!(
        "rempart_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string(),
    )
    .increment(1);
    response
}
