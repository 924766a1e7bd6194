//! Authentication results, cached per replica and trusted only while the
//! database's auth epoch has not moved (invariant 7).
//!
//! Every change that can end or narrow a credential (a revoked token or
//! session, a suspended account, a grant removed or added, a step-up, a
//! tenant's access settings) moves the epoch in its own transaction. Each
//! request checks the epoch before using a cached result; a different
//! epoch empties the cache. The store leases epoch reads and makes the
//! change outlast the lease (`rempart_store::auth_lease`), so a revocation
//! that has returned fails on the next request to every replica, while an
//! unchanged credential costs no database statement at all most of the
//! time (one epoch read per lease, shared by every request).
//!
//! Entries are keyed by the credential's hash and the source address (the
//! allow-lists depend on it); expiry and idle timeouts are checked on every
//! use, against the clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::kernel::actor::Actor;

/// Entries kept at most; the cache is emptied when full.
const CAPACITY: usize = 10_000;

/// What a cached credential is.
#[derive(Debug, Clone)]
pub(crate) enum Cached {
    Token {
        id: Uuid,
        expires_at: Option<OffsetDateTime>,
        last_used_at: Option<OffsetDateTime>,
    },
    Session {
        id: Uuid,
        expires_at: OffsetDateTime,
        last_seen_at: OffsetDateTime,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub actor: Actor,
    pub credential: Cached,
}

type Key = ([u8; 32], Option<IpAddr>);

#[derive(Default)]
struct Inner {
    epoch: u64,
    entries: HashMap<Key, Entry>,
}

#[derive(Default)]
pub(crate) struct AuthCache {
    inner: Mutex<Inner>,
}

/// Never prints the credential fingerprints it is keyed by.
impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        write!(
            f,
            "AuthCache(epoch {}, {} entries)",
            inner.epoch,
            inner.entries.len()
        )
    }
}

impl AuthCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry for `key`, if it was cached at `epoch` and is still
    /// within its expiry and idle timeout at `now`.
    pub fn get(&self, epoch: u64, key: &Key, now: OffsetDateTime, idle: Duration) -> Option<Entry> {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            inner.entries.clear();
            inner.epoch = epoch;
            return None;
        }
        let entry = inner.entries.get(key)?;
        let live = match entry.credential {
            Cached::Token { expires_at, .. } => expires_at.is_none_or(|at| now < at),
            Cached::Session {
                expires_at,
                last_seen_at,
                ..
            } => now < expires_at && now - last_seen_at < idle,
        };
        live.then(|| entry.clone())
    }

    /// Caches `entry`, read from the database after the epoch was read as
    /// `epoch` (an entry read under an older epoch is not kept).
    pub fn put(&self, epoch: u64, key: Key, entry: Entry) {
        let mut inner = self.lock();
        if epoch < inner.epoch {
            return;
        }
        if epoch > inner.epoch || inner.entries.len() >= CAPACITY {
            inner.entries.clear();
            inner.epoch = epoch;
        }
        inner.entries.insert(key, entry);
    }

    /// Records a use written to the database (last used / last seen).
    pub fn touched(&self, key: &Key, at: OffsetDateTime) {
        let mut inner = self.lock();
        if let Some(entry) = inner.entries.get_mut(key) {
            match &mut entry.credential {
                Cached::Token { last_used_at, .. } => *last_used_at = Some(at),
                Cached::Session { last_seen_at, .. } => *last_seen_at = at,
            }
        }
    }
}
