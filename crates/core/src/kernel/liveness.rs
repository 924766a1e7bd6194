//! A crypto-shredded tenant is closed for good (control DS-6): the one
//! check every domain makes before it reads or writes a tenant's data.
//!
//! Shredding destroys the tenant's key in the keyring, deletes its wrapped
//! data keys and records when, in the tenants table, in the same
//! transaction (`shredded_at`). From then on, on every replica whatever
//! its keyring holds, what would read or write the tenant's data answers
//! 410 Gone ([`ServiceError::TenantShredded`], whose problem document names
//! when): its users, grants, tokens, audit details, envelopes. And no new
//! data key is ever made for it ([`Kernel::live_tenant_held`], read in the
//! transaction that would store the key).
//!
//! Three doors, one rule ([`live`]):
//! - [`Kernel::live_tenant`]: code with no caller to answer for (the
//!   envelope functions): absent is `TenantNotFound`, shredded is gone.
//! - [`Gate::live_tenant`]: a caller's call on a tenant. Out of scope still
//!   looks like not there (404, invariant 8); only a caller who sees the
//!   tenant learns it is gone. Both refusals are recorded.
//! - [`Gate::live`]: the same for an object found another way (an account,
//!   an audit event) whose tenant the domain already holds;
//!   [`Gate::caller_live`] for what a caller adds to its own account.
//!
//! What only narrows access (suspending or terminating an account,
//! revoking a credential or a grant, removing second factors) still
//! reaches what a shredded tenant leaves behind ([`Reach::Narrow`]), so
//! that nothing it leaves can be kept from being shut.

use rempart_model::{Tenant, TenantId};
use rempart_store::{ReadTx, Tx};

use crate::kernel::Kernel;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::Gate;
use crate::kernel::target::Target;
use crate::kernel::visibility::account_home_in;

/// What a call does with an object of a tenant, which decides whether a
/// shredded tenant's objects still answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Reads it or adds to it: refused as gone once the tenant is
    /// shredded.
    Use,
    /// Only narrows access: allowed whatever the tenant's state.
    Narrow,
}

/// The rule: a live tenant passes; a crypto-shredded one is gone.
pub(crate) fn live(tenant: &Tenant) -> Result<(), ServiceError> {
    match tenant.shredded_at {
        None => Ok(()),
        Some(shredded_at) => Err(ServiceError::TenantShredded {
            tenant: tenant.id,
            shredded_at,
        }),
    }
}

impl Kernel {
    /// The tenant `id`, read in `tx`, if it exists and was not
    /// crypto-shredded: `TenantNotFound` or `TenantShredded` (410)
    /// otherwise. For code with no caller to answer for; a call on behalf
    /// of a caller uses [`Gate::live_tenant`], which keeps out of scope
    /// looking like not there and records the refusal.
    pub async fn live_tenant(tx: &mut dyn ReadTx, id: TenantId) -> Result<Tenant, ServiceError> {
        let tenant = tx.tenant(id).await?.ok_or(ServiceError::TenantNotFound)?;
        live(&tenant)?;
        Ok(tenant)
    }

    /// [`Kernel::live_tenant`] in a write transaction, the tenant's row
    /// held until it ends: a concurrent shred either waits for it (and
    /// then deletes what it stored) or is seen by it. What stores a new
    /// key for a tenant reads the tenant this way first.
    pub(crate) async fn live_tenant_held(
        tx: &mut dyn Tx,
        id: TenantId,
    ) -> Result<Tenant, ServiceError> {
        let tenant = tx
            .tenant_held(id)
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        live(&tenant)?;
        Ok(tenant)
    }
}

impl<M, S> Gate<'_, M, S> {
    /// The tenant `id`, if the caller sees it and it is live. A tenant the
    /// caller does not see is refused as `TenantNotFound`, as one that
    /// does not exist (invariant 8); a shredded one it sees, as gone
    /// (410). Either refusal is recorded, naming `tenant:<id>`; on success
    /// the call's target is left as it was.
    pub(crate) async fn live_tenant(self, id: TenantId) -> Result<(Self, Tenant), ServiceError> {
        let (mut gate, tenant) = self.tenant_seen(id).await?;
        if tenant.shredded_at.is_some() {
            gate.on(Target::Tenant(id));
        }
        let gate = gate.live(Some(&tenant)).await?;
        Ok((gate, tenant))
    }

    /// Passes unless the caller is a user of a crypto-shredded tenant; then
    /// gone, recorded like [`Gate::live`]. For what a caller adds to its
    /// own account (a second factor), which no other check places.
    pub(crate) async fn caller_live(mut self) -> Result<Self, ServiceError> {
        let Some(actor) = self.caller().actor() else {
            return Ok(self);
        };
        let tenant = match self.read().principal(actor.principal).await? {
            Some(account) => account_home_in(self.read(), &account).await?.1,
            None => None,
        };
        self.live(tenant.as_ref()).await
    }

    /// Passes when `tenant` (the tenant of what the call acts on, if it
    /// has one) is live; otherwise the attempt is refused as gone (410)
    /// and recorded in that tenant (without details: its key is gone).
    pub(crate) async fn live(mut self, tenant: Option<&Tenant>) -> Result<Self, ServiceError> {
        let Some(tenant) = tenant else {
            return Ok(self);
        };
        match live(tenant) {
            Ok(()) => Ok(self),
            Err(gone) => {
                self.call.tenant = Some(tenant.id);
                Err(self.refuse("the tenant was crypto-shredded", gone).await)
            }
        }
    }
}
