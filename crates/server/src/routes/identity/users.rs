//! Accounts, roles, grants and API tokens (controls AC-2, DV-4).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use rempart_api::format::AccountRef;
use rempart_api::identity::{
    CreateGrantRequest, CreateRoleRequest, CreateTokenRequest, CreateUserRequest, CreatedToken,
    GrantList, GrantView, ResetPasswordRequest, RoleList, RoleViewWire, SetStateRequest, TokenList,
    TokenListQuery, TokenView, UserList, UserListQuery, UserView,
};
use rempart_core::identity::{NewAccount, NewGrant, NewRole, NewToken, RoleView};
use rempart_core::{Actor, RequestContext};
use rempart_model::{
    AllowList, Environment, PermissionSet, PrincipalId, PrincipalName, RoleName, Scope, TenantId,
};
use rempart_store::{AccountKind, GrantRecord, PrincipalRecord, PrincipalState, TokenRecord};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath, ApiQuery, Authenticated, Ctx, SecureTransport};
use crate::problem::Problem;
use crate::routes::answers::{
    AccountNotFound, InvalidField, InvalidLoginName, NotAllowed, TenantNotFound, TenantShredded,
};
use crate::state::AppState;

fn user_view(p: PrincipalRecord) -> UserView {
    UserView {
        id: p.id.0,
        name: p.name.into(),
        kind: p.kind.as_str().to_owned(),
        state: p.state.as_str().to_owned(),
        tenant: p.tenant.map(|t| t.0),
        email: p.email,
        display_name: p.display_name,
        break_glass: p.break_glass,
        created_at: p.created_at,
    }
}

fn permission_names(set: PermissionSet) -> Vec<String> {
    set.iter().map(|p| p.as_str().to_owned()).collect()
}

fn role_view(r: RoleView) -> RoleViewWire {
    RoleViewWire {
        name: r.name.into(),
        permissions: permission_names(r.permissions),
        builtin: r.builtin,
        description: r.description,
    }
}

fn parse_scope(text: &str) -> Result<Scope, Problem> {
    let bad = || {
        Problem::invalid_field(
            "scope",
            "global, tenant:<uuid> or environment:<name>".to_owned(),
        )
    };
    match text.split_once(':') {
        None if text == "global" => Ok(Scope::Global),
        Some(("tenant", id)) => Ok(Scope::Tenant(TenantId(id.parse().map_err(|_| bad())?))),
        Some(("environment", env)) => Ok(Scope::Environment(
            Environment::parse(env).map_err(|_| bad())?,
        )),
        _ => Err(bad()),
    }
}

/// A scope as the API writes it: `global`, `tenant:<uuid>` or
/// `environment:<name>`.
pub(crate) fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::Global => "global".to_owned(),
        Scope::Tenant(t) => format!("tenant:{}", t.0),
        Scope::Environment(e) => format!("environment:{e}"),
    }
}

fn grant_view(g: GrantRecord) -> GrantView {
    GrantView {
        id: g.id,
        user: g.principal.0,
        role: g.grant.role.into(),
        permissions: permission_names(g.grant.permissions),
        scope: scope_text(&g.grant.scope),
        expires_at: g.grant.expires_at,
        granted_by: g.granted_by.map(|p| p.0),
    }
}

fn token_view(t: TokenRecord) -> TokenView {
    TokenView {
        id: t.id,
        holder: t.principal.0,
        name: t.name,
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
        last_used_at: t.last_used_at,
        tenant: t.tenant.map(|x| x.0),
        permissions: t.permissions.map(permission_names),
        allow_list: t
            .allow_list
            .map(|l| l.split_whitespace().map(str::to_owned).collect()),
    }
}

/// An account named by id or login name.
async fn resolve(
    state: &AppState,
    actor: &Actor,
    ctx: &RequestContext,
    user: &str,
) -> Result<PrincipalId, Problem> {
    if let Ok(id) = user.parse::<Uuid>() {
        return Ok(PrincipalId(id));
    }
    let name =
        PrincipalName::parse(user).map_err(|e| Problem::invalid_field("user", e.to_string()))?;
    Ok(state.core.find_account(actor, ctx, &name).await?.id)
}

/// Creates an account: staff (`user.create` staff-wide), a tenant's user
/// (`user.create` over the tenant), or a service account. An initial
/// password is checked against the policy and is temporary by default.
#[utoipa::path(post, path = "/api/v1/users", tag = "users",
    request_body = CreateUserRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "The account", body = UserView),
        (status = 403, description = "No user.create there, or a rule refuses (rule-refused)", body = Problem, content_type = "application/problem+json"),
        TenantNotFound,
        (status = 409, description = "The login name is taken", body = Problem, content_type = "application/problem+json"),
        TenantShredded,
        (status = 422, description = "A field is not valid, or the password breaks the policy (password-refused)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserView>), Problem> {
    let name = PrincipalName::parse(&body.name)
        .map_err(|e| Problem::invalid_field("name", e.to_string()))?;
    let kind = AccountKind::parse(&body.kind).ok_or_else(|| {
        Problem::invalid_field("kind", "staff, tenant_user or service".to_owned())
    })?;
    let account = state
        .core
        .create_account(
            &actor,
            &ctx,
            NewAccount {
                name,
                kind,
                tenant: body.tenant.map(TenantId),
                email: body.email,
                display_name: body.display_name,
                password: body.password.map(SecretString::from),
                temporary_password: body.temporary_password,
                break_glass: body.break_glass,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user_view(account))))
}

