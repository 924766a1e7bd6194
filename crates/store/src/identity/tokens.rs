//! API tokens, stored as SHA-256 hashes only: scoped to a tenant, limited
//! to permissions and networks, revocable.

use async_trait::async_trait;
use rempart_model::{PermissionSet, PrincipalId, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, opt_to_micros, to_micros,
};

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

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("principal", &self.principal)
            .field("name", &self.name)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

const INSERT: &str = "INSERT INTO api_tokens (id, principal_id, token_hash, name, created_at, \
                      expires_at, revoked_at, last_used_at, tenant_id, permissions, allow_list) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const BY_HASH: &str = "SELECT id, principal_id, token_hash, name, created_at, expires_at, \
                       revoked_at, last_used_at, tenant_id, permissions, allow_list \
                       FROM api_tokens WHERE token_hash = $1";
const BY_ID: &str = "SELECT id, principal_id, token_hash, name, created_at, expires_at, \
                     revoked_at, last_used_at, tenant_id, permissions, allow_list \
                     FROM api_tokens WHERE id = $1";
const OF_PRINCIPAL: &str = "SELECT id, principal_id, token_hash, name, created_at, expires_at, \
                            revoked_at, last_used_at, tenant_id, permissions, allow_list \
                            FROM api_tokens WHERE principal_id = $1 ORDER BY created_at";
const TOUCH: &str = "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2";
const REVOKE: &str = "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
const REVOKE_ALL_OF: &str =
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
        self.optional(Stmt::new(BY_HASH).bind(hash.as_slice()), token)
            .await
    }

    async fn token(&mut self, id: Uuid) -> Result<Option<TokenRecord>, StoreError> {
        self.optional(Stmt::new(BY_ID).bind(id), token).await
    }

    async fn tokens_of(&mut self, id: PrincipalId) -> Result<Vec<TokenRecord>, StoreError> {
        self.all(Stmt::new(OF_PRINCIPAL).bind(id.0), token).await
    }
}

/// The API token writes of a write transaction.
#[async_trait]
pub trait TokenTx: TokenReadTx + SqlWrite {
    async fn insert_token(&mut self, token: &TokenRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT)
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
        self.execute(Stmt::new(TOUCH).bind(to_micros(at)?).bind(id))
            .await?;
        Ok(())
    }

    async fn revoke_token(&mut self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError> {
        let stmt = Stmt::new(REVOKE)
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
        let stmt = Stmt::new(REVOKE_ALL_OF)
            .bind(to_micros(at)?)
            .bind(id.0)
            .invalidates_auth();
        self.execute(stmt).await
    }
}

impl<D: Db> TokenReadTx for EngineTx<D> {}
impl<D: Db> TokenTx for EngineTx<D> {}
