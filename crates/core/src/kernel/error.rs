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
    Keys(#[from] crate::kernel::keyring::KeyError),
    /// A wrong login name or password: the same answer for both, so that
    /// no one learns which accounts exist.
    #[error("the login name or password is wrong")]
    LoginFailed,
    /// Too many failures for this account or from this address.
    #[error("too many failed attempts: try again in {retry_after_secs} seconds")]
    LockedOut { retry_after_secs: u64 },
    /// A new password breaks the policy; every broken rule is named.
    #[error("the password is refused: {}", rules.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    PasswordRefused {
        rules: Vec<rempart_model::password_policy::PasswordRule>,
    },
    #[error("second factor refused: {0}")]
    SecondFactorRefused(String),
    /// The session has a login step left before it may do anything else.
    #[error("finish logging in first: the next step is {next}")]
    LoginIncomplete { next: &'static str },
    /// A sensitive action needs a recent proof of identity.
    #[error("this action needs a recent login: re-authenticate (step-up) and retry")]
    StepUpRequired,
    /// An access rule refuses the change; the message names the rule.
    #[error("refused by rule {rule}: {message}")]
    RuleRefused { rule: &'static str, message: String },
    #[error("the source address is not on the allow-list for this {what}")]
    SourceNotAllowed { what: &'static str },
    /// WebAuthn needs `identity.webauthn_rp_id` and
    /// `identity.webauthn_origin`.
    #[error(
        "WebAuthn is not configured on this server: set identity.webauthn_rp_id and identity.webauthn_origin"
    )]
    WebauthnNotConfigured,
    /// The control catalogue shipped in the binary does not parse, or a
    /// check names a control it lacks: a defect of the build, not of input.
    #[error("the control catalogue is broken: {0}")]
    ControlCatalogue(String),
}

impl From<crate::kernel::secret::RandomUnavailable> for ServiceError {
    fn from(_: crate::kernel::secret::RandomUnavailable) -> Self {
        Self::RandomUnavailable
    }
}
