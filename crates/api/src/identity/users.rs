//! Accounts: creating, listing, suspending and terminating them, and
//! setting another's password (controls AC-2, DV-4).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::format::{AccountKindName, AccountStateName, LoginName};
use crate::redacted_debug;

#[derive(Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

/// Whose accounts to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// The users of this tenant; default: every account (staff-wide read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStateRequest {
    /// `active`, `suspended` or `terminated`.
    #[schema(value_type = AccountStateName)]
    pub state: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The new password; the holder changes it at the next login.
    pub password: String,
}
redacted_debug!(ResetPasswordRequest);
