//! Every route, each declared with its OpenAPI entry (`routes!` registers
//! the handler and its documentation together, so a route cannot exist
//! without an entry; a test also refuses plain `.route(` calls).

pub mod audit;
pub mod bootstrap;
pub mod keys;
pub mod operations;
pub mod tenants;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(operations::healthz))
        .routes(routes!(operations::readyz))
        .routes(routes!(operations::metrics))
        .routes(routes!(operations::openapi))
        .routes(routes!(bootstrap::exchange))
        .routes(routes!(tenants::create, tenants::list))
        .routes(routes!(audit::search))
        .routes(routes!(audit::inclusion))
        .routes(routes!(audit::details))
        .routes(routes!(audit::consistency))
        .routes(routes!(keys::seal_status))
        .routes(routes!(keys::unseal))
        .routes(routes!(keys::status))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::rewrap))
        .routes(routes!(keys::retire))
        .routes(routes!(keys::shred))
}
