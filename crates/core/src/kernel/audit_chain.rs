//! The audit log's appender and its sequencer (group commit), with the
//! `rempart-audit` encoding (docs/formats/audit.md).
//!
//! Invariant 1 (an action and its record commit together or not at all) is
//! kept by [`AuditChain::append`]: it inserts one row into `audit_pending`
//! inside the caller's transaction, and nothing else. It does not lock the
//! head of the chain, so concurrent writers commit together (one fsync for
//! many on PostgreSQL) instead of one after the other.
//!
//! The sequencer ([`AuditChain::sequence`], run by [`Kernel::drain_audit`]
//! and by the background task of `rempart serve`) moves
//! pending events into the chain in batches, each in one transaction: lock
//! the head (`BEGIN IMMEDIATE` on SQLite, `SELECT … FOR UPDATE` on
//! PostgreSQL), take up to `batch_size` pending rows in insertion order
//! (one `DELETE … RETURNING`), seal each with [`ChainHead::seal`] (which
//! alone assigns `seq`, `prev_hash` and `hash`), store the events
//! (multi-row inserts) and the Merkle nodes they complete above the leaves
//! ([`Frontier::push_with`]; a leaf is derived from its event's hash when
//! read, see [`StoredNodes`]), sign a checkpoint whenever
//! `checkpoint_every_events` events follow the last one, move the head,
//! commit: one commit (one fsync) for the whole batch. Any replica may run
//! it: the head lock lets one batch in at a time, and a pending row is
//! deleted in the transaction that chains it, so replicas never fork the
//! chain or the checkpoints and never chain an event twice. The order of
//! the log is the order in which the sequencer took the pending rows; a
//! checkpoint signed in a batch carries the time of the batch.
//!
//! Readers that need the chain (search, verification, export, proofs,
//! details, shipping, checkpoints) drain the pending events first, so that a
//! caller sees its own events; `rempart serve` also drains in the
//! background (woken after appends, and on a tick) and on shutdown, and
//! [`crate::Rempart::close`] drains, so that a CLI command leaves its events
//! chained. Between its commit and its batch an event is durable but not
//! yet chained: that window is what the group commit costs.
//!
//! `details` are stored only sealed (an AES-256-GCM envelope from the
//! keyring, see [`crate::kernel::details`]): plaintext details given to a
//! draft are encrypted here, before the pending row is written, bound to the
//! event's random `id` (known now, unlike its `seq`), which the chained
//! event carries and its hash covers (encoding version 2). Without a key (a
//! sealed keyring) the event is stored without its details rather than
//! refused. A refusal is recorded in a transaction of its own: the refused
//! change never began.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use rempart_audit::merkle::{MerkleError, leaf_hash};
use rempart_audit::{
    ChainHead, Checkpoint, Event, EventBody, Frontier, Hash, KeyId, NodeSource, SIGNATURE_LEN,
    Signer,
};
use rempart_model::{Action, Outcome, TenantId};
use rempart_store::{AuditRecord, CheckpointRecord, PendingAuditRecord, ReadTx, Store, Tx};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::kernel::Kernel;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;

/// An event before the chain seals it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub actor: String,
    pub action: Action,
    pub target: Option<String>,
    pub tenant: Option<TenantId>,
    pub outcome: Outcome,
    /// Already-sealed details (the keyring's envelope), hashed as given.
    pub details: Option<Vec<u8>>,
    /// Details to seal at append (bound to the event's `id`); never stored
    /// as they are.
    pub plain_details: Option<crate::kernel::details::Details>,
}

impl Draft {
    pub fn new(actor: impl Into<String>, action: Action, outcome: Outcome) -> Self {
        Self {
            actor: actor.into(),
            action,
            target: None,
            tenant: None,
            outcome,
            details: None,
            plain_details: None,
        }
    }

