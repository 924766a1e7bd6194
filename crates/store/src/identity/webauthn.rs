//! WebAuthn storage (control AC-1): registered security keys and
//! passkeys, and the state of ceremonies in progress.
//!
//! Ceremony state lives here, not in the client and not in one replica's
//! memory, so that any replica can finish a ceremony another started. A
//! ceremony is single use: it is taken (deleted and returned in one
//! statement) when it is finished, so two replicas racing to finish the
//! same one cannot both succeed.

use async_trait::async_trait;
use rempart_model::PrincipalId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, opt_to_micros, to_micros,
};

/// A registered WebAuthn credential. `passkey` is the relying-party
/// library's serialised credential: the public key, the signature counter
/// and the registration's flags. It holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnCredentialRecord {
    pub id: Uuid,
    pub principal: PrincipalId,
    /// The authenticator's credential id (unique across accounts).
    pub credential_id: Vec<u8>,
    /// The holder's name for it ("YubiKey 5C", "laptop").
    pub name: String,
    pub passkey: String,
    /// The last signature counter accepted: an assertion must exceed it.
    pub counter: u32,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    Registration,
    Authentication,
}

impl CeremonyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Authentication => "authentication",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registration" => Some(Self::Registration),
            "authentication" => Some(Self::Authentication),
            _ => None,
        }
    }
}

/// A WebAuthn ceremony in progress, bound to the session that started it.
/// `state` is the relying-party library's serialised state (it holds the
/// challenge): never sent to the client, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct WebauthnCeremonyRecord {
    pub id: Uuid,
    pub principal: PrincipalId,
    pub session: Uuid,
    pub kind: CeremonyKind,
    pub state: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for WebauthnCeremonyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebauthnCeremonyRecord")
            .field("id", &self.id)
            .field("principal", &self.principal)
            .field("session", &self.session)
            .field("kind", &self.kind)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

const INSERT_CREDENTIAL: &str = "INSERT INTO webauthn_credentials (id, principal_id, \
                                 credential_id, name, passkey, counter, created_at, last_used_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const CREDENTIALS_OF: &str = "SELECT id, principal_id, credential_id, name, passkey, counter, \
                              created_at, last_used_at FROM webauthn_credentials \
                              WHERE principal_id = $1 ORDER BY created_at, id";
const CREDENTIAL_EXISTS: &str =
    "SELECT COUNT(*) AS n FROM webauthn_credentials WHERE credential_id = $1";
/// A use: only if the stored counter is still the one read (`$5`).
const UPDATE_CREDENTIAL: &str = "UPDATE webauthn_credentials \
                                 SET passkey = $1, counter = $2, last_used_at = $3 \
                                 WHERE id = $4 AND counter = $5";
const DELETE_CREDENTIALS_OF: &str = "DELETE FROM webauthn_credentials WHERE principal_id = $1";
const DELETE_CREDENTIAL: &str =
    "DELETE FROM webauthn_credentials WHERE id = $1 AND principal_id = $2";
const INSERT_CEREMONY: &str = "INSERT INTO webauthn_ceremonies (id, principal_id, session_id, \
                               kind, state, created_at, expires_at) \
                               VALUES ($1, $2, $3, $4, $5, $6, $7)";
const TAKE_CEREMONY: &str = "DELETE FROM webauthn_ceremonies \
                             WHERE id = $1 AND principal_id = $2 AND session_id = $3 \
                             AND kind = $4 RETURNING state, created_at, expires_at";
const PURGE_CEREMONIES: &str = "DELETE FROM webauthn_ceremonies WHERE expires_at <= $1";

