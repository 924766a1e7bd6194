//! Every route, each declared with its OpenAPI entry (`routes!` registers
//! the handler and its documentation together, so a route cannot exist
//! without an entry; a test also refuses plain `.route(` calls).

pub mod answers;
pub mod audit;
pub mod bootstrap;
pub mod controls;
pub mod identity;
pub mod keys;
pub mod operations;
pub mod tenants;
pub mod vault;

use identity::{auth, users, webauthn};

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
        .routes(routes!(tenants::access, tenants::set_access))
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
        .routes(routes!(auth::login))
        .routes(routes!(auth::second_factor))
        .routes(routes!(auth::step_up))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::whoami))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::enrol_totp))
        .routes(routes!(auth::confirm_totp))
        .routes(routes!(auth::list_sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(webauthn::register_start))
        .routes(routes!(webauthn::register_finish))
        .routes(routes!(webauthn::list))
        .routes(routes!(webauthn::remove))
        .routes(routes!(webauthn::start))
        .routes(routes!(webauthn::finish))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::set_state))
        .routes(routes!(users::reset_password))
        .routes(routes!(users::reset_mfa))
        .routes(routes!(users::grants_of))
        .routes(routes!(users::roles, users::create_role))
        .routes(routes!(users::create_grant))
        .routes(routes!(users::revoke_grant))
        .routes(routes!(users::create_token, users::list_tokens))
        .routes(routes!(users::revoke_token))
        .routes(routes!(controls::check))
        .routes(routes!(vault::create_collection, vault::collections))
        .routes(routes!(vault::collection))
        .routes(routes!(vault::change_schema))
        .routes(routes!(vault::create_record, vault::list_records))
        .routes(routes!(
            vault::read_record,
            vault::update_record,
            vault::delete_record
        ))
        .routes(routes!(vault::search))
        .routes(routes!(vault::erase_subject))
        .routes(routes!(vault::export_subject))
        .routes(routes!(vault::disposals))
}
