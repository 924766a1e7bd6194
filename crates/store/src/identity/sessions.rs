//! Sessions: a browser's or the CLI's login, stored by the SHA-256 hash of
//! its secret, with its stage through login, its timeouts and its
//! revocation.

use async_trait::async_trait;
use rempart_model::PrincipalId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, opt_to_micros, to_micros,
};

/// How far a session has come through login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Password accepted; the second factor is next.
    SecondFactor,
    /// MFA is required and not enrolled: enrolment is next.
    EnrolMfa,
    /// The password expired or was reset: a new one is next.
    ChangePassword,
    /// Logged in.
    Full,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecondFactor => "second_factor",
            Self::EnrolMfa => "enrol_mfa",
            Self::ChangePassword => "change_password",
            Self::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "second_factor" => Some(Self::SecondFactor),
            "enrol_mfa" => Some(Self::EnrolMfa),
            "change_password" => Some(Self::ChangePassword),
            "full" => Some(Self::Full),
            _ => None,
        }
    }
}

/// A browser or CLI session. `hash` is SHA-256 of the session secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub principal: PrincipalId,
    pub hash: [u8; 32],
    pub stage: SessionStage,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// The absolute timeout.
    pub expires_at: OffsetDateTime,
    /// The last time the holder proved who they are (step-up).
    pub authenticated_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub source: Option<String>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("principal", &self.principal)
            .field("stage", &self.stage)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

const INSERT: &str = "INSERT INTO sessions (id, principal_id, secret_hash, stage, created_at, \
                      last_seen_at, expires_at, authenticated_at, revoked_at, source) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const BY_HASH: &str = "SELECT id, principal_id, secret_hash, stage, created_at, last_seen_at, \
                       expires_at, authenticated_at, revoked_at, source \
                       FROM sessions WHERE secret_hash = $1";
const BY_ID: &str = "SELECT id, principal_id, secret_hash, stage, created_at, last_seen_at, \
                     expires_at, authenticated_at, revoked_at, source \
                     FROM sessions WHERE id = $1";
const LIVE_OF: &str = "SELECT id, principal_id, secret_hash, stage, created_at, last_seen_at, \
                       expires_at, authenticated_at, revoked_at, source \
                       FROM sessions WHERE principal_id = $1 AND revoked_at IS NULL \
                       AND expires_at > $2 ORDER BY created_at";
const UPDATE: &str = "UPDATE sessions SET stage = $1, last_seen_at = $2, authenticated_at = $3 \
                      WHERE id = $4";
const TOUCH: &str = "UPDATE sessions SET last_seen_at = $1 WHERE id = $2";
const REVOKE: &str = "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
const REVOKE_ALL_OF: &str =
    "UPDATE sessions SET revoked_at = $1 WHERE principal_id = $2 AND revoked_at IS NULL";

fn session(row: &dyn Columns) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: row.uuid("id")?,
        principal: PrincipalId(row.uuid("principal_id")?),
        hash: row.hash("secret_hash")?,
        stage: SessionStage::parse(&row.text("stage")?)
            .ok_or_else(|| StoreError::corrupt("unknown session stage"))?,
        created_at: row.time("created_at")?,
        last_seen_at: row.time("last_seen_at")?,
        expires_at: row.time("expires_at")?,
        authenticated_at: row.time("authenticated_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        source: row.opt_text("source")?,
    })
}

/// The session reads of a transaction.
#[async_trait]
pub trait SessionReadTx: SqlRead {
    async fn session_by_hash(
        &mut self,
        hash: &[u8; 32],
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.optional(Stmt::new(BY_HASH).bind(hash.as_slice()), session)
            .await
    }

    async fn session(&mut self, id: Uuid) -> Result<Option<SessionRecord>, StoreError> {
        self.optional(Stmt::new(BY_ID).bind(id), session).await
    }

    /// Sessions not revoked and not past their absolute timeout at `now`.
    async fn sessions_of(
        &mut self,
        id: PrincipalId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let stmt = Stmt::new(LIVE_OF).bind(id.0).bind(to_micros(now)?);
        self.all(stmt, session).await
    }
}

/// The session writes of a write transaction. A new stage or a revocation
/// changes what a cached authentication holds: it moves the auth epoch.
#[async_trait]
pub trait SessionTx: SessionReadTx + SqlWrite {
    async fn insert_session(&mut self, s: &SessionRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT)
            .bind(s.id)
            .bind(s.principal.0)
            .bind(s.hash.as_slice())
            .bind(s.stage.as_str())
            .bind(to_micros(s.created_at)?)
            .bind(to_micros(s.last_seen_at)?)
            .bind(to_micros(s.expires_at)?)
            .bind(to_micros(s.authenticated_at)?)
            .bind(opt_to_micros(s.revoked_at)?)
            .bind(s.source.as_deref());
        self.execute(stmt).await?;
        Ok(())
    }

    async fn update_session(
        &mut self,
        id: Uuid,
        stage: SessionStage,
        last_seen_at: OffsetDateTime,
        authenticated_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(UPDATE)
            .bind(stage.as_str())
            .bind(to_micros(last_seen_at)?)
            .bind(to_micros(authenticated_at)?)
            .bind(id)
            .invalidates_auth();
        self.execute(stmt).await?;
        Ok(())
    }

    /// Records a session's use (its idle timeout restarts); unlike every
    /// other change to a credential, this does not move the auth epoch.
    async fn touch_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        self.execute(Stmt::new(TOUCH).bind(to_micros(at)?).bind(id))
            .await?;
        Ok(())
    }

    async fn revoke_session(&mut self, id: Uuid, at: OffsetDateTime) -> Result<bool, StoreError> {
        let stmt = Stmt::new(REVOKE)
            .bind(to_micros(at)?)
            .bind(id)
            .invalidates_auth();
        Ok(self.execute(stmt).await? == 1)
    }

    async fn revoke_sessions_of(
        &mut self,
        id: PrincipalId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let stmt = Stmt::new(REVOKE_ALL_OF)
            .bind(to_micros(at)?)
            .bind(id.0)
            .invalidates_auth();
        self.execute(stmt).await
    }
}

impl<D: Db> SessionReadTx for EngineTx<D> {}
impl<D: Db> SessionTx for EngineTx<D> {}