fn credential(row: &dyn Columns) -> Result<WebauthnCredentialRecord, StoreError> {
    Ok(WebauthnCredentialRecord {
        id: row.uuid("id")?,
        principal: PrincipalId(row.uuid("principal_id")?),
        credential_id: row.bytes("credential_id")?,
        name: row.text("name")?,
        passkey: row.text("passkey")?,
        counter: row.u32("counter", "a WebAuthn counter")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

/// The WebAuthn reads of a transaction.
#[async_trait]
pub trait WebauthnReadTx: SqlRead {
    async fn webauthn_credentials(
        &mut self,
        id: PrincipalId,
    ) -> Result<Vec<WebauthnCredentialRecord>, StoreError> {
        self.all(Stmt::new(CREDENTIALS_OF).bind(id.0), credential)
            .await
    }

    /// Whether any account holds a credential with this authenticator id.
    async fn webauthn_credential_exists(
        &mut self,
        credential_id: &[u8],
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(CREDENTIAL_EXISTS).bind(credential_id);
        Ok(self.one(stmt, |row| row.i64("n")).await? > 0)
    }
}

/// The WebAuthn writes of a write transaction.
#[async_trait]
pub trait WebauthnTx: WebauthnReadTx + SqlWrite {
    async fn insert_webauthn_credential(
        &mut self,
        record: &WebauthnCredentialRecord,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_CREDENTIAL)
            .bind(record.id)
            .bind(record.principal.0)
            .bind(record.credential_id.as_slice())
            .bind(record.name.as_str())
            .bind(record.passkey.as_str())
            .bind(i64::from(record.counter))
            .bind(to_micros(record.created_at)?)
            .bind(opt_to_micros(record.last_used_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Records a use: the new serialised credential and counter, only if
    /// the stored counter is still `expected` (`false`: another request
    /// used the credential first).
    async fn update_webauthn_credential(
        &mut self,
        id: Uuid,
        passkey: &str,
        expected: u32,
        counter: u32,
        used_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(UPDATE_CREDENTIAL)
            .bind(passkey)
            .bind(i64::from(counter))
            .bind(to_micros(used_at)?)
            .bind(id)
            .bind(i64::from(expected));
        Ok(self.execute(stmt).await? == 1)
    }

    async fn delete_webauthn_credentials(&mut self, id: PrincipalId) -> Result<u64, StoreError> {
        self.execute(Stmt::new(DELETE_CREDENTIALS_OF).bind(id.0))
            .await
    }

    /// Deletes the credential `id` if `principal` holds it.
    async fn delete_webauthn_credential(
        &mut self,
        principal: PrincipalId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(DELETE_CREDENTIAL).bind(id).bind(principal.0);
        Ok(self.execute(stmt).await? == 1)
    }

    async fn insert_webauthn_ceremony(
        &mut self,
        record: &WebauthnCeremonyRecord,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_CEREMONY)
            .bind(record.id)
            .bind(record.principal.0)
            .bind(record.session)
            .bind(record.kind.as_str())
            .bind(record.state.as_str())
            .bind(to_micros(record.created_at)?)
            .bind(to_micros(record.expires_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Deletes and returns the ceremony `id` if it was started by this
    /// session of this principal for this purpose; `None` otherwise (and
    /// then nothing is deleted).
    async fn take_webauthn_ceremony(
        &mut self,
        id: Uuid,
        principal: PrincipalId,
        session: Uuid,
        kind: CeremonyKind,
    ) -> Result<Option<WebauthnCeremonyRecord>, StoreError> {
        let stmt = Stmt::new(TAKE_CEREMONY)
            .bind(id)
            .bind(principal.0)
            .bind(session)
            .bind(kind.as_str());
        self.optional(stmt, |row| {
            Ok(WebauthnCeremonyRecord {
                id,
                principal,
                session,
                kind,
                state: row.text("state")?,
                created_at: row.time("created_at")?,
                expires_at: row.time("expires_at")?,
            })
        })
        .await
    }

    /// Deletes every ceremony that expired at or before `now`.
    async fn purge_webauthn_ceremonies(&mut self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.execute(Stmt::new(PURGE_CEREMONIES).bind(to_micros(now)?))
            .await
    }
}

impl<D: Db> WebauthnReadTx for EngineTx<D> {}
impl<D: Db> WebauthnTx for EngineTx<D> {}
