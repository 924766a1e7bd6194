//! Accounts: staff, tenant users and service accounts, their state, and
//! the break-glass accounts.

use async_trait::async_trait;
use rempart_model::{PrincipalId, PrincipalName, TenantId};
use time::OffsetDateTime;

use crate::StoreError;
use crate::engine::{Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, to_micros};

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

const INSERT: &str = "INSERT INTO principals (id, name, name_key, state, created_at, kind, \
                      tenant_id, email, display_name, break_glass) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const SELECT: &str = "SELECT id, name, state, created_at, kind, tenant_id, email, \
                      display_name, break_glass FROM principals";
const BY_ID: &str = "SELECT id, name, state, created_at, kind, tenant_id, email, \
                     display_name, break_glass FROM principals WHERE id = $1";
const BY_NAME: &str = "SELECT id, name, state, created_at, kind, tenant_id, email, \
                       display_name, break_glass FROM principals WHERE name_key = $1";
const COUNT: &str = "SELECT COUNT(*) AS n FROM principals";
const COUNT_BREAK_GLASS: &str =
    "SELECT COUNT(*) AS n FROM principals WHERE break_glass AND state <> 'terminated'";
const SET_STATE: &str = "UPDATE principals SET state = $1 WHERE id = $2";
const LOCK: &str = "UPDATE principals SET state = state WHERE id = $1";

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
        self.one(Stmt::new(COUNT), |row| row.u64("n")).await
    }

    async fn principal(&mut self, id: PrincipalId) -> Result<Option<PrincipalRecord>, StoreError> {
        self.optional(Stmt::new(BY_ID).bind(id.0), principal).await
    }

    async fn principal_by_name(
        &mut self,
        name_key: &str,
    ) -> Result<Option<PrincipalRecord>, StoreError> {
        self.optional(Stmt::new(BY_NAME).bind(name_key), principal)
            .await
    }

    async fn list_principals(
        &mut self,
        filter: &AccountFilter,
    ) -> Result<Vec<PrincipalRecord>, StoreError> {
        let mut stmt = Stmt::new(SELECT);
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
        let stmt = Stmt::new(INSERT)
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
        let stmt = Stmt::new(SET_STATE)
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
        self.execute(Stmt::new(LOCK).bind(id.0)).await?;
        Ok(())
    }
}

impl<D: Db> AccountReadTx for EngineTx<D> {}
impl<D: Db> AccountTx for EngineTx<D> {}
