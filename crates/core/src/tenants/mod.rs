//! The tenants domain: creating tenants (each enrolled in its
//! environment's keyring) and listing those the caller may read
//! (control NS-2: production and development tenants live under
//! different keys).

pub mod error;

use rempart_model::{Action, NewTenant, Permission, Scope, Tenant, TenantId};
use rempart_store::StoreError;

use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::Call;
use crate::kernel::target::Target;
use crate::service::Rempart;
use crate::tenants::error::TenantError;

impl Rempart {
    /// Creates a tenant. Needs `tenant.create` staff-wide or in the
    /// tenant's environment.
    pub async fn create_tenant(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        new: NewTenant,
    ) -> Result<Tenant, ServiceError> {
        let call = Call::by(actor, ctx, Action::TenantCreate)
            .on(Target::Environment(new.environment.clone()));
        let scope = Scope::Environment(new.environment.clone());
        let mut gate = self
            .kernel
            .write(call)
            .await?
            .authorize(Permission::TenantCreate, &scope, None)
            .await?;
        let tenant = Tenant {
            id: TenantId(self.kernel.clock.new_id()),
            name: new.name,
            region: new.region,
            environment: new.environment,
            created_at: gate.now(),
            shredded_at: None,
        };
        match gate.tx().insert_tenant(&tenant).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(ServiceError::from(TenantError::NameTaken {
                    name: tenant.name.to_string(),
                }));
            }
            Err(e) => return Err(e.into()),
        }
        // Enrolment in the keyring of the tenant's environment, saved
        // atomically before the commit (see the keys domain): a failure
        // here rolls the tenant back; a commit failing afterwards leaves
        // only an inert tenant key for an id that never exists.
        self.enroll_tenant(&tenant)?;
        gate.on(Target::Tenant(tenant.id));
        gate.in_tenant(Some(tenant.id));
        gate.commit().await?;
        Ok(tenant)
    }

    /// Lists the tenants the actor may read, and only those: the scope is
    /// part of the query.
    pub async fn list_tenants(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<Vec<Tenant>, ServiceError> {
        let call = Call::by(actor, ctx, Action::TenantList);
        let gate = self.kernel.audited_read(call).await?;
        let Some(filter) = actor.tenant_filter(Permission::TenantRead, gate.now()) else {
            let answer = ServiceError::Forbidden {
                permission: Permission::TenantRead,
            };
            return Err(gate.refuse("permission tenant.read needed", answer).await);
        };
        let mut gate = gate.clear(crate::kernel::gate::Clearance::Scoped);
        let tenants = gate.read().list_tenants(&filter).await?;
        gate.commit().await?;
        Ok(tenants)
    }
}
