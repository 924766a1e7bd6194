//! Streaming verification of a log: events and checkpoints in order.
//!
//! Invariant: the [`Verifier`] stops at the first problem and keeps
//! reporting it; [`Verifier::finish`] answers `Ok` only if every event
//! hashed and chained, every checkpoint was signed by a trusted key (the
//! first key, or a later one each certified by its predecessor), chained
//! to the previous one and matched the Merkle root of the events before it.
//! Events after the last checkpoint (all of them when no checkpoint of
//! size > 0 exists) are chained but vouched for by nothing: the [`Report`]
//! counts them ([`Report::unsigned_tail`]), and a strict verifier
//! ([`Verifier::strict`]) refuses them. Memory stays constant apart from the
//! Merkle frontier (one hash per bit of the log size) and the key chain.
//!
//! Order: a checkpoint of size `n` comes right after event `n` (after the
//! header for `n = 0`), so its root is that of the events seen so far.

use time::OffsetDateTime;

use crate::checkpoint::{Checkpoint, CheckpointError, KeyCertificate, KeyId, PublicKey};
use crate::event::{EncodeError, Event, EventRef};
use crate::merkle::Frontier;

/// Where a partial log starts: what a verifier needs of the events before
/// it (docs/formats/audit.md section 4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Events before the partial log (its first event is `size + 1`).
    pub size: u64,
    /// The hash of event `size`: the first event's `prev_hash`.
    pub last_hash: Hash,
    /// The Merkle frontier of events 1 to `size`: the perfect-subtree
    /// roots, largest (leftmost) first, one per set bit of `size`.
    pub frontier: Vec<Hash>,
}
use crate::{Hash, ZERO_HASH};

/// The first thing wrong with a log, in the words of what an attacker (or a
/// fault) did to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// An event's contents do not match its hash.
    #[error("event {seq} was edited: its contents do not match its hash")]
    EventEdited {
        /// The edited event.
        seq: u64,
    },
    /// Events are missing before the one found.
    #[error("event {seq} is missing: the next event present is {found}")]
    EventMissing {
        /// The first missing event.
        seq: u64,
        /// The event found in its place.
        found: u64,
    },
    /// Events are out of order: `found` came where `seq` was due, and `seq`
    /// came after it.
    #[error("events are reordered: event {found} comes where event {seq} should")]
    EventReordered {
        /// The event due.
        seq: u64,
        /// The event found in its place.
        found: u64,
    },
    /// An event with a sequence number already seen: inserted or repeated.
    #[error("an event numbered {seq} appears after event {after}: inserted or duplicated")]
    EventInserted {
        /// The sequence number it carries.
        seq: u64,
        /// The last event verified before it.
        after: u64,
    },
    /// An event's `prev_hash` is not the hash of the event before it.
    #[error("event {seq} does not chain to event {}: its prev_hash differs", seq - 1)]
    ChainBroken {
        /// The event whose `prev_hash` is wrong.
        seq: u64,
    },
    /// An event the format cannot encode (so it cannot have been sealed).
    #[error("event {seq} cannot be encoded: {reason}")]
    EventUnencodable {
        /// The event.
        seq: u64,
        /// Why.
        reason: EncodeError,
    },
    /// A checkpoint's signature does not verify with the key.
    #[error("the checkpoint of size {size} is forged: its signature does not verify")]
    CheckpointForged {
        /// Its claimed size.
        size: u64,
    },
    /// A checkpoint names another signing key.
    #[error("the checkpoint of size {size} was signed by key {found}, not by key {expected}")]
    CheckpointWrongKey {
        /// Its claimed size.
        size: u64,
        /// The key id it names.
        found: KeyId,
        /// The id of the key verifying.
        expected: KeyId,
    },
    /// A checkpoint covers more events than the log holds before it.
    #[error(
        "the log is truncated: a checkpoint covers {covered} events, only {present} are present (event {} is missing)",
        present + 1
    )]
    Truncated {
        /// Events the checkpoint covers.
        covered: u64,
        /// Events present.
        present: u64,
    },
    /// A checkpoint comes later than right after the event it covers.
    #[error(
        "the checkpoint of size {size} comes after event {after}, not right after event {size}"
    )]
    CheckpointOutOfPlace {
        /// Its size.
        size: u64,
        /// The last event before it.
        after: u64,
    },
    /// A checkpoint's `prev_hash` is not the previous checkpoint's hash.
    #[error("the checkpoint of size {size} does not chain to the previous checkpoint")]
    CheckpointChainBroken {
        /// Its size.
        size: u64,
    },
    /// The events' Merkle root differs from the signed one.
    #[error("the events 1 to {size} do not match their signed checkpoint: the Merkle root differs")]
    CheckpointRootMismatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// The events' root differs from a checkpoint the verifier was told to
    /// trust (a fork, or a rewritten log).
    #[error("the events 1 to {size} do not match the trusted checkpoint: the log was rewritten")]
    TrustedRootMismatch {
        /// The trusted checkpoint's size.
        size: u64,
    },
    /// A partial export's anchor (the Merkle frontier of the events before
    /// it) does not hash to the root its checkpoint signs.
    #[error(
        "the partial export's anchor does not match its signed checkpoint: the frontier of events 1 to {size} was altered"
    )]
    AnchorUnsigned {
        /// The events the anchor claims to summarize.
        size: u64,
    },
    /// The first event of a partial export does not chain to its anchor.
    #[error(
        "event {seq}, the first of the partial export, does not chain to the anchor: the anchor's last_hash or the event's prev_hash was altered"
    )]
    AnchorChainBroken {
        /// The first event of the export.
        seq: u64,
    },
    /// A trusted checkpoint older than a partial export's start cannot be
    /// checked against it.
    #[error(
        "the trusted checkpoint of size {size} is before the partial export's start (event {start}): it cannot be checked"
    )]
    TrustedBeforeStart {
        /// The trusted checkpoint's size.
        size: u64,
        /// The export's first event.
        start: u64,
    },
    /// Strict verification: events after the last checkpoint, which no
    /// signature vouches for (a forger can edit or append them freely).
    #[error(
        "events {first} to {last} are chained but no signed checkpoint covers them: nothing vouches for them (strict verification refuses an unsigned tail)"
    )]
    UnsignedTail {
        /// The first event after the last checkpoint.
        first: u64,
        /// The last event.
        last: u64,
    },
    /// A key certificate that its predecessor did not sign.
    #[error(
        "the audit signing key {key} is not certified by the key before it ({predecessor}): its certificate does not verify"
    )]
    KeyNotCertified {
        /// The key the certificate introduces.
        key: KeyId,
        /// The key that should have signed it.
        predecessor: KeyId,
        /// The last event before the certificate.
        after: u64,
    },
}