    /// Attaches details (a small JSON object, possibly personal data): they
    /// are encrypted at append under the tenant's `audit-details` data key,
    /// bound to the event, and only the ciphertext is stored.
    #[must_use]
    pub fn details(mut self, details: crate::kernel::details::Details) -> Self {
        self.plain_details = Some(details);
        self
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

    /// The event's tenant, when the target has one.
    #[must_use]
    pub fn in_tenant(mut self, tenant: Option<TenantId>) -> Self {
        self.tenant = tenant;
        self
    }

    /// Attaches details that the caller has already encrypted with the
    /// keyring (bound to the audit log and the tenant). Never plaintext.
    #[must_use]
    pub fn sealed_details(mut self, envelope: Vec<u8>) -> Self {
        self.details = Some(envelope);
        self
    }
}

/// Merkle nodes per insert statement: few distinct statement texts, so
/// that the engines' prepared-statement caches keep them.
const NODE_CHUNK: usize = 32;

/// Pending events sealed per sequencer transaction by default.
pub const DEFAULT_BATCH_SIZE: u32 = 512;

/// The audit signing key, as the service layer holds it.
pub type SharedSigner = Arc<dyn Signer + Send + Sync>;

/// Where checkpoint signatures come from.
enum SignerSource {
    /// A fixed signer (tests, tools), or none: no checkpoints.
    Fixed(Option<SharedSigner>),
    /// The keyring's audit signing key, usable only while it is open.
    Keyring(Arc<crate::kernel::keyring::KeyVault>),
}

/// The audit log's settings and the appender's cache.
pub struct AuditChain {
    signer: SignerSource,
    /// The verifying key as last recorded, for while the keyring is sealed.
    known_public_key: Option<rempart_audit::PublicKey>,
    /// Sign a checkpoint once this many events follow the last one.
    pub checkpoint_every_events: u64,
    /// Sign a checkpoint once the last one is this old and events follow it.
    pub checkpoint_every: Duration,
    /// Pending events sealed per sequencer transaction.
    pub batch_size: u32,
    /// How long the background sequencer lets appends gather after being
    /// woken, so that one transaction (one fsync) chains many events.
    pub gather: std::time::Duration,
    /// How often the background sequencer looks for pending events when no
    /// append woke it (appends committed by other replicas or processes).
    pub tick: std::time::Duration,
    /// The Merkle frontier at a head `(seq, hash)`, and the size of the last
    /// checkpoint seen: hints, checked against the locked head.
    cache: Mutex<Cache>,
    /// Wakes the background sequencer after an append.
    wake: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Cache {
    frontier: Option<(Hash, Frontier)>,
    last_checkpoint_size: Option<u64>,
}

impl std::fmt::Debug for AuditChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditChain")
            .field(
                "signer",
                &match &self.signer {
                    SignerSource::Fixed(s) => s.as_ref().map(|s| s.public_key().key_id()),
                    SignerSource::Keyring(_) => None,
                },
            )
            .field("checkpoint_every_events", &self.checkpoint_every_events)
            .field("checkpoint_every", &self.checkpoint_every)
            .finish_non_exhaustive()
    }
}

impl Default for AuditChain {
    fn default() -> Self {
        Self::new(None, 1000, Duration::minutes(1))
    }
}

