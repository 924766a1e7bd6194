//! The audit log's own services: checkpoints by time, verification of the
//! live database, export, search and proofs (issue 4).
//!
//! Search and proofs are authorized like any other action and audited; a
//! tenant-scoped caller reaches only its tenant's events, and the scope is
//! part of the query (invariant 2). Verification and export read the log in
//! pages, each in a short transaction: events and checkpoints are never
//! rewritten once committed, so a page read later is still the same log.

use std::io::Write;
use std::sync::Arc;

use rempart_audit::merkle::leaf_hash;
use rempart_audit::{
    Anchor, Checkpoint, ExportWriter, Frontier, Hash, Problem, PublicKey, Report, Verifier,
    consistency_proof, inclusion_proof,
};
use rempart_model::{Action, Outcome, Permission, Scope, TenantId};
use rempart_store::{AuditQuery, AuditRecord, TenantFilter};
use time::OffsetDateTime;

use crate::actor::Actor;
use crate::audit_log::{AuditChain, Draft, StoredNodes, to_checkpoint, to_event};
use crate::context::RequestContext;
use crate::error::ServiceError;
use crate::service::Rempart;
use crate::visibility::{Sight, Unseen, Why};

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Its first event (1 for a full export).
    pub first_seq: u64,
    /// Event lines written.
    pub events: u64,
    /// Checkpoint lines written (the anchor's included).
    pub checkpoints: u64,
}

/// Rows read per transaction by verification and export.
const PAGE: u32 = 5_000;

/// The largest page a search returns.
pub const MAX_SEARCH_LIMIT: u32 = 1_000;

/// An event's inclusion in the tree a signed checkpoint commits to.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    pub event: AuditRecord,
    /// `leaf_hash(event.hash)`: what the proof starts from.
    pub leaf_hash: Hash,
    /// 0-based: `event.seq - 1`.
    pub leaf_index: u64,
    pub checkpoint: Checkpoint,
    pub path: Vec<Hash>,
}

/// That the tree of `old.size` events is a prefix of that of `new.size`.
#[derive(Debug, Clone)]
pub struct ConsistencyProof {
    pub old: Checkpoint,
    pub new: Checkpoint,
    pub path: Vec<Hash>,
}

impl Rempart {
    /// Uses `chain` (signer, checkpoint intervals) for every append.
    #[must_use]
    pub fn with_audit(mut self, chain: AuditChain) -> Self {
        self.audit = Arc::new(chain);
        self
    }

    /// The key that verifies checkpoints, if a signer is configured (while
    /// the keyring is sealed: the key recorded in the database, if given).
    pub fn audit_public_key(&self) -> Option<PublicKey> {
        self.audit.public_key()
    }

    /// Chains every pending event (see [`crate::audit_log`]): readers of the
    /// chain call it first, so that a caller sees its own events. Returns
    /// how many were chained.
    pub async fn drain_audit(&self) -> Result<u64, ServiceError> {
        self.audit
            .drain(self.store.as_ref(), self.clock().now())
            .await
    }

    /// The background sequencer of `rempart serve`: chains pending events
    /// soon after they are appended (woken by appends, which it lets gather
    /// into one batch) and on a tick (events of other processes). Runs
    /// until dropped or aborted; errors are logged and retried.
    pub async fn run_audit_sequencer(&self) {
        loop {
            self.audit.wait_for_appends().await;
            match self.drain_audit().await {
                Ok(0) => {}
                Ok(n) => tracing::trace!(events = n, "chained pending audit events"),
                Err(e) => {
                    tracing::warn!(error = %e, "chaining pending audit events failed; retrying");
                }
            }
        }
    }

