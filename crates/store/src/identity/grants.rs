//! Grants and custom roles: who holds which role in which scope, and what
//! a custom role permits.

use async_trait::async_trait;
use rempart_model::{Environment, Grant, PermissionSet, PrincipalId, RoleName, Scope, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, opt_to_micros, to_micros,
};

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
