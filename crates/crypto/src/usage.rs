//! Usage bounds of AES-256-GCM keys under random nonces.
//!
//! With random 96-bit nonces, NIST SP 800-38D (section 8.3) caps one key at
//! 2^32 invocations of the authenticated encryption function, keeping the
//! chance of a nonce collision below 2^-32. Invariant: a key never encrypts
//! once its count reaches the limit (`CryptoError::RotationRequired`), and
//! reports `rotation_due` well before, so the caller rotates in time. The
//! bound is a parameter so tests can use a small one.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{CryptoError, Result};

/// How many encryptions a key may perform, and when to ask for rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageBound {
    limit: u64,
    rotate_after: u64,
}

impl UsageBound {
    /// NIST SP 800-38D bound for random nonces: 2^32 encryptions, rotation
    /// due from 2^31 (half the budget, so a busy system has time to react).
    pub const NIST_RANDOM_NONCE: Self = Self {
        limit: 1 << 32,
        rotate_after: 1 << 31,
    };

    /// A bound of `limit` encryptions, rotation due from `rotate_after`
    /// (clamped to `limit`).
    pub fn new(limit: u64, rotate_after: u64) -> Self {
        Self {
            limit,
            rotate_after: rotate_after.min(limit),
        }
    }

    /// The hard limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The count from which rotation is due.
    pub fn rotate_after(&self) -> u64 {
        self.rotate_after
    }

    /// Whether a key that has encrypted `count` times should be rotated.
    pub fn rotation_due(&self, count: u64) -> bool {
        count >= self.rotate_after
    }

    /// The usage report for `count` encryptions.
    pub fn report(&self, count: u64) -> KeyUsage {
        KeyUsage {
            encryptions: count,
            limit: self.limit,
            rotation_due: self.rotation_due(count),
        }
    }
}

impl Default for UsageBound {
    fn default() -> Self {
        Self::NIST_RANDOM_NONCE
    }
}

/// How much of its budget a key has used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyUsage {
    /// Encryptions performed, including those the caller restored.
    pub encryptions: u64,
    /// The hard limit.
    pub limit: u64,
    /// `true` once the key should be replaced.
    pub rotation_due: bool,
}

/// A thread-safe encryption counter, checked against a bound at each use.
#[derive(Debug)]
pub(crate) struct UsageCounter {
    count: AtomicU64,
}

impl UsageCounter {
    pub(crate) fn new(start: u64) -> Self {
        Self {
            count: AtomicU64::new(start),
        }
    }

    /// Reserves one encryption, or refuses once the limit is reached.
    pub(crate) fn reserve(&self, bound: UsageBound) -> Result<()> {
        let limit = bound.limit;
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < limit).then_some(c + 1)
            })
            .map(|_| ())
            .map_err(|_| CryptoError::RotationRequired { limit })
    }

    pub(crate) fn get(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_refuses_at_limit_and_warns_before() {
        let bound = UsageBound::new(3, 2);
        let counter = UsageCounter::new(0);
        counter.reserve(bound).unwrap();
        assert!(!bound.report(counter.get()).rotation_due);
        counter.reserve(bound).unwrap();
        assert!(bound.report(counter.get()).rotation_due);
        counter.reserve(bound).unwrap();
        assert!(matches!(
            counter.reserve(bound),
            Err(CryptoError::RotationRequired { limit: 3 })
        ));
        assert_eq!(counter.get(), 3);
    }

    #[test]
    fn restored_count_counts() {
        let counter = UsageCounter::new(10);
        assert!(counter.reserve(UsageBound::new(10, 5)).is_err());
    }

    #[test]
    fn default_is_nist_bound() {
        assert_eq!(UsageBound::default().limit(), 1 << 32);
    }
}