    /// Signs a checkpoint if the last one is older than the configured
    /// interval and events follow it (or whenever events follow it, with
    /// `force`). Safe on every replica at once: the head lock lets one
    /// write it, and the others then find it done.
    pub async fn checkpoint_audit_if_due(&self, force: bool) -> Result<Option<u64>, ServiceError> {
        self.drain_audit().await?;
        let now = self.clock().now();
        let mut tx = self.store.begin().await?;
        let done = self
            .audit
            .checkpoint_if_due(tx.as_mut(), now, force)
            .await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Records an offline operation on the audit log (verify, export) as
    /// the system, in its own transaction.
    pub async fn record_offline(
        &self,
        action: Action,
        outcome: Outcome,
    ) -> Result<(), ServiceError> {
        let now = self.clock().now();
        let mut tx = self.store.begin().await?;
        let draft = Draft::new("system", action, outcome);
        self.audit
            .append(tx.as_mut(), &RequestContext::system(), now, draft)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Verifies the whole log in the database against `key`: every event
    /// hashed and chained, every checkpoint signed, chained and matching the
    /// Merkle root. The inner result is the first problem found.
    pub async fn verify_audit_log(
        &self,
        key: &PublicKey,
    ) -> Result<Result<Report, Problem>, ServiceError> {
        self.drain_audit().await?;
        let mut verifier = Verifier::new(*key);
        let mut checkpoints = CheckpointPages::default();
        let mut pending = checkpoints.next(self).await?;
        let mut after = 0u64;
        loop {
            let page = {
                let mut tx = self.store.begin().await?;
                tx.audit_events(after, PAGE).await?
            };
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            for record in &page {
                while let Some(cp) = pending.take_if(|cp| cp.size < record.seq) {
                    if let Err(p) = push_checkpoint(&mut verifier, &cp) {
                        return Ok(Err(p));
                    }
                    pending = checkpoints.next(self).await?;
                }
                let Ok(event) = to_event(record) else {
                    return Ok(Err(Problem::EventEdited { seq: record.seq }));
                };
                if let Err(p) = verifier.push_event(&event) {
                    return Ok(Err(p));
                }
            }
        }
        while let Some(cp) = pending {
            if let Err(p) = push_checkpoint(&mut verifier, &cp) {
                return Ok(Err(p));
            }
            pending = checkpoints.next(self).await?;
        }
        Ok(verifier.finish())
    }

    /// Writes the whole log, with its checkpoints, as a JSON-lines export
    /// (docs/formats/audit.md section 4). Returns the events and
    /// checkpoints written. The export starts at event 1: that is what lets
    /// it be verified with nothing but the public key.
    pub async fn export_audit_log<W: Write>(
        &self,
        out: W,
        key: &PublicKey,
    ) -> Result<(u64, u64), ServiceError> {
        let summary = self.export_audit_log_from(out, key, 1).await?;
        Ok((summary.events, summary.checkpoints))
    }

    /// Writes the log from event `from` on (at least: from the event after
    /// the last checkpoint before `from`) as a partial export (section 4.5)
    /// that verifies with nothing but the public key: its anchor is that
    /// checkpoint, with the Merkle frontier and the last hash of the events
    /// it covers. Without such a checkpoint, or for `from <= 1`, the export
    /// is the whole log.
    pub async fn export_audit_log_from<W: Write>(
        &self,
        out: W,
        key: &PublicKey,
        from: u64,
    ) -> Result<ExportSummary, ServiceError> {
        self.drain_audit().await?;
        let bad = |e: rempart_audit::ExportError| ServiceError::AuditLog(e.to_string());
        let mut checkpoints = CheckpointPages::default();
        let mut pending = checkpoints.next(self).await?;
        // The last checkpoint of 1 to `from - 1` events anchors the export.
        let mut anchor_cp: Option<Checkpoint> = None;
        while let Some(cp) = pending.take_if(|cp| cp.size < from) {
            if cp.size > 0 {
                anchor_cp = Some(cp);
            }
            pending = checkpoints.next(self).await?;
        }
        let mut writer = match &anchor_cp {
            None => {
                // A full export: the checkpoints skipped above come back.
                checkpoints = CheckpointPages::default();
                pending = checkpoints.next(self).await?;
                ExportWriter::new(out, key.key_id()).map_err(bad)?
            }
            Some(cp) => {
                let anchor = self.audit_anchor(cp).await?;
                ExportWriter::new_partial(out, key.key_id(), &anchor, cp).map_err(bad)?
            }
        };
        let first_seq = anchor_cp.as_ref().map_or(1, |cp| cp.size + 1);
        let mut cps = u64::from(anchor_cp.is_some());
        let mut events = 0u64;
        let mut after = first_seq - 1;
        loop {
            let page = {
                let mut tx = self.store.begin().await?;
                tx.audit_events(after, PAGE).await?
            };
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            for record in &page {
                while let Some(cp) = pending.take_if(|cp| cp.size < record.seq) {
                    writer.checkpoint(&cp).map_err(bad)?;
                    cps += 1;
                    pending = checkpoints.next(self).await?;
                }
                writer.event(&to_event(record)?).map_err(bad)?;
                events += 1;
            }
        }
        if first_seq > 1 && events == 0 {
            return Err(ServiceError::Invalid {
                field: "since",
                message: format!(
                    "the audit log ends at event {}: nothing to export from event {from}",
                    first_seq - 1
                ),
            });
        }
        while let Some(cp) = pending {
            writer.checkpoint(&cp).map_err(bad)?;
            cps += 1;
            pending = checkpoints.next(self).await?;
        }
        writer.finish().map_err(bad)?;
        Ok(ExportSummary {
            first_seq,
            events,
            checkpoints: cps,
        })
    }

    /// The anchor of a partial export after the events `cp` covers, checked
    /// against `cp` (a damaged tree is refused here, not exported).
    async fn audit_anchor(&self, cp: &Checkpoint) -> Result<Anchor, ServiceError> {
        let mut tx = self.store.begin().await?;
        let last = tx
            .audit_event(cp.size)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: format!("audit event {}", cp.size),
            })?;
        let frontier = StoredNodes::compute(tx.as_mut(), cp.size, |src| {
            Frontier::from_source(src, cp.size)
        })
        .await?;
        if frontier.root() != cp.root {
            return Err(ServiceError::AuditLog(format!(
                "the stored Merkle tree of {} events does not match its checkpoint: run rempart audit verify",
                cp.size
            )));
        }
        Ok(Anchor {
            size: cp.size,
            last_hash: last.hash,
            frontier: frontier.peaks().to_vec(),
        })
    }

