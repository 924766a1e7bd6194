//! Grants: a role given to an account in a scope (`global`,
//! `tenant:<uuid>` or `environment:<name>`), until an optional end.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::format::{AccountRef, RoleNameText, ScopeText};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GrantList {
    pub grants: Vec<GrantView>,
}
