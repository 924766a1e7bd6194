//! Tenants: the stored tenants, listed only within a caller's scope
//! (invariant 2: the scope is part of the query, never applied afterwards
//! by the caller).

use async_trait::async_trait;
use rempart_model::{Environment, Region, Tenant, TenantId, TenantName};

use crate::StoreError;
use crate::engine::{Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, to_micros};

/// Which tenants a query may see (invariant 2: the scope is part of every
/// query, never applied afterwards by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantFilter {
    All,
    Only(Vec<TenantId>),
    Environments(Vec<Environment>),
    Union(Vec<TenantId>, Vec<Environment>),
}

/// How a table scoped by [`TenantFilter`] names its rows' tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TenantColumn {
    /// The `tenants` table itself: `id` and `environment`.
    Tenants,
    /// A `tenant_id` column; environments are found through `tenants`.
    TenantId,
}

impl TenantFilter {
    /// Appends the filter's condition to `stmt`, after `lead` (" WHERE "
    /// or " AND "). [`TenantFilter::All`] appends nothing.
    pub(crate) fn push_to<'a>(&'a self, stmt: &mut Stmt<'a>, lead: &str, column: TenantColumn) {
        let ids = |stmt: &mut Stmt<'a>, ids: &[TenantId]| {
            if ids.is_empty() {
                stmt.push("1 = 0");
                return;
            }
            stmt.push(match column {
                TenantColumn::Tenants => "id IN (",
                TenantColumn::TenantId => "tenant_id IN (",
            });
            stmt.push_list(ids.iter().map(|id| id.0));
            stmt.push(")");
        };
        let environments = |stmt: &mut Stmt<'a>, envs: &'a [Environment]| {
            if envs.is_empty() {
                stmt.push("1 = 0");
                return;
            }
            stmt.push(match column {
                TenantColumn::Tenants => "environment IN (",
                TenantColumn::TenantId => {
                    "tenant_id IN (SELECT id FROM tenants WHERE environment IN ("
                }
            });
            stmt.push_list(envs.iter().map(Environment::as_str));
            stmt.push(match column {
                TenantColumn::Tenants => ")",
                TenantColumn::TenantId => "))",
            });
        };
        match self {
            Self::All => {}
            Self::Only(only) => {
                stmt.push(lead);
                ids(stmt, only);
            }
            Self::Environments(envs) => {
                stmt.push(lead);
                environments(stmt, envs);
            }
            Self::Union(only, envs) => {
                stmt.push(lead).push("((");
                ids(stmt, only);
                stmt.push(") OR (");
                environments(stmt, envs);
                stmt.push("))");
            }
        }
    }
}

const INSERT: &str = "INSERT INTO tenants (id, name, name_key, region, environment, created_at) \
                      VALUES ($1, $2, $3, $4, $5, $6)";
const SELECT: &str = "SELECT id, name, region, environment, created_at FROM tenants";
const BY_ID: &str = "SELECT id, name, region, environment, created_at FROM tenants WHERE id = $1";
const COUNT: &str = "SELECT COUNT(*) AS n FROM tenants";

fn tenant(row: &dyn Columns) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: TenantId(row.uuid("id")?),
        name: TenantName::parse(&row.text("name")?).map_err(StoreError::corrupt)?,
        region: Region::parse(&row.text("region")?).map_err(StoreError::corrupt)?,
        environment: Environment::parse(&row.text("environment")?).map_err(StoreError::corrupt)?,
        created_at: row.time("created_at")?,
    })
}

/// The tenant reads of a transaction.
#[async_trait]
pub trait TenantReadTx: SqlRead {
    async fn list_tenants(&mut self, filter: &TenantFilter) -> Result<Vec<Tenant>, StoreError> {
        let mut stmt = Stmt::new(SELECT);
        filter.push_to(&mut stmt, " WHERE ", TenantColumn::Tenants);
        stmt.push(" ORDER BY name_key");
        self.all(stmt, tenant).await
    }

    async fn count_tenants(&mut self) -> Result<u64, StoreError> {
        self.one(Stmt::new(COUNT), |row| row.u64("n")).await
    }

    async fn tenant(&mut self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        self.optional(Stmt::new(BY_ID).bind(id.0), tenant).await
    }
}

/// The tenant writes of a write transaction.
#[async_trait]
pub trait TenantTx: TenantReadTx + SqlWrite {
    /// Inserts a tenant; a name that differs from an existing one only in
    /// case is a [`StoreError::Conflict`].
    async fn insert_tenant(&mut self, tenant: &Tenant) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT)
            .bind(tenant.id.0)
            .bind(tenant.name.as_str())
            .bind(tenant.name.uniqueness_key())
            .bind(tenant.region.as_str())
            .bind(tenant.environment.as_str())
            .bind(to_micros(tenant.created_at)?);
        self.execute(stmt).await?;
        Ok(())
    }
}

impl<D: Db> TenantReadTx for EngineTx<D> {}
impl<D: Db> TenantTx for EngineTx<D> {}
