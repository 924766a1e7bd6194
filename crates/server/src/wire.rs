//! The API's request and response bodies, separate from the domain types
//! so that the domain can change without breaking clients. Requests refuse
//! unknown fields: a misspelt field is an error, not a silent default.

use rempart_model::{Environment, NewTenant, Region, Tenant, TenantName};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::Problem;
use crate::wire_format::{EnvironmentName, LoginName, RegionName, TenantNameText};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or what is not ready.
    pub status: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRequest {
    /// The credential printed at first start (`rmp_boot_…`).
    pub credential: String,
    /// The first administrator's login name (an e-mail address, usually).
    #[schema(value_type = LoginName)]
    pub administrator: String,
}

#[derive(Serialize, ToSchema)]
pub struct BootstrapResponse {
    pub administrator: PrincipalView,
    /// The administrator's first API token (`rmp_at_…`). Shown once; only
    /// its hash is stored.
    pub token: String,
    /// When that token expires (the default API-token lifetime, 90 days).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub token_expires_at: OffsetDateTime,
}

/// The credential is never printed.
impl std::fmt::Debug for BootstrapRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapRequest")
            .field("administrator", &self.administrator)
            .finish_non_exhaustive()
    }
}

/// The token is never printed.
impl std::fmt::Debug for BootstrapResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapResponse")
            .field("administrator", &self.administrator)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalView {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
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

impl CreateTenantRequest {
    pub fn into_domain(self) -> Result<NewTenant, Problem> {
        Ok(NewTenant {
            name: TenantName::parse(&self.name)
                .map_err(|e| Problem::invalid_field("name", e.to_string()))?,
            region: Region::parse(&self.region)
                .map_err(|e| Problem::invalid_field("region", e.to_string()))?,
            environment: Environment::parse(&self.environment)
                .map_err(|e| Problem::invalid_field("environment", e.to_string()))?,
        })
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    pub name: String,
    pub region: String,
    pub environment: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

impl From<Tenant> for TenantView {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.0,
            name: t.name.into(),
            region: t.region.into(),
            environment: t.environment.into(),
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantView>,
}