    /// The first event at or after `time` (offline tools: no authorization,
    /// not audited); `None` if there is none.
    pub async fn audit_seq_at(&self, time: OffsetDateTime) -> Result<Option<u64>, ServiceError> {
        self.drain_audit().await?;
        let query = AuditQuery {
            since: Some(time),
            limit: 1,
            ..AuditQuery::default()
        };
        let mut tx = self.store.begin().await?;
        let found = tx.search_audit(&query, &TenantFilter::All).await?;
        Ok(found.first().map(|r| r.seq))
    }

    /// Searches the log. Needs `audit.search`; a caller scoped to tenants
    /// sees only their events (the scope is in the query). The search is
    /// itself audited.
    pub async fn search_audit(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        mut query: AuditQuery,
    ) -> Result<Vec<AuditRecord>, ServiceError> {
        let now = self.clock().now();
        let Some(scope) = actor.tenant_filter(Permission::AuditSearch, now) else {
            let draft = Draft::new(actor.audit_name(), Action::AuditSearch, Outcome::Denied);
            self.refuse_audit(ctx, draft).await?;
            return Err(ServiceError::Forbidden {
                permission: Permission::AuditSearch,
            });
        };
        query.limit = query.limit.clamp(1, MAX_SEARCH_LIMIT);
        self.drain_audit().await?;
        let mut tx = self.store.begin().await?;
        let found = tx.search_audit(&query, &scope).await?;
        let mut draft = Draft::new(actor.audit_name(), Action::AuditSearch, Outcome::Success);
        if let Some(tenant) = query.tenant {
            draft = draft.tenant(TenantId(tenant));
        }
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        tx.commit().await?;
        Ok(found)
    }