impl Problem {
    /// The sequence number of the first event concerned (for a checkpoint,
    /// the last event it covers; for a truncation, the first missing one).
    pub fn seq(&self) -> u64 {
        match self {
            Self::EventEdited { seq }
            | Self::EventMissing { seq, .. }
            | Self::EventReordered { seq, .. }
            | Self::EventInserted { seq, .. }
            | Self::ChainBroken { seq }
            | Self::AnchorChainBroken { seq }
            | Self::EventUnencodable { seq, .. } => *seq,
            Self::CheckpointForged { size }
            | Self::CheckpointWrongKey { size, .. }
            | Self::CheckpointOutOfPlace { size, .. }
            | Self::CheckpointChainBroken { size }
            | Self::CheckpointRootMismatch { size }
            | Self::TrustedRootMismatch { size }
            | Self::AnchorUnsigned { size }
            | Self::TrustedBeforeStart { size, .. } => *size,
            Self::Truncated { present, .. } => present.saturating_add(1),
            Self::UnsignedTail { first, .. } => *first,
            Self::KeyNotCertified { after, .. } => after.saturating_add(1),
        }
    }
}

/// What a successful verification establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The first event verified: 1, or a partial export's `start_seq`.
    pub first_seq: u64,
    /// Events verified (the last `seq`).
    pub events: u64,
    /// Hash of the last event (zeros for an empty log).
    pub last_hash: Hash,
    /// Merkle root over all the events.
    pub root: Hash,
    /// Checkpoints verified.
    pub checkpoints: u64,
    /// Events covered by the last checkpoint (0 without one: a checkpoint
    /// of size 0 vouches for nothing).
    pub checkpointed: u64,
    /// The Merkle root the last checkpoint signs (with `checkpointed`, what
    /// a later verification can be given to trust).
    pub checkpoint_root: Option<Hash>,
    /// When the last checkpoint was made.
    pub last_checkpoint_time: Option<OffsetDateTime>,
    /// The key that signed the last checkpoint (the first key without one).
    pub key_id: KeyId,
    /// The signing keys, the first one trusted and each later one certified
    /// by its predecessor (one key when it was never rotated).
    pub keys: Vec<KeyId>,
}

