//! Authentication results, cached per replica and trusted only while the
//! database's auth epoch has not moved (invariant 7).
//!
//! Every change that can end or narrow a credential (a revoked token or
//! session, a suspended account, a grant removed or added, a step-up, a
//! tenant's access settings) moves the epoch in its own transaction. Each
//! request reads the epoch (one statement) before using a cached result;
//! a different epoch empties the cache. So a revocation committed on any
//! replica fails on the next request to every replica, while an unchanged
//! credential costs one indexed read instead of a transaction of four.
//!
//! Entries are keyed by the credential's hash and the source address (the
//! allow-lists depend on it); expiry and idle timeouts are checked on every
//! use, against the clock.
//!
//! Concurrent requests share epoch reads ([`EpochGate`]): a request uses a
//! read that began after it arrived (so nothing committed before it is
//! missed), and one read serves every request that arrived before it
//! began.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::actor::Actor;

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

/// Shares epoch reads between concurrent requests without ever using a
/// read that began before the request arrived.
#[derive(Debug, Default)]
pub(crate) struct EpochGate {
    /// Tickets handed out, one per request.
    issued: AtomicU64,
    /// The last completed read: (every ticket up to this one is covered,
    /// the epoch it read). Held while a read runs: one read at a time.
    last: tokio::sync::Mutex<(u64, u64)>,
}

impl EpochGate {
    /// The epoch as of some moment after this call began.
    pub async fn current<F, Fut, E>(&self, read: F) -> Result<u64, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<u64, E>>,
    {
        let ticket = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let mut last = self.last.lock().await;
        if last.0 >= ticket {
            // A read that began after this request's ticket finished while
            // it waited.
            return Ok(last.1);
        }
        // Every ticket issued so far is covered by a read starting now.
        let covers = self.issued.load(Ordering::SeqCst);
        let epoch = read().await?;
        *last = (covers, epoch);
        Ok(epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A read that began before a request arrived is never used for it:
    /// a request that arrives while a read is running waits for the next.
    #[tokio::test]
    async fn a_request_never_uses_a_read_begun_before_it() {
        let gate = Arc::new(EpochGate::default());
        let epoch = Arc::new(AtomicU64::new(1));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let first = {
            let gate = gate.clone();
            let epoch = epoch.clone();
            tokio::spawn(async move {
                gate.current(|| async move {
                    let seen = epoch.load(Ordering::SeqCst);
                    let _ = started_tx.send(());
                    let _ = release_rx.await;
                    Ok::<_, ()>(seen)
                })
                .await
            })
        };
        started_rx.await.unwrap();
        // A revocation commits while the first read is in flight; a request
        // arriving now must see it.
        epoch.store(2, Ordering::SeqCst);
        let second = {
            let gate = gate.clone();
            let epoch = epoch.clone();
            tokio::spawn(async move {
                gate.current(|| async move { Ok::<_, ()>(epoch.load(Ordering::SeqCst)) })
                    .await
            })
        };
        tokio::task::yield_now().await;
        release_tx.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(1));
        assert_eq!(second.await.unwrap(), Ok(2));
        // One read serves every request that arrived before it began.
        let reads = Arc::new(AtomicU64::new(0));
        let counted = reads.clone();
        let value = gate
            .current(|| async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(3)
            })
            .await;
        assert_eq!(value, Ok(3));
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