    /// The proof that event `seq` is in the tree a signed checkpoint commits
    /// to: the checkpoint of `size` events, or the latest one. Needs
    /// `audit.proof` over the event's tenant (staff-wide for an event with
    /// no tenant).
    pub async fn audit_inclusion_proof(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        seq: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, ServiceError> {
        self.drain_audit().await?;
        let now = self.clock().now();
        let mut tx = self.store.begin().await?;
        let found = event_and_scope(tx.as_mut(), seq).await?;
        let (event, target, environment) = match event_in_sight(actor, now, found) {
            Ok(seen) => seen,
            Err(why) => {
                drop(tx);
                let unseen = Unseen {
                    action: Action::AuditProof,
                    target: format!("audit-event:{seq}"),
                    answer: no_event(seq),
                };
                return Err(self.unseen(actor, ctx, now, why, unseen).await?);
            }
        };
        let mut draft = Draft::new(actor.audit_name(), Action::AuditProof, Outcome::Success)
            .target(format!("audit-event:{seq}"));
        if let Some(t) = event.tenant {
            draft = draft.tenant(TenantId(t));
        }
        if !actor.may(Permission::AuditProof, &target, environment.as_ref(), now) {
            drop(tx);
            draft.outcome = Outcome::Denied;
            let draft = draft.details(crate::audit_details::Details::reason(
                "permission audit.proof needed",
            ));
            self.refuse_with_details(ctx, now, draft).await?;
            return Err(ServiceError::Forbidden {
                permission: Permission::AuditProof,
            });
        }
        let record = match size {
            Some(size) => {
                tx.audit_checkpoint_of_size(size)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound {
                        what: format!("audit checkpoint of size {size}"),
                    })?
            }
            None => tx
                .last_audit_checkpoint()
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    what: "audit checkpoint".to_owned(),
                })?,
        };
        if record.size < seq {
            return Err(ServiceError::Invalid {
                field: "checkpoint",
                message: format!(
                    "the checkpoint covers events 1 to {}, not event {seq}; ask again after the next checkpoint",
                    record.size
                ),
            });
        }
        let checkpoint = to_checkpoint(&record)?;
        let index = seq - 1;
        let path = StoredNodes::compute(tx.as_mut(), record.size, |src| {
            inclusion_proof(src, index, record.size)
        })
        .await?;
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        tx.commit().await?;
        Ok(InclusionProof {
            leaf_hash: leaf_hash(&event.hash),
            event,
            leaf_index: index,
            checkpoint,
            path,
        })
    }

    /// The proof that the checkpoint of `old` events is a prefix of the one
    /// of `new` events. Needs `audit.proof` in any scope (it reveals only
    /// hashes of subtrees).
    pub async fn audit_consistency_proof(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        old: u64,
        new: u64,
    ) -> Result<ConsistencyProof, ServiceError> {
        self.drain_audit().await?;
        let now = self.clock().now();
        let draft = Draft::new(actor.audit_name(), Action::AuditProof, Outcome::Success)
            .target(format!("audit-consistency:{old}-{new}"));
        if actor.tenant_filter(Permission::AuditProof, now).is_none() {
            let mut draft = draft;
            draft.outcome = Outcome::Denied;
            self.refuse_audit(ctx, draft).await?;
            return Err(ServiceError::Forbidden {
                permission: Permission::AuditProof,
            });
        }
        if old > new {
            return Err(ServiceError::Invalid {
                field: "from",
                message: format!("the old size {old} is larger than the new size {new}"),
            });
        }
        let mut tx = self.store.begin().await?;
        let mut checkpoint = async |size: u64| match tx.audit_checkpoint_of_size(size).await? {
            Some(r) => to_checkpoint(&r),
            None => Err(ServiceError::NotFound {
                what: format!("audit checkpoint of size {size}"),
            }),
        };
        let old_cp = checkpoint(old).await?;
        let new_cp = checkpoint(new).await?;
        let path =
            StoredNodes::compute(tx.as_mut(), new, |src| consistency_proof(src, old, new)).await?;
        self.audit.append(tx.as_mut(), ctx, now, draft).await?;
        tx.commit().await?;
        Ok(ConsistencyProof {
            old: old_cp,
            new: new_cp,
            path,
        })
    }

    async fn refuse_audit(&self, ctx: &RequestContext, draft: Draft) -> Result<(), ServiceError> {
        let now = self.clock().now();
        crate::audit_log::record_refusal(self.store.as_ref(), &self.audit, ctx, now, draft).await
    }
}

