//! What a service call can answer besides success.
//!
//! Rules (after rustic_core's `error.rs`): variants name what went wrong in
//! the domain's words; a message never contains a secret, a key or a hash;
//! the server maps each variant to one HTTP problem type, in one place.

use rempart_model::Permission;
use rempart_model::bootstrap::BootstrapRefusal;
use rempart_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No credential, or one that is unknown, expired or revoked.
    #[error("authentication required: the token is missing, unknown, expired or revoked")]
    Unauthenticated,
    /// Authenticated, but no grant carries the permission for the target.
    #[error("permission denied: this action needs {permission} on its target")]
    Forbidden { permission: Permission },
    #[error("{0}")]
    BootstrapRefused(BootstrapRefusal),
    #[error("a tenant named {name:?} already exists (names are compared without case)")]
    TenantNameTaken { name: String },
    #[error("a principal named {name:?} already exists (names are compared without case)")]
    PrincipalNameTaken { name: String },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("the operating system's random generator failed")]
    RandomUnavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit log could not be written or read as its format requires.
    #[error("audit log: {0}")]
    AuditLog(String),
    /// The thing asked for does not exist (or is outside the caller's scope
    /// only when the caller may not know it exists).
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("no such tenant")]
    TenantNotFound,
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
}

impl From<crate::secret::RandomUnavailable> for ServiceError {
    fn from(_: crate::secret::RandomUnavailable) -> Self {
        Self::RandomUnavailable
    }
}
