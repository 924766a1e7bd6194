//! Login throttling: failures counted under a key (an account or a source
//! address) in one statement, so that concurrent failures on several
//! replicas all count; lockouts that escalate.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;
use crate::engine::{Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, to_micros};

/// Failed logins counted under one key (an account or a source address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleRecord {
    pub key: String,
    pub failures: u32,
    pub window_start: OffsetDateTime,
    pub locked_until: Option<OffsetDateTime>,
    /// Lockouts so far: each one lasts longer (escalation).
    pub lockouts: u32,
}

const GET: &str =
    "SELECT failures, window_start, locked_until, lockouts FROM login_throttle WHERE key = $1";
/// One failure: a window that began before `$3` starts again at `$2`.
const COUNT_FAILURE: &str = "INSERT INTO login_throttle \
                             (key, failures, window_start, locked_until, lockouts) \
                             VALUES ($1, 1, $2, NULL, 0) \
                             ON CONFLICT (key) DO UPDATE SET \
                             failures = CASE WHEN login_throttle.window_start < $3 THEN 1 \
                             ELSE login_throttle.failures + 1 END, \
                             window_start = CASE WHEN login_throttle.window_start < $3 THEN $2 \
                             ELSE login_throttle.window_start END";
const LOCK: &str = "UPDATE login_throttle \
                    SET locked_until = $1, lockouts = lockouts + 1, failures = 0 \
                    WHERE key = $2";
const CLEAR: &str = "DELETE FROM login_throttle WHERE key = $1";
const PURGE: &str = "DELETE FROM login_throttle WHERE window_start < $1 \
                     AND (locked_until IS NULL OR locked_until < $1)";
const RECORD_KEY_CHECK: &str = "INSERT INTO login_key_check (id, check_value) VALUES (1, $1) \
                                ON CONFLICT (id) DO NOTHING";
const KEY_CHECK: &str = "SELECT check_value FROM login_key_check WHERE id = 1";

/// The login throttle's reads.
#[async_trait]
pub trait ThrottleReadTx: SqlRead {
    async fn throttle(&mut self, key: &str) -> Result<Option<ThrottleRecord>, StoreError> {
        self.optional(Stmt::new(GET).bind(key), |row| {
            let count = |name: &str| row.u32(name, "throttle count");
            Ok(ThrottleRecord {
                key: key.to_owned(),
                failures: count("failures")?,
                window_start: row.time("window_start")?,
                locked_until: row.opt_time("locked_until")?,
                lockouts: count("lockouts")?,
            })
        })
        .await
    }
}

/// The login throttle's writes.
#[async_trait]
pub trait ThrottleTx: ThrottleReadTx + SqlWrite {
    /// Counts one failure under `key` in one statement (concurrent
    /// failures on several replicas all count): a window that began before
    /// `window_cutoff` starts again at `now`.
    async fn count_login_failure(
        &mut self,
        key: &str,
        now: OffsetDateTime,
        window_cutoff: OffsetDateTime,
    ) -> Result<ThrottleRecord, StoreError> {
        let stmt = Stmt::new(COUNT_FAILURE)
            .bind(key)
            .bind(to_micros(now)?)
            .bind(to_micros(window_cutoff)?);
        self.execute(stmt).await?;
        self.throttle(key)
            .await?
            .ok_or_else(|| StoreError::corrupt("a throttle row vanished"))
    }

    /// Locks `key` until `until`, counting the lockout and restarting the
    /// failure count.
    async fn lock_login(&mut self, key: &str, until: OffsetDateTime) -> Result<(), StoreError> {
        self.execute(Stmt::new(LOCK).bind(to_micros(until)?).bind(key))
            .await?;
        Ok(())
    }

    async fn clear_throttle(&mut self, key: &str) -> Result<(), StoreError> {
        self.execute(Stmt::new(CLEAR).bind(key)).await?;
        Ok(())
    }

    /// Deletes the counters of keys with no failure and no lockout since
    /// `before` (unknown names would otherwise accumulate rows).
    async fn purge_login_throttle(&mut self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.execute(Stmt::new(PURGE).bind(to_micros(before)?))
            .await
    }

    /// Records `value` as the login-name key's check value unless one is
    /// recorded already; answers the recorded one.
    async fn record_login_key_check(&mut self, value: &str) -> Result<String, StoreError> {
        self.execute(Stmt::new(RECORD_KEY_CHECK).bind(value))
            .await?;
        self.one(Stmt::new(KEY_CHECK), |row| row.text("check_value"))
            .await
    }
}

impl<D: Db> ThrottleReadTx for EngineTx<D> {}
impl<D: Db> ThrottleTx for EngineTx<D> {}
