//! Request and response bodies of the WebAuthn API. The
//! credential and options fields are WebAuthn's own JSON (the shapes
//! `navigator.credentials.create()` and `.get()` take and return), passed
//! through as webauthn-rs defines them. They carry public keys, signatures
//! and challenges, never a secret of the holder's.

use rempart_core::identity::webauthn::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, WebauthnCredentialView,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A started registration: finish it with the same `ceremony` within five
/// minutes, on any replica.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebauthnRegisterStartResponse {
    pub ceremony: Uuid,
    /// `PublicKeyCredentialCreationOptions`, under `publicKey`: pass it to
    /// `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub options: CreationChallengeResponse,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebauthnRegisterFinishRequest {
    pub ceremony: Uuid,
    /// The holder's name for the key ("YubiKey 5C"); default "security key".
    #[serde(default)]
    pub name: String,
    /// What `navigator.credentials.create()` answered.
    #[schema(value_type = Object)]
    pub credential: RegisterPublicKeyCredential,
}

/// A registered security key or passkey.
#[derive(Serialize, ToSchema)]
pub struct WebauthnCredentialWire {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
    /// After registration: the caller's login step (`full` once a login
    /// waiting for MFA enrolment has it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// After a registration by an account with no unused recovery codes:
    /// ten single-use codes, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// Recovery codes are never printed.
impl std::fmt::Debug for WebauthnCredentialWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebauthnCredentialWire")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl From<WebauthnCredentialView> for WebauthnCredentialWire {
    fn from(v: WebauthnCredentialView) -> Self {
        Self {
            id: v.id,
            name: v.name,
            created_at: v.created_at,
            last_used_at: v.last_used_at,
            stage: v.stage.map(|s| s.as_str().to_owned()),
            recovery_codes: v.recovery_codes.map(|codes| {
                codes
                    .0
                    .iter()
                    .map(|c| secrecy::ExposeSecret::expose_secret(c).to_owned())
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebauthnCredentialList {
    pub credentials: Vec<WebauthnCredentialWire>,
}

/// A started authentication: finish it with the same `ceremony`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebauthnStartResponse {
    pub ceremony: Uuid,
    /// `PublicKeyCredentialRequestOptions`, under `publicKey`: pass it to
    /// `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub options: RequestChallengeResponse,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebauthnFinishRequest {
    pub ceremony: Uuid,
    /// What `navigator.credentials.get()` answered.
    #[schema(value_type = Object)]
    pub credential: PublicKeyCredential,
}
