//! Stored data keys: wrapped bytes only (invariant 4). The store never sees
//! a data key in the clear; it keeps what the keyring wrapped, scoped by
//! tenant like all tenant data (invariant 2).

use async_trait::async_trait;
use rempart_model::{Environment, TenantId};
use time::OffsetDateTime;

use crate::StoreError;
use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, opt_to_micros, to_i64, to_micros,
};

/// Length of a data key id (the id written in every envelope).
pub const DATA_KEY_ID_LEN: usize = 16;

/// One wrapped data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRecord {
    pub id: [u8; DATA_KEY_ID_LEN],
    /// The owning tenant; `None` for a system-wide key (data of no tenant).
    pub tenant: Option<TenantId>,
    pub environment: Environment,
    pub purpose: String,
    /// The KEK version that wrapped it (also in the wrapped header).
    pub kek_version: u32,
    /// The wrapped key, as the keyring produced it.
    pub wrapped: Vec<u8>,
    /// Encryptions performed with it, for the usage bound.
    pub encryptions: u64,
    pub created_at: OffsetDateTime,
    pub rewrapped_at: Option<OffsetDateTime>,
}

/// How many data keys one KEK version of one environment wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyVersionCount {
    pub environment: String,
    pub kek_version: u32,
    pub data_keys: u64,
}

const INSERT: &str = "INSERT INTO data_keys (id, tenant_id, environment, purpose, kek_version, \
                      wrapped, encryptions, created_at, rewrapped_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING";
const FOR_TENANT: &str = "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, \
                          encryptions, created_at, rewrapped_at \
                          FROM data_keys WHERE tenant_id = $1 AND purpose = $2";
const FOR_SYSTEM: &str = "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, \
                          encryptions, created_at, rewrapped_at \
                          FROM data_keys WHERE tenant_id IS NULL AND purpose = $1";
const SYSTEM_BY_ID: &str = "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, \
                            encryptions, created_at, rewrapped_at \
                            FROM data_keys WHERE tenant_id IS NULL AND id = $1";
const TENANT_BY_ID: &str = "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, \
                            encryptions, created_at, rewrapped_at \
                            FROM data_keys WHERE tenant_id = $1 AND id = $2";
const TO_REWRAP: &str = "SELECT id, tenant_id, environment, purpose, kek_version, wrapped, \
                         encryptions, created_at, rewrapped_at FROM data_keys \
                         WHERE environment = $1 AND kek_version < $2 AND id > $3 \
                         ORDER BY id LIMIT $4";
const VERSIONS: &str = "SELECT environment, kek_version, COUNT(*) AS n FROM data_keys \
                        GROUP BY environment, kek_version ORDER BY environment, kek_version";
const SET_ENCRYPTIONS: &str = "UPDATE data_keys SET encryptions = $1 WHERE id = $2";
const REWRAP: &str =
    "UPDATE data_keys SET wrapped = $1, kek_version = $2, rewrapped_at = $3 WHERE id = $4";
const DELETE_OF_TENANT: &str = "DELETE FROM data_keys WHERE tenant_id = $1";
const DELETE_FOR_PURPOSE: &str = "DELETE FROM data_keys WHERE tenant_id = $1 AND purpose = $2";

fn data_key(row: &dyn Columns) -> Result<DataKeyRecord, StoreError> {
    Ok(DataKeyRecord {
        id: <[u8; DATA_KEY_ID_LEN]>::try_from(row.bytes("id")?.as_slice())
            .map_err(|_| StoreError::corrupt("a data key id is not 16 bytes"))?,
        tenant: row.opt_uuid("tenant_id")?.map(TenantId),
        environment: Environment::parse(&row.text("environment")?).map_err(StoreError::corrupt)?,
        purpose: row.text("purpose")?,
        kek_version: row.u32("kek_version", "KEK version")?,
        wrapped: row.bytes("wrapped")?,
        encryptions: row.u64("encryptions")?,
        created_at: row.time("created_at")?,
        rewrapped_at: row.opt_time("rewrapped_at")?,
    })
}

/// The data key reads of a transaction.
#[async_trait]
pub trait KeyReadTx: SqlRead {
    /// The tenant's data key for `purpose`, if it has one.
    async fn data_key_for(
        &mut self,
        tenant: TenantId,
        purpose: &str,
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        let stmt = Stmt::new(FOR_TENANT).bind(tenant.0).bind(purpose);
        self.optional(stmt, data_key).await
    }

    /// The system-wide data key (no tenant) for `purpose`, if there is one.
    async fn system_data_key_for(
        &mut self,
        purpose: &str,
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        self.optional(Stmt::new(FOR_SYSTEM).bind(purpose), data_key)
            .await
    }

