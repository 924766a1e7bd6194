//! The identity reads and writes of a transaction: for each feature, its
//! SQL text, its row mapping, and its read and write traits, whose
//! provided methods are the one implementation on both engines.
//!
//! WebAuthn ceremony state lives here, not in the client and not in one
//! replica's memory, so that any replica can finish a ceremony another
//! started. A ceremony is single use: it is taken (deleted and returned in
//! one statement) when it is finished, so two replicas racing to finish
//! the same one cannot both succeed.

use async_trait::async_trait;
use rempart_model::{
    Environment, Grant, PermissionSet, PrincipalId, PrincipalName, RoleName, Scope, TenantId,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::records::{
    AccountFilter, AccountKind, BootstrapRecord, CeremonyKind, GrantRecord, PasswordRecord,
    PrincipalRecord, PrincipalState, RoleRecord, SessionRecord, SessionStage, TenantAccessRecord,
    ThrottleRecord, TokenRecord, TotpRecord, WebauthnCeremonyRecord, WebauthnCredentialRecord,
};
use crate::StoreError;
use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, opt_to_micros, to_i64, to_micros,
    to_u64,
};

// Accounts: staff, tenant users and service accounts, their state, and the
// break-glass accounts.

const INSERT_PRINCIPAL: &str = "INSERT INTO principals (id, name, name_key, state, created_at, \
                                kind, tenant_id, email, display_name, break_glass) \
                                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const PRINCIPALS: &str = "SELECT id, name, state, created_at, kind, tenant_id, email, \
                          display_name, break_glass FROM principals";
const PRINCIPAL_BY_ID: &str = "SELECT id, name, state, created_at, kind, tenant_id, email, \
                               display_name, break_glass FROM principals WHERE id = $1";
const PRINCIPAL_BY_NAME: &str = "SELECT id, name, state, created_at, kind, tenant_id, email, \
                                 display_name, break_glass FROM principals WHERE name_key = $1";
const COUNT_PRINCIPALS: &str = "SELECT COUNT(*) AS n FROM principals";
const COUNT_BREAK_GLASS: &str =
    "SELECT COUNT(*) AS n FROM principals WHERE break_glass AND state <> 'terminated'";
const SET_PRINCIPAL_STATE: &str = "UPDATE principals SET state = $1 WHERE id = $2";
const LOCK_PRINCIPAL: &str = "UPDATE principals SET state = state WHERE id = $1";

fn principal(row: &dyn Columns) -> Result<PrincipalRecord, StoreError> {
    Ok(PrincipalRecord {
        id: PrincipalId(row.uuid("id")?),
        name: PrincipalName::parse(&row.text("name")?).map_err(StoreError::corrupt)?,
        state: PrincipalState::parse(&row.text("state")?)
            .ok_or_else(|| StoreError::corrupt("unknown principal state"))?,
        created_at: row.time("created_at")?,
        kind: AccountKind::parse(&row.text("kind")?)
            .ok_or_else(|| StoreError::corrupt("unknown account kind"))?,
        tenant: row.opt_uuid("tenant_id")?.map(TenantId),
        email: row.opt_text("email")?,
        display_name: row.opt_text("display_name")?,
        break_glass: row.bool("break_glass")?,
    })
}

/// The account reads of a transaction.
#[async_trait]
pub trait AccountReadTx: SqlRead {
    async fn count_principals(&mut self) -> Result<u64, StoreError> {
        self.one(Stmt::new(COUNT_PRINCIPALS), |row| row.u64("n"))
            .await
    }

    async fn principal(&mut self, id: PrincipalId) -> Result<Option<PrincipalRecord>, StoreError> {
        self.optional(Stmt::new(PRINCIPAL_BY_ID).bind(id.0), principal)
            .await
    }

    async fn principal_by_name(
        &mut self,
        name_key: &str,
    ) -> Result<Option<PrincipalRecord>, StoreError> {
        self.optional(Stmt::new(PRINCIPAL_BY_NAME).bind(name_key), principal)
            .await
    }

    async fn list_principals(
        &mut self,
        filter: &AccountFilter,
    ) -> Result<Vec<PrincipalRecord>, StoreError> {
        let mut stmt = Stmt::new(PRINCIPALS);
        match filter {
            AccountFilter::All => {}
            AccountFilter::Staff => {
                stmt.push(" WHERE kind <> 'tenant_user'");
            }
            AccountFilter::Tenants(ids) if ids.is_empty() => {
                stmt.push(" WHERE 1 = 0");
            }
            AccountFilter::Tenants(ids) => {
                stmt.push(" WHERE tenant_id IN (");
                stmt.push_list(ids.iter().map(|id| id.0));
                stmt.push(")");
            }
        }
        stmt.push(" ORDER BY name_key");
        self.all(stmt, principal).await
    }

    async fn count_break_glass(&mut self) -> Result<u64, StoreError> {
        self.one(Stmt::new(COUNT_BREAK_GLASS), |row| row.u64("n"))
            .await
    }
}

/// The account writes of a write transaction.
#[async_trait]
pub trait AccountTx: AccountReadTx + SqlWrite {
    async fn insert_principal(&mut self, principal: &PrincipalRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_PRINCIPAL)
            .bind(principal.id.0)
            .bind(principal.name.as_str())
            .bind(principal.name.uniqueness_key())
            .bind(principal.state.as_str())
            .bind(to_micros(principal.created_at)?)
            .bind(principal.kind.as_str())
            .bind(principal.tenant.map(|t| t.0))
            .bind(principal.email.as_deref())
            .bind(principal.display_name.as_deref())
            .bind(principal.break_glass);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Sets an account's state; whatever the state, cached authentications
    /// of the account are read again.
    async fn set_principal_state(
        &mut self,
        id: PrincipalId,
        state: PrincipalState,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(SET_PRINCIPAL_STATE)
            .bind(state.as_str())
            .bind(id.0)
            .invalidates_auth();
        Ok(self.execute(stmt).await? == 1)
    }