/// Lists accounts. Needs `user.read` staff-wide, or over the tenant.
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(UserListQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The accounts", body = UserList),
        (status = 403, description = "No user.read there", body = Problem, content_type = "application/problem+json"),
        TenantNotFound,
        TenantShredded,
    ))]
pub async fn list(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<UserListQuery>,
) -> Result<Json<UserList>, Problem> {
    let users = state
        .core
        .list_accounts(&actor, &ctx, query.tenant.map(TenantId))
        .await?;
    Ok(Json(UserList {
        users: users.into_iter().map(user_view).collect(),
    }))
}

/// Suspends, reactivates or terminates an account (`user.update` over it,
/// recent login). Suspension and termination end its sessions and revoke
/// its tokens at once.
#[utoipa::path(put, path = "/api/v1/users/{user}/state", tag = "users",
    params(("user" = AccountRef, Path, description = "Account id or login name")),
    request_body = SetStateRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The account", body = UserView),
        (status = 403, description = "Not allowed, no recent login (step-up-required), or refused by a rule (rule-refused: one's own account, last-administrator)", body = Problem, content_type = "application/problem+json"),
        AccountNotFound,
        TenantShredded,
    ))]
pub async fn set_state(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(user): ApiPath<String>,
    ApiJson(body): ApiJson<SetStateRequest>,
) -> Result<Json<UserView>, Problem> {
    let new_state = PrincipalState::parse(&body.state).ok_or_else(|| {
        Problem::invalid_field("state", "active, suspended or terminated".to_owned())
    })?;
    let id = resolve(&state, &actor, &ctx, &user).await?;
    let account = state
        .core
        .set_account_state(&actor, &ctx, id, new_state)
        .await?;
    Ok(Json(user_view(account)))
}

/// Sets another account's password (`user.update`, recent login); the
/// holder changes it at the next login, and their sessions end.
#[utoipa::path(put, path = "/api/v1/users/{user}/password", tag = "users",
    params(("user" = AccountRef, Path, description = "Account id or login name")),
    request_body = ResetPasswordRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Set"),
        NotAllowed,
        AccountNotFound,
        TenantShredded,
        (status = 422, description = "The password breaks the policy (password-refused)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reset_password(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(user): ApiPath<String>,
    ApiJson(body): ApiJson<ResetPasswordRequest>,
) -> Result<StatusCode, Problem> {
    let id = resolve(&state, &actor, &ctx, &user).await?;
    state
        .core
        .reset_password(&actor, &ctx, id, SecretString::from(body.password))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes an account's authenticator and recovery codes (`user.update`,
/// recent login); it enrols again at its next login when MFA is required.
#[utoipa::path(delete, path = "/api/v1/users/{user}/mfa", tag = "users",
    params(("user" = AccountRef, Path, description = "Account id or login name")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Reset"),
        NotAllowed,
        AccountNotFound,
        InvalidLoginName,
    ))]
pub async fn reset_mfa(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(user): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    let id = resolve(&state, &actor, &ctx, &user).await?;
    state.core.reset_mfa(&actor, &ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An account's grants: one's own, or with `user.read` over the account.
#[utoipa::path(get, path = "/api/v1/users/{user}/grants", tag = "users",
    params(("user" = AccountRef, Path, description = "Account id or login name")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The grants", body = GrantList),
        NotAllowed,
        AccountNotFound,
        TenantShredded,
        InvalidLoginName,
    ))]
pub async fn grants_of(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(user): ApiPath<String>,
) -> Result<Json<GrantList>, Problem> {
    let id = resolve(&state, &actor, &ctx, &user).await?;
    let grants = state.core.list_grants(&actor, &ctx, id).await?;
    Ok(Json(GrantList {
        grants: grants.into_iter().map(grant_view).collect(),
    }))
}

/// Every role, built-in and custom, with its permissions (`role.read`).
#[utoipa::path(get, path = "/api/v1/roles", tag = "roles",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The roles", body = RoleList),
        (status = 403, description = "No role.read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn roles(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
) -> Result<Json<RoleList>, Problem> {
    let roles = state.core.list_roles(&actor, &ctx).await?;
    Ok(Json(RoleList {
        roles: roles.into_iter().map(role_view).collect(),
    }))
}

