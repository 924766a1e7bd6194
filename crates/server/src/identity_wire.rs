//! Request and response bodies of the identity API. Secrets in
//! requests (passwords, codes) are never printed by `Debug`; secrets in
//! responses (session and API tokens, TOTP secrets, recovery codes) are
//! shown once and never printed either.

use rempart_core::identity::{RoleView, SessionView};
use rempart_model::{PermissionSet, Scope};
use rempart_store::{GrantRecord, PrincipalRecord, TokenRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::Problem;
use crate::wire_format::{
    AccountKindName, AccountRef, AccountStateName, LoginName, NetworkText, PermissionName,
    RoleNameText, ScopeText, TokenNameText,
};

macro_rules! redacted_debug {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), "(redacted)"))
            }
        }
    };
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The login name (compared without case).
    pub name: String,
    pub password: String,
    /// Also return the session secret in the body (for the CLI and other
    /// non-browser clients); browsers use the `rempart_session` cookie.
    #[serde(default)]
    pub return_token: bool,
}
redacted_debug!(LoginRequest);

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// What comes next: `second_factor`, `enrol_mfa`, `change_password`,
    /// or `full` (logged in).
    pub stage: String,
    pub session_id: Uuid,
    pub principal: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// The session secret (`rmp_ses_…`), when asked for; shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}
