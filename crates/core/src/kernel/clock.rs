//! The clock: the one place that reads the wall clock (invariant 6).
//!
//! Everything that depends on "now" (expiry, deadlines, audit times, the
//! time part of v7 ids) takes a [`Clock`], so that tests move time instead
//! of sleeping. `clippy.toml` bans reading the wall clock anywhere else.
//! Times are truncated to microseconds: that is what both databases keep
//! and what the audit hash covers.

use std::fmt::Debug;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};
use uuid::{NoContext, Timestamp, Uuid};

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> OffsetDateTime;

    /// A new UUIDv7 whose time part comes from this clock.
    fn new_id(&self) -> Uuid {
        let now = self.now();
        let secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        Uuid::new_v7(Timestamp::from_unix(NoContext, secs, now.nanosecond()))
    }
}

fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "this is the one clock implementation"
    )]
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// Waits for `duration` of real time: for back-off and grace periods, never
/// for logic that a test would have to wait out.
pub async fn pause(duration: std::time::Duration) {
    #[allow(clippy::disallowed_methods, reason = "the one place that sleeps")]
    tokio::time::sleep(duration).await;
}

/// A clock that moves only when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: Mutex::new(truncate_to_micros(start)),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = truncate_to_micros(*now + by);
    }

    pub fn set(&self, to: OffsetDateTime) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = truncate_to_micros(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(datetime!(2026-11-27 10:00:00.123456789 UTC));
        assert_eq!(clock.now(), datetime!(2026-11-27 10:00:00.123456 UTC));
        clock.advance(Duration::hours(25));
        assert_eq!(clock.now(), datetime!(2026-11-28 11:00:00.123456 UTC));
    }

    #[test]
    fn ids_follow_the_clock() {
        let clock = ManualClock::new(datetime!(2026-11-27 10:00 UTC));
        let a = clock.new_id();
        clock.advance(Duration::seconds(1));
        let b = clock.new_id();
        assert_eq!(a.get_version_num(), 7);
        assert!(b > a);
    }
}
