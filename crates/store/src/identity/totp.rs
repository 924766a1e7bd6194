//! Second factors by code: TOTP credentials (their secret sealed by the
//! keyring before it arrives here) and single-use recovery codes (hashes
//! only).

use async_trait::async_trait;
use rempart_model::PrincipalId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::engine::{
    Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, opt_to_micros, to_i64, to_micros, to_u64,
};

/// A TOTP credential. `secret` is the keyring's envelope of the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub principal: PrincipalId,
    pub secret: Vec<u8>,
    /// The last accepted time step: a code is never accepted twice.
    pub last_step: Option<u64>,
    pub created_at: OffsetDateTime,
    /// `None` until the holder proved the authenticator works.
    pub confirmed_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("principal", &self.principal)
            .field("last_step", &self.last_step)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

const GET: &str = "SELECT secret, last_step, created_at, confirmed_at FROM totp_credentials \
                   WHERE principal_id = $1";
const INSERT: &str = "INSERT INTO totp_credentials \
                      (principal_id, secret, last_step, created_at, confirmed_at) \
                      VALUES ($1, $2, $3, $4, $5)";
const DELETE: &str = "DELETE FROM totp_credentials WHERE principal_id = $1";
const ADVANCE: &str = "UPDATE totp_credentials SET last_step = $1, \
                       confirmed_at = COALESCE(confirmed_at, $2) \
                       WHERE principal_id = $3 AND COALESCE(last_step, -1) = $4";
const COUNT_CODES: &str =
    "SELECT COUNT(*) AS n FROM recovery_codes WHERE principal_id = $1 AND used_at IS NULL";
const DELETE_CODES: &str = "DELETE FROM recovery_codes WHERE principal_id = $1";
const INSERT_CODE: &str = "INSERT INTO recovery_codes (id, principal_id, code_hash, created_at) \
                           VALUES ($1, $2, $3, $4)";
const USE_CODE: &str = "UPDATE recovery_codes SET used_at = $1 \
                        WHERE principal_id = $2 AND code_hash = $3 AND used_at IS NULL";

/// The TOTP and recovery code reads of a transaction.
#[async_trait]
pub trait TotpReadTx: SqlRead {
    async fn totp(&mut self, id: PrincipalId) -> Result<Option<TotpRecord>, StoreError> {
        self.optional(Stmt::new(GET).bind(id.0), |row| {
            Ok(TotpRecord {
                principal: id,
                secret: row.bytes("secret")?,
                last_step: row.opt_i64("last_step")?.map(to_u64).transpose()?,
                created_at: row.time("created_at")?,
                confirmed_at: row.opt_time("confirmed_at")?,
            })
        })
        .await
    }

    async fn count_recovery_codes(&mut self, id: PrincipalId) -> Result<u64, StoreError> {
        self.one(Stmt::new(COUNT_CODES).bind(id.0), |row| row.u64("n"))
            .await
    }
}

/// The TOTP and recovery code writes of a write transaction.
#[async_trait]
pub trait TotpTx: TotpReadTx + SqlWrite {
    async fn put_totp(&mut self, record: &TotpRecord) -> Result<(), StoreError> {
        self.execute(Stmt::new(DELETE).bind(record.principal.0))
            .await?;
        let stmt = Stmt::new(INSERT)
            .bind(record.principal.0)
            .bind(record.secret.as_slice())
            .bind(record.last_step.map(to_i64).transpose()?)
            .bind(to_micros(record.created_at)?)
            .bind(opt_to_micros(record.confirmed_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Moves the last accepted step from `expected` to `step`; `false` when
    /// another request moved it first (the code was used concurrently).
    async fn advance_totp_step(
        &mut self,
        id: PrincipalId,
        expected: Option<u64>,
        step: u64,
        confirmed_at: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(ADVANCE)
            .bind(to_i64(step)?)
            .bind(opt_to_micros(confirmed_at)?)
            .bind(id.0)
            .bind(expected.map(to_i64).transpose()?.unwrap_or(-1));
        Ok(self.execute(stmt).await? == 1)
    }

    async fn delete_totp(&mut self, id: PrincipalId) -> Result<(), StoreError> {
        self.execute(Stmt::new(DELETE).bind(id.0)).await?;
        Ok(())
    }

    async fn replace_recovery_codes(
        &mut self,
        id: PrincipalId,
        codes: &[(Uuid, [u8; 32])],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.execute(Stmt::new(DELETE_CODES).bind(id.0)).await?;
        for (code_id, hash) in codes {
            let stmt = Stmt::new(INSERT_CODE)
                .bind(*code_id)
                .bind(id.0)
                .bind(hash.as_slice())
                .bind(to_micros(at)?);
            self.execute(stmt).await?;
        }
        Ok(())
    }

    /// Marks the unused code with this hash used; `false` if there is none.
    async fn use_recovery_code(
        &mut self,
        id: PrincipalId,
        hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(USE_CODE)
            .bind(to_micros(at)?)
            .bind(id.0)
            .bind(hash.as_slice());
        Ok(self.execute(stmt).await? == 1)
    }
}

impl<D: Db> TotpReadTx for EngineTx<D> {}
impl<D: Db> TotpTx for EngineTx<D> {}