    /// Holds the account's row until the transaction ends, so that two
    /// changes to one account's second factors run one after the other (a
    /// no-op update: a row lock on PostgreSQL; SQLite's write transactions
    /// are serial already).
    async fn lock_principal(&mut self, id: PrincipalId) -> Result<(), StoreError> {
        self.execute(Stmt::new(LOCK_PRINCIPAL).bind(id.0)).await?;
        Ok(())
    }
}

impl<D: Db> AccountReadTx for EngineTx<D> {}
impl<D: Db> AccountTx for EngineTx<D> {}

// Grants and custom roles: who holds which role in which scope, and what a
// custom role permits.

const INSERT_GRANT: &str = "INSERT INTO grants (id, principal_id, role, scope_kind, \
                            scope_value, created_at, expires_at, granted_by) \
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const GRANTS_OF: &str = "SELECT g.id, g.principal_id, g.role, g.scope_kind, g.scope_value, \
                         g.created_at, g.expires_at, g.granted_by, \
                         r.permissions AS custom_permissions \
                         FROM grants g LEFT JOIN roles r ON r.name = g.role \
                         WHERE g.principal_id = $1 ORDER BY g.created_at";
const GRANT_BY_ID: &str = "SELECT g.id, g.principal_id, g.role, g.scope_kind, g.scope_value, \
                           g.created_at, g.expires_at, g.granted_by, \
                           r.permissions AS custom_permissions \
                           FROM grants g LEFT JOIN roles r ON r.name = g.role WHERE g.id = $1";
const GLOBAL_GRANTS: &str = "SELECT g.id, g.principal_id, g.role, g.scope_kind, \
                             g.scope_value, g.created_at, g.expires_at, g.granted_by, \
                             r.permissions AS custom_permissions \
                             FROM grants g LEFT JOIN roles r ON r.name = g.role \
                             WHERE g.scope_kind = 'global' ORDER BY g.created_at";
const DELETE_GRANT: &str = "DELETE FROM grants WHERE id = $1";
const INSERT_ROLE: &str =
    "INSERT INTO roles (name, permissions, description, created_at) VALUES ($1, $2, $3, $4)";
const ROLE: &str = "SELECT name, permissions, description, created_at FROM roles WHERE name = $1";
const ROLES: &str = "SELECT name, permissions, description, created_at FROM roles ORDER BY name";

