//! The bootstrap exchange: the credential printed at first start for the
//! first administrator and its first API token.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::format::LoginName;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRequest {
    /// The credential printed at first start (`rmp_boot_…`).
    pub credential: String,
    /// The first administrator's login name (an e-mail address, usually).
    #[schema(value_type = LoginName)]
    pub administrator: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrincipalView {
    pub id: Uuid,
    pub name: String,
}