impl Report {
    /// Events after the last checkpoint: chained, but not yet signed.
    pub fn unsigned_tail(&self) -> u64 {
        self.events.saturating_sub(self.checkpointed)
    }
}

#[derive(Debug, Clone, Copy)]
struct LastCheckpoint {
    size: u64,
    hash: Hash,
    root: Hash,
    time: OffsetDateTime,
}

/// Verifies a log pushed to it in order. See the module documentation.
#[derive(Debug)]
pub struct Verifier {
    /// Keys a log may start with (the first key, or several trusted ones).
    trusted_keys: Vec<PublicKey>,
    /// The log's signing keys: a trusted first key, then each key certified
    /// by the one before it.
    keys: Vec<PublicKey>,
    /// Index in `keys` of the key of the last checkpoint: later checkpoints
    /// use it or a later key, never a retired one.
    key_index: usize,
    strict: bool,
    last_seq: u64,
    last_hash: Hash,
    frontier: Frontier,
    checkpoints: u64,
    last_checkpoint: Option<LastCheckpoint>,
    trusted: Option<(u64, Hash)>,
    anchor: Option<u64>,
    failed: Option<Problem>,
    buf: Vec<u8>,
}

impl Verifier {
    /// A verifier for a log whose checkpoints `key` signs.
    pub fn new(key: PublicKey) -> Self {
        Self::with_trusted_keys(vec![key])
    }

    /// A verifier for a log whose first signing key is one of `keys` (the
    /// first of them until [`Verifier::start_with_key`] chooses another).
    /// Later keys must be certified in the log ([`Verifier::push_key`]).
    pub fn with_trusted_keys(keys: Vec<PublicKey>) -> Self {
        Self {
            keys: keys.first().copied().into_iter().collect(),
            trusted_keys: keys,
            key_index: 0,
            strict: false,
            last_seq: 0,
            last_hash: ZERO_HASH,
            frontier: Frontier::new(),
            checkpoints: 0,
            last_checkpoint: None,
            trusted: None,
            anchor: None,
            failed: None,
            buf: Vec::with_capacity(512),
        }
    }

    /// Refuses an unsigned tail: [`Verifier::finish`] answers
    /// [`Problem::UnsignedTail`] when events follow the last checkpoint (or
    /// no checkpoint of size > 0 exists).
    #[must_use]
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// Also requires the log to reach `size` events with Merkle root `root`
    /// (from a checkpoint seen earlier, e.g. a published one): this detects
    /// a log cut after a checkpoint, or rewritten from scratch.
    #[must_use]
    pub fn trusting(mut self, size: u64, root: Hash) -> Self {
        self.trusted = Some((size, root));
        self
    }

    /// The first signing key: the trusted key the log starts with.
    pub fn key(&self) -> Option<&PublicKey> {
        self.keys.first()
    }

    /// Chooses the trusted key named `key_id` as the log's first signing
    /// key (an export names it in its header), before anything is pushed.
    /// `Err` with the id of the first trusted key when none matches.
    pub fn start_with_key(&mut self, key_id: KeyId) -> Result<(), Option<KeyId>> {
        match self.trusted_keys.iter().find(|k| k.key_id() == key_id) {
            Some(key) if self.last_seq == 0 && self.last_checkpoint.is_none() => {
                self.keys = vec![*key];
                self.key_index = 0;
                Ok(())
            }
            _ => Err(self.trusted_keys.first().map(PublicKey::key_id)),
        }
    }

