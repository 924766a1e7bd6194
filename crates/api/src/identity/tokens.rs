//! API tokens: created (shown once), listed (never their secrets) and
//! revoked.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::format::{AccountRef, NetworkText, PermissionName, TokenNameText};
use crate::redacted_debug;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// 1 to 100 characters, not all white space.
    #[schema(value_type = TokenNameText)]
    pub name: String,
    /// A service account's id or login name; default: the caller.
    #[serde(default)]
    #[schema(value_type = Option<AccountRef>)]
    pub holder: Option<String>,
    /// 1 to 366 (default 90).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 366)]
    pub expires_in_days: Option<u32>,
    /// Cut the holder's permissions to these names.
    #[serde(default)]
    #[schema(value_type = Option<Vec<PermissionName>>)]
    pub permissions: Option<Vec<String>>,
    /// Bind the token to one tenant.
    #[serde(default)]
    pub tenant: Option<Uuid>,
    /// CIDRs the token may be used from, such as `192.0.2.0/24`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<NetworkText>>)]
    pub allow_list: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub holder: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_list: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The token (`rmp_at_…`), shown once; only its hash is stored.
    pub token: String,
}
redacted_debug!(CreatedToken);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// Whose tokens to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenListQuery {
    /// Another account's id or login name (needs `user.read` over it).
    #[param(value_type = Option<AccountRef>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// A created token round-trips: its view flattened beside the secret,
    /// its times in RFC 3339, absent restrictions left out.
    #[test]
    fn a_created_token_round_trips() {
        let at = time::macros::datetime!(2030-01-31 18:00:00.123456 UTC);
        let created = CreatedToken {
            view: TokenView {
                id: Uuid::nil(),
                holder: Uuid::max(),
                name: "ci".to_owned(),
                created_at: at,
                expires_at: Some(at),
                revoked_at: None,
                last_used_at: None,
                tenant: None,
                permissions: Some(vec!["audit.search".to_owned()]),
                allow_list: None,
            },
            token: "rmp_at_secret".to_owned(),
        };
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(json["expires_at"], "2030-01-31T18:00:00.123456Z");
        assert_eq!(json["revoked_at"], serde_json::Value::Null);
        assert!(json.get("tenant").is_none());
        assert_eq!(json["token"], "rmp_at_secret");
        let back: CreatedToken = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.view, created.view);
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        assert_eq!(format!("{back:?}"), "CreatedToken(redacted)");
    }
}
