//! The audit log's own services: checkpoints by time, verification of the
//! live database, export, search and proofs (control ML-7).
//!
//! Search, proofs and reads of sealed details are audited reads through the
//! gate (`Kernel::audited_read`): authorized like any other action, the
//! event they look at read in the gate's transaction, and the read itself
//! recorded; a tenant-scoped caller reaches only its tenant's events, and
//! the scope is part of the query (invariant 2). They chain the pending
//! events before the gate opens (the sequencer takes a write transaction of
//! its own). Verification and export are offline tools (the CLI records
//! them, `audit.verify` and `audit.export`): they read the log in pages,
//! each in a short read transaction (`Kernel::read`): events and
//! checkpoints are never rewritten once committed, so a page read later is
//! still the same log.
//!
//! Verification of the database only reads: it leaves pending events
//! pending (it reports them) and writes no event of its own, so verifying
//! changes nothing. Export makes sure a signed checkpoint covers the last
//! event it writes when a signer is at hand, and carries every rotation of
//! the signing key (each new key certified by the one before it).

mod details;
pub mod ship;
pub mod signing_key;

use std::io::Write;
use std::sync::Arc;

use rempart_audit::merkle::leaf_hash;
use rempart_audit::{
    Anchor, Checkpoint, ExportWriter, Frontier, Hash, KeyCertificate, KeyId, Problem, PublicKey,
    Report, SIGNATURE_LEN, Signer, Verifier, consistency_proof, inclusion_proof,
};
use rempart_model::{Action, Outcome, Permission, Scope, TenantId};
use rempart_store::{AuditQuery, AuditRecord, ReadTx, TenantFilter};
use time::OffsetDateTime;

use crate::kernel::actor::Actor;
use crate::kernel::audit_chain::{AuditChain, StoredNodes, to_checkpoint, to_event};
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Clearance};
use crate::kernel::target::Target;
use crate::kernel::visibility::{Sight, Why};
use crate::kernel::{Gate, Open};
use crate::service::Rempart;

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Its first event (1 for a full export).
    pub first_seq: u64,
    /// Event lines written.
    pub events: u64,
    /// Checkpoint lines written (the anchor's included).
    pub checkpoints: u64,
    /// The last event written (the export's end).
    pub last_seq: u64,
    /// Events written after the last checkpoint: 0 when a signed
    /// checkpoint covers the last event.
    pub unsigned_tail: u64,
    /// Whether the export signed a checkpoint to cover its last event.
    pub signed_checkpoint: bool,
}

