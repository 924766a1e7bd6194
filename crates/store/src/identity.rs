//! Identity storage: accounts, password hashes and history, TOTP
//! credentials (sealed by the keyring before they arrive here), recovery
//! codes, login throttling, sessions, scoped API tokens and custom roles.
//!
//! [`IdentityTx`] is a supertrait of [`Tx`](crate::Tx): the same
//! transaction carries identity changes and their audit event; its reads,
//! [`IdentityReadTx`], are a supertrait of [`ReadTx`](crate::ReadTx). The
//! one implementation is generated per engine by [`identity_impl!`], with
//! the same SQL text on both.

use async_trait::async_trait;
use rempart_model::{Grant, PermissionSet, PrincipalId, RoleName, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{PrincipalRecord, StoreError, TokenRecord};

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

/// A password credential: an Argon2id PHC string, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordRecord {
    pub principal: PrincipalId,
    pub hash: String,
    pub changed_at: OffsetDateTime,
    /// Set by an administrator's reset: the next login must change it.
    pub must_change: bool,
}

impl std::fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordRecord")
            .field("principal", &self.principal)
            .field("changed_at", &self.changed_at)
            .field("must_change", &self.must_change)
            .finish_non_exhaustive()
    }
}

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

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("principal", &self.principal)
            .field("last_step", &self.last_step)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

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

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("principal", &self.principal)
            .field("stage", &self.stage)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A custom role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: RoleName,
    pub permissions: PermissionSet,
    pub description: String,
    pub created_at: OffsetDateTime,
}

/// A grant as stored, with its id (to revoke it) and who gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: Uuid,
    pub principal: PrincipalId,
    pub grant: Grant,
    pub created_at: OffsetDateTime,
    pub granted_by: Option<PrincipalId>,
}

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

/// The identity writes of a write transaction (see [`crate::Tx`]).
#[async_trait]
pub trait IdentityTx: IdentityReadTx + Send {
    // Accounts.

    async fn set_principal_state(
        &mut self,
        id: PrincipalId,
        state: crate::PrincipalState,
    ) -> Result<bool, StoreError>;

    // Passwords.

    /// Sets the password and appends the hash to the history, keeping the
    /// last `keep` hashes.
    async fn set_password(&mut self, record: &PasswordRecord, keep: u32) -> Result<(), StoreError>;
    /// Replaces the hash only (a re-hash with new parameters).
    async fn rehash_password(&mut self, id: PrincipalId, hash: &str) -> Result<(), StoreError>;

    // TOTP and recovery codes.