    /// A system-wide data key by id (never a tenant's).
    async fn system_data_key_by_id(
        &mut self,
        id: &[u8; DATA_KEY_ID_LEN],
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        self.optional(Stmt::new(SYSTEM_BY_ID).bind(id.as_slice()), data_key)
            .await
    }

    /// A data key by id, only if it belongs to `tenant`.
    async fn data_key_by_id(
        &mut self,
        tenant: TenantId,
        id: &[u8; DATA_KEY_ID_LEN],
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        let stmt = Stmt::new(TENANT_BY_ID).bind(tenant.0).bind(id.as_slice());
        self.optional(stmt, data_key).await
    }

    /// Up to `limit` data keys of `environment` wrapped under a version
    /// below `below_version`, with ids after `after`, in id order: the
    /// resumable work list of a re-wrap.
    async fn data_keys_to_rewrap(
        &mut self,
        environment: &str,
        below_version: u32,
        after: Option<&[u8; DATA_KEY_ID_LEN]>,
        limit: u32,
    ) -> Result<Vec<DataKeyRecord>, StoreError> {
        let after: &[u8] = after.map_or(&[], |a| a.as_slice());
        let stmt = Stmt::new(TO_REWRAP)
            .bind(environment)
            .bind(i64::from(below_version))
            .bind(after)
            .bind(i64::from(limit));
        self.all(stmt, data_key).await
    }

    /// Data keys per environment and KEK version.
    async fn data_key_versions(&mut self) -> Result<Vec<DataKeyVersionCount>, StoreError> {
        self.all(Stmt::new(VERSIONS), |row| {
            Ok(DataKeyVersionCount {
                environment: row.text("environment")?,
                kek_version: row.u32("kek_version", "KEK version")?,
                data_keys: row.u64("n")?,
            })
        })
        .await
    }
}

/// The data key writes of a write transaction.
#[async_trait]
pub trait KeyTx: KeyReadTx + SqlWrite {
    /// Stores a new data key, unless the tenant (or the system, for a key
    /// of no tenant) already has one for the same purpose: then nothing is
    /// written and the answer is `false` (two transactions creating the
    /// first key of a purpose at once; the loser reads the winner's key).
    async fn insert_data_key(&mut self, key: &DataKeyRecord) -> Result<bool, StoreError> {
        // Both unique keys (a tenant's purpose, and the system's purpose)
        // end in "do nothing": on PostgreSQL the insert waits for a
        // concurrent one of the same key and then yields to it, instead of
        // failing the transaction.
        let stmt = Stmt::new(INSERT)
            .bind(key.id.as_slice())
            .bind(key.tenant.map(|t| t.0))
            .bind(key.environment.as_str())
            .bind(key.purpose.as_str())
            .bind(i64::from(key.kek_version))
            .bind(key.wrapped.as_slice())
            .bind(to_i64(key.encryptions)?)
            .bind(to_micros(key.created_at)?)
            .bind(opt_to_micros(key.rewrapped_at)?);
        Ok(self.execute(stmt).await? == 1)
    }

    async fn set_data_key_encryptions(
        &mut self,
        id: &[u8; DATA_KEY_ID_LEN],
        encryptions: u64,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(SET_ENCRYPTIONS)
            .bind(to_i64(encryptions)?)
            .bind(id.as_slice());
        self.execute(stmt).await?;
        Ok(())
    }

    /// Replaces a wrapped key (same data key, newer KEK version).
    async fn update_wrapped_data_key(
        &mut self,
        id: &[u8; DATA_KEY_ID_LEN],
        wrapped: &[u8],
        kek_version: u32,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(REWRAP)
            .bind(wrapped)
            .bind(i64::from(kek_version))
            .bind(to_micros(at)?)
            .bind(id.as_slice());
        self.execute(stmt).await?;
        Ok(())
    }

    /// Deletes the tenant's wrapped data keys (after crypto-shredding);
    /// returns how many.
    async fn delete_data_keys_of_tenant(&mut self, tenant: TenantId) -> Result<u64, StoreError> {
        self.execute(Stmt::new(DELETE_OF_TENANT).bind(tenant.0))
            .await
    }

    /// Deletes the tenant's wrapped data key for `purpose` (crypto-shredding
    /// what it encrypted, such as one data subject's values); answers
    /// whether there was one.
    async fn delete_data_key_for(
        &mut self,
        tenant: TenantId,
        purpose: &str,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(DELETE_FOR_PURPOSE).bind(tenant.0).bind(purpose);
        Ok(self.execute(stmt).await? == 1)
    }
}

impl<D: Db> KeyReadTx for EngineTx<D> {}
impl<D: Db> KeyTx for EngineTx<D> {}