/// Pending events counted at most (verification reports "at least").
const PENDING_COUNT_LIMIT: u32 = 100_000;

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
        self.kernel.audit = Arc::new(chain);
        self
    }

    /// The key that verifies checkpoints, if a signer is configured (while
    /// the keyring is sealed: the key recorded in the database, if given).
    pub fn audit_public_key(&self) -> Option<PublicKey> {
        self.kernel.audit_chain().public_key()
    }

    /// Chains every pending event (see [`crate::kernel::audit_chain`]): readers of the
    /// chain call it first, so that a caller sees its own events. Returns
    /// how many were chained.
    pub async fn drain_audit(&self) -> Result<u64, ServiceError> {
        self.kernel.drain_audit().await
    }

    /// The background sequencer of `rempart serve`: chains pending events
    /// soon after they are appended (woken by appends, which it lets gather
    /// into one batch) and on a tick (events of other processes). Runs
    /// until dropped or aborted; errors are logged and retried.
    pub async fn run_audit_sequencer(&self) {
        loop {
            self.kernel.audit_chain().wait_for_appends().await;
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
        self.kernel.sign_checkpoint_if_due(force).await
    }

    /// Records an offline operation on the audit log (verify, export) as
    /// the system, in its own transaction.
    pub async fn record_offline(
        &self,
        action: Action,
        outcome: Outcome,
    ) -> Result<(), ServiceError> {
        let gate = self.kernel.write(Call::system(action)).await?;
        // Run on the host, with the database's own credentials.
        gate.clear(Clearance::Internal).commit_as(outcome).await
    }

    /// Verifies the whole chained log in the database against `key` (the
    /// first signing key; later ones through their certificates): every
    /// event hashed and chained, every checkpoint signed, chained and
    /// matching the Merkle root. The inner result is the first problem
    /// found. Read-only: pending events stay pending
    /// ([`Rempart::pending_audit_events`] counts them).
    pub async fn verify_audit_log(
        &self,
        key: &PublicKey,
    ) -> Result<Result<Report, Problem>, ServiceError> {
        self.verify_audit_log_with(Verifier::new(*key)).await
    }

    /// [`Rempart::verify_audit_log`] with a prepared verifier (strict, or
    /// trusting a checkpoint seen before). Reads only.
    pub async fn verify_audit_log_with(
        &self,
        mut verifier: Verifier,
    ) -> Result<Result<Report, Problem>, ServiceError> {
        if let Some(first) = verifier.key().copied() {
            for cert in self.audit_key_certificates_after(first.key_id()).await? {
                if let Err(p) = verifier.push_key(&cert) {
                    return Ok(Err(p));
                }
            }
        }
        let mut checkpoints = CheckpointPages::default();
        let mut pending = checkpoints.next(self).await?;
        let mut after = 0u64;
        loop {
            let page = {
                let mut tx = self.kernel.read().await?;
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
        let head = {
            let mut tx = self.kernel.read().await?;
            tx.audit_head().await?.seq
        };
        if from > 1 && from > head {
            return Err(ServiceError::Invalid {
                field: "since",
                message: format!(
                    "the audit log ends at event {head}: nothing to export from event {from}"
                ),
            });
        }
        // A signed checkpoint covers the last event exported, when a signer
        // is at hand (otherwise the summary says how many are unsigned).
        let signed_checkpoint = self.checkpoint_audit_if_due(true).await?.is_some();
        let certificates = self.audit_key_certificates().await?;
        let first_key = certificates
            .first()
            .map_or(key.key_id(), |c| c.certified_by);
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
                ExportWriter::start(out, first_key, &certificates, None).map_err(bad)?
            }
            Some(cp) => {
                let anchor = self.audit_anchor(cp).await?;
                ExportWriter::start(out, first_key, &certificates, Some((&anchor, cp)))
                    .map_err(bad)?
            }
        };
        let mut checkpointed = anchor_cp.as_ref().map_or(0, |cp| cp.size);
        let first_seq = anchor_cp.as_ref().map_or(1, |cp| cp.size + 1);
        let mut cps = u64::from(anchor_cp.is_some());
        let mut events = 0u64;
        let mut after = first_seq - 1;
        let mut last_seq = after;
        loop {
            let page = {
                let mut tx = self.kernel.read().await?;
                tx.audit_events(after, PAGE).await?
            };
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            for record in &page {
                while let Some(cp) = pending.take_if(|cp| cp.size < record.seq) {
                    writer.checkpoint(&cp).map_err(bad)?;
                    checkpointed = cp.size;
                    cps += 1;
                    pending = checkpoints.next(self).await?;
                }
                writer.event(&to_event(record)?).map_err(bad)?;
                last_seq = record.seq;
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
            // Checkpoints signed after the events read (by another replica
            // meanwhile) cover events not in this export: they stop it.
            if cp.size > last_seq {
                break;
            }
            writer.checkpoint(&cp).map_err(bad)?;
            checkpointed = cp.size;
            cps += 1;
            pending = checkpoints.next(self).await?;
        }
        writer.finish().map_err(bad)?;
        Ok(ExportSummary {
            first_seq,
            events,
            checkpoints: cps,
            last_seq,
            unsigned_tail: last_seq.saturating_sub(checkpointed),
            signed_checkpoint,
        })
    }

    /// Closes the store without chaining pending events (what
    /// [`Rempart::close`] does): for commands that only read.
    pub async fn close_read_only(&self) {
        self.kernel.close(false).await;
    }

    /// Events recorded but not chained yet (left by a stopped server, or
    /// waiting for the sequencer), counted up to 100,000. Reads only.
    pub async fn pending_audit_events(&self) -> Result<u64, ServiceError> {
        let mut tx = self.kernel.read().await?;
        let pending = tx.audit_pending(PENDING_COUNT_LIMIT).await?;
        Ok(u64::try_from(pending.len()).unwrap_or(u64::MAX))
    }

    /// Chains the pending events now (what `rempart serve` does at start),
    /// and records that it did (`audit.seal_pending`, by the system, itself
    /// chained). Returns how many events were pending.
    pub async fn seal_pending_audit(&self) -> Result<u64, ServiceError> {
        let chained = self.drain_audit().await?;
        let call = Call::system(Action::AuditSealPending).on(Target::AuditPending(chained));
        let gate = self.kernel.write(call).await?;
        gate.clear(Clearance::Internal).commit().await?;
        self.drain_audit().await?;
        Ok(chained)
    }

    /// Records a rotation of the audit signing key: `predecessor` (the key
    /// signing checkpoints until now) certifies `successor`, and both
    /// public keys are recorded, with a `keys.rotate` event in the same
    /// transaction. Checkpoints signed by `successor` afterwards verify for
    /// anyone holding the first key: exports carry the certificate.
    pub async fn certify_audit_key(
        &self,
        predecessor: &(dyn Signer + Send + Sync),
        successor: PublicKey,
    ) -> Result<(), ServiceError> {
        let cert = KeyCertificate::create(predecessor, successor)
            .map_err(|e| ServiceError::AuditLog(e.to_string()))?;
        let call = Call::system(Action::KeysRotate)
            .on(Target::AuditSigningKey(successor.key_id().to_string()));
        // The predecessor's signature over the successor is the proof.
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Internal);
        let now = gate.now();
        let tx = gate.tx();
        tx.record_audit_key(&crate::kernel::signing_key::key_record(
            &predecessor.public_key(),
            now,
        ))
        .await?;
        tx.record_audit_key(&crate::kernel::signing_key::key_record(&successor, now))
            .await?;
        tx.record_audit_key_certificate(&rempart_store::AuditKeyCertificateRecord {
            key_id: successor.key_id().0,
            public_key: *successor.as_bytes(),
            certified_by: cert.certified_by.0,
            certificate: cert.signature.to_vec(),
            recorded_at: now,
        })
        .await?;
        gate.commit().await
    }

    /// The rotations of the signing key, oldest first, as certificates.
    async fn audit_key_certificates(&self) -> Result<Vec<KeyCertificate>, ServiceError> {
        let mut tx = self.kernel.read().await?;
        let rows = tx.audit_key_certificates().await?;
        rows.into_iter()
            .map(|r| {
                let signature: [u8; SIGNATURE_LEN] =
                    r.certificate.as_slice().try_into().map_err(|_| {
                        ServiceError::AuditLog(format!(
                            "the certificate of audit key {} is not {SIGNATURE_LEN} bytes",
                            KeyId(r.key_id)
                        ))
                    })?;
                Ok(KeyCertificate {
                    key: PublicKey::from_bytes(r.public_key),
                    certified_by: KeyId(r.certified_by),
                    signature,
                })
            })
            .collect()
    }

    /// The certificates that follow `key` in the chain of rotations (none
    /// when `key` certified nothing).
    async fn audit_key_certificates_after(
        &self,
        key: KeyId,
    ) -> Result<Vec<KeyCertificate>, ServiceError> {
        let all = self.audit_key_certificates().await?;
        let start = all.iter().position(|c| c.certified_by == key);
        Ok(start.map_or_else(Vec::new, |i| all.into_iter().skip(i).collect()))
    }

    /// The first audit signing key: the one the first rotation certified
    /// from, or the only one recorded. What verification starts from.
    pub async fn first_audit_public_key(&self) -> Result<Option<PublicKey>, ServiceError> {
        let Some(first) = self.audit_key_certificates().await?.into_iter().next() else {
            return self.recorded_audit_public_key().await;
        };
        let mut tx = self.kernel.read().await?;
        let found = tx.audit_key(first.certified_by.0).await?;
        Ok(found.map(|r| PublicKey::from_bytes(r.public_key)))
    }

    /// The anchor of a partial export after the events `cp` covers, checked
    /// against `cp` (a damaged tree is refused here, not exported).
    async fn audit_anchor(&self, cp: &Checkpoint) -> Result<Anchor, ServiceError> {
        let mut tx = self.kernel.read().await?;
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
        let mut tx = self.kernel.read().await?;
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
        // Chained first (never while a gate is open), so that the caller
        // finds its own events.
        self.drain_audit().await?;
        let gate = self
            .kernel
            .audited_read(Call::by(actor, ctx, Action::AuditSearch))
            .await?;
        let Some(scope) = actor.tenant_filter(Permission::AuditSearch, gate.now()) else {
            let answer = ServiceError::Forbidden {
                permission: Permission::AuditSearch,
            };
            return Err(gate.refuse("permission audit.search needed", answer).await);
        };
        // The caller's grants are the query's filter.
        let mut gate = gate.clear(Clearance::Scoped);
        query.limit = query.limit.clamp(1, MAX_SEARCH_LIMIT);
        let found = gate.read().search_audit(&query, &scope).await?;
        gate.in_tenant(query.tenant.map(TenantId));
        gate.commit().await?;
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
        let call = Call::by(actor, ctx, Action::AuditProof).on(Target::AuditEvent(seq));
        let gate = self.kernel.audited_read(call).await?;
        let (gate, (event, scope, environment)) = event_in_sight(gate, seq).await?;
        let mut gate = gate
            .authorize(Permission::AuditProof, &scope, environment.as_ref())
            .await?;
        let tx = gate.read();
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
        let path = StoredNodes::compute(tx, record.size, |src| {
            inclusion_proof(src, index, record.size)
        })
        .await?;
        gate.commit().await?;
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
        let call =
            Call::by(actor, ctx, Action::AuditProof).on(Target::AuditConsistency { old, new });
        let gate = self.kernel.audited_read(call).await?;
        if actor
            .tenant_filter(Permission::AuditProof, gate.now())
            .is_none()
        {
            let answer = ServiceError::Forbidden {
                permission: Permission::AuditProof,
            };
            return Err(gate.refuse("permission audit.proof needed", answer).await);
        }
        // `audit.proof` in any scope: the answer holds hashes only, no
        // event of any tenant.
        let mut gate = gate.clear(Clearance::Scoped);
        if old > new {
            return Err(ServiceError::Invalid {
                field: "from",
                message: format!("the old size {old} is larger than the new size {new}"),
            });
        }
        let tx = gate.read();
        let old_cp = checkpoint_of_size(tx, old).await?;
        let new_cp = checkpoint_of_size(tx, new).await?;
        let path = StoredNodes::compute(tx, new, |src| consistency_proof(src, old, new)).await?;
        gate.commit().await?;
        Ok(ConsistencyProof {
            old: old_cp,
            new: new_cp,
            path,
        })
    }
}