    async fn put_totp(&mut self, record: &TotpRecord) -> Result<(), StoreError>;
    /// Moves the last accepted step from `expected` to `step`; `false` when
    /// another request moved it first (the code was used concurrently).
    async fn advance_totp_step(
        &mut self,
        id: PrincipalId,
        expected: Option<u64>,
        step: u64,
        confirmed_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError>;
    async fn delete_totp(&mut self, id: PrincipalId) -> Result<(), StoreError>;
    async fn replace_recovery_codes(
        &mut self,
        id: PrincipalId,
        codes: &[(Uuid, [u8; 32])],
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Marks the unused code with this hash used; `false` if there is none.
    async fn use_recovery_code(
        &mut self,
        id: PrincipalId,
        hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    // Login throttling.

    /// Counts one failure under `key` in one statement (concurrent
    /// failures on several replicas all count): a window that began before
    /// `window_cutoff` starts again at `now`.
    async fn count_login_failure(
        &mut self,
        key: &str,
        now: OffsetDateTime,
        window_cutoff: OffsetDateTime,
    ) -> Result<ThrottleRecord, StoreError>;
    /// Locks `key` until `until`, counting the lockout and restarting the
    /// failure count.
    async fn lock_login(&mut self, key: &str, until: OffsetDateTime) -> Result<(), StoreError>;
    async fn clear_throttle(&mut self, key: &str) -> Result<(), StoreError>;
    /// Deletes the counters of keys with no failure and no lockout since
    /// `before` (unknown names would otherwise accumulate rows).
    async fn purge_login_throttle(&mut self, before: OffsetDateTime) -> Result<u64, StoreError>;
    /// Records `value` as the login-name key's check value unless one is
    /// recorded already; answers the recorded one.
    async fn record_login_key_check(&mut self, value: &str) -> Result<String, StoreError>;

    // Sessions.

    async fn insert_session(&mut self, session: &SessionRecord) -> Result<(), StoreError>;
    async fn update_session(
        &mut self,
        id: Uuid,
        stage: SessionStage,
        last_seen_at: OffsetDateTime,
        authenticated_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Records a session's use (its idle timeout restarts); unlike every
    /// other change to a credential, this does not move the auth epoch.
    async fn touch_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError>;
    async fn revoke_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError>;
    async fn revoke_sessions_of(
        &mut self,
        id: PrincipalId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    // API tokens.

    async fn revoke_token(&mut self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError>;
    async fn revoke_tokens_of(
        &mut self,
        id: PrincipalId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    // Roles and grants.

    async fn insert_role(&mut self, role: &RoleRecord) -> Result<(), StoreError>;
    async fn insert_grant_record(&mut self, record: &GrantRecord) -> Result<(), StoreError>;
    async fn delete_grant(&mut self, id: Uuid) -> Result<bool, StoreError>;

    // Tenants' own access settings.

    async fn put_tenant_access(&mut self, record: &TenantAccessRecord) -> Result<(), StoreError>;

    // WebAuthn credentials and ceremonies (see `crate::webauthn`).

    async fn insert_webauthn_credential(
        &mut self,
        record: &crate::WebauthnCredentialRecord,
    ) -> Result<(), StoreError>;
    /// Records a use: the new serialised credential and counter, only if
    /// the stored counter is still `expected` (`false`: another request
    /// used the credential first).
    async fn update_webauthn_credential(
        &mut self,
        id: Uuid,
        passkey: &str,
        expected: u32,
        counter: u32,
        used_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn delete_webauthn_credentials(&mut self, id: PrincipalId) -> Result<u64, StoreError>;
    /// Holds the account's row until the transaction ends, so that two
    /// changes to one account's second factors run one after the other (a
    /// no-op update: a row lock on PostgreSQL; SQLite's write transactions
    /// are serial already).
    async fn lock_principal(&mut self, id: PrincipalId) -> Result<(), StoreError>;
    /// Deletes the credential `id` if `principal` holds it.
    async fn delete_webauthn_credential(
        &mut self,
        principal: PrincipalId,
        id: Uuid,
    ) -> Result<bool, StoreError>;
    async fn insert_webauthn_ceremony(
        &mut self,
        record: &crate::WebauthnCeremonyRecord,
    ) -> Result<(), StoreError>;
    /// Deletes and returns the ceremony `id` if it was started by this
    /// session of this principal for this purpose; `None` otherwise (and
    /// then nothing is deleted).
    async fn take_webauthn_ceremony(
        &mut self,
        id: Uuid,
        principal: PrincipalId,
        session: Uuid,
        kind: crate::CeremonyKind,
    ) -> Result<Option<crate::WebauthnCeremonyRecord>, StoreError>;
    /// Deletes every ceremony that expired at or before `now`.
    async fn purge_webauthn_ceremonies(&mut self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

/// The identity reads of a transaction (see [`crate::ReadTx`]).
#[async_trait]
pub trait IdentityReadTx: Send {
    // Accounts.

    async fn principal_by_name(
        &mut self,
        name_key: &str,
    ) -> Result<Option<PrincipalRecord>, StoreError>;
    async fn list_principals(
        &mut self,
        filter: &AccountFilter,
    ) -> Result<Vec<PrincipalRecord>, StoreError>;
    async fn count_break_glass(&mut self) -> Result<u64, StoreError>;

    // Passwords.

    async fn password(&mut self, id: PrincipalId) -> Result<Option<PasswordRecord>, StoreError>;
    /// The last `limit` password hashes, newest first.
    async fn password_history(
        &mut self,
        id: PrincipalId,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;

    // TOTP and recovery codes.

    async fn totp(&mut self, id: PrincipalId) -> Result<Option<TotpRecord>, StoreError>;
    async fn count_recovery_codes(&mut self, id: PrincipalId) -> Result<u64, StoreError>;

    // Login throttling.

    async fn throttle(&mut self, key: &str) -> Result<Option<ThrottleRecord>, StoreError>;

    // Sessions.

    async fn session_by_hash(
        &mut self,
        hash: &[u8; 32],
    ) -> Result<Option<SessionRecord>, StoreError>;
    async fn session(&mut self, id: Uuid) -> Result<Option<SessionRecord>, StoreError>;
    /// Sessions not revoked and not past their absolute timeout at `now`.
    async fn sessions_of(
        &mut self,
        id: PrincipalId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    // API tokens.

    async fn token(&mut self, id: Uuid) -> Result<Option<TokenRecord>, StoreError>;
    async fn tokens_of(&mut self, id: PrincipalId) -> Result<Vec<TokenRecord>, StoreError>;

    // Roles and grants.

    async fn role(&mut self, name: &RoleName) -> Result<Option<RoleRecord>, StoreError>;
    async fn roles(&mut self) -> Result<Vec<RoleRecord>, StoreError>;
    async fn grant_records_of(&mut self, id: PrincipalId) -> Result<Vec<GrantRecord>, StoreError>;
    async fn grant_record(&mut self, id: Uuid) -> Result<Option<GrantRecord>, StoreError>;
    /// Every staff-wide grant: whoever administers access is among their
    /// holders.
    async fn global_grant_records(&mut self) -> Result<Vec<GrantRecord>, StoreError>;

    // Tenants' own access settings.

    async fn tenant_access(
        &mut self,
        tenant: TenantId,
    ) -> Result<Option<TenantAccessRecord>, StoreError>;

    // WebAuthn credentials (see `crate::webauthn`).

    async fn webauthn_credentials(
        &mut self,
        id: PrincipalId,
    ) -> Result<Vec<crate::WebauthnCredentialRecord>, StoreError>;
    /// Whether any account holds a credential with this authenticator id.
    async fn webauthn_credential_exists(
        &mut self,
        credential_id: &[u8],
    ) -> Result<bool, StoreError>;
}

/// Parses a stored grant row's scope.
pub(crate) fn scope_from(kind: &str, value: &str) -> Result<rempart_model::Scope, StoreError> {
    use rempart_model::{Environment, Scope};
    Ok(match kind {
        "global" => Scope::Global,
        "tenant" => Scope::Tenant(TenantId(value.parse().map_err(StoreError::corrupt)?)),
        "environment" => {
            Scope::Environment(Environment::parse(value).map_err(StoreError::corrupt)?)
        }
        other => {
            return Err(StoreError::corrupt(format!(
                "unknown grant scope {other:?}"
            )));
        }
    })
}

pub(crate) fn scope_columns(scope: &rempart_model::Scope) -> (&'static str, String) {
    use rempart_model::Scope;
    match scope {
        Scope::Global => ("global", String::new()),
        Scope::Tenant(t) => ("tenant", t.0.to_string()),
        Scope::Environment(e) => ("environment", e.as_str().to_owned()),
    }
}

/// The permissions of a grant's role: a built-in role's, or the custom
/// role's as stored (`custom` is `roles.permissions`, joined).
pub(crate) fn role_permissions(
    role: &str,
    custom: Option<&str>,
) -> Result<(RoleName, PermissionSet), StoreError> {
    let name = RoleName::parse(role).map_err(StoreError::corrupt)?;
    if let Some(builtin) = name.builtin() {
        return Ok((name, builtin.permissions()));
    }
    let Some(custom) = custom else {
        return Err(StoreError::corrupt(format!(
            "a grant names the unknown role {role:?}"
        )));
    };
    let permissions =
        PermissionSet::parse(custom.split_whitespace()).map_err(StoreError::corrupt)?;
    Ok((name, permissions))
}

macro_rules! principal_columns {
    () => {
        "id, name, state, created_at, kind, tenant_id, email, display_name, break_glass"
    };
}
pub(crate) use principal_columns;

macro_rules! token_columns {
    () => {
        "id, principal_id, token_hash, name, created_at, expires_at, \
     revoked_at, last_used_at, tenant_id, permissions, allow_list"
    };
}
pub(crate) use token_columns;

macro_rules! session_columns {
    () => {
        "id, principal_id, secret_hash, stage, created_at, last_seen_at, \
     expires_at, authenticated_at, revoked_at, source"
    };
}
pub(crate) use session_columns;

macro_rules! grant_columns {
    () => {
        "g.id, g.principal_id, g.role, g.scope_kind, g.scope_value, \
     g.created_at, g.expires_at, g.granted_by, r.permissions AS custom_permissions"
    };
}
pub(crate) use grant_columns;

/// Generates [`IdentityTx`] for one engine's transaction type.
macro_rules! identity_impl {
    ($tx:ident, $db:ty) => {
        fn principal_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<PrincipalRecord, StoreError> {
            use sqlx::Row as _;
            let state: String = row.try_get("state")?;
            let kind: String = row.try_get("kind")?;
            Ok(PrincipalRecord {
                id: PrincipalId(row.try_get("id")?),
                name: PrincipalName::parse(&row.try_get::<String, _>("name")?)
                    .map_err(StoreError::corrupt)?,
                state: PrincipalState::parse(&state)
                    .ok_or_else(|| StoreError::corrupt("unknown principal state"))?,
                created_at: from_micros(row.try_get("created_at")?)?,
                kind: $crate::identity::AccountKind::parse(&kind)
                    .ok_or_else(|| StoreError::corrupt("unknown account kind"))?,
                tenant: row.try_get::<Option<Uuid>, _>("tenant_id")?.map(TenantId),
                email: row.try_get("email")?,
                display_name: row.try_get("display_name")?,
                break_glass: row.try_get("break_glass")?,
            })
        }

        fn session_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::identity::SessionRecord, StoreError> {
            use sqlx::Row as _;
            let stage: String = row.try_get("stage")?;
            Ok($crate::identity::SessionRecord {
                id: row.try_get("id")?,
                principal: PrincipalId(row.try_get("principal_id")?),
                hash: hash32(&row.try_get::<Vec<u8>, _>("secret_hash")?)?,
                stage: $crate::identity::SessionStage::parse(&stage)
                    .ok_or_else(|| StoreError::corrupt("unknown session stage"))?,
                created_at: from_micros(row.try_get("created_at")?)?,
                last_seen_at: from_micros(row.try_get("last_seen_at")?)?,
                expires_at: from_micros(row.try_get("expires_at")?)?,
                authenticated_at: from_micros(row.try_get("authenticated_at")?)?,
                revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
                source: row.try_get("source")?,
            })
        }

        fn grant_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::identity::GrantRecord, StoreError> {
            use sqlx::Row as _;
            let role: String = row.try_get("role")?;
            let custom: Option<String> = row.try_get("custom_permissions")?;
            let (role, permissions) =
                $crate::identity::role_permissions(&role, custom.as_deref())?;
            let kind: String = row.try_get("scope_kind")?;
            let value: String = row.try_get("scope_value")?;
            Ok($crate::identity::GrantRecord {
                id: row.try_get("id")?,
                principal: PrincipalId(row.try_get("principal_id")?),
                grant: Grant {
                    role,
                    permissions,
                    scope: $crate::identity::scope_from(&kind, &value)?,
                    expires_at: opt_from_micros(row.try_get("expires_at")?)?,
                },
                created_at: from_micros(row.try_get("created_at")?)?,
                granted_by: row.try_get::<Option<Uuid>, _>("granted_by")?.map(PrincipalId),
            })
        }

        fn role_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::identity::RoleRecord, StoreError> {
            use sqlx::Row as _;
            let permissions: String = row.try_get("permissions")?;
            Ok($crate::identity::RoleRecord {
                name: rempart_model::RoleName::parse(&row.try_get::<String, _>("name")?)
                    .map_err(StoreError::corrupt)?,
                permissions: rempart_model::PermissionSet::parse(permissions.split_whitespace())
                    .map_err(StoreError::corrupt)?,
                description: row.try_get("description")?,
                created_at: from_micros(row.try_get("created_at")?)?,
            })
        }

        #[async_trait]
        impl $crate::identity::IdentityTx for $tx {

            async fn set_principal_state(
                &mut self,
                id: PrincipalId,
                state: PrincipalState,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE principals SET state = $1 WHERE id = $2")
                    .bind(state.as_str())
                    .bind(id.0)
                    .execute(&mut *self.inner)
                    .await?;
                self.move_auth_epoch().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_password(
                &mut self,
                record: &$crate::identity::PasswordRecord,
                keep: u32,
            ) -> Result<(), StoreError> {
                let at = to_micros(record.changed_at)?;
                sqlx::query(
                    "INSERT INTO passwords (principal_id, hash, changed_at, must_change) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (principal_id) DO UPDATE SET hash = $2, changed_at = $3, must_change = $4",
                )
                .bind(record.principal.0)
                .bind(record.hash.as_str())
                .bind(at)
                .bind(record.must_change)
                .execute(&mut *self.inner)
                .await?;
                sqlx::query(
                    "INSERT INTO password_history (principal_id, hash, set_at) VALUES ($1, $2, $3)",
                )
                .bind(record.principal.0)
                .bind(record.hash.as_str())
                .bind(at)
                .execute(&mut *self.inner)
                .await?;
                // Keep the newest `keep` (at least the current one).
                sqlx::query(
                    "DELETE FROM password_history WHERE principal_id = $1 AND set_at < \
                     COALESCE((SELECT set_at FROM password_history WHERE principal_id = $1 \
                               ORDER BY set_at DESC LIMIT 1 OFFSET $2), -1)",
                )
                .bind(record.principal.0)
                .bind(i64::from(keep.max(1)) - 1)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn rehash_password(
                &mut self,
                id: PrincipalId,
                hash: &str,
            ) -> Result<(), StoreError> {
                sqlx::query("UPDATE passwords SET hash = $1 WHERE principal_id = $2")
                    .bind(hash)
                    .bind(id.0)
                    .execute(&mut *self.inner)
                    .await?;
                Ok(())
            }

            async fn put_totp(
                &mut self,
                record: &$crate::identity::TotpRecord,
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM totp_credentials WHERE principal_id = $1")
                    .bind(record.principal.0)
                    .execute(&mut *self.inner)
                    .await?;
                sqlx::query(
                    "INSERT INTO totp_credentials (principal_id, secret, last_step, created_at, confirmed_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(record.principal.0)
                .bind(record.secret.as_slice())
                .bind(record.last_step.map(to_i64).transpose()?)
                .bind(to_micros(record.created_at)?)
                .bind(opt_to_micros(record.confirmed_at)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn advance_totp_step(
                &mut self,
                id: PrincipalId,
                expected: Option<u64>,
                step: u64,
                confirmed_at: Option<OffsetDateTime>,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE totp_credentials SET last_step = $1, \
                     confirmed_at = COALESCE(confirmed_at, $2) \
                     WHERE principal_id = $3 AND COALESCE(last_step, -1) = $4",
                )
                .bind(to_i64(step)?)
                .bind(opt_to_micros(confirmed_at)?)
                .bind(id.0)
                .bind(expected.map(to_i64).transpose()?.unwrap_or(-1))
                .execute(&mut *self.inner)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_totp(&mut self, id: PrincipalId) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM totp_credentials WHERE principal_id = $1")
                    .bind(id.0)
                    .execute(&mut *self.inner)
                    .await?;
                Ok(())
            }

            async fn replace_recovery_codes(
                &mut self,
                id: PrincipalId,
                codes: &[(Uuid, [u8; 32])],
                at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM recovery_codes WHERE principal_id = $1")
                    .bind(id.0)
                    .execute(&mut *self.inner)
                    .await?;
                for (code_id, hash) in codes {
                    sqlx::query(
                        "INSERT INTO recovery_codes (id, principal_id, code_hash, created_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(*code_id)
                    .bind(id.0)
                    .bind(hash.as_slice())
                    .bind(to_micros(at)?)
                    .execute(&mut *self.inner)
                    .await?;
                }
                Ok(())
            }

            async fn use_recovery_code(
                &mut self,
                id: PrincipalId,
                hash: &[u8; 32],
                at: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE recovery_codes SET used_at = $1 \
                     WHERE principal_id = $2 AND code_hash = $3 AND used_at IS NULL",
                )
                .bind(to_micros(at)?)
                .bind(id.0)
                .bind(hash.as_slice())
                .execute(&mut *self.inner)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn count_login_failure(
                &mut self,
                key: &str,
                now: OffsetDateTime,
                window_cutoff: OffsetDateTime,
            ) -> Result<$crate::identity::ThrottleRecord, StoreError> {
                use $crate::identity::IdentityReadTx as _;
                sqlx::query(
                    "INSERT INTO login_throttle (key, failures, window_start, locked_until, lockouts) \
                     VALUES ($1, 1, $2, NULL, 0) \
                     ON CONFLICT (key) DO UPDATE SET \
                     failures = CASE WHEN login_throttle.window_start < $3 THEN 1 \
                                     ELSE login_throttle.failures + 1 END, \
                     window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 \
                                         ELSE login_throttle.window_start END",
                )
                .bind(key)
                .bind(to_micros(now)?)
                .bind(to_micros(window_cutoff)?)
                .execute(&mut *self.inner)
                .await?;
                self.throttle(key)
                    .await?
                    .ok_or_else(|| StoreError::corrupt("a throttle row vanished"))
            }

            async fn lock_login(&mut self, key: &str, until: OffsetDateTime) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE login_throttle SET locked_until = $1, lockouts = lockouts + 1, failures = 0 \
                     WHERE key = $2",
                )
                .bind(to_micros(until)?)
                .bind(key)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn purge_login_throttle(
                &mut self,
                before: OffsetDateTime,
            ) -> Result<u64, StoreError> {
                let before = to_micros(before)?;
                let done = sqlx::query(
                    "DELETE FROM login_throttle WHERE window_start < $1 \
                     AND (locked_until IS NULL OR locked_until < $1)",
                )
                .bind(before)
                .execute(&mut *self.inner)
                .await?;
                Ok(done.rows_affected())
            }

            async fn record_login_key_check(&mut self, value: &str) -> Result<String, StoreError> {
                sqlx::query(
                    "INSERT INTO login_key_check (id, check_value) VALUES (1, $1) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(value)
                .execute(&mut *self.inner)
                .await?;
                let recorded: String =
                    sqlx::query_scalar("SELECT check_value FROM login_key_check WHERE id = 1")
                        .fetch_one(&mut *self.inner)
                        .await?;
                Ok(recorded)
            }

            async fn clear_throttle(&mut self, key: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                    .bind(key)
                    .execute(&mut *self.inner)
                    .await?;
                Ok(())
            }

            async fn insert_session(
                &mut self,
                s: &$crate::identity::SessionRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO sessions (id, principal_id, secret_hash, stage, created_at, last_seen_at, \
                     expires_at, authenticated_at, revoked_at, source) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(s.id)
                .bind(s.principal.0)
                .bind(s.hash.as_slice())
                .bind(s.stage.as_str())
                .bind(to_micros(s.created_at)?)
                .bind(to_micros(s.last_seen_at)?)
                .bind(to_micros(s.expires_at)?)
                .bind(to_micros(s.authenticated_at)?)
                .bind(opt_to_micros(s.revoked_at)?)
                .bind(s.source.as_deref())
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn update_session(
                &mut self,
                id: Uuid,
                stage: $crate::identity::SessionStage,
                last_seen_at: OffsetDateTime,
                authenticated_at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE sessions SET stage = $1, last_seen_at = $2, authenticated_at = $3 WHERE id = $4",
                )
                .bind(stage.as_str())
                .bind(to_micros(last_seen_at)?)
                .bind(to_micros(authenticated_at)?)
                .bind(id)
                .execute(&mut *self.inner)
                .await?;
                self.move_auth_epoch().await?;
                Ok(())
            }

            async fn touch_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
                sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                    .bind(to_micros(at)?)
                    .bind(id)
                    .execute(&mut *self.inner)
                    .await?;
                Ok(())
            }

            async fn revoke_session(
                &mut self,
                id: Uuid,
                at: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(to_micros(at)?)
                .bind(id)
                .execute(&mut *self.inner)
                .await?;
                self.move_auth_epoch().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn revoke_sessions_of(
                &mut self,
                id: PrincipalId,
                at: OffsetDateTime,
            ) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 WHERE principal_id = $2 AND revoked_at IS NULL",
                )
                .bind(to_micros(at)?)
                .bind(id.0)
                .execute(&mut *self.inner)
                .await?;
                self.move_auth_epoch().await?;
                Ok(done.rows_affected())
            }

            async fn revoke_token(
                &mut self,
                id: Uuid,
                at: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                )
                .bind(to_micros(at)?)
                .bind(id)
                .execute(&mut *self.inner)
                .await?;
                self.move_auth_epoch().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn revoke_tokens_of(
                &mut self,
                id: PrincipalId,
                at: OffsetDateTime,
            ) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE principal_id = $2 AND revoked_at IS NULL",
                )
                .bind(to_micros(at)?)
                .bind(id.0)
                .execute(&mut *self.inner)
                .await?;
                self.move_auth_epoch().await?;
                Ok(done.rows_affected())
            }

            async fn insert_role(
                &mut self,
                role: &$crate::identity::RoleRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO roles (name, permissions, description, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(role.name.as_str())
                .bind(role.permissions.to_names())
                .bind(role.description.as_str())
                .bind(to_micros(role.created_at)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn insert_grant_record(
                &mut self,
                record: &$crate::identity::GrantRecord,
            ) -> Result<(), StoreError> {
                let (kind, value) = $crate::identity::scope_columns(&record.grant.scope);
                sqlx::query(
                    "INSERT INTO grants (id, principal_id, role, scope_kind, scope_value, created_at, \
                     expires_at, granted_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(record.id)
                .bind(record.principal.0)
                .bind(record.grant.role.as_str())
                .bind(kind)
                .bind(value)
                .bind(to_micros(record.created_at)?)
                .bind(opt_to_micros(record.grant.expires_at)?)
                .bind(record.granted_by.map(|p| p.0))
                .execute(&mut *self.inner)
                .await?;
                self.move_auth_epoch().await?;
                Ok(())
            }

            async fn delete_grant(&mut self, id: Uuid) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM grants WHERE id = $1")
                    .bind(id)
                    .execute(&mut *self.inner)
                    .await?;
                self.move_auth_epoch().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_tenant_access(
                &mut self,
                record: &$crate::identity::TenantAccessRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO tenant_access (tenant_id, password_policy, allow_list, require_mfa, updated_at) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant_id) DO UPDATE SET password_policy = $2, allow_list = $3, \
                     require_mfa = $4, updated_at = $5",
                )
                .bind(record.tenant.0)
                .bind(record.password_policy.as_deref())
                .bind(record.allow_list.as_deref())
                .bind(record.require_mfa)
                .bind(to_micros(record.updated_at)?)
                .execute(&mut *self.inner)
                .await?;
                self.move_auth_epoch().await?;
                Ok(())
            }

            async fn insert_webauthn_credential(
                &mut self,
                record: &$crate::WebauthnCredentialRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(concat!(
                    "INSERT INTO webauthn_credentials (",
                    $crate::webauthn::webauthn_credential_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(record.id)
                .bind(record.principal.0)
                .bind(record.credential_id.as_slice())
                .bind(record.name.as_str())
                .bind(record.passkey.as_str())
                .bind(i64::from(record.counter))
                .bind(to_micros(record.created_at)?)
                .bind(opt_to_micros(record.last_used_at)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn update_webauthn_credential(
                &mut self,
                id: Uuid,
                passkey: &str,
                expected: u32,
                counter: u32,
                used_at: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE webauthn_credentials SET passkey = $1, counter = $2, last_used_at = $3 \
                     WHERE id = $4 AND counter = $5",
                )
                .bind(passkey)
                .bind(i64::from(counter))
                .bind(to_micros(used_at)?)
                .bind(id)
                .bind(i64::from(expected))
                .execute(&mut *self.inner)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_webauthn_credentials(
                &mut self,
                id: PrincipalId,
            ) -> Result<u64, StoreError> {
                let done = sqlx::query("DELETE FROM webauthn_credentials WHERE principal_id = $1")
                    .bind(id.0)
                    .execute(&mut *self.inner)
                    .await?;
                Ok(done.rows_affected())
            }

            async fn lock_principal(&mut self, id: PrincipalId) -> Result<(), StoreError> {
                sqlx::query("UPDATE principals SET state = state WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *self.inner)
                    .await?;
                Ok(())
            }

            async fn delete_webauthn_credential(
                &mut self,
                principal: PrincipalId,
                id: Uuid,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "DELETE FROM webauthn_credentials WHERE id = $1 AND principal_id = $2",
                )
                .bind(id)
                .bind(principal.0)
                .execute(&mut *self.inner)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_webauthn_ceremony(
                &mut self,
                record: &$crate::WebauthnCeremonyRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO webauthn_ceremonies (id, principal_id, session_id, kind, state, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(record.id)
                .bind(record.principal.0)
                .bind(record.session)
                .bind(record.kind.as_str())
                .bind(record.state.as_str())
                .bind(to_micros(record.created_at)?)
                .bind(to_micros(record.expires_at)?)
                .execute(&mut *self.inner)
                .await?;
                Ok(())
            }

            async fn take_webauthn_ceremony(
                &mut self,
                id: Uuid,
                principal: PrincipalId,
                session: Uuid,
                kind: $crate::CeremonyKind,
            ) -> Result<Option<$crate::WebauthnCeremonyRecord>, StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "DELETE FROM webauthn_ceremonies \
                     WHERE id = $1 AND principal_id = $2 AND session_id = $3 AND kind = $4 \
                     RETURNING state, created_at, expires_at",
                )
                .bind(id)
                .bind(principal.0)
                .bind(session)
                .bind(kind.as_str())
                .fetch_optional(&mut *self.inner)
                .await?;
                row.map(|row| {
                    Ok($crate::WebauthnCeremonyRecord {
                        id,
                        principal,
                        session,
                        kind,
                        state: row.try_get("state")?,
                        created_at: from_micros(row.try_get("created_at")?)?,
                        expires_at: from_micros(row.try_get("expires_at")?)?,
                    })
                })
                .transpose()
            }

            async fn purge_webauthn_ceremonies(
                &mut self,
                now: OffsetDateTime,
            ) -> Result<u64, StoreError> {
                let done = sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
                    .bind(to_micros(now)?)
                    .execute(&mut *self.inner)
                    .await?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl $crate::identity::IdentityReadTx for $tx {
            async fn principal_by_name(
                &mut self,
                name_key: &str,
            ) -> Result<Option<PrincipalRecord>, StoreError> {
                let row = sqlx::query(concat!("SELECT ", $crate::identity::principal_columns!(), " FROM principals WHERE name_key = $1"))
                    .bind(name_key)
                    .fetch_optional(&mut *self.inner)
                    .await?;
                row.as_ref().map(principal_from_row).transpose()
            }

            async fn list_principals(
                &mut self,
                filter: &$crate::identity::AccountFilter,
            ) -> Result<Vec<PrincipalRecord>, StoreError> {
                use $crate::identity::AccountFilter;
                let mut query = sqlx::QueryBuilder::<$db>::new(concat!(
                    "SELECT ",
                    $crate::identity::principal_columns!(),
                    " FROM principals"
                ));
                match filter {
                    AccountFilter::All => {}
                    AccountFilter::Staff => {
                        query.push(" WHERE kind <> 'tenant_user'");
                    }
                    AccountFilter::Tenants(ids) if ids.is_empty() => {
                        query.push(" WHERE 1 = 0");
                    }
                    AccountFilter::Tenants(ids) => {
                        query.push(" WHERE tenant_id IN (");
                        let mut list = query.separated(", ");
                        for id in ids {
                            list.push_bind(id.0);
                        }
                        query.push(")");
                    }
                }
                query.push(" ORDER BY name_key");
                let rows = query.build().fetch_all(&mut *self.inner).await?;
                rows.iter().map(principal_from_row).collect()
            }

            async fn count_break_glass(&mut self) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM principals WHERE break_glass AND state <> 'terminated'",
                )
                .fetch_one(&mut *self.inner)
                .await?;
                to_u64(n)
            }

            async fn password(
                &mut self,
                id: PrincipalId,
            ) -> Result<Option<$crate::identity::PasswordRecord>, StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "SELECT hash, changed_at, must_change FROM passwords WHERE principal_id = $1",
                )
                .bind(id.0)
                .fetch_optional(&mut *self.inner)
                .await?;
                row.map(|row| {
                    Ok($crate::identity::PasswordRecord {
                        principal: id,
                        hash: row.try_get("hash")?,
                        changed_at: from_micros(row.try_get("changed_at")?)?,
                        must_change: row.try_get("must_change")?,
                    })
                })
                .transpose()
            }

            async fn password_history(
                &mut self,
                id: PrincipalId,
                limit: u32,
            ) -> Result<Vec<String>, StoreError> {
                let hashes: Vec<String> = sqlx::query_scalar(
                    "SELECT hash FROM password_history WHERE principal_id = $1 \
                     ORDER BY set_at DESC LIMIT $2",
                )
                .bind(id.0)
                .bind(i64::from(limit))
                .fetch_all(&mut *self.inner)
                .await?;
                Ok(hashes)
            }

            async fn totp(
                &mut self,
                id: PrincipalId,
            ) -> Result<Option<$crate::identity::TotpRecord>, StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "SELECT secret, last_step, created_at, confirmed_at FROM totp_credentials \
                     WHERE principal_id = $1",
                )
                .bind(id.0)
                .fetch_optional(&mut *self.inner)
                .await?;
                row.map(|row| {
                    Ok($crate::identity::TotpRecord {
                        principal: id,
                        secret: row.try_get("secret")?,
                        last_step: row
                            .try_get::<Option<i64>, _>("last_step")?
                            .map(to_u64)
                            .transpose()?,
                        created_at: from_micros(row.try_get("created_at")?)?,
                        confirmed_at: opt_from_micros(row.try_get("confirmed_at")?)?,
                    })
                })
                .transpose()
            }

            async fn count_recovery_codes(&mut self, id: PrincipalId) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM recovery_codes WHERE principal_id = $1 AND used_at IS NULL",
                )
                .bind(id.0)
                .fetch_one(&mut *self.inner)
                .await?;
                to_u64(n)
            }

            async fn throttle(
                &mut self,
                key: &str,
            ) -> Result<Option<$crate::identity::ThrottleRecord>, StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "SELECT failures, window_start, locked_until, lockouts FROM login_throttle WHERE key = $1",
                )
                .bind(key)
                .fetch_optional(&mut *self.inner)
                .await?;
                row.map(|row| {
                    let count = |n: i64| {
                        u32::try_from(n).map_err(|_| StoreError::corrupt("throttle count out of range"))
                    };
                    Ok($crate::identity::ThrottleRecord {
                        key: key.to_owned(),
                        failures: count(row.try_get("failures")?)?,
                        window_start: from_micros(row.try_get("window_start")?)?,
                        locked_until: opt_from_micros(row.try_get("locked_until")?)?,
                        lockouts: count(row.try_get("lockouts")?)?,
                    })
                })
                .transpose()
            }

            async fn session_by_hash(
                &mut self,
                hash: &[u8; 32],
            ) -> Result<Option<$crate::identity::SessionRecord>, StoreError> {
                let row = sqlx::query(concat!("SELECT ", $crate::identity::session_columns!(), " FROM sessions WHERE secret_hash = $1"))
                    .bind(hash.as_slice())
                    .fetch_optional(&mut *self.inner)
                    .await?;
                row.as_ref().map(session_from_row).transpose()
            }

            async fn session(
                &mut self,
                id: Uuid,
            ) -> Result<Option<$crate::identity::SessionRecord>, StoreError> {
                let row = sqlx::query(concat!("SELECT ", $crate::identity::session_columns!(), " FROM sessions WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *self.inner)
                    .await?;
                row.as_ref().map(session_from_row).transpose()
            }

            async fn sessions_of(
                &mut self,
                id: PrincipalId,
                now: OffsetDateTime,
            ) -> Result<Vec<$crate::identity::SessionRecord>, StoreError> {
                let rows = sqlx::query(concat!("SELECT ", $crate::identity::session_columns!(), " FROM sessions WHERE principal_id = $1 AND revoked_at IS NULL \
                     AND expires_at > $2 ORDER BY created_at"))
                    .bind(id.0)
                    .bind(to_micros(now)?)
                    .fetch_all(&mut *self.inner)
                    .await?;
                rows.iter().map(session_from_row).collect()
            }

            async fn token(&mut self, id: Uuid) -> Result<Option<TokenRecord>, StoreError> {
                let row = sqlx::query(concat!("SELECT ", $crate::identity::token_columns!(), " FROM api_tokens WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *self.inner)
                    .await?;
                row.as_ref().map(token_from_row).transpose()
            }

            async fn tokens_of(&mut self, id: PrincipalId) -> Result<Vec<TokenRecord>, StoreError> {
                let rows = sqlx::query(concat!("SELECT ", $crate::identity::token_columns!(), " FROM api_tokens WHERE principal_id = $1 ORDER BY created_at"))
                    .bind(id.0)
                    .fetch_all(&mut *self.inner)
                    .await?;
                rows.iter().map(token_from_row).collect()
            }

            async fn role(
                &mut self,
                name: &rempart_model::RoleName,
            ) -> Result<Option<$crate::identity::RoleRecord>, StoreError> {
                let row = sqlx::query(
                    "SELECT name, permissions, description, created_at FROM roles WHERE name = $1",
                )
                .bind(name.as_str())
                .fetch_optional(&mut *self.inner)
                .await?;
                row.as_ref().map(role_from_row).transpose()
            }

            async fn roles(&mut self) -> Result<Vec<$crate::identity::RoleRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT name, permissions, description, created_at FROM roles ORDER BY name",
                )
                .fetch_all(&mut *self.inner)
                .await?;
                rows.iter().map(role_from_row).collect()
            }

            async fn grant_records_of(
                &mut self,
                id: PrincipalId,
            ) -> Result<Vec<$crate::identity::GrantRecord>, StoreError> {
                let rows = sqlx::query(concat!("SELECT ", $crate::identity::grant_columns!(), " FROM grants g LEFT JOIN roles r ON r.name = g.role \
                     WHERE g.principal_id = $1 ORDER BY g.created_at"))
                    .bind(id.0)
                    .fetch_all(&mut *self.inner)
                    .await?;
                rows.iter().map(grant_from_row).collect()
            }

            async fn grant_record(
                &mut self,
                id: Uuid,
            ) -> Result<Option<$crate::identity::GrantRecord>, StoreError> {
                let row = sqlx::query(concat!("SELECT ", $crate::identity::grant_columns!(), " FROM grants g LEFT JOIN roles r ON r.name = g.role WHERE g.id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *self.inner)
                    .await?;
                row.as_ref().map(grant_from_row).transpose()
            }

            async fn global_grant_records(
                &mut self,
            ) -> Result<Vec<$crate::identity::GrantRecord>, StoreError> {
                let rows = sqlx::query(concat!("SELECT ", $crate::identity::grant_columns!(), " FROM grants g LEFT JOIN roles r ON r.name = g.role \
                     WHERE g.scope_kind = 'global' ORDER BY g.created_at"))
                    .fetch_all(&mut *self.inner)
                    .await?;
                rows.iter().map(grant_from_row).collect()
            }

            async fn tenant_access(
                &mut self,
                tenant: TenantId,
            ) -> Result<Option<$crate::identity::TenantAccessRecord>, StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "SELECT password_policy, allow_list, require_mfa, updated_at \
                     FROM tenant_access WHERE tenant_id = $1",
                )
                .bind(tenant.0)
                .fetch_optional(&mut *self.inner)
                .await?;
                row.map(|row| {
                    Ok($crate::identity::TenantAccessRecord {
                        tenant,
                        password_policy: row.try_get("password_policy")?,
                        allow_list: row.try_get("allow_list")?,
                        require_mfa: row.try_get("require_mfa")?,
                        updated_at: from_micros(row.try_get("updated_at")?)?,
                    })
                })
                .transpose()
            }

            async fn webauthn_credentials(
                &mut self,
                id: PrincipalId,
            ) -> Result<Vec<$crate::WebauthnCredentialRecord>, StoreError> {
                use sqlx::Row as _;
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    $crate::webauthn::webauthn_credential_columns!(),
                    " FROM webauthn_credentials WHERE principal_id = $1 ORDER BY created_at, id"
                ))
                .bind(id.0)
                .fetch_all(&mut *self.inner)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::WebauthnCredentialRecord {
                            id: row.try_get("id")?,
                            principal: PrincipalId(row.try_get("principal_id")?),
                            credential_id: row.try_get("credential_id")?,
                            name: row.try_get("name")?,
                            passkey: row.try_get("passkey")?,
                            counter: u32::try_from(row.try_get::<i64, _>("counter")?)
                                .map_err(|_| StoreError::corrupt("a WebAuthn counter out of range"))?,
                            created_at: from_micros(row.try_get("created_at")?)?,
                            last_used_at: opt_from_micros(row.try_get("last_used_at")?)?,
                        })
                    })
                    .collect()
            }

            async fn webauthn_credential_exists(
                &mut self,
                credential_id: &[u8],
            ) -> Result<bool, StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM webauthn_credentials WHERE credential_id = $1",
                )
                .bind(credential_id)
                .fetch_one(&mut *self.inner)
                .await?;
                Ok(n > 0)
            }
        }
    };
}

pub(crate) use identity_impl;