impl AuditChain {
    /// Checkpoints are signed only with a signer; without one the chain and
    /// the Merkle nodes are still kept.
    pub fn new(
        signer: Option<SharedSigner>,
        checkpoint_every_events: u64,
        checkpoint_every: Duration,
    ) -> Self {
        Self {
            signer: SignerSource::Fixed(signer),
            known_public_key: None,
            checkpoint_every_events: checkpoint_every_events.max(1),
            checkpoint_every,
            batch_size: DEFAULT_BATCH_SIZE,
            gather: std::time::Duration::from_millis(100),
            tick: std::time::Duration::from_millis(250),
            cache: Mutex::new(Cache::default()),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// Checkpoints signed with the keyring's audit signing key: while the
    /// keyring is sealed, events are appended and chained and checkpoints
    /// wait; the first one due after unsealing covers them all.
    pub fn with_keyring(
        vault: Arc<crate::kernel::keyring::KeyVault>,
        checkpoint_every_events: u64,
        checkpoint_every: Duration,
    ) -> Self {
        let mut chain = Self::new(None, checkpoint_every_events, checkpoint_every);
        chain.signer = SignerSource::Keyring(vault);
        chain
    }

    /// The signer usable now: `None` without one, or while the keyring is
    /// sealed.
    pub fn signer(&self) -> Option<SharedSigner> {
        match &self.signer {
            SignerSource::Fixed(s) => s.clone(),
            SignerSource::Keyring(vault) => crate::kernel::signing_key::KeyringSigner::open(vault)
                .map(|s| Arc::new(s) as SharedSigner),
        }
    }

    /// The verifying key to report while the keyring is sealed (the one
    /// recorded in the database): shipping and `audit_public_key` need it
    /// before unsealing.
    #[must_use]
    pub fn with_known_public_key(mut self, key: Option<rempart_audit::PublicKey>) -> Self {
        self.known_public_key = key;
        self
    }

    /// The verifying key: the signer's, or the known one while sealed.
    pub fn public_key(&self) -> Option<rempart_audit::PublicKey> {
        self.signer()
            .map(|s| s.public_key())
            .or(self.known_public_key)
    }

    fn has_signer(&self) -> bool {
        !matches!(self.signer, SignerSource::Fixed(None))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `draft` within `tx` as a pending event (invariant 1: it
    /// commits with the caller's change or not at all); the sequencer
    /// chains it later. Plain details are dropped (no key to seal them):
    /// use [`crate::Rempart`]'s appender to keep them. Returns the event's
    /// id.
    pub async fn append(
        &self,
        tx: &mut dyn Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        draft: Draft,
    ) -> Result<Uuid, ServiceError> {
        self.append_sealing(tx, ctx, now, draft, None).await
    }

    /// [`AuditChain::append`], sealing the draft's plain details with
    /// `details_key`, bound to the event's random `id` and action. If they
    /// cannot be sealed the event is stored without them (never in clear).
    pub async fn append_sealing(
        &self,
        tx: &mut dyn Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        mut draft: Draft,
        details_key: Option<&rempart_crypto::DataKey>,
    ) -> Result<Uuid, ServiceError> {
        let id = Uuid::new_v4();
        if let Some(plain) = draft.plain_details.take() {
            if let Some(key) = details_key {
                match plain.seal(key, id, draft.action.as_str()) {
                    Ok(envelope) => {
                        draft.details = Some(envelope);
                        tx.set_data_key_encryptions(key.id().as_bytes(), key.usage().encryptions)
                            .await?;
                    }
                    Err(e) => tracing::warn!(
                        %id,
                        error = %e,
                        "audit details not sealed; the event is stored without them"
                    ),
                }
            } else {
                tracing::debug!(
                    %id,
                    "no key to seal the audit details (keyring sealed); the event is stored without them"
                );
            }
        }
        tx.insert_audit_pending(&PendingAuditRecord {
            order: 0,
            id,
            time: now,
            actor: draft.actor,
            action: draft.action.as_str().to_owned(),
            target: draft.target,
            tenant: draft.tenant.map(|t| t.0),
            outcome: to_audit_outcome(draft.outcome).as_str().to_owned(),
            request_id: ctx.request_id.clone(),
            source: ctx.source.map(|ip| ip.to_string()),
            details: draft.details,
        })
        .await?;
        // Before the commit: the sequencer gathers a while before it looks,
        // and its tick catches an event committed after it looked.
        self.wake.notify_one();
        Ok(id)
    }

    /// Waits until an append wakes the sequencer (then lets appends gather
    /// for `gather`), or for `tick`.
    pub async fn wait_for_appends(&self) {
        let woken = tokio::time::timeout(self.tick, self.wake.notified())
            .await
            .is_ok();
        if woken {
            crate::kernel::clock::pause(self.gather).await;
        }
    }

    /// Chains every pending event, in batches of `batch_size`, each in one
    /// transaction. Returns how many were chained.
    pub async fn drain(&self, store: &dyn Store, now: OffsetDateTime) -> Result<u64, ServiceError> {
        let mut total = 0u64;
        loop {
            let n = self.sequence(store, now, self.batch_size).await?;
            total += n;
            if n < u64::from(self.batch_size.max(1)) {
                return Ok(total);
            }
        }
    }

    /// Chains up to `limit` pending events in one transaction (see the
    /// module's documentation); returns how many.
    pub async fn sequence(
        &self,
        store: &dyn Store,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, ServiceError> {
        let mut tx = store.begin().await?;
        let head = tx.lock_audit_head().await?;
        // Read and deleted in one statement: exactly the rows chained here
        // leave `audit_pending`, in this transaction.
        let pending = tx.take_audit_pending(limit.max(1)).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let cached = {
            let cache = self.cache();
            cache
                .frontier
                .as_ref()
                .filter(|(hash, f)| f.size() == head.seq && *hash == head.hash)
                .map(|(_, f)| f.clone())
        };
        let mut frontier = match cached {
            Some(f) => f,
            None => load_frontier(tx.as_mut(), head.seq).await?,
        };
        let mut chain = ChainHead {
            seq: head.seq,
            hash: head.hash,
        };
        let mut records = Vec::with_capacity(pending.len());
        let mut nodes: Vec<(u32, u64, Hash)> = Vec::with_capacity(pending.len() + 64);
        // The last checkpoint, read once a batch when one may be due.
        let mut last_checkpoint: Option<Option<CheckpointRecord>> = None;
        let signer = if self.has_signer() {
            self.signer()
        } else {
            None
        };
        for row in pending {
            let event = chain
                .seal(body_of(row)?)
                .map_err(|e| ServiceError::AuditLog(e.to_string()))?;
            // Level 0 (the leaf hash) is derived from the event's own hash
            // when read (see `StoredNodes`): not stored a second time.
            frontier.push_with(&event.hash, |level, index, hash| {
                if level > 0 {
                    nodes.push((level, index, *hash));
                }
            });
            let last_size = match &last_checkpoint {
                Some(last) => Some(last.as_ref().map_or(0, |c| c.size)),
                None => self.cache().last_checkpoint_size,
            };
            // The cache holds committed checkpoints only, so it is never
            // ahead of this event; were it ever, the stored checkpoint
            // decides.
            let due_hint = last_size.is_none_or(|s| {
                event
                    .seq
                    .checked_sub(s)
                    .is_none_or(|since| since >= self.checkpoint_every_events)
            });
            if due_hint && self.has_signer() {
                let last = match last_checkpoint.take() {
                    Some(last) => last,
                    None => tx.last_audit_checkpoint().await?,
                };
                let last_size = last.as_ref().map_or(0, |c| c.size);
                let mut now_last = last;
                if event.seq - last_size >= self.checkpoint_every_events {
                    if let Some(signer) = &signer {
                        if let Some(cp) = self
                            .sign_checkpoint(
                                tx.as_mut(),
                                signer.as_ref(),
                                &frontier,
                                now,
                                now_last.as_ref(),
                            )
                            .await?
                        {
                            now_last = Some(cp);
                        }
                    } else {
                        tracing::debug!(
                            unsigned = event.seq - last_size,
                            "audit checkpoint due but the keyring is sealed; it waits for unsealing"
                        );
                    }
                }
                last_checkpoint = Some(now_last);
            }
            records.push(to_record(&event));
        }
        tx.append_audit_batch(&records).await?;
        for chunk in nodes.chunks(NODE_CHUNK) {
            tx.insert_audit_nodes(chunk).await?;
        }
        tx.commit().await?;
        // Cached only once committed: a batch that rolls back leaves the
        // cache as the database is.
        if let Some(last) = &last_checkpoint {
            self.note_checkpoint(last.as_ref().map_or(0, |c| c.size));
        }
        self.cache().frontier = Some((chain.hash, frontier));
        Ok(u64::try_from(records.len()).unwrap_or(u64::MAX))
    }

    /// Remembers the size of the last committed checkpoint (a hint: the
    /// sequencer reads the stored one before it signs).
    fn note_checkpoint(&self, size: u64) {
        let mut cache = self.cache();
        if cache.last_checkpoint_size.is_none_or(|known| known < size) {
            cache.last_checkpoint_size = Some(size);
        }
    }

    /// Signs a checkpoint of the whole log if the last one is older than
    /// `checkpoint_every` and events follow it. The head lock makes one
    /// replica do it. Returns the new checkpoint's size.
    pub async fn checkpoint_if_due(
        &self,
        tx: &mut dyn Tx,
        now: OffsetDateTime,
        force: bool,
    ) -> Result<Option<u64>, ServiceError> {
        if !self.has_signer() {
            return Ok(None);
        }
        let head = tx.lock_audit_head().await?;
        let last = tx.last_audit_checkpoint().await?;
        let last_size = last.as_ref().map_or(0, |c| c.size);
        let old_enough = last
            .as_ref()
            .is_none_or(|c| now - c.time >= self.checkpoint_every);
        if head.seq == last_size || !(old_enough || force) {
            return Ok(None);
        }
        let Some(signer) = self.signer() else {
            tracing::debug!(
                unsigned = head.seq - last_size,
                "audit checkpoint due but the keyring is sealed; it waits for unsealing"
            );
            return Ok(None);
        };
        let frontier = load_frontier(tx, head.seq).await?;
        let done = self
            .sign_checkpoint(tx, signer.as_ref(), &frontier, now, last.as_ref())
            .await?;
        Ok(done.map(|_| head.seq))
    }

    /// Signs and stores a checkpoint of `frontier`, and returns it; `None`
    /// if the signer could not sign (the events stay chained, the next
    /// checkpoint covers them).
    async fn sign_checkpoint(
        &self,
        tx: &mut dyn Tx,
        signer: &(dyn Signer + Send + Sync),
        frontier: &Frontier,
        now: OffsetDateTime,
        last: Option<&CheckpointRecord>,
    ) -> Result<Option<CheckpointRecord>, ServiceError> {
        let prev = last.map(to_checkpoint).transpose()?;
        // A signer that cannot sign (a sealed keyring, a KMS outage) does not
        // stop the action: the event is chained and stored, and the next
        // checkpoint covers it.
        let cp = match Checkpoint::create(
            signer,
            frontier.size(),
            frontier.root(),
            now,
            prev.as_ref(),
        ) {
            Ok(cp) => cp,
            Err(e) => {
                tracing::warn!(error = %e, "audit checkpoint not signed; the next one will cover these events");
                return Ok(None);
            }
        };
        // The verifying key is recorded with every checkpoint it signs (a
        // no-op once known), so that each checkpoint's key is in the
        // database for offline verification.
        if let SignerSource::Keyring(_) = &self.signer {
            tx.record_audit_key(&crate::kernel::signing_key::key_record(
                &signer.public_key(),
                now,
            ))
            .await?;
        }
        let number = last.map_or(1, |c| c.number + 1);
        let record = CheckpointRecord {
            number,
            size: cp.size,
            key_id: cp.key_id.0,
            root: cp.root,
            time: cp.time,
            prev_hash: cp.prev_hash,
            signature: cp.signature.to_vec(),
        };
        tx.insert_audit_checkpoint(&record).await?;
        Ok(Some(record))
    }
}

impl Kernel {
    /// Chains every pending event (see the module comment): readers of the
    /// chain call it first, so that a caller sees its own events. Returns
    /// how many were chained. Never while a gate is open: it takes the
    /// head lock in a write transaction of its own.
    pub async fn drain_audit(&self) -> Result<u64, ServiceError> {
        self.audit
            .drain(self.store.as_ref(), self.clock.now())
            .await
    }

    /// Signs a checkpoint of the chained log if the last one is older
    /// than the chain's interval and events follow it (or whenever events
    /// follow it, with `force`), in a transaction of its own under the head
    /// lock. Returns the new checkpoint's size.
    pub async fn sign_checkpoint_if_due(&self, force: bool) -> Result<Option<u64>, ServiceError> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let done = self
            .audit
            .checkpoint_if_due(tx.as_mut(), now, force)
            .await?;
        tx.commit().await?;
        if let Some(size) = done {
            self.audit.note_checkpoint(size);
        }
        Ok(done)
    }

    /// Closes the store, chaining the pending events first when `drain`
    /// (a command that only read leaves the log as it found it); in-flight
    /// transactions finish first.
    pub async fn close(&self, drain: bool) {
        if drain && let Err(e) = self.drain_audit().await {
            tracing::warn!(error = %e, "pending audit events not chained; the next start chains them");
        }
        self.store.close().await;
    }
}

fn to_audit_outcome(outcome: Outcome) -> rempart_audit::Outcome {
    match outcome {
        Outcome::Success => rempart_audit::Outcome::Success,
        Outcome::Denied => rempart_audit::Outcome::Denied,
        Outcome::Failed => rempart_audit::Outcome::Failed,
    }
}

/// The stored row of a sealed event.
pub fn to_record(event: &Event) -> AuditRecord {
    AuditRecord {
        seq: event.seq,
        time: event.time,
        actor: event.actor.clone(),
        action: event.action.clone(),
        target: event.target.clone(),
        tenant: event.tenant,
        outcome: event.outcome.as_str().to_owned(),
        request_id: event.request_id.clone(),
        source: event.source.map(|ip| ip.to_string()),
        details: event.details.clone(),
        id: event.id,
        prev_hash: event.prev_hash,
        hash: event.hash,
    }
}

/// A stored event's outcome and source address, as the audit format types
/// them; what is wrong with them otherwise.
fn outcome_and_source(
    outcome: &str,
    source: Option<&str>,
) -> Result<(rempart_audit::Outcome, Option<IpAddr>), &'static str> {
    let outcome = outcome.parse().map_err(|_| "unknown outcome")?;
    let source = source
        .map(str::parse::<IpAddr>)
        .transpose()
        .map_err(|_| "the source is not an IP address")?;
    Ok((outcome, source))
}

/// The body of a pending event, as the sequencer seals it.
fn body_of(row: PendingAuditRecord) -> Result<EventBody, ServiceError> {
    let (outcome, source) =
        outcome_and_source(&row.outcome, row.source.as_deref()).map_err(|what| {
            ServiceError::AuditLog(format!("pending audit event {}: {what}", row.order))
        })?;
    Ok(EventBody {
        time: row.time,
        actor: row.actor,
        action: row.action,
        target: row.target,
        tenant: row.tenant,
        outcome,
        request_id: row.request_id,
        source,
        details: row.details,
        id: Some(row.id),
    })
}

/// The event a stored row claims to be (its hash is checked by the
/// verifier, not here). A row that cannot be an event is an error naming
/// its `seq`.
pub fn to_event(record: &AuditRecord) -> Result<Event, ServiceError> {
    let (outcome, source) = outcome_and_source(&record.outcome, record.source.as_deref())
        .map_err(|what| ServiceError::AuditLog(format!("event {}: {what}", record.seq)))?;
    Ok(Event {
        seq: record.seq,
        time: record.time,
        actor: record.actor.clone(),
        action: record.action.clone(),
        target: record.target.clone(),
        tenant: record.tenant,
        outcome,
        request_id: record.request_id.clone(),
        source,
        details: record.details.clone(),
        id: record.id,
        prev_hash: record.prev_hash,
        hash: record.hash,
    })
}

/// The checkpoint a stored row claims to be (verified by the caller).
pub fn to_checkpoint(record: &CheckpointRecord) -> Result<Checkpoint, ServiceError> {
    let signature: [u8; SIGNATURE_LEN] = record.signature.as_slice().try_into().map_err(|_| {
        ServiceError::AuditLog(format!(
            "checkpoint {}: the signature is not {SIGNATURE_LEN} bytes",
            record.number
        ))
    })?;
    Ok(Checkpoint {
        key_id: KeyId(record.key_id),
        size: record.size,
        root: record.root,
        time: record.time,
        prev_hash: record.prev_hash,
        signature,
    })
}

/// The Merkle nodes one computation needs, read in one query.
///
/// Which nodes a root, a proof or a frontier reads depends only on the
/// sizes and indices, never on the hashes: a first run records the
/// positions (answering zeros), the store is asked for all of them at
/// once, and a second run computes with the real hashes.
#[derive(Debug)]
pub struct StoredNodes {
    size: u64,
    recording: Option<RefCell<Vec<(u32, u64)>>>,
    nodes: HashMap<(u32, u64), Hash>,
}

/// A node the store should hold and does not: the tree is damaged.
#[derive(Debug, thiserror::Error)]
#[error("the Merkle node at level {level}, index {index} is missing from the database")]
pub struct MissingStoredNode {
    level: u32,
    index: u64,
}

impl NodeSource for StoredNodes {
    type Error = MissingStoredNode;

    fn size(&self) -> Result<u64, MissingStoredNode> {
        Ok(self.size)
    }

    fn node(&self, level: u32, index: u64) -> Result<Hash, MissingStoredNode> {
        if let Some(rec) = &self.recording {
            rec.borrow_mut().push((level, index));
            return Ok([0; 32]);
        }
        self.nodes
            .get(&(level, index))
            .copied()
            .ok_or(MissingStoredNode { level, index })
    }
}

impl StoredNodes {
    /// Runs `compute` over the stored tree of `size` leaves (the caller
    /// knows that many events exist).
    pub async fn compute<T>(
        tx: &mut dyn ReadTx,
        size: u64,
        compute: impl Fn(&StoredNodes) -> Result<T, MerkleError>,
    ) -> Result<T, ServiceError> {
        let recorder = StoredNodes {
            size,
            recording: Some(RefCell::new(Vec::new())),
            nodes: HashMap::new(),
        };
        let _ = compute(&recorder);
        let mut keys = recorder
            .recording
            .map(RefCell::into_inner)
            .unwrap_or_default();
        keys.sort_unstable();
        keys.dedup();
        // Leaves (level 0) are the leaf hashes of the events' own hashes
        // (leaf `i` is event `i + 1`); the nodes above are stored.
        let (leaves, inner): (Vec<_>, Vec<_>) = keys.into_iter().partition(|(l, _)| *l == 0);
        let seqs: Vec<u64> = leaves.iter().map(|(_, i)| i.saturating_add(1)).collect();
        let mut nodes: HashMap<(u32, u64), Hash> = tx
            .audit_nodes(&inner)
            .await?
            .into_iter()
            .map(|(l, i, h)| ((l, i), h))
            .collect();
        for (seq, hash) in tx.audit_event_hashes(&seqs).await? {
            nodes.insert((0, seq.saturating_sub(1)), leaf_hash(&hash));
        }
        let source = StoredNodes {
            size,
            recording: None,
            nodes,
        };
        compute(&source).map_err(|e| ServiceError::AuditLog(e.to_string()))
    }
}

async fn load_frontier(tx: &mut dyn ReadTx, size: u64) -> Result<Frontier, ServiceError> {
    StoredNodes::compute(tx, size, |src| Frontier::from_source(src, size)).await
}
