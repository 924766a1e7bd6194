//! What a service call can answer besides success.
//!
//! Rules (after rustic_core's `error.rs`): variants name what went wrong in
//! the domain's words; a message never contains a secret, a key or a hash.
//! [`ServiceError`] holds what every domain can answer (unauthenticated,
//! forbidden, not found, invalid, a rule's refusal, a storage failure);
//! each domain's own failures are its own error type, implementing
//! [`DomainError`], carried in [`ServiceError::Domain`]. Each error names
//! its [`ProblemType`]: a stable slug, a title and an [`ErrorKind`]; the
//! server maps kinds to HTTP statuses in one place, so a new domain adds
//! no arm to a central enum or match.

use rempart_model::{Permission, TenantId};
use rempart_store::StoreError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No credential, or one that is unknown, expired or revoked.
    #[error("authentication required: the token is missing, unknown, expired or revoked")]
    Unauthenticated,
    /// Authenticated, but no grant carries the permission for the target.
    #[error("permission denied: this action needs {permission} on its target")]
    Forbidden { permission: Permission },
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
    /// The tenant was crypto-shredded: its data is gone for good, and
    /// nothing reads or writes it any more (see
    /// [`Kernel::live_tenant`](crate::kernel::Kernel::live_tenant)).
    #[error(
        "tenant {tenant} was crypto-shredded at {}: its data is gone for good",
        rfc3339(*.shredded_at)
    )]
    TenantShredded {
        tenant: TenantId,
        shredded_at: OffsetDateTime,
    },
    /// An access rule refuses the change; the message names the rule.
    #[error("refused by rule {rule}: {message}")]
    RuleRefused { rule: &'static str, message: String },
    /// A domain's own failure (a wrong password, a sealed keyring …).
    #[error("{0}")]
    Domain(Box<dyn DomainError>),
}

impl<E: DomainError> From<E> for ServiceError {
    fn from(error: E) -> Self {
        Self::Domain(Box::new(error))
    }
}

impl ServiceError {
    /// The domain error this is, if it is one of type `E`.
    pub fn domain<E: DomainError>(&self) -> Option<&E> {
        match self {
            Self::Domain(error) => {
                let error: &dyn std::error::Error = error.as_ref();
                error.downcast_ref::<E>()
            }
            _ => None,
        }
    }

    /// How the error is answered: its kind, slug and title.
    pub fn problem_type(&self) -> ProblemType {
        use ErrorKind as K;
        match self {
            Self::Unauthenticated => ProblemType::new(
                K::Unauthenticated,
                "unauthenticated",
                "Authentication required",
            ),
            Self::Forbidden { .. } => {
                ProblemType::new(K::Forbidden, "forbidden", "Permission denied")
            }
            Self::Invalid { .. } => {
                ProblemType::new(K::Invalid, "invalid-field", "A field is not valid")
            }
            Self::Store(StoreError::Unreachable { .. }) => {
                ProblemType::new(K::Unavailable, "unavailable", "Service unavailable")
            }
            Self::NotFound { .. } => ProblemType::new(K::NotFound, "not-found", "Not found"),
            Self::TenantNotFound => {
                ProblemType::new(K::NotFound, "tenant-not-found", "No such tenant")
            }
            Self::TenantShredded { .. } => ProblemType::new(
                K::Gone,
                "tenant-shredded",
                "The tenant's keys were shredded",
            ),
            Self::RuleRefused { .. } => {
                ProblemType::new(K::Forbidden, "rule-refused", "Refused by an access rule")
            }
            Self::Domain(error) => error.problem_type(),
            Self::Store(_) | Self::RandomUnavailable | Self::AuditLog(_) => {
                ProblemType::new(K::Internal, "internal", "Internal error")
            }
        }
    }

    /// When the tenant this error is about was crypto-shredded: the
    /// problem document's `shredded_at` member.
    pub fn shredded_at(&self) -> Option<OffsetDateTime> {
        match self {
            Self::TenantShredded { shredded_at, .. } => Some(*shredded_at),
            _ => None,
        }
    }

    /// The fields a validation problem names.
    pub fn field_reasons(&self) -> Vec<FieldReason> {
        match self {
            Self::Invalid { field, message } => vec![FieldReason {
                field: (*field).to_owned(),
                message: message.clone(),
            }],
            Self::Domain(error) => error.field_reasons(),
            _ => Vec::new(),
        }
    }
}

/// A time as RFC 3339 text (its `Display` otherwise, which cannot fail).
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

impl From<crate::kernel::secret::RandomUnavailable> for ServiceError {
    fn from(_: crate::kernel::secret::RandomUnavailable) -> Self {
        Self::RandomUnavailable
    }
}

/// What kind of failure an error is: all that the HTTP layer needs to pick
/// a status (and the CLI an exit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No usable credential: 401, with a challenge.
    Unauthenticated,
    /// A credential presented and refused (a wrong password, a wrong
    /// code): 401, without a challenge.
    Rejected,
    /// 403.
    Forbidden,
    /// 404 (also: outside the caller's scope).
    NotFound,
    /// The state does not allow it (a name taken, a key still in use): 409.
    Conflict,
    /// A precondition of the request no longer holds (an `If-Match`
    /// version that is not the stored one): 412.
    PreconditionFailed,
    /// Destroyed for good (a crypto-shredded tenant): 410.
    Gone,
    /// A request that cannot be acted on as sent (a share that does not
    /// open the keyring): 400.
    BadRequest,
    /// A value that breaks a rule: 422.
    Invalid,
    /// A limit: 429 with `Retry-After`.
    TooMany { retry_after_secs: u64 },
    /// Not now (a sealed keyring, an unreachable database): 503.
    Unavailable,
    /// The server failed: 500, answered with a generic text and logged.
    Internal,
}

/// How an error is answered: its kind, and the stable name and title of
/// its problem type (`docs/api-errors.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    pub kind: ErrorKind,
    /// The last segment of the problem's `type` URI: what clients match on.
    pub slug: &'static str,
    pub title: &'static str,
}

impl ProblemType {
    pub const fn new(kind: ErrorKind, slug: &'static str, title: &'static str) -> Self {
        Self { kind, slug, title }
    }
}

/// One field's reason, for validation problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldReason {
    pub field: String,
    pub message: String,
}

/// A domain's own error: it says how it is answered.
pub trait DomainError: std::error::Error + Send + Sync + 'static {
    fn problem_type(&self) -> ProblemType;

    /// The fields a validation problem names (none by default).
    fn field_reasons(&self) -> Vec<FieldReason> {
        Vec::new()
    }
}