/// Parses a stored grant row's scope.
fn scope_from(kind: &str, value: &str) -> Result<Scope, StoreError> {
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

/// A scope as stored: its kind and its value.
fn scope_columns(scope: &Scope) -> (&'static str, String) {
    match scope {
        Scope::Global => ("global", String::new()),
        Scope::Tenant(t) => ("tenant", t.0.to_string()),
        Scope::Environment(e) => ("environment", e.as_str().to_owned()),
    }
}

/// The permissions of a grant's role: a built-in role's, or the custom
/// role's as stored (`custom` is `roles.permissions`, joined).
fn role_permissions(
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

fn grant(row: &dyn Columns) -> Result<GrantRecord, StoreError> {
    let custom = row.opt_text("custom_permissions")?;
    let (role, permissions) = role_permissions(&row.text("role")?, custom.as_deref())?;
    Ok(GrantRecord {
        id: row.uuid("id")?,
        principal: PrincipalId(row.uuid("principal_id")?),
        grant: Grant {
            role,
            permissions,
            scope: scope_from(&row.text("scope_kind")?, &row.text("scope_value")?)?,
            expires_at: row.opt_time("expires_at")?,
        },
        created_at: row.time("created_at")?,
        granted_by: row.opt_uuid("granted_by")?.map(PrincipalId),
    })
}

fn role(row: &dyn Columns) -> Result<RoleRecord, StoreError> {
    let permissions = row.text("permissions")?;
    Ok(RoleRecord {
        name: RoleName::parse(&row.text("name")?).map_err(StoreError::corrupt)?,
        permissions: PermissionSet::parse(permissions.split_whitespace())
            .map_err(StoreError::corrupt)?,
        description: row.text("description")?,
        created_at: row.time("created_at")?,
    })
}

/// The grant and role reads of a transaction.
#[async_trait]
pub trait GrantReadTx: SqlRead {
    async fn grants_of(&mut self, principal: PrincipalId) -> Result<Vec<Grant>, StoreError> {
        Ok(self
            .grant_records_of(principal)
            .await?
            .into_iter()
            .map(|record| record.grant)
            .collect())
    }

    async fn grant_records_of(&mut self, id: PrincipalId) -> Result<Vec<GrantRecord>, StoreError> {
        self.all(Stmt::new(GRANTS_OF).bind(id.0), grant).await
    }

    async fn grant_record(&mut self, id: Uuid) -> Result<Option<GrantRecord>, StoreError> {
        self.optional(Stmt::new(GRANT_BY_ID).bind(id), grant).await
    }

    /// Every staff-wide grant: whoever administers access is among their
    /// holders.
    async fn global_grant_records(&mut self) -> Result<Vec<GrantRecord>, StoreError> {
        self.all(Stmt::new(GLOBAL_GRANTS), grant).await
    }

    async fn role(&mut self, name: &RoleName) -> Result<Option<RoleRecord>, StoreError> {
        self.optional(Stmt::new(ROLE).bind(name.as_str()), role)
            .await
    }

    async fn roles(&mut self) -> Result<Vec<RoleRecord>, StoreError> {
        self.all(Stmt::new(ROLES), role).await
    }
}

/// The grant and role writes of a write transaction. A grant given or
/// taken changes what cached authentications hold: it moves the auth
/// epoch.
#[async_trait]
pub trait GrantTx: GrantReadTx + SqlWrite {
    /// Gives a grant recorded as given by no one (the bootstrap).
    async fn insert_grant(
        &mut self,
        id: Uuid,
        principal: PrincipalId,
        grant: &Grant,
        created_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.insert_grant_record(&GrantRecord {
            id,
            principal,
            grant: grant.clone(),
            created_at,
            granted_by: None,
        })
        .await
    }

    async fn insert_grant_record(&mut self, record: &GrantRecord) -> Result<(), StoreError> {
        let (kind, value) = scope_columns(&record.grant.scope);
        let stmt = Stmt::new(INSERT_GRANT)
            .bind(record.id)
            .bind(record.principal.0)
            .bind(record.grant.role.as_str())
            .bind(kind)
            .bind(value)
            .bind(to_micros(record.created_at)?)
            .bind(opt_to_micros(record.grant.expires_at)?)
            .bind(record.granted_by.map(|p| p.0))
            .invalidates_auth();
        self.execute(stmt).await?;
        Ok(())
    }

    async fn delete_grant(&mut self, id: Uuid) -> Result<bool, StoreError> {
        let stmt = Stmt::new(DELETE_GRANT).bind(id).invalidates_auth();
        Ok(self.execute(stmt).await? == 1)
    }

    async fn insert_role(&mut self, role: &RoleRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_ROLE)
            .bind(role.name.as_str())
            .bind(role.permissions.to_names())
            .bind(role.description.as_str())
            .bind(to_micros(role.created_at)?);
        self.execute(stmt).await?;
        Ok(())
    }
}

impl<D: Db> GrantReadTx for EngineTx<D> {}
impl<D: Db> GrantTx for EngineTx<D> {}

// API tokens, stored as SHA-256 hashes only: scoped to a tenant, limited to
// permissions and networks, revocable.

const INSERT_TOKEN: &str = "INSERT INTO api_tokens (id, principal_id, token_hash, name, \
                            created_at, expires_at, revoked_at, last_used_at, tenant_id, \
                            permissions, allow_list) \
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const TOKEN_BY_HASH: &str = "SELECT id, principal_id, token_hash, name, created_at, expires_at, \
                             revoked_at, last_used_at, tenant_id, permissions, allow_list \
                             FROM api_tokens WHERE token_hash = $1";
const TOKEN_BY_ID: &str = "SELECT id, principal_id, token_hash, name, created_at, expires_at, \
                           revoked_at, last_used_at, tenant_id, permissions, allow_list \
                           FROM api_tokens WHERE id = $1";
const TOKENS_OF: &str = "SELECT id, principal_id, token_hash, name, created_at, expires_at, \
                         revoked_at, last_used_at, tenant_id, permissions, allow_list \
                         FROM api_tokens WHERE principal_id = $1 ORDER BY created_at";
const TOUCH_TOKEN: &str = "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2";
const REVOKE_TOKEN: &str =
    "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
const REVOKE_TOKENS_OF: &str =
    "UPDATE api_tokens SET revoked_at = $1 WHERE principal_id = $2 AND revoked_at IS NULL";

fn token(row: &dyn Columns) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: row.uuid("id")?,
        principal: PrincipalId(row.uuid("principal_id")?),
        hash: row.hash("token_hash")?,
        name: row.text("name")?,
        created_at: row.time("created_at")?,
        expires_at: row.opt_time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        tenant: row.opt_uuid("tenant_id")?.map(TenantId),
        permissions: row
            .opt_text("permissions")?
            .map(|names| PermissionSet::parse(names.split_whitespace()))
            .transpose()
            .map_err(StoreError::corrupt)?,
        allow_list: row.opt_text("allow_list")?,
    })
}

/// The API token reads of a transaction.
#[async_trait]
pub trait TokenReadTx: SqlRead {
    async fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.optional(Stmt::new(TOKEN_BY_HASH).bind(hash.as_slice()), token)
            .await
    }

    async fn token(&mut self, id: Uuid) -> Result<Option<TokenRecord>, StoreError> {
        self.optional(Stmt::new(TOKEN_BY_ID).bind(id), token).await
    }

    async fn tokens_of(&mut self, id: PrincipalId) -> Result<Vec<TokenRecord>, StoreError> {
        self.all(Stmt::new(TOKENS_OF).bind(id.0), token).await
    }
}

/// The API token writes of a write transaction.
#[async_trait]
pub trait TokenTx: TokenReadTx + SqlWrite {
    async fn insert_token(&mut self, token: &TokenRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_TOKEN)
            .bind(token.id)
            .bind(token.principal.0)
            .bind(token.hash.as_slice())
            .bind(token.name.as_str())
            .bind(to_micros(token.created_at)?)
            .bind(opt_to_micros(token.expires_at)?)
            .bind(opt_to_micros(token.revoked_at)?)
            .bind(opt_to_micros(token.last_used_at)?)
            .bind(token.tenant.map(|t| t.0))
            .bind(token.permissions.map(PermissionSet::to_names))
            .bind(token.allow_list.as_deref());
        self.execute(stmt).await?;
        Ok(())
    }

    /// Records a token's use; like a session's, it does not move the auth
    /// epoch.
    async fn touch_token(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        self.execute(Stmt::new(TOUCH_TOKEN).bind(to_micros(at)?).bind(id))
            .await?;
        Ok(())
    }

    async fn revoke_token(&mut self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError> {
        let stmt = Stmt::new(REVOKE_TOKEN)
            .bind(to_micros(at)?)
            .bind(id)
            .invalidates_auth();
        Ok(self.execute(stmt).await? == 1)
    }

    async fn revoke_tokens_of(
        &mut self,
        id: PrincipalId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let stmt = Stmt::new(REVOKE_TOKENS_OF)
            .bind(to_micros(at)?)
            .bind(id.0)
            .invalidates_auth();
        self.execute(stmt).await
    }
}

