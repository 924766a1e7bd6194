//! What the identity domain can answer besides success: login, second
//! factors, the password policy, step-up, allow-lists, bootstrap.

use rempart_model::bootstrap::BootstrapRefusal;
use rempart_model::password_policy::PasswordRule;

use crate::kernel::error::{DomainError, ErrorKind, FieldReason, ProblemType};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A wrong login name or password: the same answer for both, so that
    /// no one learns which accounts exist.
    #[error("the login name or password is wrong")]
    LoginFailed,
    /// Too many failures for this account or from this address.
    #[error("too many failed attempts: try again in {retry_after_secs} seconds")]
    LockedOut { retry_after_secs: u64 },
    /// A new password breaks the policy; every broken rule is named.
    #[error("the password is refused: {}", rules.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    PasswordRefused { rules: Vec<PasswordRule> },
    #[error("second factor refused: {0}")]
    SecondFactorRefused(String),
    /// The session has a login step left before it may do anything else.
    #[error("finish logging in first: the next step is {next}")]
    LoginIncomplete { next: &'static str },
    /// A sensitive action needs a recent proof of identity.
    #[error("this action needs a recent login: re-authenticate (step-up) and retry")]
    StepUpRequired,
    #[error("the source address is not on the allow-list for this {what}")]
    SourceNotAllowed { what: &'static str },
    /// WebAuthn needs `identity.webauthn_rp_id` and
    /// `identity.webauthn_origin`.
    #[error(
        "WebAuthn is not configured on this server: set identity.webauthn_rp_id and identity.webauthn_origin"
    )]
    WebauthnNotConfigured,
    #[error("a principal named {name:?} already exists (names are compared without case)")]
    NameTaken { name: String },
    #[error("{0}")]
    BootstrapRefused(BootstrapRefusal),
}

impl DomainError for IdentityError {
    fn problem_type(&self) -> ProblemType {
        use ErrorKind as K;
        match self {
            Self::LoginFailed => ProblemType::new(K::Rejected, "login-failed", "Login failed"),
            Self::LockedOut { retry_after_secs } => ProblemType::new(
                K::TooMany {
                    retry_after_secs: *retry_after_secs,
                },
                "locked-out",
                "Too many failed attempts",
            ),
            Self::PasswordRefused { .. } => ProblemType::new(
                K::Invalid,
                "password-refused",
                "Password refused by the policy",
            ),
            Self::SecondFactorRefused(_) => ProblemType::new(
                K::Rejected,
                "second-factor-refused",
                "Second factor refused",
            ),
            Self::LoginIncomplete { .. } => {
                ProblemType::new(K::Forbidden, "login-incomplete", "Login not finished")
            }
            Self::StepUpRequired => {
                ProblemType::new(K::Forbidden, "step-up-required", "Recent login needed")
            }
            Self::SourceNotAllowed { .. } => ProblemType::new(
                K::Forbidden,
                "source-not-allowed",
                "Source address not allowed",
            ),
            Self::WebauthnNotConfigured => ProblemType::new(
                K::Conflict,
                "webauthn-not-configured",
                "WebAuthn is not configured",
            ),
            Self::NameTaken { .. } => {
                ProblemType::new(K::Conflict, "name-taken", "Name already taken")
            }
            Self::BootstrapRefused(_) => ProblemType::new(
                K::Forbidden,
                "bootstrap-refused",
                "Bootstrap credential refused",
            ),
        }
    }

    fn field_reasons(&self) -> Vec<FieldReason> {
        match self {
            Self::PasswordRefused { rules } => rules
                .iter()
                .map(|rule| FieldReason {
                    field: "password".to_owned(),
                    message: rule.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}
