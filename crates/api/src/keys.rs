//! The keyring (control DS-7): seal status and unseal, and key
//! administration (status, rotate, re-wrap, retire, shred). No body
//! carries key material: versions, dates and counts only; the unseal
//! request's passphrase or share is never printed.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::format::{EnvironmentName, KeyCursor};

/// Whether the keyring is sealed, and what unsealing it takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SealStatusView {
    pub sealed: bool,
    /// `key-file`, `passphrase`, `shamir`, or `none`.
    pub provider: String,
    /// Shares needed to unseal (Shamir).
    pub threshold: Option<u8>,
    /// Shares entered so far (Shamir, while sealed).
    pub shares_entered: usize,
}

/// One of: a passphrase, one share, or `reset` to forget entered shares.
#[derive(Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsealRequest {
    pub passphrase: Option<String>,
    pub share: Option<String>,
    #[serde(default)]
    pub reset: bool,
}

/// Never prints the passphrase or the share, only whether one was given.
impl std::fmt::Debug for UnsealRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsealRequest")
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "(redacted)"),
            )
            .field("share", &self.share.as_ref().map(|_| "(redacted)"))
            .field("reset", &self.reset)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KekView {
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// Data keys this version wrapped (its usage count).
    pub wraps: u64,
    pub wrap_limit: u64,
    pub rotation_due: bool,
    pub retired: bool,
    /// Stored data keys currently wrapped under this version.
    pub stored_data_keys: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentKeysView {
    pub environment: String,
    pub encryption_version: u32,
    pub min_decryption_version: u32,
    pub keks: Vec<KekView>,
}

/// Versions, dates, usage counts and seal state; never key bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeysStatusView {
    pub seal: SealStatusView,
    /// Empty while sealed.
    pub environments: Vec<EnvironmentKeysView>,
    pub tenants_enrolled: Option<usize>,
    pub tenants_shredded: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentRequest {
    #[schema(value_type = EnvironmentName)]
    pub environment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RotateResponse {
    pub environment: String,
    /// The new KEK version, used for new wrappings from now on.
    pub version: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewrapRequest {
    #[schema(value_type = EnvironmentName)]
    pub environment: String,
    /// The cursor returned by the previous batch (32 hex digits).
    #[schema(value_type = Option<KeyCursor>)]
    pub after: Option<String>,
    /// Data keys per batch, 1 to 1000 (default 100).
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RewrapResponse {
    pub environment: String,
    pub encryption_version: u32,
    pub rewrapped: u64,
    /// Pass as `after` for the next batch; absent when done.
    pub next: Option<String>,
    pub remaining: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetireRequest {
    #[schema(value_type = EnvironmentName)]
    pub environment: String,
    pub min_version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetireResponse {
    pub environment: String,
    pub min_decryption_version: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShredRequest {
    pub tenant: Uuid,
    /// Must repeat the tenant id: shredding is irreversible.
    pub confirm: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShredResponse {
    pub tenant: Uuid,
    pub shredded: bool,
}
