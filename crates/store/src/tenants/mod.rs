//! Tenants: the stored tenants, listed only within a caller's scope
//! (invariant 2: the scope is part of the query, never applied afterwards
//! by the caller), and when each was crypto-shredded.

use async_trait::async_trait;
use rempart_model::{Environment, Region, Tenant, TenantId, TenantName};
use time::OffsetDateTime;

use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, opt_to_micros, to_micros,
};
use crate::{Engine, StoreError};

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

const INSERT: &str = "INSERT INTO tenants \
                      (id, name, name_key, region, environment, created_at, shredded_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7)";
const SELECT: &str = "SELECT id, name, region, environment, created_at, shredded_at FROM tenants";
const BY_ID: &str = "SELECT id, name, region, environment, created_at, shredded_at \
                     FROM tenants WHERE id = $1";
/// [`BY_ID`], the row held until the transaction ends (see
/// [`TenantTx::tenant_held`]).
const BY_ID_HELD: &str = "SELECT id, name, region, environment, created_at, shredded_at \
                          FROM tenants WHERE id = $1 FOR SHARE";
const COUNT: &str = "SELECT COUNT(*) AS n FROM tenants";
/// Records the shred once: a tenant already shredded keeps its time.
const SHRED: &str = "UPDATE tenants SET shredded_at = $1 WHERE id = $2 AND shredded_at IS NULL";

fn tenant(row: &dyn Columns) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: TenantId(row.uuid("id")?),
        name: TenantName::parse(&row.text("name")?).map_err(StoreError::corrupt)?,
        region: Region::parse(&row.text("region")?).map_err(StoreError::corrupt)?,
        environment: Environment::parse(&row.text("environment")?).map_err(StoreError::corrupt)?,
        created_at: row.time("created_at")?,
        shredded_at: row.opt_time("shredded_at")?,
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
            .bind(to_micros(tenant.created_at)?)
            .bind(opt_to_micros(tenant.shredded_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// The tenant, its row held until the transaction ends, so that a
    /// concurrent shred ([`TenantTx::set_tenant_shredded`]) waits for this
    /// transaction, or this read waits for the shred and sees it. On
    /// PostgreSQL a shared row lock; SQLite's write transactions hold the
    /// database's write lock already, so there a plain read is enough.
    async fn tenant_held(&mut self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        let sql = match self.engine() {
            Engine::Sqlite => BY_ID,
            Engine::Postgres => BY_ID_HELD,
        };
        self.optional(Stmt::new(sql).bind(id.0), tenant).await
    }

    /// Records that the tenant was crypto-shredded at `at`; `false` (and
    /// nothing changed) when it was already, or does not exist.
    async fn set_tenant_shredded(
        &mut self,
        id: TenantId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(SHRED).bind(to_micros(at)?).bind(id.0);
        Ok(self.execute(stmt).await? == 1)
    }
}

impl<D: Db> TenantReadTx for EngineTx<D> {}
impl<D: Db> TenantTx for EngineTx<D> {}