/// Defines a custom role (`role.manage` staff-wide, recent login).
#[utoipa::path(post, path = "/api/v1/roles", tag = "roles",
    request_body = CreateRoleRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "The role", body = RoleViewWire),
        (status = 403, description = "No role.manage, or a permission the credential does not hold staff-wide (rule-refused: no-escalation)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad name, a built-in name, or an unknown permission", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_role(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<CreateRoleRequest>,
) -> Result<(StatusCode, Json<RoleViewWire>), Problem> {
    let name =
        RoleName::parse(&body.name).map_err(|e| Problem::invalid_field("name", e.to_string()))?;
    let permissions = PermissionSet::parse(body.permissions.iter().map(String::as_str))
        .map_err(|e| Problem::invalid_field("permissions", e.to_string()))?;
    let role = state
        .core
        .create_role(
            &actor,
            &ctx,
            NewRole {
                name,
                permissions,
                description: body.description,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(role_view(role))))
}

/// Grants a role in a scope (`grant.manage` over it, recent login). Refused,
/// naming the rule, for oneself, beyond what the granter holds, outside a
/// tenant user's tenant, or against a separation-of-duty rule.
#[utoipa::path(post, path = "/api/v1/grants", tag = "roles",
    request_body = CreateGrantRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "The grant", body = GrantView),
        (status = 403, description = "Not allowed, or refused by a rule (rule-refused)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account or tenant, or one outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        TenantShredded,
        (status = 422, description = "An unknown role, or a bad scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_grant(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<CreateGrantRequest>,
) -> Result<(StatusCode, Json<GrantView>), Problem> {
    let role =
        RoleName::parse(&body.role).map_err(|e| Problem::invalid_field("role", e.to_string()))?;
    let scope = parse_scope(&body.scope)?;
    let principal = resolve(&state, &actor, &ctx, &body.user).await?;
    let grant = state
        .core
        .grant_role(
            &actor,
            &ctx,
            NewGrant {
                principal,
                role,
                scope,
                expires_at: body.expires_at,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(grant_view(grant))))
}

/// Revokes a grant (`grant.manage` over its scope, recent login).
#[utoipa::path(delete, path = "/api/v1/grants/{id}", tag = "roles",
    params(("id" = Uuid, Path, description = "The grant")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not allowed, or the last administrator's grant (rule-refused: last-administrator)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant, or one outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_grant(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    state.core.revoke_grant(&actor, &ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an API token (shown once): the caller's own, or a service
/// account's (`user.update` staff-wide). Optionally cut to some
/// permissions, one tenant, and source networks; 90 days unless said.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens",
    request_body = CreateTokenRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "The token, shown once", body = CreatedToken),
        (status = 403, description = "Not allowed, no recent login (step-up-required), or more than the asking credential carries (rule-refused: no-escalation)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such holder or tenant, or one outside the caller's scope (whatever the kind of account)", body = Problem, content_type = "application/problem+json"),
        TenantShredded,
        InvalidField,
    ))]
pub async fn create_token(
    _secure: SecureTransport,
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), Problem> {
    let holder = match &body.holder {
        Some(holder) => Some(resolve(&state, &actor, &ctx, holder).await?),
        None => None,
    };
    let permissions = body
        .permissions
        .as_ref()
        .map(|names| PermissionSet::parse(names.iter().map(String::as_str)))
        .transpose()
        .map_err(|e| Problem::invalid_field("permissions", e.to_string()))?;
    let allow_list = body
        .allow_list
        .as_ref()
        .map(AllowList::parse)
        .transpose()
        .map_err(|e| Problem::invalid_field("allow_list", e.to_string()))?;
    let (record, secret) = state
        .core
        .create_token(
            &actor,
            &ctx,
            NewToken {
                name: body.name,
                holder,
                expires_in: body
                    .expires_in_days
                    .map(|d| time::Duration::days(i64::from(d))),
                permissions,
                tenant: body.tenant.map(TenantId),
                allow_list,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            view: token_view(record),
            token: secret.expose_secret().to_owned(),
        }),
    ))
}

/// Lists API tokens (never their secrets): the caller's, or another's.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    params(TokenListQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The tokens", body = TokenList),
        NotAllowed,
        (status = 404, description = "No account of that id or login name (user), or one outside the caller's scope", body = Problem, content_type = "application/problem+json"),
        TenantShredded,
    ))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<TokenListQuery>,
) -> Result<Json<TokenList>, Problem> {
    let holder = match &query.user {
        Some(user) => Some(resolve(&state, &actor, &ctx, user).await?),
        None => None,
    };
    let tokens = state.core.list_tokens(&actor, &ctx, holder).await?;
    Ok(Json(TokenList {
        tokens: tokens.into_iter().map(token_view).collect(),
    }))
}

/// Revokes an API token: one's own, or anyone's with `session.revoke`.
/// The next request with it fails, on every replica.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = Uuid, Path, description = "The token")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Revoked"),
        NotAllowed,
        (status = 404, description = "No such token, or one whose holder is outside the caller's scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Authenticated(actor): Authenticated,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    state.core.revoke_token(&actor, &ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
