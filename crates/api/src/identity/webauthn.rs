//! WebAuthn security keys and passkeys: registration, listing, removal,
//! and authentication. The options and credential fields are WebAuthn's
//! own JSON (the shapes `navigator.credentials.create()` and `.get()` take
//! and return), passed through as the relying party library defines them:
//! the types here take them as a parameter (`O`, `C`), which the server
//! fills with that library's types, and which is any JSON value by default
//! (for a client, and in the OpenAPI document: an object). They carry
//! public keys, signatures and challenges, never a secret of the holder's.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A started registration: finish it with the same `ceremony` within five
/// minutes, on any replica.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(bound = "")]
pub struct WebauthnRegisterStartResponse<O = serde_json::Value> {
    pub ceremony: Uuid,
    /// `PublicKeyCredentialCreationOptions`, under `publicKey`: pass it to
    /// `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub options: O,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(bound = "")]
#[serde(deny_unknown_fields)]
pub struct WebauthnRegisterFinishRequest<C = serde_json::Value> {
    pub ceremony: Uuid,
    /// The holder's name for the key ("YubiKey 5C"); default "security key".
    #[serde(default)]
    pub name: String,
    /// What `navigator.credentials.create()` answered.
    #[schema(value_type = Object)]
    pub credential: C,
}

/// A registered security key or passkey.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

// Recovery codes are never printed.
rempart_model::debug_fields!(WebauthnCredentialWire { id, name, stage });

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebauthnCredentialList {
    pub credentials: Vec<WebauthnCredentialWire>,
}

/// A started authentication: finish it with the same `ceremony`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(bound = "")]
pub struct WebauthnStartResponse<O = serde_json::Value> {
    pub ceremony: Uuid,
    /// `PublicKeyCredentialRequestOptions`, under `publicKey`: pass it to
    /// `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub options: O,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(bound = "")]
#[serde(deny_unknown_fields)]
pub struct WebauthnFinishRequest<C = serde_json::Value> {
    pub ceremony: Uuid,
    /// What `navigator.credentials.get()` answered.
    #[schema(value_type = Object)]
    pub credential: C,
}
