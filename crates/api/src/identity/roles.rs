//! Roles: the built-in ones and custom ones, each a set of permissions.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::format::{PermissionName, RoleNameText};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleViewWire {
    pub name: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<RoleViewWire>,
}
