//! Appending to the audit log, inside the caller's transaction
//! (invariant 1).
//!
//! The head of the chain is locked last, just before the append, so that
//! the lock is held only for the end of the transaction. A refusal is
//! recorded in a transaction of its own: the refused change never began.

use rempart_model::{Action, Outcome, TenantId};
use rempart_store::{AuditRecord, Store, StoreError, Tx};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::context::RequestContext;

/// An event before the chain seals it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub actor: String,
    pub action: Action,
    pub target: Option<String>,
    pub tenant: Option<TenantId>,
    pub outcome: Outcome,
}

impl Draft {
    pub fn new(actor: impl Into<String>, action: Action, outcome: Outcome) -> Self {
        Self {
            actor: actor.into(),
            action,
            target: None,
            tenant: None,
            outcome,
        }
    }

    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    #[must_use]
    pub fn tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }
}

/// Appends `draft` to the log within `tx`.
pub async fn append(
    tx: &mut dyn Tx,
    ctx: &RequestContext,
    now: OffsetDateTime,
    draft: Draft,
) -> Result<AuditRecord, StoreError> {
    let head = tx.lock_audit_head().await?;
    let mut record = AuditRecord {
        seq: head.seq + 1,
        time: now,
        actor: draft.actor,
        action: draft.action.as_str().to_owned(),
        target: draft.target,
        tenant: draft.tenant.map(|t| t.0),
        outcome: draft.outcome.as_str().to_owned(),
        request_id: ctx.request_id.clone(),
        source: ctx.source.map(|ip| ip.to_string()),
        details: None,
        prev_hash: head.hash,
        hash: [0; 32],
    };
    record.hash = chain_hash(&record);
    tx.append_audit(&record).await?;
    Ok(record)
}

/// Records a refused attempt in a transaction of its own.
pub async fn record_refusal(
    store: &dyn Store,
    ctx: &RequestContext,
    now: OffsetDateTime,
    draft: Draft,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    append(tx.as_mut(), ctx, now, draft).await?;
    tx.commit().await
}

/// The chain hash of an event: SHA-256 over the previous hash and a
/// length-prefixed encoding of every field.
fn chain_hash(record: &AuditRecord) -> [u8; 32] {
    fn field(hasher: &mut Sha256, bytes: Option<&[u8]>) {
        match bytes {
            None => hasher.update([0]),
            Some(b) => {
                hasher.update([1]);
                hasher.update((b.len() as u64).to_be_bytes());
                hasher.update(b);
            }
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(b"rempart-audit-event-v0");
    hasher.update(record.prev_hash);
    hasher.update(record.seq.to_be_bytes());
    let micros = i64::try_from(record.time.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MIN);
    hasher.update(micros.to_be_bytes());
    field(&mut hasher, Some(record.actor.as_bytes()));
    field(&mut hasher, Some(record.action.as_bytes()));
    field(&mut hasher, record.target.as_deref().map(str::as_bytes));
    field(
        &mut hasher,
        record.tenant.as_ref().map(|t| t.as_bytes().as_slice()),
    );
    field(&mut hasher, Some(record.outcome.as_bytes()));
    field(&mut hasher, record.request_id.as_deref().map(str::as_bytes));
    field(&mut hasher, record.source.as_deref().map(str::as_bytes));
    field(&mut hasher, record.details.as_deref());
    hasher.finalize().into()
}
