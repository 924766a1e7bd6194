//! Identity records: rows as the store keeps them, where the domain types
//! do not cover them (accounts, credentials kept as hashes or sealed,
//! sessions, throttle counters, access settings, WebAuthn). A record that
//! holds a hash or a secret leaves it out of its `Debug`.

use rempart_model::{Grant, PermissionSet, PrincipalId, PrincipalName, RoleName, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

// Accounts.

/// What an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// The SaaS company's own people: the admin plane.
    Staff,
    /// A user of one tenant: the customer plane.
    TenantUser,
    /// A machine (API tokens only, no password).
    Service,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::TenantUser => "tenant_user",
            Self::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "staff" => Some(Self::Staff),
            "tenant_user" => Some(Self::TenantUser),
            "service" => Some(Self::Service),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalState {
    Active,
    Suspended,
    Terminated,
}

impl PrincipalState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Terminated => "terminated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "terminated" => Some(Self::Terminated),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    pub id: PrincipalId,
    pub name: PrincipalName,
    pub state: PrincipalState,
    pub created_at: OffsetDateTime,
    pub kind: AccountKind,
    /// The tenant of a tenant user; `None` for staff.
    pub tenant: Option<TenantId>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// A named emergency account: every use is a high-severity event.
    pub break_glass: bool,
}

impl PrincipalRecord {
    /// An active staff account with nothing but a name.
    pub fn staff(id: PrincipalId, name: PrincipalName, created_at: OffsetDateTime) -> Self {
        Self {
            id,
            name,
            state: PrincipalState::Active,
            created_at,
            kind: AccountKind::Staff,
            tenant: None,
            email: None,
            display_name: None,
            break_glass: false,
        }
    }
}

/// Which accounts a listing may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountFilter {
    /// Every account.
    All,
    /// Staff accounts only.
    Staff,
    /// The users of these tenants.
    Tenants(Vec<TenantId>),
}

// Grants and custom roles.

/// A grant as stored, with its id (to revoke it) and who gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: Uuid,
    pub principal: PrincipalId,
    pub grant: Grant,
    pub created_at: OffsetDateTime,
    pub granted_by: Option<PrincipalId>,
}

/// A custom role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: RoleName,
    pub permissions: PermissionSet,
    pub description: String,
    pub created_at: OffsetDateTime,
}

// API tokens.

/// An API token. `hash` is SHA-256 of the token; the token itself is never
/// stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: Uuid,
    pub principal: PrincipalId,
    pub hash: [u8; 32],
    pub name: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    /// The one tenant the token acts in; `None`: the holder's scopes.
    pub tenant: Option<TenantId>,
    /// The permissions the token is limited to; `None`: the holder's.
    pub permissions: Option<PermissionSet>,
    /// CIDRs the token may be used from, space-separated; `None`: any.
    pub allow_list: Option<String>,
}

impl TokenRecord {
    /// A token with the holder's full authority, usable from anywhere.
    pub fn unrestricted(
        id: Uuid,
        principal: PrincipalId,
        hash: [u8; 32],
        name: impl Into<String>,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            principal,
            hash,
            name: name.into(),
            created_at,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            tenant: None,
            permissions: None,
            allow_list: None,
        }
    }
}

rempart_model::debug_fields!(TokenRecord {
    id,
    principal,
    name,
    expires_at,
    revoked_at
});

// The bootstrap credential.

/// A bootstrap credential. `hash` is SHA-256 of the credential.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapRecord {
    pub id: Uuid,
    pub hash: [u8; 32],
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

rempart_model::debug_fields!(BootstrapRecord {
    id,
    expires_at,
    used_at
});

// Sessions.

/// How far a session has come through login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Password accepted; the second factor is next.
    SecondFactor,
    /// MFA is required and not enrolled: enrolment is next.
    EnrolMfa,
    /// The password expired or was reset: a new one is next.
    ChangePassword,
    /// Logged in.
    Full,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecondFactor => "second_factor",
            Self::EnrolMfa => "enrol_mfa",
            Self::ChangePassword => "change_password",
            Self::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "second_factor" => Some(Self::SecondFactor),
            "enrol_mfa" => Some(Self::EnrolMfa),
            "change_password" => Some(Self::ChangePassword),
            "full" => Some(Self::Full),
            _ => None,
        }
    }
}

/// A browser or CLI session. `hash` is SHA-256 of the session secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub principal: PrincipalId,
    pub hash: [u8; 32],
    pub stage: SessionStage,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// The absolute timeout.
    pub expires_at: OffsetDateTime,
    /// The last time the holder proved who they are (step-up).
    pub authenticated_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub source: Option<String>,
}

rempart_model::debug_fields!(SessionRecord {
    id,
    principal,
    stage,
    expires_at,
    revoked_at
});

// Passwords.

/// A password credential: an Argon2id PHC string, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordRecord {
    pub principal: PrincipalId,
    pub hash: String,
    pub changed_at: OffsetDateTime,
    /// Set by an administrator's reset: the next login must change it.
    pub must_change: bool,
}

rempart_model::debug_fields!(PasswordRecord {
    principal,
    changed_at,
    must_change
});

// TOTP.

/// A TOTP credential. `secret` is the keyring's envelope of the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub principal: PrincipalId,
    pub secret: Vec<u8>,
    /// The last accepted time step: a code is never accepted twice.
    pub last_step: Option<u64>,
    pub created_at: OffsetDateTime,
    /// `None` until the holder proved the authenticator works.
    pub confirmed_at: Option<OffsetDateTime>,
}

rempart_model::debug_fields!(TotpRecord {
    principal,
    last_step,
    confirmed_at
});

// Login throttling.

/// Failed logins counted under one key (an account or a source address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleRecord {
    pub key: String,
    pub failures: u32,
    pub window_start: OffsetDateTime,
    pub locked_until: Option<OffsetDateTime>,
    /// Lockouts so far: each one lasts longer (escalation).
    pub lockouts: u32,
}

// Tenants' own access settings.

/// A tenant's own access settings. `password_policy` is the policy as
/// JSON (the service layer owns its shape); `allow_list` is CIDRs,
/// space-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantAccessRecord {
    pub tenant: TenantId,
    pub password_policy: Option<String>,
    pub allow_list: Option<String>,
    pub require_mfa: bool,
    pub updated_at: OffsetDateTime,
}

// WebAuthn credentials and ceremonies.

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

rempart_model::debug_fields!(WebauthnCeremonyRecord {
    id,
    principal,
    session,
    kind,
    expires_at
});
