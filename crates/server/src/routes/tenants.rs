//! Tenants: the organizations whose data Rempart holds.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rempart_api::tenants::{CreateTenantRequest, TenantAccessWire, TenantList, TenantView};
use rempart_core::identity::TenantAccess;
use rempart_model::{AllowList, Environment, NewTenant, Region, Tenant, TenantName};
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath, Authenticated, Ctx};
use crate::problem::Problem;
use crate::routes::answers::{InvalidField, NoValidToken, TenantNotFound, TenantShredded};
use crate::state::AppState;

fn new_tenant(body: &CreateTenantRequest) -> Result<NewTenant, Problem> {
    Ok(NewTenant {
        name: TenantName::parse(&body.name)
            .map_err(|e| Problem::invalid_field("name", e.to_string()))?,
        region: Region::parse(&body.region)
            .map_err(|e| Problem::invalid_field("region", e.to_string()))?,
        environment: Environment::parse(&body.environment)
            .map_err(|e| Problem::invalid_field("environment", e.to_string()))?,
    })
}

fn tenant_view(t: Tenant) -> TenantView {
    TenantView {
        id: t.id.0,
        name: t.name.into(),
        region: t.region.into(),
        environment: t.environment.into(),
        created_at: t.created_at,
        shredded_at: t.shredded_at,
    }
}

fn tenant_access(body: TenantAccessWire) -> Result<TenantAccess, Problem> {
    Ok(TenantAccess {
        password_policy: body.password_policy,
        allow_list: body
            .allow_list
            .map(AllowList::parse)
            .transpose()
            .map_err(|e| Problem::invalid_field("allow_list", e.to_string()))?,
        require_mfa: body.require_mfa,
    })
}

fn access_view(a: TenantAccess) -> TenantAccessWire {
    TenantAccessWire {
        password_policy: a.password_policy,
        allow_list: a
            .allow_list
            .map(|l| l.entries().iter().map(ToString::to_string).collect()),
        require_mfa: a.require_mfa,
    }
}

/// Creates a tenant. Needs `tenant.create`.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants",
    request_body = CreateTenantRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new tenant", body = TenantView),
        NoValidToken,
        (status = 403, description = "The token's grants do not carry tenant.create", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A tenant of that name exists", body = Problem, content_type = "application/problem+json"),
        InvalidField,
    ))]
pub async fn create(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<CreateTenantRequest>,
) -> Result<(StatusCode, Json<TenantView>), Problem> {
    let new = new_tenant(&body)?;
    let tenant = state.core.create_tenant(&actor, &ctx, new).await?;
    Ok((StatusCode::CREATED, Json(tenant_view(tenant))))
}

/// Lists the tenants the caller may read. Needs `tenant.read`.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tenants the caller may read", body = TenantList),
        NoValidToken,
        (status = 403, description = "The token's grants do not carry tenant.read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
) -> Result<Json<TenantList>, Problem> {
    let tenants = state.core.list_tenants(&actor, &ctx).await?;
    Ok(Json(TenantList {
        tenants: tenants.into_iter().map(tenant_view).collect(),
    }))
}

/// A tenant's access settings. Needs `tenant.read` over it.
#[utoipa::path(get, path = "/api/v1/tenants/{id}/access", tag = "tenants",
    params(("id" = Uuid, Path, description = "The tenant")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The settings", body = TenantAccessWire),
        (status = 403, description = "No tenant.read over it", body = Problem, content_type = "application/problem+json"),
        TenantNotFound,
        TenantShredded,
    ))]
pub async fn access(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<TenantAccessWire>, Problem> {
    let access = state
        .core
        .tenant_access(&actor, &ctx, rempart_model::TenantId(id))
        .await?;
    Ok(Json(access_view(access)))
}

/// Sets a tenant's access settings: a password policy that tightens the
/// baseline (the strictest rule wins), the networks its users may come
/// from, whether they must use a second factor. Needs `tenant.update` over
/// the tenant and a recent login.
#[utoipa::path(put, path = "/api/v1/tenants/{id}/access", tag = "tenants",
    params(("id" = Uuid, Path, description = "The tenant")),
    request_body = TenantAccessWire,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The settings now", body = TenantAccessWire),
        (status = 403, description = "No tenant.update over it, or no recent login", body = Problem, content_type = "application/problem+json"),
        TenantNotFound,
        TenantShredded,
        InvalidField,
    ))]
pub async fn set_access(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<TenantAccessWire>,
) -> Result<Json<TenantAccessWire>, Problem> {
    let access = tenant_access(body)?;
    let access = state
        .core
        .set_tenant_access(&actor, &ctx, rempart_model::TenantId(id), access)
        .await?;
    Ok(Json(access_view(access)))
}