/// The signed checkpoint of `size` events.
async fn checkpoint_of_size(tx: &mut dyn ReadTx, size: u64) -> Result<Checkpoint, ServiceError> {
    match tx.audit_checkpoint_of_size(size).await? {
        Some(r) => to_checkpoint(&r),
        None => Err(ServiceError::NotFound {
            what: format!("audit checkpoint of size {size}"),
        }),
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
                let mut tx = core.kernel.read().await?;
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
                        key_id: KeyId(record.key_id),
                        size: record.size,
                        root: record.root,
                        time: record.time,
                        prev_hash: record.prev_hash,
                        signature: [0; SIGNATURE_LEN],
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
    tx: &mut dyn ReadTx,
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

/// The event `seq`, read within the gate, if its caller sees it
/// (`audit.search` or `audit.proof` over its scope); the gate then names
/// the event's tenant. An event out of sight is refused like one that does
/// not exist ([`no_event`]), and the attempt recorded.
pub(crate) async fn event_in_sight<M>(
    mut gate: Gate<'_, M, Open>,
    seq: u64,
) -> Result<(Gate<'_, M, Open>, ScopedEvent), ServiceError> {
    let now = gate.now();
    let actor = gate.caller().actor();
    let why = match event_and_scope(gate.read(), seq).await? {
        None => Why::Absent,
        Some((event, scope, env))
            if actor.is_some_and(|actor| {
                Sight::AuditEvent.seen_by(actor, &scope, env.as_ref(), now)
            }) =>
        {
            gate.in_tenant(event.tenant.map(TenantId));
            return Ok((gate, (event, scope, env)));
        }
        Some((event, _, _)) => Why::OutOfScope(event.tenant.map(TenantId)),
    };
    Err(gate.unseen(why, no_event(seq)).await)
}

/// The answer to an event that is not there, or not in sight.
pub(crate) fn no_event(seq: u64) -> ServiceError {
    ServiceError::NotFound {
        what: format!("audit event {seq}"),
    }
}