    /// Accepts the next signing key if the current last key certified it
    /// (a rotation): checkpoints after it may be signed by the new key.
    pub fn push_key(&mut self, cert: &KeyCertificate) -> Result<(), Problem> {
        if let Some(p) = &self.failed {
            return Err(p.clone());
        }
        let Some(predecessor) = self.keys.last().copied() else {
            return self.fail(Problem::KeyNotCertified {
                key: cert.key.key_id(),
                predecessor: cert.certified_by,
                after: self.last_seq,
            });
        };
        let known = self.keys.iter().any(|k| k.key_id() == cert.key.key_id());
        if known || cert.verify(&predecessor).is_err() {
            return self.fail(Problem::KeyNotCertified {
                key: cert.key.key_id(),
                predecessor: predecessor.key_id(),
                after: self.last_seq,
            });
        }
        self.keys.push(cert.key);
        Ok(())
    }

    /// The last event verified so far (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    fn fail(&mut self, problem: Problem) -> Result<(), Problem> {
        self.failed = Some(problem.clone());
        Err(problem)
    }

    /// Verifies the next event.
    pub fn push_event(&mut self, event: &Event) -> Result<(), Problem> {
        self.push_event_ref(&event.borrowed())
    }

    /// Verifies the next event from its borrowed fields (as read from an
    /// export line, without building an owned [`Event`]).
    pub fn push_event_ref(&mut self, event: &EventRef<'_>) -> Result<(), Problem> {
        if let Some(p) = &self.failed {
            return Err(p.clone());
        }
        let expected = self.last_seq.saturating_add(1);
        if event.seq < expected {
            return self.fail(Problem::EventInserted {
                seq: event.seq,
                after: self.last_seq,
            });
        }
        if event.seq > expected {
            return self.fail(Problem::EventMissing {
                seq: expected,
                found: event.seq,
            });
        }
        match event.compute_hash_with(&mut self.buf) {
            Err(reason) => {
                return self.fail(Problem::EventUnencodable {
                    seq: event.seq,
                    reason,
                });
            }
            Ok(h) if h != event.hash => {
                return self.fail(Problem::EventEdited { seq: event.seq });
            }
            Ok(_) => {}
        }
        if event.prev_hash != self.last_hash {
            if self.anchor == Some(self.last_seq) {
                return self.fail(Problem::AnchorChainBroken { seq: event.seq });
            }
            return self.fail(Problem::ChainBroken { seq: event.seq });
        }
        self.frontier.push(&event.hash);
        self.last_seq = event.seq;
        self.last_hash = event.hash;
        if let Some((size, root)) = self.trusted
            && size == self.last_seq
            && self.frontier.root() != root
        {
            return self.fail(Problem::TrustedRootMismatch { size });
        }
        Ok(())
    }

    /// Starts a partial log after `anchor.size` events, before anything
    /// else is pushed: `checkpoint` must be signed by the key, cover exactly
    /// `anchor.size` events, and its root must be the one `anchor.frontier`
    /// hashes to. The next event must then be `anchor.size + 1` and chain to
    /// `anchor.last_hash`; later checkpoints chain to `checkpoint`.
    pub fn push_anchor(&mut self, anchor: &Anchor, checkpoint: &Checkpoint) -> Result<(), Problem> {
        if let Some(p) = &self.failed {
            return Err(p.clone());
        }
        if self.last_seq != 0 || self.last_checkpoint.is_some() {
            return self.fail(Problem::CheckpointOutOfPlace {
                size: checkpoint.size,
                after: self.last_seq,
            });
        }
        self.check_signature(checkpoint)?;
        let frontier = Frontier::from_peaks(anchor.size, anchor.frontier.clone());
        let Some(frontier) =
            frontier.filter(|f| checkpoint.size == anchor.size && f.root() == checkpoint.root)
        else {
            return self.fail(Problem::AnchorUnsigned { size: anchor.size });
        };
        if let Some((size, root)) = self.trusted
            && size <= anchor.size
        {
            if size < anchor.size {
                return self.fail(Problem::TrustedBeforeStart {
                    size,
                    start: anchor.size.saturating_add(1),
                });
            }
            if root != checkpoint.root {
                return self.fail(Problem::TrustedRootMismatch { size });
            }
        }
        self.frontier = frontier;
        self.last_seq = anchor.size;
        self.last_hash = anchor.last_hash;
        self.anchor = Some(anchor.size);
        self.checkpoints += 1;
        self.last_checkpoint = Some(LastCheckpoint {
            size: checkpoint.size,
            hash: checkpoint.hash(),
            root: checkpoint.root,
            time: checkpoint.time,
        });
        Ok(())
    }

    fn check_signature(&mut self, cp: &Checkpoint) -> Result<(), Problem> {
        // The checkpoint's key: the key of the last checkpoint or a later
        // one of the certified chain, never a retired one.
        let usable = self.keys.get(self.key_index..).unwrap_or_default();
        let found = usable
            .iter()
            .enumerate()
            .find(|(_, k)| k.key_id() == cp.key_id)
            .map(|(i, k)| (i, *k));
        let Some((offset, key)) = found else {
            let expected = usable
                .first()
                .or(self.keys.last())
                .map_or(cp.key_id, PublicKey::key_id);
            return self.fail(Problem::CheckpointWrongKey {
                size: cp.size,
                found: cp.key_id,
                expected,
            });
        };
        match cp.verify_signature(&key) {
            Ok(()) => {
                self.key_index += offset;
                Ok(())
            }
            Err(CheckpointError::BadSignature) => {
                self.fail(Problem::CheckpointForged { size: cp.size })
            }
            Err(CheckpointError::WrongKey { found, expected }) => {
                self.fail(Problem::CheckpointWrongKey {
                    size: cp.size,
                    found,
                    expected,
                })
            }
        }
    }

    /// Verifies the next checkpoint, which must cover exactly the events
    /// pushed so far.
    pub fn push_checkpoint(&mut self, cp: &Checkpoint) -> Result<(), Problem> {
        if let Some(p) = &self.failed {
            return Err(p.clone());
        }
        self.check_signature(cp)?;
        if cp.size > self.last_seq {
            return self.fail(Problem::Truncated {
                covered: cp.size,
                present: self.last_seq,
            });
        }
        if cp.size < self.last_seq {
            return self.fail(Problem::CheckpointOutOfPlace {
                size: cp.size,
                after: self.last_seq,
            });
        }
        let expected_prev = self.last_checkpoint.map_or(ZERO_HASH, |c| c.hash);
        if cp.prev_hash != expected_prev {
            return self.fail(Problem::CheckpointChainBroken { size: cp.size });
        }
        if cp.root != self.frontier.root() {
            return self.fail(Problem::CheckpointRootMismatch { size: cp.size });
        }
        self.checkpoints += 1;
        self.last_checkpoint = Some(LastCheckpoint {
            size: cp.size,
            hash: cp.hash(),
            root: cp.root,
            time: cp.time,
        });
        Ok(())
    }

    /// Ends the verification: the report, or the first problem.
    pub fn finish(self) -> Result<Report, Problem> {
        if let Some(p) = self.failed {
            return Err(p);
        }
        if let Some((size, _)) = self.trusted
            && size > self.last_seq
        {
            return Err(Problem::Truncated {
                covered: size,
                present: self.last_seq,
            });
        }
        let checkpointed = self.last_checkpoint.map_or(0, |c| c.size);
        if self.strict && self.last_seq > checkpointed {
            return Err(Problem::UnsignedTail {
                first: checkpointed + 1,
                last: self.last_seq,
            });
        }
        let key_id = self
            .keys
            .get(self.key_index)
            .or(self.keys.first())
            .map_or(KeyId([0; 8]), PublicKey::key_id);
        Ok(Report {
            first_seq: self.anchor.map_or(1, |size| size + 1),
            events: self.last_seq,
            last_hash: self.last_hash,
            root: self.frontier.root(),
            checkpoints: self.checkpoints,
            checkpointed,
            checkpoint_root: self.last_checkpoint.map(|c| c.root),
            last_checkpoint_time: self.last_checkpoint.map(|c| c.time),
            key_id,
            keys: self.keys.iter().map(PublicKey::key_id).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Ed25519Signer, Signer};
    use crate::event::fixtures::system_event;
    use crate::event::{ChainHead, EventBody};
    use crate::merkle::MerkleLog;
    use time::macros::datetime;

    fn body(i: u64) -> EventBody {
        system_event(
            datetime!(2025-03-01 12:00 UTC) + time::Duration::seconds(i as i64),
            &format!("test.{i}"),
            i.is_multiple_of(2)
                .then(|| uuid::Uuid::from_u128(u128::from(i))),
        )
    }

    enum Item {
        E(Event),
        C(Checkpoint),
    }

    /// A log of `n` events with a checkpoint after every `every` events.
    fn log(n: u64, every: u64, signer: &Ed25519Signer) -> Vec<Item> {
        let mut head = ChainHead::GENESIS;
        let mut tree = MerkleLog::new();
        let mut prev: Option<Checkpoint> = None;
        let mut items = Vec::new();
        for i in 1..=n {
            let e = head.seal(body(i)).unwrap();
            tree.push(&e.hash);
            items.push(Item::E(e));
            if i % every == 0 {
                let cp = Checkpoint::create(
                    signer,
                    i,
                    tree.root(),
                    datetime!(2025-03-02 0:00 UTC),
                    prev.as_ref(),
                )
                .unwrap();
                prev = Some(cp.clone());
                items.push(Item::C(cp));
            }
        }
        items
    }

    fn run(items: &[Item], key: PublicKey) -> Result<Report, Problem> {
        let mut v = Verifier::new(key);
        for it in items {
            match it {
                Item::E(e) => v.push_event(e)?,
                Item::C(c) => v.push_checkpoint(c)?,
            }
        }
        v.finish()
    }

    fn run_strict(items: &[Item], key: PublicKey) -> Result<Report, Problem> {
        let mut v = Verifier::new(key).strict();
        for it in items {
            match it {
                Item::E(e) => v.push_event(e)?,
                Item::C(c) => v.push_checkpoint(c)?,
            }
        }
        v.finish()
    }

    fn signer() -> Ed25519Signer {
        Ed25519Signer::from_seed(&[42; 32]).unwrap()
    }

    fn event_mut(items: &mut [Item], seq: u64) -> &mut Event {
        items
            .iter_mut()
            .find_map(|i| match i {
                Item::E(e) if e.seq == seq => Some(e),
                _ => None,
            })
            .unwrap()
    }

    fn position(items: &[Item], seq: u64) -> usize {
        items
            .iter()
            .position(|i| matches!(i, Item::E(e) if e.seq == seq))
            .unwrap()
    }

    #[test]
    fn an_intact_log_verifies() {
        let s = signer();
        let items = log(12, 5, &s);
        let r = run(&items, s.public_key()).unwrap();
        assert_eq!(
            (r.events, r.checkpoints, r.checkpointed, r.unsigned_tail()),
            (12, 2, 10, 2)
        );
    }

    #[test]
    fn each_tampering_is_reported_at_its_event() {
        let s = signer();
        let key = s.public_key();

        let mut items = log(12, 5, &s);
        event_mut(&mut items, 4).actor = "principal:evil".into();
        assert_eq!(run(&items, key), Err(Problem::EventEdited { seq: 4 }));

        // Edited and re-hashed: the next event no longer chains.
        let mut items = log(12, 5, &s);
        let e = event_mut(&mut items, 4);
        e.actor = "principal:evil".into();
        e.hash = e.compute_hash().unwrap();
        assert_eq!(run(&items, key), Err(Problem::ChainBroken { seq: 5 }));

        // Edited, re-hashed and re-chained to the end: the checkpoint catches it.
        let mut items = log(12, 5, &s);
        let mut prev = ZERO_HASH;
        for it in &mut items {
            if let Item::E(e) = it {
                if e.seq == 4 {
                    e.actor = "principal:evil".into();
                }
                e.prev_hash = prev;
                e.hash = e.compute_hash().unwrap();
                prev = e.hash;
            }
        }
        assert_eq!(
            run(&items, key),
            Err(Problem::CheckpointRootMismatch { size: 5 })
        );

        let mut items = log(12, 5, &s);
        items.remove(position(&items, 7));
        assert_eq!(
            run(&items, key),
            Err(Problem::EventMissing { seq: 7, found: 8 })
        );

        let mut items = log(12, 5, &s);
        let dup = Item::E(event_mut(&mut items, 3).clone());
        items.insert(position(&items, 3) + 1, dup);
        assert_eq!(
            run(&items, key),
            Err(Problem::EventInserted { seq: 3, after: 3 })
        );

        // Events after checkpoint 10 removed but the checkpoint kept.
        let mut items = log(10, 5, &s);
        items.retain(|i| !matches!(i, Item::E(e) if e.seq > 8));
        assert_eq!(
            run(&items, key),
            Err(Problem::Truncated {
                covered: 10,
                present: 8
            })
        );
    }

    #[test]
    fn checkpoint_problems() {
        let s = signer();
        let key = s.public_key();
        let cp_at = |items: &[Item], size: u64| -> usize {
            items
                .iter()
                .position(|i| matches!(i, Item::C(c) if c.size == size))
                .unwrap()
        };

        let mut items = log(10, 5, &s);
        let i = cp_at(&items, 10);
        if let Item::C(c) = &mut items[i] {
            c.root[0] ^= 1;
        }
        assert_eq!(
            run(&items, key),
            Err(Problem::CheckpointForged { size: 10 })
        );

        // Re-signed by another key.
        let other = Ed25519Signer::from_seed(&[1; 32]).unwrap();
        let mut items = log(10, 5, &s);
        let i = cp_at(&items, 5);
        if let Item::C(c) = &mut items[i] {
            *c = Checkpoint::create(&other, c.size, c.root, c.time, None).unwrap();
        }
        assert!(matches!(
            run(&items, key),
            Err(Problem::CheckpointWrongKey { size: 5, .. })
        ));

        // The key's id, but another key's signature.
        let mut items = log(10, 5, &s);
        let i = cp_at(&items, 5);
        if let Item::C(c) = &mut items[i] {
            c.signature = other.sign(&c.signed_message()).unwrap();
        }
        assert_eq!(run(&items, key), Err(Problem::CheckpointForged { size: 5 }));

        // A checkpoint dropped: the next one does not chain.
        let mut items = log(15, 5, &s);
        let i = cp_at(&items, 10);
        items.remove(i);
        assert_eq!(
            run(&items, key),
            Err(Problem::CheckpointChainBroken { size: 15 })
        );

        // A checkpoint moved later.
        let mut items = log(10, 5, &s);
        let i = cp_at(&items, 5);
        let c = items.remove(i);
        items.insert(position(&items, 6) + 1, c);
        assert_eq!(
            run(&items, key),
            Err(Problem::CheckpointOutOfPlace { size: 5, after: 6 })
        );

        // No checkpoint at all: intact, every event in the unsigned tail;
        // a strict verifier refuses it.
        let items = log(4, 5, &s);
        let r = run(&items, key).unwrap();
        assert_eq!((r.checkpoints, r.unsigned_tail()), (0, 4));
        assert_eq!(
            run_strict(&items, key),
            Err(Problem::UnsignedTail { first: 1, last: 4 })
        );
        assert!(run(&[], key).is_ok());
        assert!(run_strict(&[], key).is_ok());
    }

    #[test]
    fn trusted_checkpoints_catch_truncation_and_rewrites() {
        let s = signer();
        let key = s.public_key();
        let items = log(10, 5, &s);
        let tree_root = |n: u64| {
            let mut t = MerkleLog::new();
            for it in &items {
                if let Item::E(e) = it
                    && e.seq <= n
                {
                    t.push(&e.hash);
                }
            }
            t.root()
        };
        let mut v = Verifier::new(key).trusting(10, tree_root(10));
        for it in &items[..position(&items, 8)] {
            match it {
                Item::E(e) => v.push_event(e).unwrap(),
                Item::C(c) => v.push_checkpoint(c).unwrap(),
            }
        }
        assert_eq!(
            v.finish(),
            Err(Problem::Truncated {
                covered: 10,
                present: 7
            })
        );

        let mut v = Verifier::new(key).trusting(7, [0; 32]);
        let mut result = Ok(());
        for it in &items {
            if let Item::E(e) = it {
                result = result.and_then(|()| v.push_event(e));
            }
        }
        assert_eq!(result, Err(Problem::TrustedRootMismatch { size: 7 }));
        // The verifier stays failed.
        assert!(v.finish().is_err());
    }

    #[test]
    fn a_checkpoint_of_size_zero_vouches_for_nothing() {
        let s = signer();
        let key = s.public_key();
        let empty = Checkpoint::create(
            &s,
            0,
            crate::merkle::empty_root(),
            datetime!(2025-03-02 0:00 UTC),
            None,
        )
        .unwrap();
        let mut items = vec![Item::C(empty)];
        items.extend(log(3, 5, &s));
        let r = run(&items, key).unwrap();
        assert_eq!(
            (r.checkpoints, r.checkpointed, r.unsigned_tail()),
            (1, 0, 3)
        );
        assert_eq!(
            run_strict(&items, key),
            Err(Problem::UnsignedTail { first: 1, last: 3 })
        );
    }

    #[test]
    fn strict_verification_refuses_an_unsigned_tail() {
        let s = signer();
        let key = s.public_key();
        let items = log(12, 5, &s);
        assert_eq!(run(&items, key).unwrap().unsigned_tail(), 2);
        assert_eq!(
            run_strict(&items, key),
            Err(Problem::UnsignedTail {
                first: 11,
                last: 12
            })
        );
        assert!(run_strict(&log(10, 5, &s), key).is_ok());
    }

    #[test]
    fn checkpoints_verify_across_certified_key_rotations() {
        let (k1, k2, k3) = (
            signer(),
            Ed25519Signer::from_seed(&[43; 32]).unwrap(),
            Ed25519Signer::from_seed(&[44; 32]).unwrap(),
        );
        let c12 = KeyCertificate::create(&k1, k2.public_key()).unwrap();
        let c23 = KeyCertificate::create(&k2, k3.public_key()).unwrap();
        let events: Vec<Event> = {
            let mut head = ChainHead::GENESIS;
            (1..=6).map(|i| head.seal(body(i)).unwrap()).collect()
        };
        let mut tree = MerkleLog::new();
        let t = datetime!(2025-03-02 0:00 UTC);
        let mut prev = None;
        let mut cps = Vec::new();
        for (i, e) in events.iter().enumerate() {
            tree.push(&e.hash);
            if (i + 1) % 2 == 0 {
                let by: &Ed25519Signer = [&k1, &k2, &k3][i / 2];
                let cp = Checkpoint::create(by, e.seq, tree.root(), t, prev.as_ref()).unwrap();
                prev = Some(cp.clone());
                cps.push(cp);
            }
        }
        let run_with = |v: &mut Verifier, certs: &[&KeyCertificate], cps: &[Checkpoint]| {
            for c in certs {
                v.push_key(c)?;
            }
            for (i, e) in events.iter().enumerate() {
                v.push_event(e)?;
                if (i + 1) % 2 == 0 {
                    v.push_checkpoint(&cps[i / 2])?;
                }
            }
            Ok::<(), Problem>(())
        };
        let mut v = Verifier::new(k1.public_key()).strict();
        run_with(&mut v, &[&c12, &c23], &cps).unwrap();
        let r = v.finish().unwrap();
        assert_eq!(r.keys.len(), 3);
        assert_eq!(r.key_id, k3.public_key().key_id());

        // Without the certificates, the later keys are unknown.
        let mut v = Verifier::new(k1.public_key());
        assert!(matches!(
            run_with(&mut v, &[], &cps),
            Err(Problem::CheckpointWrongKey { size: 4, .. })
        ));
        // A certificate signed by a key other than the predecessor.
        let forged = KeyCertificate::create(&k3, k2.public_key()).unwrap();
        let mut v = Verifier::new(k1.public_key());
        assert!(matches!(
            run_with(&mut v, &[&forged], &cps),
            Err(Problem::KeyNotCertified { .. })
        ));
        // A retired key cannot sign after its successor did.
        let mut late = cps.clone();
        late[2] = Checkpoint::create(&k1, 6, late[2].root, t, Some(&late[1])).unwrap();
        let mut v = Verifier::new(k1.public_key());
        assert!(matches!(
            run_with(&mut v, &[&c12, &c23], &late),
            Err(Problem::CheckpointWrongKey { size: 6, .. })
        ));
        // Trusting the first key of several.
        let mut v = Verifier::with_trusted_keys(vec![k3.public_key(), k1.public_key()]);
        v.start_with_key(k1.public_key().key_id()).unwrap();
        run_with(&mut v, &[&c12, &c23], &cps).unwrap();
        assert!(v.finish().is_ok());
        let mut v = Verifier::new(k2.public_key());
        assert_eq!(
            v.start_with_key(k1.public_key().key_id()),
            Err(Some(k2.public_key().key_id()))
        );
    }
}
