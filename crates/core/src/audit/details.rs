//! Reading an audit event's sealed details: authorized over the event's
//! tenant and itself audited (control ML-2).

use rempart_model::{Action, Outcome, Permission, TenantId};
use rempart_store::AuditRecord;

use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::Call;
use crate::kernel::target::Target;
use crate::service::Rempart;

impl Rempart {
    /// The decrypted details of event `seq` (`None` if it has none). Needs
    /// `audit.search` over the event's tenant (staff-wide for an event with
    /// no tenant); the read is audited (`audit.search`, target
    /// `audit-event:<seq>/details`), refused and failed reads too. Details
    /// moved from another event do not open; those of a crypto-shredded
    /// tenant's events are gone (410).
    pub async fn audit_event_details(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        seq: u64,
    ) -> Result<Option<serde_json::Value>, ServiceError> {
        self.drain_audit().await?;
        let call = Call::by(actor, ctx, Action::AuditSearch).on(Target::AuditEventDetails(seq));
        let gate = self.kernel.audited_read(call).await?;
        let (mut gate, (event, scope, environment)) = super::event_in_sight(gate, seq).await?;
        // The details of a crypto-shredded tenant's events are gone with
        // its key.
        let tenant = match event.tenant {
            Some(t) => gate.read().tenant(TenantId(t)).await?,
            None => None,
        };
        let gate = gate.live(tenant.as_ref()).await?;
        let mut gate = gate
            .authorize(Permission::AuditSearch, &scope, environment.as_ref())
            .await?;
        // Opened within the gate's transaction: the key that seals them is
        // read there too.
        match self.open_details(gate.read(), &event).await {
            Ok(value) => {
                gate.commit().await?;
                Ok(value)
            }
            Err(e) => {
                let reason = format!("the details do not open: {e}");
                Err(gate.record(Outcome::Failed, &reason, e).await)
            }
        }
    }

    /// The details of `event`, opened and parsed as JSON.
    async fn open_details(
        &self,
        tx: &mut dyn rempart_store::ReadTx,
        event: &AuditRecord,
    ) -> Result<Option<serde_json::Value>, ServiceError> {
        let Some(plain) = self.kernel.open_audit_details_in(tx, event).await? else {
            return Ok(None);
        };
        serde_json::from_slice::<serde_json::Value>(&plain)
            .map(Some)
            .map_err(|_| {
                ServiceError::AuditLog(format!("the details of event {} are not JSON", event.seq))
            })
    }
}