impl<D: Db> TokenReadTx for EngineTx<D> {}
impl<D: Db> TokenTx for EngineTx<D> {}

// The bootstrap credential: the one-time secret that creates the first
// administrator, stored as a SHA-256 hash only.

const INSERT_BOOTSTRAP: &str = "INSERT INTO bootstrap_credentials \
                                (id, secret_hash, created_at, expires_at, used_at) \
                                VALUES ($1, $2, $3, $4, $5)";
const BOOTSTRAP_BY_HASH: &str = "SELECT id, secret_hash, created_at, expires_at, used_at \
                                 FROM bootstrap_credentials WHERE secret_hash = $1";
const LATEST_BOOTSTRAP: &str = "SELECT id, secret_hash, created_at, expires_at, used_at \
                                FROM bootstrap_credentials ORDER BY created_at DESC LIMIT 1";
const MARK_BOOTSTRAP_USED: &str =
    "UPDATE bootstrap_credentials SET used_at = $1 WHERE id = $2 AND used_at IS NULL";

fn bootstrap(row: &dyn Columns) -> Result<BootstrapRecord, StoreError> {
    Ok(BootstrapRecord {
        id: row.uuid("id")?,
        hash: row.hash("secret_hash")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        used_at: row.opt_time("used_at")?,
    })
}

/// The bootstrap credential's reads.
#[async_trait]
pub trait BootstrapReadTx: SqlRead {
    async fn bootstrap_by_hash(
        &mut self,
        hash: &[u8; 32],
    ) -> Result<Option<BootstrapRecord>, StoreError> {
        self.optional(
            Stmt::new(BOOTSTRAP_BY_HASH).bind(hash.as_slice()),
            bootstrap,
        )
        .await
    }

    async fn latest_bootstrap(&mut self) -> Result<Option<BootstrapRecord>, StoreError> {
        self.optional(Stmt::new(LATEST_BOOTSTRAP), bootstrap).await
    }
}

/// The bootstrap credential's writes.
#[async_trait]
pub trait BootstrapTx: BootstrapReadTx + SqlWrite {
    async fn insert_bootstrap(&mut self, record: &BootstrapRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_BOOTSTRAP)
            .bind(record.id)
            .bind(record.hash.as_slice())
            .bind(to_micros(record.created_at)?)
            .bind(to_micros(record.expires_at)?)
            .bind(opt_to_micros(record.used_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Marks a credential used; false if it was already used (so that two
    /// concurrent exchanges cannot both succeed).
    async fn mark_bootstrap_used(
        &mut self,
        id: Uuid,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(MARK_BOOTSTRAP_USED).bind(to_micros(at)?).bind(id);
        Ok(self.execute(stmt).await? == 1)
    }
}

impl<D: Db> BootstrapReadTx for EngineTx<D> {}
impl<D: Db> BootstrapTx for EngineTx<D> {}

// Sessions: a browser's or the CLI's login, stored by the SHA-256 hash of
// its secret, with its stage through login, its timeouts and its
// revocation.

const INSERT_SESSION: &str = "INSERT INTO sessions (id, principal_id, secret_hash, stage, \
                              created_at, last_seen_at, expires_at, authenticated_at, \
                              revoked_at, source) \
                              VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const SESSION_BY_HASH: &str = "SELECT id, principal_id, secret_hash, stage, created_at, \
                               last_seen_at, expires_at, authenticated_at, revoked_at, source \
                               FROM sessions WHERE secret_hash = $1";
const SESSION_BY_ID: &str = "SELECT id, principal_id, secret_hash, stage, created_at, \
                             last_seen_at, expires_at, authenticated_at, revoked_at, source \
                             FROM sessions WHERE id = $1";
const LIVE_SESSIONS_OF: &str = "SELECT id, principal_id, secret_hash, stage, created_at, \
                                last_seen_at, expires_at, authenticated_at, revoked_at, source \
                                FROM sessions WHERE principal_id = $1 AND revoked_at IS NULL \
                                AND expires_at > $2 ORDER BY created_at";
const UPDATE_SESSION: &str = "UPDATE sessions \
                              SET stage = $1, last_seen_at = $2, authenticated_at = $3 \
                              WHERE id = $4";
const TOUCH_SESSION: &str = "UPDATE sessions SET last_seen_at = $1 WHERE id = $2";
const REVOKE_SESSION: &str =
    "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
const REVOKE_SESSIONS_OF: &str =
    "UPDATE sessions SET revoked_at = $1 WHERE principal_id = $2 AND revoked_at IS NULL";

fn session(row: &dyn Columns) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: row.uuid("id")?,
        principal: PrincipalId(row.uuid("principal_id")?),
        hash: row.hash("secret_hash")?,
        stage: SessionStage::parse(&row.text("stage")?)
            .ok_or_else(|| StoreError::corrupt("unknown session stage"))?,
        created_at: row.time("created_at")?,
        last_seen_at: row.time("last_seen_at")?,
        expires_at: row.time("expires_at")?,
        authenticated_at: row.time("authenticated_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        source: row.opt_text("source")?,
    })
}

/// The session reads of a transaction.
#[async_trait]
pub trait SessionReadTx: SqlRead {
    async fn session_by_hash(
        &mut self,
        hash: &[u8; 32],
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.optional(Stmt::new(SESSION_BY_HASH).bind(hash.as_slice()), session)
            .await
    }

