//! Login, the second factor, step-up, password change, TOTP enrolment, and
//! who the caller is (control AC-1).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::redacted_debug;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The login name (compared without case).
    pub name: String,
    pub password: String,
    /// Also return the session secret in the body (for the CLI and other
    /// non-browser clients); browsers use the `rempart_session` cookie.
    #[serde(default)]
    pub return_token: bool,
}
redacted_debug!(LoginRequest);

#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// What comes next: `second_factor`, `enrol_mfa`, `change_password`,
    /// or `full` (logged in).
    pub stage: String,
    pub session_id: Uuid,
    pub principal: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// The session secret (`rmp_ses_…`), when asked for; shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}
redacted_debug!(LoginResponse);

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A six-digit TOTP code, or a recovery code.
    pub code: String,
}
redacted_debug!(CodeRequest);

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepUpRequest {
    pub password: String,
    /// The current TOTP code, when an authenticator is enrolled.
    #[serde(default)]
    pub code: Option<String>,
}
redacted_debug!(StepUpRequest);

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}
redacted_debug!(ChangePasswordRequest);

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolmentResponse {
    /// `otpauth://totp/…` for an authenticator app (as a QR code).
    pub uri: String,
    /// The secret in base32, for manual entry.
    pub secret: String,
}
redacted_debug!(TotpEnrolmentResponse);

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Single-use codes, shown once: keep them offline.
    pub recovery_codes: Vec<String>,
}
redacted_debug!(RecoveryCodesResponse);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhoAmIGrant {
    pub role: String,
    pub scope: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub id: Uuid,
    pub name: String,
    /// `token` or `session`.
    pub credential: String,
    /// The grants in force, cut to the credential's restrictions.
    pub grants: Vec<WhoAmIGrant>,
}
