//! API tokens: created (shown once), listed (never their secrets) and
//! revoked.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::format::{AccountRef, NetworkText, PermissionName, TokenNameText};
use crate::redacted_debug;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The token (`rmp_at_…`), shown once; only its hash is stored.
    pub token: String,
}
redacted_debug!(CreatedToken);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// Whose tokens to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenListQuery {
    /// Another account's id or login name (needs `user.read` over it).
    #[param(value_type = Option<AccountRef>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}