    async fn session(&mut self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        self.optional(Stmt::new(SESSION_BY_ID).bind(id), session)
            .await
    }

    /// Sessions not revoked and not past their absolute timeout at `now`.
    async fn sessions_of(
        &mut self,
        id: PrincipalId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let stmt = Stmt::new(LIVE_SESSIONS_OF).bind(id.0).bind(to_micros(now)?);
        self.all(stmt, session).await
    }
}

/// The session writes of a write transaction. A new stage or a revocation
/// changes what a cached authentication holds: it moves the auth epoch.
#[async_trait]
pub trait SessionTx: SessionReadTx + SqlWrite {
    async fn insert_session(&mut self, s: &SessionRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_SESSION)
            .bind(s.id)
            .bind(s.principal.0)
            .bind(s.hash.as_slice())
            .bind(s.stage.as_str())
            .bind(to_micros(s.created_at)?)
            .bind(to_micros(s.last_seen_at)?)
            .bind(to_micros(s.expires_at)?)
            .bind(to_micros(s.authenticated_at)?)
            .bind(opt_to_micros(s.revoked_at)?)
            .bind(s.source.as_deref());
        self.execute(stmt).await?;
        Ok(())
    }

    async fn update_session(
        &mut self,
        id: Uuid,
        stage: SessionStage,
        last_seen_at: OffsetDateTime,
        authenticated_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(UPDATE_SESSION)
            .bind(stage.as_str())
            .bind(to_micros(last_seen_at)?)
            .bind(to_micros(authenticated_at)?)
            .bind(id)
            .invalidates_auth();
        self.execute(stmt).await?;
        Ok(())
    }

    /// Records a session's use (its idle timeout restarts); unlike every
    /// other change to a credential, this does not move the auth epoch.
    async fn touch_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        self.execute(Stmt::new(TOUCH_SESSION).bind(to_micros(at)?).bind(id))
            .await?;
        Ok(())
    }

    async fn revoke_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError> {
        let stmt = Stmt::new(REVOKE_SESSION)
            .bind(to_micros(at)?)
            .bind(id)
            .invalidates_auth();
        Ok(self.execute(stmt).await? == 1)
    }

    async fn revoke_sessions_of(
        &mut self,
        id: PrincipalId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let stmt = Stmt::new(REVOKE_SESSIONS_OF)
            .bind(to_micros(at)?)
            .bind(id.0)
            .invalidates_auth();
        self.execute(stmt).await
    }
}

impl<D: Db> SessionReadTx for EngineTx<D> {}
impl<D: Db> SessionTx for EngineTx<D> {}

// Password credentials: the current Argon2id hash of each account and the
// history of past hashes (never a password).

const PUT_PASSWORD: &str = "INSERT INTO passwords (principal_id, hash, changed_at, must_change) \
                            VALUES ($1, $2, $3, $4) \
                            ON CONFLICT (principal_id) DO UPDATE \
                            SET hash = $2, changed_at = $3, must_change = $4";
const REHASH_PASSWORD: &str = "UPDATE passwords SET hash = $1 WHERE principal_id = $2";
const PASSWORD: &str =
    "SELECT hash, changed_at, must_change FROM passwords WHERE principal_id = $1";
const APPEND_HISTORY: &str =
    "INSERT INTO password_history (principal_id, hash, set_at) VALUES ($1, $2, $3)";
/// Keeps the newest `$2 + 1` hashes of the history.
const TRIM_HISTORY: &str = "DELETE FROM password_history WHERE principal_id = $1 AND set_at < \
                            COALESCE((SELECT set_at FROM password_history \
                            WHERE principal_id = $1 \
                            ORDER BY set_at DESC LIMIT 1 OFFSET $2), -1)";
const PASSWORD_HISTORY: &str = "SELECT hash FROM password_history WHERE principal_id = $1 \
                                ORDER BY set_at DESC LIMIT $2";

/// The password reads of a transaction.
#[async_trait]
pub trait PasswordReadTx: SqlRead {
    async fn password(&mut self, id: PrincipalId) -> Result<Option<PasswordRecord>, StoreError> {
        self.optional(Stmt::new(PASSWORD).bind(id.0), |row| {
            Ok(PasswordRecord {
                principal: id,
                hash: row.text("hash")?,
                changed_at: row.time("changed_at")?,
                must_change: row.bool("must_change")?,
            })
        })
        .await
    }

    /// The last `limit` password hashes, newest first.
    async fn password_history(
        &mut self,
        id: PrincipalId,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let stmt = Stmt::new(PASSWORD_HISTORY)
            .bind(id.0)
            .bind(i64::from(limit));
        self.all(stmt, |row| row.text("hash")).await
    }
}

/// The password writes of a write transaction.
#[async_trait]
pub trait PasswordTx: PasswordReadTx + SqlWrite {
    /// Sets the password and appends the hash to the history, keeping the
    /// last `keep` hashes.
    async fn set_password(&mut self, record: &PasswordRecord, keep: u32) -> Result<(), StoreError> {
        let at = to_micros(record.changed_at)?;
        let put = Stmt::new(PUT_PASSWORD)
            .bind(record.principal.0)
            .bind(record.hash.as_str())
            .bind(at)
            .bind(record.must_change);
        self.execute(put).await?;
        let append = Stmt::new(APPEND_HISTORY)
            .bind(record.principal.0)
            .bind(record.hash.as_str())
            .bind(at);
        self.execute(append).await?;
        // Keep the newest `keep` (at least the current one).
        let trim = Stmt::new(TRIM_HISTORY)
            .bind(record.principal.0)
            .bind(i64::from(keep.max(1)) - 1);
        self.execute(trim).await?;
        Ok(())
    }

