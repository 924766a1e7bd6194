//! A tenant's own access settings: its password policy, the networks its
//! users may come from, and whether they must use MFA.

use async_trait::async_trait;
use rempart_model::TenantId;
use time::OffsetDateTime;

use crate::StoreError;
use crate::engine::{Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, to_micros};

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

const GET: &str = "SELECT password_policy, allow_list, require_mfa, updated_at \
                   FROM tenant_access WHERE tenant_id = $1";
const PUT: &str = "INSERT INTO tenant_access \
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
        self.optional(Stmt::new(GET).bind(tenant.0), |row| {
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
        let stmt = Stmt::new(PUT)
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