redacted_debug!(LoginResponse);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A six-digit TOTP code, or a recovery code.
    pub code: String,
}
redacted_debug!(CodeRequest);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    pub password: String,
    /// The current TOTP code, when an authenticator is enrolled.
    #[serde(default)]
    pub code: Option<String>,
}
redacted_debug!(StepUpRequest);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}
redacted_debug!(ChangePasswordRequest);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The new password; the holder changes it at the next login.
    pub password: String,
}
redacted_debug!(ResetPasswordRequest);

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolmentResponse {
    /// `otpauth://totp/…` for an authenticator app (as a QR code).
    pub uri: String,
    /// The secret in base32, for manual entry.
    pub secret: String,
}
redacted_debug!(TotpEnrolmentResponse);

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Single-use codes, shown once: keep them offline.
    pub recovery_codes: Vec<String>,
}
redacted_debug!(RecoveryCodesResponse);

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(value_type = LoginName)]
    pub name: String,
    /// `staff`, `tenant_user` or `service`.
    #[schema(value_type = AccountKindName)]
    pub kind: String,
    /// The tenant of a tenant user.
    #[serde(default)]
    pub tenant: Option<Uuid>,
    /// An e-mail address: at most 254 bytes, one `@` at least, no white
    /// space.
    #[serde(default)]
    #[schema(
        max_length = 254,
        pattern = r"^[^\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*@[^\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
    /// An initial password (checked against the policy).
    #[serde(default)]
    pub password: Option<String>,
    /// The holder changes the initial password at the first login
    /// (default: true).
    #[serde(default = "yes")]
    pub temporary_password: bool,
    /// A named emergency account (staff only).
    #[serde(default)]
    pub break_glass: bool,
}
redacted_debug!(CreateUserRequest);

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub break_glass: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<PrincipalRecord> for UserView {
    fn from(p: PrincipalRecord) -> Self {
        Self {
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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStateRequest {
    /// `active`, `suspended` or `terminated`.
    #[schema(value_type = AccountStateName)]
    pub state: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    #[schema(value_type = RoleNameText)]
    pub name: String,
    /// Permission names, such as `audit.search`; one at least.
    #[schema(value_type = Vec<PermissionName>, min_items = 1)]
    pub permissions: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleViewWire {
    pub name: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub description: String,
}

pub(crate) fn permission_names(set: PermissionSet) -> Vec<String> {
    set.iter().map(|p| p.as_str().to_owned()).collect()
}

impl From<RoleView> for RoleViewWire {
    fn from(r: RoleView) -> Self {
        Self {
            name: r.name.into(),
            permissions: permission_names(r.permissions),
            builtin: r.builtin,
            description: r.description,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<RoleViewWire>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    /// The account: its id or login name.
    #[schema(value_type = AccountRef)]
    pub user: String,
    #[schema(value_type = RoleNameText)]
    pub role: String,
    /// `global`, `tenant:<uuid>` or `environment:<name>`.
    #[schema(value_type = ScopeText)]
    pub scope: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

pub(crate) fn parse_scope(text: &str) -> Result<Scope, Problem> {
    let bad = || {
        Problem::invalid_field(
            "scope",
            "global, tenant:<uuid> or environment:<name>".to_owned(),
        )
    };
    match text.split_once(':') {
        None if text == "global" => Ok(Scope::Global),
        Some(("tenant", id)) => Ok(Scope::Tenant(rempart_model::TenantId(
            id.parse().map_err(|_| bad())?,
        ))),
        Some(("environment", env)) => Ok(Scope::Environment(
            rempart_model::Environment::parse(env).map_err(|_| bad())?,
        )),
        _ => Err(bad()),
    }
}

pub(crate) fn scope_text(scope: &Scope) -> String {
    match scope {
        Scope::Global => "global".to_owned(),
        Scope::Tenant(t) => format!("tenant:{}", t.0),
        Scope::Environment(e) => format!("environment:{e}"),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    pub id: Uuid,
    pub user: Uuid,
    pub role: String,
    pub permissions: Vec<String>,
    pub scope: String,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_by: Option<Uuid>,
}

impl From<GrantRecord> for GrantView {
    fn from(g: GrantRecord) -> Self {
        Self {
            id: g.id,
            user: g.principal.0,
            role: g.grant.role.into(),
            permissions: permission_names(g.grant.permissions),
            scope: scope_text(&g.grant.scope),
            expires_at: g.grant.expires_at,
            granted_by: g.granted_by.map(|p| p.0),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantList {
    pub grants: Vec<GrantView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// 1 to 100 characters, not all white space.
    #[schema(value_type = TokenNameText)]
    pub name: String,
    /// A service account's id or login name; default: the caller.
    #[serde(default)]
    #[schema(value_type = Option<AccountRef>)]
    pub holder: Option<String>,
    /// 1 to 366 (default 90).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 366)]
    pub expires_in_days: Option<u32>,
    /// Cut the holder's permissions to these names.
    #[serde(default)]
    #[schema(value_type = Option<Vec<PermissionName>>)]
    pub permissions: Option<Vec<String>>,
    /// Bind the token to one tenant.
    #[serde(default)]
    pub tenant: Option<Uuid>,
    /// CIDRs the token may be used from, such as `192.0.2.0/24`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<NetworkText>>)]
    pub allow_list: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub holder: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_list: Option<Vec<String>>,
}

impl From<TokenRecord> for TokenView {
    fn from(t: TokenRecord) -> Self {
        Self {
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
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The token (`rmp_at_…`), shown once; only its hash is stored.
    pub token: String,
}
redacted_debug!(CreatedToken);

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionViewWire {
    pub id: Uuid,
    pub user: Uuid,
    pub stage: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The session this request came with.
    pub current: bool,
}

impl From<SessionView> for SessionViewWire {
    fn from(s: SessionView) -> Self {
        Self {
            id: s.id,
            user: s.principal.0,
            stage: s.stage.as_str().to_owned(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            source: s.source,
            current: s.current,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionViewWire>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmIGrant {
    pub role: String,
    pub scope: String,
    pub permissions: Vec<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    pub id: Uuid,
    pub name: String,
    /// `token` or `session`.
    pub credential: String,
    /// The grants in force, cut to the credential's restrictions.
    pub grants: Vec<WhoAmIGrant>,
}

/// A tenant's access settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantAccessWire {
    /// Rules that tighten the baseline password policy (the `[password]`
    /// configuration keys: `min_length`, `history`, `max_age_days` …);
    /// absent: the baseline alone.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub password_policy: Option<rempart_model::password_policy::PasswordPolicy>,
    /// Networks the tenant's users may come from, one at least; absent:
    /// any.
    #[serde(default)]
    #[schema(value_type = Option<Vec<NetworkText>>, min_items = 1)]
    pub allow_list: Option<Vec<String>>,
    /// Every user of the tenant must use a second factor.
    #[serde(default)]
    pub require_mfa: bool,
}

impl TenantAccessWire {
    pub fn into_domain(self) -> Result<rempart_core::identity::TenantAccess, Problem> {
        Ok(rempart_core::identity::TenantAccess {
            password_policy: self.password_policy,
            allow_list: self
                .allow_list
                .map(rempart_model::AllowList::parse)
                .transpose()
                .map_err(|e| Problem::invalid_field("allow_list", e.to_string()))?,
            require_mfa: self.require_mfa,
        })
    }
}

impl From<rempart_core::identity::TenantAccess> for TenantAccessWire {
    fn from(a: rempart_core::identity::TenantAccess) -> Self {
        Self {
            password_policy: a.password_policy,
            allow_list: a
                .allow_list
                .map(|l| l.entries().iter().map(ToString::to_string).collect()),
            require_mfa: a.require_mfa,
        }
    }
}