    /// Replaces the hash only (a re-hash with new parameters).
    async fn rehash_password(&mut self, id: PrincipalId, hash: &str) -> Result<(), StoreError> {
        self.execute(Stmt::new(REHASH_PASSWORD).bind(hash).bind(id.0))
            .await?;
        Ok(())
    }
}

impl<D: Db> PasswordReadTx for EngineTx<D> {}
impl<D: Db> PasswordTx for EngineTx<D> {}

// Second factors by code: TOTP credentials (their secret sealed by the
// keyring before it arrives here) and single-use recovery codes (hashes
// only).

const TOTP: &str = "SELECT secret, last_step, created_at, confirmed_at FROM totp_credentials \
                    WHERE principal_id = $1";
const INSERT_TOTP: &str = "INSERT INTO totp_credentials \
                           (principal_id, secret, last_step, created_at, confirmed_at) \
                           VALUES ($1, $2, $3, $4, $5)";
const DELETE_TOTP: &str = "DELETE FROM totp_credentials WHERE principal_id = $1";
const ADVANCE_TOTP: &str = "UPDATE totp_credentials SET last_step = $1, \
                            confirmed_at = COALESCE(confirmed_at, $2) \
                            WHERE principal_id = $3 AND COALESCE(last_step, -1) = $4";
const COUNT_CODES: &str =
    "SELECT COUNT(*) AS n FROM recovery_codes WHERE principal_id = $1 AND used_at IS NULL";
const DELETE_CODES: &str = "DELETE FROM recovery_codes WHERE principal_id = $1";
const INSERT_CODE: &str = "INSERT INTO recovery_codes (id, principal_id, code_hash, created_at) \
                           VALUES ($1, $2, $3, $4)";
const USE_CODE: &str = "UPDATE recovery_codes SET used_at = $1 \
                        WHERE principal_id = $2 AND code_hash = $3 AND used_at IS NULL";

/// The TOTP and recovery code reads of a transaction.
#[async_trait]
pub trait TotpReadTx: SqlRead {
    async fn totp(&mut self, id: PrincipalId) -> Result<Option<TotpRecord>, StoreError> {
        self.optional(Stmt::new(TOTP).bind(id.0), |row| {
            Ok(TotpRecord {
                principal: id,
                secret: row.bytes("secret")?,
                last_step: row.opt_i64("last_step")?.map(to_u64).transpose()?,
                created_at: row.time("created_at")?,
                confirmed_at: row.opt_time("confirmed_at")?,
            })
        })
        .await
    }

    async fn count_recovery_codes(&mut self, id: PrincipalId) -> Result<u64, StoreError> {
        self.one(Stmt::new(COUNT_CODES).bind(id.0), |row| row.u64("n"))
            .await
    }
}

