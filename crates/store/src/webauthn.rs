//! WebAuthn storage (control AC-1): registered security keys and
//! passkeys, and the state of ceremonies in progress.
//!
//! Ceremony state lives here, not in the client and not in one replica's
//! memory, so that any replica can finish a ceremony another started. A
//! ceremony is single use: it is taken (deleted and returned in one
//! statement) when it is finished, so two replicas racing to finish the
//! same one cannot both succeed. The methods are on
//! [`IdentityTx`](crate::IdentityTx).

use rempart_model::PrincipalId;
use time::OffsetDateTime;
use uuid::Uuid;

/// A registered WebAuthn credential. `passkey` is the relying-party
/// library's serialised credential: the public key, the signature counter
/// and the registration's flags. It holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnCredentialRecord {
    pub id: Uuid,
    pub principal: PrincipalId,
    /// The authenticator's credential id (unique across accounts).
    pub credential_id: Vec<u8>,
    /// The holder's name for it ("YubiKey 5C", "laptop").
    pub name: String,
    pub passkey: String,
    /// The last signature counter accepted: an assertion must exceed it.
    pub counter: u32,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    Authentication,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Authentication => "authentication",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registration" => Some(Self::Registration),
            "authentication" => Some(Self::Authentication),
            _ => None,
        }
    }
}

/// A WebAuthn ceremony in progress, bound to the session that started it.
/// `state` is the relying-party library's serialised state (it holds the
/// challenge): never sent to the client, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct WebauthnCeremonyRecord {
    pub id: Uuid,
    pub principal: PrincipalId,
    pub session: Uuid,
    pub kind: CeremonyKind,
    pub state: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for WebauthnCeremonyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebauthnCeremonyRecord")
            .field("id", &self.id)
            .field("principal", &self.principal)
            .field("session", &self.session)
            .field("kind", &self.kind)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

macro_rules! webauthn_credential_columns {
    () => {
        "id, principal_id, credential_id, name, passkey, counter, created_at, last_used_at"
    };
}
pub(crate) use webauthn_credential_columns;
