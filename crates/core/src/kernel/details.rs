//! Sealed audit-event details (invariant 3, control ML-2): a small JSON object that
//! may hold personal data (a refusal's reason, a tenant's name) is
//! encrypted at rest with AES-256-GCM under the event's tenant's data key
//! for purpose `audit-details`, and bound (associated data) to the event's
//! random `id` and action, so that moved to another event it no longer
//! decrypts. (Events of encoding version 1, written before ids existed,
//! were bound to their `seq`, and still open that way.)
//! The event hash covers the ciphertext: the log verifies without the
//! keyring. Plaintext never reaches the database, a log or an error
//! (invariant 3); an authorized caller reads it through
//! [`Rempart::audit_event_details`], itself audited.
//!
//! The key is resolved in the caller's transaction (it may create and store
//! the tenant's data key) and the details are sealed there, before the
//! pending event is written, in [`AuditChain::append_sealing`]: the `id` is
//! chosen then, while the `seq` is given later by the sequencer, and the
//! plaintext is never stored, pending or not. Events with no tenant
//! use the system-wide `audit-details` data key (no tenant, wrapped under
//! the production KEK). While the keyring is sealed, or in a
//! crypto-shredded tenant, an event is stored without its details rather
//! than the action being refused.
//!
//! [`AuditChain::append_sealing`]: crate::kernel::audit_chain::AuditChain::append_sealing
//! [`Rempart::audit_event_details`]: crate::Rempart::audit_event_details

use rempart_model::TenantId;
use rempart_store::{AuditRecord, ReadTx, Tx};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::kernel::Kernel;
use crate::kernel::audit_chain::Draft;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::keyring::KeyError;

/// The data-key purpose that seals audit details.
pub const PURPOSE: &str = "audit-details";

/// Plain details, as serialized JSON; zeroized on drop, never printed.
#[derive(Clone)]
pub struct Details(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Details {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Details(<redacted>)")
    }
}

impl Details {
    /// Details from a JSON object.
    pub fn new(object: &serde_json::Map<String, serde_json::Value>) -> Self {
        // Serializing a map of JSON values cannot fail; an empty object
        // stands in if it ever did.
        Self(Zeroizing::new(
            serde_json::to_vec(object).unwrap_or_else(|_| b"{}".to_vec()),
        ))
    }

    /// `{"<name>": "<value>"}`.
    pub fn field(name: &str, value: impl Into<String>) -> Self {
        let mut object = serde_json::Map::new();
        object.insert(name.to_owned(), serde_json::Value::String(value.into()));
        Self::new(&object)
    }

    /// `{"reason": "<reason>"}`: why an attempt was refused.
    pub fn reason(reason: impl Into<String>) -> Self {
        Self::field("reason", reason)
    }

    pub(crate) fn seal(
        &self,
        key: &rempart_crypto::DataKey,
        id: uuid::Uuid,
        action: &str,
    ) -> Result<Vec<u8>, rempart_crypto::CryptoError> {
        key.encrypt(&record_of_id(id, action), &self.0)
    }
}

/// The associated data that binds details to their event (encoding version
/// 2): `audit-event:<id>:<action>`, the id as a lowercase hyphenated UUID.
fn record_of_id(id: uuid::Uuid, action: &str) -> Vec<u8> {
    format!("audit-event:{}:{action}", id.hyphenated()).into_bytes()
}

/// The associated data of the details of `event`: bound to its id, or, for
/// an event of encoding version 1 (no id), to its `seq`.
pub(crate) fn record(event: &AuditRecord) -> Vec<u8> {
    match event.id {
        Some(id) => record_of_id(id, &event.action),
        None => format!("audit-event:{}:{}", event.seq, event.action).into_bytes(),
    }
}

impl Kernel {
    /// Appends `draft` within `tx`, sealing its plain details under its
    /// tenant's `audit-details` data key (the system's, with no tenant).
    /// While the keyring is sealed, or in a crypto-shredded tenant (a
    /// refusal of a call on it), the event is stored without its details.
    pub(crate) async fn append_audit(
        &self,
        tx: &mut dyn Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        draft: Draft,
    ) -> Result<uuid::Uuid, ServiceError> {
        let found = match (&draft.plain_details, draft.tenant) {
            (None, _) => None,
            (Some(_), Some(tenant)) => match tx.tenant(tenant).await? {
                // A crypto-shredded tenant has no key left to seal them.
                Some(tenant) if tenant.shredded_at.is_some() => None,
                Some(tenant) => Some(self.tenant_data_key(tx, ctx, now, &tenant, PURPOSE).await),
                None => None,
            },
            (Some(_), None) => Some(self.system_data_key(tx, ctx, now, PURPOSE).await),
        };
        let key = match found {
            None => None,
            Some(Ok(key)) => Some(key),
            Some(Err(e)) if e.domain::<KeyError>().is_some() => {
                if let Some(KeyError::Sealed) = e.domain::<KeyError>() {
                    tracing::debug!("the keyring is sealed: audit details are not stored");
                } else {
                    tracing::warn!(error = %e, "no data key for audit details: they are not stored");
                }
                None
            }
            Some(Err(e)) => return Err(e),
        };
        self.audit
            .append_sealing(tx, ctx, now, draft, key.as_ref())
            .await
    }

    /// Opens an event's sealed details for a check inside the service
    /// layer (the control checks' scan for secrets). Never for callers: a
    /// caller reads details through [`Rempart::audit_event_details`],
    /// authorized and audited.
    ///
    /// [`Rempart::audit_event_details`]: crate::Rempart::audit_event_details
    pub(crate) async fn open_audit_details(
        &self,
        event: &AuditRecord,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, ServiceError> {
        let mut tx = self.store.begin_read().await?;
        self.open_audit_details_in(tx.as_mut(), event).await
    }

    /// [`Kernel::open_audit_details`] within `tx` (an audited read's gate).
    pub(crate) async fn open_audit_details_in(
        &self,
        tx: &mut dyn ReadTx,
        event: &AuditRecord,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, ServiceError> {
        let opened = match (&event.details, event.tenant) {
            (None, _) => return Ok(None),
            (Some(envelope), Some(tenant)) => {
                self.decrypt_for_tenant_in(tx, TenantId(tenant), PURPOSE, &record(event), envelope)
                    .await?
            }
            (Some(envelope), None) => {
                self.decrypt_system_in(tx, PURPOSE, &record(event), envelope)
                    .await?
            }
        };
        Ok(Some(Zeroizing::new(opened)))
    }
}