/// The TOTP and recovery code writes of a write transaction.
#[async_trait]
pub trait TotpTx: TotpReadTx + SqlWrite {
    async fn put_totp(&mut self, record: &TotpRecord) -> Result<(), StoreError> {
        self.execute(Stmt::new(DELETE_TOTP).bind(record.principal.0))
            .await?;
        let stmt = Stmt::new(INSERT_TOTP)
            .bind(record.principal.0)
            .bind(record.secret.as_slice())
            .bind(record.last_step.map(to_i64).transpose()?)
            .bind(to_micros(record.created_at)?)
            .bind(opt_to_micros(record.confirmed_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Moves the last accepted step from `expected` to `step`; `false` when
    /// another request moved it first (the code was used concurrently).
    async fn advance_totp_step(
        &mut self,
        id: PrincipalId,
        expected: Option<u64>,
        step: u64,
        confirmed_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(ADVANCE_TOTP)
            .bind(to_i64(step)?)
            .bind(opt_to_micros(confirmed_at)?)
            .bind(id.0)
            .bind(expected.map(to_i64).transpose()?.unwrap_or(-1));
        Ok(self.execute(stmt).await? == 1)
    }

    async fn delete_totp(&mut self, id: PrincipalId) -> Result<(), StoreError> {
        self.execute(Stmt::new(DELETE_TOTP).bind(id.0)).await?;
        Ok(())
    }

    async fn replace_recovery_codes(
        &mut self,
        id: PrincipalId,
        codes: &[(Uuid, [u8; 32])],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.execute(Stmt::new(DELETE_CODES).bind(id.0)).await?;
        for (code_id, hash) in codes {
            let stmt = Stmt::new(INSERT_CODE)
                .bind(*code_id)
                .bind(id.0)
                .bind(hash.as_slice())
                .bind(to_micros(at)?);
            self.execute(stmt).await?;
        }
        Ok(())
    }

    /// Marks the unused code with this hash used; `false` if there is none.
    async fn use_recovery_code(
        &mut self,
        id: PrincipalId,
        hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(USE_CODE)
            .bind(to_micros(at)?)
            .bind(id.0)
            .bind(hash.as_slice());
        Ok(self.execute(stmt).await? == 1)
    }
}

impl<D: Db> TotpReadTx for EngineTx<D> {}
impl<D: Db> TotpTx for EngineTx<D> {}

// Login throttling: failures counted under a key (an account or a source
// address) in one statement, so that concurrent failures on several
// replicas all count; lockouts that escalate.

const THROTTLE: &str =
    "SELECT failures, window_start, locked_until, lockouts FROM login_throttle WHERE key = $1";
/// One failure: a window that began before `$3` starts again at `$2`.
const COUNT_FAILURE: &str = "INSERT INTO login_throttle \
                             (key, failures, window_start, locked_until, lockouts) \
                             VALUES ($1, 1, $2, NULL, 0) \
                             ON CONFLICT (key) DO UPDATE SET \
                             failures = CASE WHEN login_throttle.window_start < $3 THEN 1 \
                             ELSE login_throttle.failures + 1 END, \
                             window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 \
                             ELSE login_throttle.window_start END";
const LOCK_LOGIN: &str = "UPDATE login_throttle \
                          SET locked_until = $1, lockouts = lockouts + 1, failures = 0 \
                          WHERE key = $2";
const CLEAR_THROTTLE: &str = "DELETE FROM login_throttle WHERE key = $1";
const PURGE_THROTTLE: &str = "DELETE FROM login_throttle WHERE window_start < $1 \
                              AND (locked_until IS NULL OR locked_until < $1)";
const RECORD_KEY_CHECK: &str = "INSERT INTO login_key_check (id, check_value) VALUES (1, $1) \
                                ON CONFLICT (id) DO NOTHING";
const KEY_CHECK: &str = "SELECT check_value FROM login_key_check WHERE id = 1";

/// The login throttle's reads.
#[async_trait]
pub trait ThrottleReadTx: SqlRead {
    async fn throttle(&mut self, key: &str) -> Result<Option<ThrottleRecord>, StoreError> {
        self.optional(Stmt::new(THROTTLE).bind(key), |row| {
            let count = |name: &str| row.u32(name, "throttle count");
            Ok(ThrottleRecord {
                key: key.to_owned(),
                failures: count("failures")?,
                window_start: row.time("window_start")?,
                locked_until: row.opt_time("locked_until")?,
                lockouts: count("lockouts")?,
            })
        })
        .await
    }
}

/// The login throttle's writes.
#[async_trait]
pub trait ThrottleTx: ThrottleReadTx + SqlWrite {
    /// Counts one failure under `key` in one statement (concurrent
    /// failures on several replicas all count): a window that began before
    /// `window_cutoff` starts again at `now`.
    async fn count_login_failure(
        &mut self,
        key: &str,
        now: OffsetDateTime,
        window_cutoff: OffsetDateTime,
    ) -> Result<ThrottleRecord, StoreError> {
        let stmt = Stmt::new(COUNT_FAILURE)
            .bind(key)
            .bind(to_micros(now)?)
            .bind(to_micros(window_cutoff)?);
        self.execute(stmt).await?;
        self.throttle(key)
            .await?
            .ok_or_else(|| StoreError::corrupt("a throttle row vanished"))
    }

    /// Locks `key` until `until`, counting the lockout and restarting the
    /// failure count.
    async fn lock_login(&mut self, key: &str, until: OffsetDateTime) -> Result<(), StoreError> {
        self.execute(Stmt::new(LOCK_LOGIN).bind(to_micros(until)?).bind(key))
            .await?;
        Ok(())
    }

    async fn clear_throttle(&mut self, key: &str) -> Result<(), StoreError> {
        self.execute(Stmt::new(CLEAR_THROTTLE).bind(key)).await?;
        Ok(())
    }

    /// Deletes the counters of keys with no failure and no lockout since
    /// `before` (unknown names would otherwise accumulate rows).
    async fn purge_login_throttle(&mut self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.execute(Stmt::new(PURGE_THROTTLE).bind(to_micros(before)?))
            .await
    }

    /// Records `value` as the login-name key's check value unless one is
    /// recorded already; answers the recorded one.
    async fn record_login_key_check(&mut self, value: &str) -> Result<String, StoreError> {
        self.execute(Stmt::new(RECORD_KEY_CHECK).bind(value))
            .await?;
        self.one(Stmt::new(KEY_CHECK), |row| row.text("check_value"))
            .await
    }
}

impl<D: Db> ThrottleReadTx for EngineTx<D> {}
impl<D: Db> ThrottleTx for EngineTx<D> {}

// A tenant's own access settings: its password policy, the networks its
// users may come from, and whether they must use MFA.

const TENANT_ACCESS: &str = "SELECT password_policy, allow_list, require_mfa, updated_at \
                             FROM tenant_access WHERE tenant_id = $1";
const PUT_TENANT_ACCESS: &str = "INSERT INTO tenant_access \
                                 (tenant_id, password_policy, allow_list, require_mfa, updated_at) \
                                 VALUES ($1, $2, $3, $4, $5) \
                                 ON CONFLICT (tenant_id) DO UPDATE SET password_policy = $2, \
                                 allow_list = $3, require_mfa = $4, updated_at = $5";

/// The tenant access settings' reads.
#[async_trait]
pub trait TenantAccessReadTx: SqlRead {
    async fn tenant_access(
        &mut self,
        tenant: TenantId,
    ) -> Result<Option<TenantAccessRecord>, StoreError> {
        self.optional(Stmt::new(TENANT_ACCESS).bind(tenant.0), |row| {
            Ok(TenantAccessRecord {
                tenant,
                password_policy: row.opt_text("password_policy")?,
                allow_list: row.opt_text("allow_list")?,
                require_mfa: row.bool("require_mfa")?,
                updated_at: row.time("updated_at")?,
            })
        })
        .await
    }
}

/// The tenant access settings' writes. New settings change which cached
/// authentications still hold: they move the auth epoch.
#[async_trait]
pub trait TenantAccessTx: TenantAccessReadTx + SqlWrite {
    async fn put_tenant_access(&mut self, record: &TenantAccessRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(PUT_TENANT_ACCESS)
            .bind(record.tenant.0)
            .bind(record.password_policy.as_deref())
            .bind(record.allow_list.as_deref())
            .bind(record.require_mfa)
            .bind(to_micros(record.updated_at)?)
            .invalidates_auth();
        self.execute(stmt).await?;
        Ok(())
    }
}

impl<D: Db> TenantAccessReadTx for EngineTx<D> {}
impl<D: Db> TenantAccessTx for EngineTx<D> {}

// WebAuthn storage (control AC-1): registered security keys and passkeys,
// and the state of ceremonies in progress.

const INSERT_CREDENTIAL: &str = "INSERT INTO webauthn_credentials (id, principal_id, \
                                 credential_id, name, passkey, counter, created_at, last_used_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const CREDENTIALS_OF: &str = "SELECT id, principal_id, credential_id, name, passkey, counter, \
                              created_at, last_used_at FROM webauthn_credentials \
                              WHERE principal_id = $1 ORDER BY created_at, id";
const CREDENTIAL_EXISTS: &str =
    "SELECT COUNT(*) AS n FROM webauthn_credentials WHERE credential_id = $1";
/// A use: only if the stored counter is still the one read (`$5`).
const UPDATE_CREDENTIAL: &str = "UPDATE webauthn_credentials \
                                 SET passkey = $1, counter = $2, last_used_at = $3 \
                                 WHERE id = $4 AND counter = $5";
const DELETE_CREDENTIALS_OF: &str = "DELETE FROM webauthn_credentials WHERE principal_id = $1";
const DELETE_CREDENTIAL: &str =
    "DELETE FROM webauthn_credentials WHERE id = $1 AND principal_id = $2";
const INSERT_CEREMONY: &str = "INSERT INTO webauthn_ceremonies (id, principal_id, session_id, \
                               kind, state, created_at, expires_at) \
                               VALUES ($1, $2, $3, $4, $5, $6, $7)";
const TAKE_CEREMONY: &str = "DELETE FROM webauthn_ceremonies \
                             WHERE id = $1 AND principal_id = $2 AND session_id = $3 \
                             AND kind = $4 RETURNING state, created_at, expires_at";
const PURGE_CEREMONIES: &str = "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1";

fn credential(row: &dyn Columns) -> Result<WebauthnCredentialRecord, StoreError> {
    Ok(WebauthnCredentialRecord {
        id: row.uuid("id")?,
        principal: PrincipalId(row.uuid("principal_id")?),
        credential_id: row.bytes("credential_id")?,
        name: row.text("name")?,
        passkey: row.text("passkey")?,
        counter: row.u32("counter", "a WebAuthn counter")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

/// The WebAuthn reads of a transaction.
#[async_trait]
pub trait WebauthnReadTx: SqlRead {
    async fn webauthn_credentials(
        &mut self,
        id: PrincipalId,
    ) -> Result<Vec<WebauthnCredentialRecord>, StoreError> {
        self.all(Stmt::new(CREDENTIALS_OF).bind(id.0), credential)
            .await
    }

    /// Whether any account holds a credential with this authenticator id.
    async fn webauthn_credential_exists(
        &mut self,
        credential_id: &[u8],
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(CREDENTIAL_EXISTS).bind(credential_id);
        Ok(self.one(stmt, |row| row.i64("n")).await? > 0)
    }
}

/// The WebAuthn writes of a write transaction.
#[async_trait]
pub trait WebauthnTx: WebauthnReadTx + SqlWrite {
    async fn insert_webauthn_credential(
        &mut self,
        record: &WebauthnCredentialRecord,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_CREDENTIAL)
            .bind(record.id)
            .bind(record.principal.0)
            .bind(record.credential_id.as_slice())
            .bind(record.name.as_str())
            .bind(record.passkey.as_str())
            .bind(i64::from(record.counter))
            .bind(to_micros(record.created_at)?)
            .bind(opt_to_micros(record.last_used_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

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
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(UPDATE_CREDENTIAL)
            .bind(passkey)
            .bind(i64::from(counter))
            .bind(to_micros(used_at)?)
            .bind(id)
            .bind(i64::from(expected));
        Ok(self.execute(stmt).await? == 1)
    }

    async fn delete_webauthn_credentials(&mut self, id: PrincipalId) -> Result<u64, StoreError> {
        self.execute(Stmt::new(DELETE_CREDENTIALS_OF).bind(id.0))
            .await
    }

    /// Deletes the credential `id` if `principal` holds it.
    async fn delete_webauthn_credential(
        &mut self,
        principal: PrincipalId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(DELETE_CREDENTIAL).bind(id).bind(principal.0);
        Ok(self.execute(stmt).await? == 1)
    }

    async fn insert_webauthn_ceremony(
        &mut self,
        record: &WebauthnCeremonyRecord,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_CEREMONY)
            .bind(record.id)
            .bind(record.principal.0)
            .bind(record.session)
            .bind(record.kind.as_str())
            .bind(record.state.as_str())
            .bind(to_micros(record.created_at)?)
            .bind(to_micros(record.expires_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Deletes and returns the ceremony `id` if it was started by this
    /// session of this principal for this purpose; `None` otherwise (and
    /// then nothing is deleted).
    async fn take_webauthn_ceremony(
        &mut self,
        id: Uuid,
        principal: PrincipalId,
        session: Uuid,
        kind: CeremonyKind,
    ) -> Result<Option<WebauthnCeremonyRecord>, StoreError> {
        let stmt = Stmt::new(TAKE_CEREMONY)
            .bind(id)
            .bind(principal.0)
            .bind(session)
            .bind(kind.as_str());
        self.optional(stmt, |row| {
            Ok(WebauthnCeremonyRecord {
                id,
                principal,
                session,
                kind,
                state: row.text("state")?,
                created_at: row.time("created_at")?,
                expires_at: row.time("expires_at")?,
            })
        })
        .await
    }

    /// Deletes every ceremony that expired at or before `now`.
    async fn purge_webauthn_ceremonies(&mut self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.execute(Stmt::new(PURGE_CEREMONIES).bind(to_micros(now)?))
            .await
    }
}

impl<D: Db> WebauthnReadTx for EngineTx<D> {}
impl<D: Db> WebauthnTx for EngineTx<D> {}
