//! What every handler can reach.

use std::sync::Arc;

use rempart_core::Rempart;

use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct AppState {
    pub core: Rempart,
    pub metrics: Metrics,
    /// The OpenAPI document, rendered once at start.
    pub openapi_json: Arc<String>,
}
