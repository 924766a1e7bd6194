//! Tenants: the organizations whose data Rempart holds, and their access
//! settings.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::format::{EnvironmentName, NetworkText, RegionName, TenantNameText};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// Display name, unique without regard to case; 1 to 100 characters.
    #[schema(value_type = TenantNameText)]
    pub name: String,
    /// Residency region, such as `us`, `ca` or `eu-west-3`.
    #[schema(value_type = RegionName)]
    pub region: String,
    /// Environment, such as `production` or `development`.
    #[schema(value_type = EnvironmentName)]
    pub environment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    pub name: String,
    pub region: String,
    pub environment: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When the tenant was crypto-shredded: its data is gone for good and
    /// every use of it answers 410 (`tenant-shredded`). Absent while it is
    /// live.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub shredded_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantView>,
}

/// A tenant's access settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
