//! The auth epoch, read at most once per lease (invariant 7).
//!
//! Every change that can end or narrow a credential moves the database's
//! auth epoch in its transaction; each replica trusts its cached
//! authentications only while the epoch it last read is current. Reading the
//! epoch on every request would make authentication a database round trip,
//! so reads are leased:
//!
//! - A replica uses an epoch read that *began* less than [`LEASE`] ago.
//! - A transaction that moved the epoch does not return from `commit` until
//!   [`OUTLAST`] (longer than the lease) has passed after the commit.
//!
//! So whatever replica a request reaches after a revocation has returned,
//! the epoch read it uses began after the revocation committed, and sees it:
//! a revoked credential fails on its next request everywhere, as when every
//! request read the epoch, at the price of a revocation taking a few
//! milliseconds longer. Only durations are compared, each on one machine's
//! monotonic clock, so clocks need not agree between replicas. Replicas
//! must run the same lease (it is a constant, not a setting, for that
//! reason).
//!
//! This module measures real elapsed time on purpose: a test's manual clock
//! moves the application's "now", never the time a replica has to notice a
//! revocation.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::StoreError;

/// How long an epoch read is trusted after it began.
pub const LEASE: Duration = Duration::from_millis(20);

/// How long a transaction that moved the epoch waits after committing:
/// the lease and a margin for the two monotonic clocks' rates.
pub const OUTLAST: Duration = Duration::from_millis(25);

/// One replica's lease on the auth epoch, shared by its connections.
#[derive(Debug, Default)]
pub(crate) struct AuthLease {
    /// The latest completed read: when it began, and what it read.
    last: Mutex<Option<(Instant, u64)>>,
    /// One read at a time; requests that queue behind it use its result.
    reading: tokio::sync::Mutex<()>,
}

#[allow(
    clippy::disallowed_methods,
    reason = "the lease is real elapsed time by design (module documentation)"
)]
fn monotonic_now() -> Instant {
    Instant::now()
}

impl AuthLease {
    /// The auth epoch as of a read that began less than [`LEASE`] before
    /// this call, reading it with `read` when there is none.
    pub async fn epoch<F, Fut>(&self, read: F) -> Result<u64, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<u64, StoreError>>,
    {
        let arrived = monotonic_now();
        if let Some(epoch) = self.fresh(arrived) {
            return Ok(epoch);
        }
        let _reading = self.reading.lock().await;
        // A read that completed while this one waited may be fresh enough.
        if let Some(epoch) = self.fresh(arrived) {
            return Ok(epoch);
        }
        let began = monotonic_now();
        let epoch = read().await?;
        let mut last = self.lock();
        if last.is_none_or(|(at, _)| at < began) {
            *last = Some((began, epoch));
        }
        Ok(epoch)
    }

    fn fresh(&self, arrived: Instant) -> Option<u64> {
        let last = self.lock();
        let (began, epoch) = (*last)?;
        (arrived.saturating_duration_since(began) < LEASE).then_some(epoch)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, u64)>> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// After a commit that moved the epoch: this replica reads it again at
    /// its next request, and the caller returns only once every replica's
    /// lease on an older read has run out.
    pub async fn outlast(&self) {
        *self.lock() = None;
        #[allow(
            clippy::disallowed_methods,
            reason = "the lease is real elapsed time by design (module documentation)"
        )]
        tokio::time::sleep(OUTLAST).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn counted(
        reads: &Arc<AtomicU64>,
        epoch: &Arc<AtomicU64>,
    ) -> impl FnOnce() -> std::future::Ready<Result<u64, StoreError>> {
        let reads = reads.clone();
        let epoch = epoch.clone();
        move || {
            reads.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(epoch.load(Ordering::SeqCst)))
        }
    }

    /// A read is reused within its lease, and never after it.
    #[tokio::test(start_paused = true)]
    async fn a_read_serves_requests_only_within_its_lease() {
        let lease = AuthLease::default();
        let reads = Arc::new(AtomicU64::new(0));
        let epoch = Arc::new(AtomicU64::new(1));
        assert_eq!(lease.epoch(counted(&reads, &epoch)).await.unwrap(), 1);
        // Another replica moves the epoch: this one may use its read for
        // the rest of the lease (the mover is still waiting it out) ...
        epoch.store(2, Ordering::SeqCst);
        tokio::time::advance(LEASE.checked_sub(Duration::from_millis(1)).unwrap()).await;
        assert_eq!(lease.epoch(counted(&reads, &epoch)).await.unwrap(), 1);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // ... and not a moment after.
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(lease.epoch(counted(&reads, &epoch)).await.unwrap(), 2);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    /// The mover waits longer than any lease, so no request that arrives
    /// after the move returned uses a read from before it.
    #[tokio::test(start_paused = true)]
    async fn a_move_outlasts_every_lease() {
        let reader = AuthLease::default();
        let mover = AuthLease::default();
        let reads = Arc::new(AtomicU64::new(0));
        let epoch = Arc::new(AtomicU64::new(1));
        assert_eq!(reader.epoch(counted(&reads, &epoch)).await.unwrap(), 1);
        // The move commits just after the reader's read began.
        epoch.store(2, Ordering::SeqCst);
        let start = monotonic_now();
        mover.outlast().await;
        assert!(monotonic_now().duration_since(start) >= OUTLAST);
        assert!(OUTLAST > LEASE);
        assert_eq!(reader.epoch(counted(&reads, &epoch)).await.unwrap(), 2);
    }

    /// The replica that moved the epoch reads it again at once.
    #[tokio::test(start_paused = true)]
    async fn the_mover_forgets_its_own_read() {
        let lease = Arc::new(AuthLease::default());
        let reads = Arc::new(AtomicU64::new(0));
        let epoch = Arc::new(AtomicU64::new(1));
        assert_eq!(lease.epoch(counted(&reads, &epoch)).await.unwrap(), 1);
        epoch.store(2, Ordering::SeqCst);
        let waiting = {
            let lease = lease.clone();
            tokio::spawn(async move { lease.outlast().await })
        };
        tokio::task::yield_now().await;
        assert_eq!(lease.epoch(counted(&reads, &epoch)).await.unwrap(), 2);
        waiting.await.unwrap();
    }

    /// Requests that arrive while a read runs share it: one read, not one
    /// per request.
    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_share_one_read() {
        let lease = Arc::new(AuthLease::default());
        let reads = Arc::new(AtomicU64::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        let mut requests = Vec::new();
        for _ in 0..8 {
            let lease = lease.clone();
            let reads = reads.clone();
            let mut released = released.clone();
            requests.push(tokio::spawn(async move {
                lease
                    .epoch(|| async move {
                        reads.fetch_add(1, Ordering::SeqCst);
                        released.wait_for(|r| *r).await.unwrap();
                        Ok(7)
                    })
                    .await
            }));
        }
        tokio::task::yield_now().await;
        release.send(true).unwrap();
        for request in requests {
            assert_eq!(request.await.unwrap().unwrap(), 7);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