fn push_checkpoint(verifier: &mut Verifier, cp: &Checkpoint) -> Result<(), Problem> {
    verifier.push_checkpoint(cp)
}

/// Checkpoints in order, a page at a time.
#[derive(Default)]
struct CheckpointPages {
    after: u64,
    buffered: std::collections::VecDeque<Checkpoint>,
    done: bool,
}

impl CheckpointPages {
    async fn next(&mut self, core: &Rempart) -> Result<Option<Checkpoint>, ServiceError> {
        if self.buffered.is_empty() && !self.done {
            let page = {
                let mut tx = core.store.begin().await?;
                tx.audit_checkpoints(self.after, PAGE).await?
            };
            match page.last() {
                Some(last) => self.after = last.number,
                None => self.done = true,
            }
            for record in &page {
                match to_checkpoint(record) {
                    Ok(cp) => self.buffered.push_back(cp),
                    // A row that cannot be a checkpoint: hand the verifier
                    // one whose signature cannot verify, so it says forged.
                    Err(_) => self.buffered.push_back(Checkpoint {
                        key_id: rempart_audit::KeyId(record.key_id),
                        size: record.size,
                        root: record.root,
                        time: record.time,
                        prev_hash: record.prev_hash,
                        signature: [0; rempart_audit::SIGNATURE_LEN],
                    }),
                }
            }
        }
        Ok(self.buffered.pop_front())
    }
}

/// An audit event, and the scope it lives in.
pub(crate) type ScopedEvent = (AuditRecord, Scope, Option<rempart_model::Environment>);

/// An audit event and the scope a caller needs to see it: its tenant (with
/// the tenant's environment), or staff-wide for an event with no tenant.
/// `None` for an unknown `seq`.
pub(crate) async fn event_and_scope(
    tx: &mut dyn rempart_store::Tx,
    seq: u64,
) -> Result<Option<ScopedEvent>, ServiceError> {
    let Some(event) = tx.audit_event(seq).await? else {
        return Ok(None);
    };
    let (target, environment) = match event.tenant {
        Some(t) => {
            let env = tx.tenant(TenantId(t)).await?.map(|t| t.environment);
            (Scope::Tenant(TenantId(t)), env)
        }
        None => (Scope::Global, None),
    };
    Ok(Some((event, target, environment)))
}

/// The event `found`, if `actor` sees it (`audit.search` or `audit.proof`
/// over its scope); otherwise why not. An event out of sight is answered
/// like one that does not exist ([`no_event`]).
pub(crate) fn event_in_sight(
    actor: &Actor,
    now: OffsetDateTime,
    found: Option<ScopedEvent>,
) -> Result<ScopedEvent, Why> {
    match found {
        None => Err(Why::Absent),
        Some((event, scope, env))
            if Sight::AuditEvent.seen_by(actor, &scope, env.as_ref(), now) =>
        {
            Ok((event, scope, env))
        }
        Some((event, _, _)) => Err(Why::OutOfScope(event.tenant.map(TenantId))),
    }
}

/// The answer to an event that is not there, or not in sight.
pub(crate) fn no_event(seq: u64) -> ServiceError {
    ServiceError::NotFound {
        what: format!("audit event {seq}"),
    }
}
