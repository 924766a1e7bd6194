//! Reading an audit event's sealed details: authorized over the event's
//! tenant and itself audited (control ML-2).

use rempart_model::{Action, Outcome, Permission, TenantId};
use zeroize::Zeroizing;

use crate::kernel::actor::Actor;
use crate::kernel::audit_chain::Draft;
use crate::kernel::context::RequestContext;
use crate::kernel::details::{PURPOSE, record};
use crate::kernel::error::ServiceError;
use crate::service::Rempart;

impl Rempart {
    /// The decrypted details of event `seq` (`None` if it has none). Needs
    /// `audit.search` over the event's tenant (staff-wide for an event with
    /// no tenant); the read is audited (`audit.search`, target
    /// `audit-event:<seq>/details`), refused and failed reads too. Details
    /// moved from another event, or of a crypto-shredded tenant, do not
    /// open.
    pub async fn audit_event_details(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        seq: u64,
    ) -> Result<Option<serde_json::Value>, ServiceError> {
        self.drain_audit().await?;
        let now = self.kernel.clock.now();
        let mut tx = self.kernel.store.begin().await?;
        let found = crate::audit::event_and_scope(tx.as_mut(), seq).await?;
        drop(tx);
        let (event, target, environment) = match crate::audit::event_in_sight(actor, now, found) {
            Ok(seen) => seen,
            Err(why) => {
                let unseen = crate::kernel::visibility::Unseen {
                    action: Action::AuditSearch,
                    target: format!("audit-event:{seq}/details"),
                    answer: crate::audit::no_event(seq),
                };
                return Err(self.unseen(actor, ctx, now, why, unseen).await?);
            }
        };
        let mut draft = Draft::new(actor.audit_name(), Action::AuditSearch, Outcome::Success)
            .target(format!("audit-event:{seq}/details"));
        if let Some(t) = event.tenant {
            draft = draft.tenant(TenantId(t));
        }
        if !actor.may(Permission::AuditSearch, &target, environment.as_ref(), now) {
            draft.outcome = Outcome::Denied;
            self.refuse(ctx, now, draft).await?;
            return Err(ServiceError::Forbidden {
                permission: Permission::AuditSearch,
            });
        }
        let opened = match (&event.details, event.tenant) {
            (None, _) => Ok(None),
            (Some(envelope), Some(tenant)) => self
                .kernel
                .decrypt_for_tenant(TenantId(tenant), PURPOSE, &record(&event), envelope)
                .await
                .map(|plain| Some(Zeroizing::new(plain))),
            (Some(envelope), None) => self
                .kernel
                .decrypt_system(PURPOSE, &record(&event), envelope)
                .await
                .map(|plain| Some(Zeroizing::new(plain))),
        };
        let value = opened.and_then(|plain| {
            plain
                .map(|p| {
                    serde_json::from_slice::<serde_json::Value>(&p).map_err(|_| {
                        ServiceError::AuditLog(format!("the details of event {seq} are not JSON"))
                    })
                })
                .transpose()
        });
        match value {
            Ok(value) => {
                let mut tx = self.kernel.store.begin().await?;
                self.kernel
                    .audit
                    .append(tx.as_mut(), ctx, now, draft)
                    .await?;
                tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                draft.outcome = Outcome::Failed;
                self.refuse(ctx, now, draft).await?;
                Err(e)
            }
        }
    }
}
