//! The customer-data vault's storage: collections and their schema
//! versions, records (confidential and personal values only as envelopes
//! the core sealed), blind-index entries, sealed vault keys, tokens and
//! the disposal register. The store sees no value of a classified field in
//! clear and makes no decision: every query takes the tenant (invariant 2).

mod records;

use async_trait::async_trait;
use rempart_model::TenantId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::engine::{Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, to_i64, to_micros};

pub use records::{
    CollectionRow, DisposalRow, IndexEntry, RecordRow, SchemaRow, TokenRow, VaultKeyRow,
    VaultKeyState,
};

const COLLECTION: &str = "SELECT id, tenant_id, name, version, created_at FROM vault_collections";
const INSERT_COLLECTION: &str = "INSERT INTO vault_collections (id, tenant_id, name, version, \
                                 created_at) VALUES ($1, $2, $3, $4, $5)";
const SET_COLLECTION_VERSION: &str =
    "UPDATE vault_collections SET version = $1 WHERE tenant_id = $2 AND id = $3 AND version = $4";
const SCHEMA: &str = "SELECT collection_id, version, fields, created_at FROM vault_schemas \
                      WHERE collection_id = $1 AND version = $2";
const SCHEMAS_OF_TENANT: &str = "SELECT s.collection_id, s.version, s.fields, s.created_at \
                                 FROM vault_schemas s JOIN vault_collections c \
                                 ON c.id = s.collection_id AND c.version = s.version";
const INSERT_SCHEMA: &str = "INSERT INTO vault_schemas (collection_id, version, fields, \
                             created_at) VALUES ($1, $2, $3, $4)";
const RECORD: &str = "SELECT id, tenant_id, collection_id, subject, version, schema_version, \
                      fields, created_at, updated_at FROM vault_records";
const INSERT_RECORD: &str = "INSERT INTO vault_records (id, tenant_id, collection_id, subject, \
                             version, schema_version, fields, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const UPDATE_RECORD: &str = "UPDATE vault_records SET subject = $1, version = $2, \
                             schema_version = $3, fields = $4, updated_at = $5 \
                             WHERE tenant_id = $6 AND id = $7 AND version = $8";
const DELETE_RECORD: &str = "DELETE FROM vault_records WHERE tenant_id = $1 AND id = $2";
const INSERT_ENTRY: &str = "INSERT INTO vault_index (tenant_id, collection_id, field, \
                            generation, entry, record_id) VALUES ($1, $2, $3, $4, $5, $6)";
const DELETE_ENTRIES: &str = "DELETE FROM vault_index WHERE tenant_id = $1 AND record_id = $2";
const BY_ENTRY: &str = "SELECT r.id, r.tenant_id, r.collection_id, r.subject, r.version, \
                        r.schema_version, r.fields, r.created_at, r.updated_at \
                        FROM vault_index i JOIN vault_records r ON r.id = i.record_id \
                        WHERE i.tenant_id = $1 AND i.collection_id = $2 AND i.field = $3 \
                        AND i.generation = $4 AND i.entry = $5 ORDER BY r.id LIMIT $6";
const VAULT_KEYS: &str = "SELECT tenant_id, scope, generation, bits, sealed, state, created_at \
                          FROM vault_keys WHERE tenant_id = $1 AND scope = $2 \
                          ORDER BY generation";
const INSERT_VAULT_KEY: &str = "INSERT INTO vault_keys (tenant_id, scope, generation, bits, \
                                sealed, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                                ON CONFLICT DO NOTHING";
const SET_VAULT_KEY_STATE: &str = "UPDATE vault_keys SET state = $1 \
                                   WHERE tenant_id = $2 AND scope = $3 AND generation = $4";
const TOKEN: &str = "SELECT token, tenant_id, collection_id, field, subject, sealed, \
                     fingerprint, created_at FROM vault_tokens";
const INSERT_TOKEN: &str = "INSERT INTO vault_tokens (token, tenant_id, collection_id, field, \
                            subject, sealed, fingerprint, created_at) \
                            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
const SUBJECT_KEY: &str =
    "SELECT key_purpose FROM vault_subjects WHERE tenant_id = $1 AND fingerprint = $2";
const INSERT_SUBJECT: &str = "INSERT INTO vault_subjects (tenant_id, fingerprint, key_purpose, \
                              created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
const ORPHAN_SUBJECT_KEYS: &str = "SELECT COUNT(*) AS n FROM data_keys k WHERE k.purpose LIKE \
                                   'vault-subject/%' AND NOT EXISTS (SELECT 1 FROM vault_subjects \
                                   s WHERE s.tenant_id = k.tenant_id AND s.key_purpose = k.purpose)";
const KEYS_OUTSIDE_ENVIRONMENT: &str = "SELECT COUNT(*) AS n FROM data_keys k JOIN tenants t \
                                        ON t.id = k.tenant_id WHERE k.environment <> t.environment";
const INSERT_DISPOSAL: &str = "INSERT INTO vault_disposals (id, tenant_id, kind, what, records, \
                               keys_destroyed, disposed_at, disposed_by) \
                               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const DISPOSALS: &str = "SELECT id, tenant_id, kind, what, records, keys_destroyed, \
                         disposed_at, disposed_by FROM vault_disposals";

/// The vault's reads. Every one takes the tenant.
#[async_trait]
pub trait VaultReadTx: SqlRead {
    async fn vault_collection(
        &mut self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Option<CollectionRow>, StoreError> {
        let mut stmt = Stmt::new(COLLECTION);
        stmt.push(" WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND name = ")
            .push_bind(name);
        self.optional(stmt, records::collection).await
    }

    /// The tenant's collections, by name.
    async fn vault_collections(
        &mut self,
        tenant: TenantId,
    ) -> Result<Vec<CollectionRow>, StoreError> {
        let mut stmt = Stmt::new(COLLECTION);
        stmt.push(" WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" ORDER BY name");
        self.all(stmt, records::collection).await
    }

    async fn vault_schema(
        &mut self,
        collection: Uuid,
        version: u32,
    ) -> Result<Option<SchemaRow>, StoreError> {
        let stmt = Stmt::new(SCHEMA).bind(collection).bind(i64::from(version));
        self.optional(stmt, records::schema).await
    }

    /// The current schema of every collection, of every tenant: what the
    /// control checks read (a schema holds no customer data).
    async fn vault_current_schemas(&mut self) -> Result<Vec<SchemaRow>, StoreError> {
        self.all(Stmt::new(SCHEMAS_OF_TENANT), records::schema)
            .await
    }

    async fn vault_record(
        &mut self,
        tenant: TenantId,
        collection: Uuid,
        id: Uuid,
    ) -> Result<Option<RecordRow>, StoreError> {
        let mut stmt = Stmt::new(RECORD);
        stmt.push(" WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND collection_id = ")
            .push_bind(collection)
            .push(" AND id = ")
            .push_bind(id);
        self.optional(stmt, records::record).await
    }

    /// Up to `limit` records of a collection after `after`, in id order.
    async fn vault_records(
        &mut self,
        tenant: TenantId,
        collection: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut stmt = Stmt::new(RECORD);
        stmt.push(" WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND collection_id = ")
            .push_bind(collection);
        if let Some(after) = after {
            stmt.push(" AND id > ").push_bind(after);
        }
        stmt.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        self.all(stmt, records::record).await
    }

    /// Up to `limit` records, of every collection and tenant, after
    /// `after`: the sample the control checks read (ciphertext only).
    async fn vault_records_sample(
        &mut self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut stmt = Stmt::new(RECORD);
        if let Some(after) = after {
            stmt.push(" WHERE id > ").push_bind(after);
        }
        stmt.push(" ORDER BY id LIMIT ").push_bind(i64::from(limit));
        self.all(stmt, records::record).await
    }

    /// The records of a data subject (by the keyed hash of its identifier).
    async fn vault_records_of_subject(
        &mut self,
        tenant: TenantId,
        subject: &[u8],
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut stmt = Stmt::new(RECORD);
        stmt.push(" WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND subject = ")
            .push_bind(subject)
            .push(" ORDER BY id");
        self.all(stmt, records::record).await
    }

    /// The records of a collection whose index entry for `field` in
    /// `generation` is `entry`: the candidates of a search, which the
    /// caller decrypts and compares.
    async fn vault_records_by_entry(
        &mut self,
        tenant: TenantId,
        entry: &IndexEntry,
        limit: u32,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let stmt = Stmt::new(BY_ENTRY)
            .bind(tenant.0)
            .bind(entry.collection)
            .bind(entry.field.as_str())
            .bind(i64::from(entry.generation))
            .bind(entry.entry)
            .bind(i64::from(limit));
        self.all(stmt, records::record).await
    }

    /// The generations of a vault key scope, oldest first.
    async fn vault_keys(
        &mut self,
        tenant: TenantId,
        scope: &str,
    ) -> Result<Vec<VaultKeyRow>, StoreError> {
        let stmt = Stmt::new(VAULT_KEYS).bind(tenant.0).bind(scope);
        self.all(stmt, records::vault_key).await
    }

    async fn vault_token(
        &mut self,
        tenant: TenantId,
        token: &str,
    ) -> Result<Option<TokenRow>, StoreError> {
        let mut stmt = Stmt::new(TOKEN);
        stmt.push(" WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND token = ")
            .push_bind(token);
        self.optional(stmt, records::token).await
    }

    /// The deterministic token of a value, by its fingerprint.
    async fn vault_token_by_fingerprint(
        &mut self,
        tenant: TenantId,
        collection: Uuid,
        field: &str,
        fingerprint: &[u8],
    ) -> Result<Option<TokenRow>, StoreError> {
        let mut stmt = Stmt::new(TOKEN);
        stmt.push(" WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND collection_id = ")
            .push_bind(collection)
            .push(" AND field = ")
            .push_bind(field)
            .push(" AND fingerprint = ")
            .push_bind(fingerprint);
        self.optional(stmt, records::token).await
    }

    /// The purpose of the data key that seals a data subject's records.
    async fn vault_subject_key(
        &mut self,
        tenant: TenantId,
        fingerprint: &[u8],
    ) -> Result<Option<String>, StoreError> {
        let stmt = Stmt::new(SUBJECT_KEY).bind(tenant.0).bind(fingerprint);
        self.optional(stmt, |row| row.text("key_purpose")).await
    }

    /// Subject data keys whose subject is no longer recorded: an erasure
    /// that destroyed the subject's records but left its key (control DS-6).
    async fn vault_orphan_subject_keys(&mut self) -> Result<u64, StoreError> {
        self.one(Stmt::new(ORPHAN_SUBJECT_KEYS), |row| row.u64("n"))
            .await
    }

    /// Tenant data keys wrapped for another environment than their
    /// tenant's (control DV-3: development keys never open production data).
    async fn data_keys_outside_their_environment(&mut self) -> Result<u64, StoreError> {
        self.one(Stmt::new(KEYS_OUTSIDE_ENVIRONMENT), |row| row.u64("n"))
            .await
    }

    /// The disposal register, of one tenant or of all, newest first.
    async fn vault_disposals(
        &mut self,
        tenant: Option<TenantId>,
    ) -> Result<Vec<DisposalRow>, StoreError> {
        let mut stmt = Stmt::new(DISPOSALS);
        if let Some(tenant) = tenant {
            stmt.push(" WHERE tenant_id = ").push_bind(tenant.0);
        }
        stmt.push(" ORDER BY disposed_at DESC");
        self.all(stmt, records::disposal).await
    }
}

/// The vault's writes.
#[async_trait]
pub trait VaultTx: VaultReadTx + SqlWrite {
    /// Stores a collection and its first schema; a name the tenant
    /// already uses is a conflict.
    async fn insert_vault_collection(
        &mut self,
        collection: &CollectionRow,
        schema: &SchemaRow,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_COLLECTION)
            .bind(collection.id)
            .bind(collection.tenant.0)
            .bind(collection.name.as_str())
            .bind(i64::from(collection.version))
            .bind(to_micros(collection.created_at)?);
        self.execute(stmt).await?;
        self.insert_vault_schema(schema).await
    }

    async fn insert_vault_schema(&mut self, schema: &SchemaRow) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_SCHEMA)
            .bind(schema.collection)
            .bind(i64::from(schema.version))
            .bind(schema.fields.as_str())
            .bind(to_micros(schema.created_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Moves a collection to its next schema version, if it is still at
    /// `from` (answers whether it was).
    async fn set_vault_collection_version(
        &mut self,
        tenant: TenantId,
        collection: Uuid,
        from: u32,
        to: u32,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(SET_COLLECTION_VERSION)
            .bind(i64::from(to))
            .bind(tenant.0)
            .bind(collection)
            .bind(i64::from(from));
        Ok(self.execute(stmt).await? == 1)
    }

    async fn insert_vault_record(&mut self, record: &RecordRow) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_RECORD)
            .bind(record.id)
            .bind(record.tenant.0)
            .bind(record.collection)
            .bind(record.subject.as_deref())
            .bind(to_i64(record.version)?)
            .bind(i64::from(record.schema_version))
            .bind(record.fields.as_str())
            .bind(to_micros(record.created_at)?)
            .bind(to_micros(record.updated_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Replaces a record whose stored version is `expected` (optimistic
    /// concurrency); answers whether it was.
    async fn update_vault_record(
        &mut self,
        record: &RecordRow,
        expected: u64,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(UPDATE_RECORD)
            .bind(record.subject.as_deref())
            .bind(to_i64(record.version)?)
            .bind(i64::from(record.schema_version))
            .bind(record.fields.as_str())
            .bind(to_micros(record.updated_at)?)
            .bind(record.tenant.0)
            .bind(record.id)
            .bind(to_i64(expected)?);
        Ok(self.execute(stmt).await? == 1)
    }

    /// Deletes a record and its index entries; answers whether it existed.
    async fn delete_vault_record(
        &mut self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        self.delete_vault_index_entries(tenant, id).await?;
        let stmt = Stmt::new(DELETE_RECORD).bind(tenant.0).bind(id);
        Ok(self.execute(stmt).await? == 1)
    }

    async fn insert_vault_index_entry(
        &mut self,
        tenant: TenantId,
        entry: &IndexEntry,
        record: Uuid,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_ENTRY)
            .bind(tenant.0)
            .bind(entry.collection)
            .bind(entry.field.as_str())
            .bind(i64::from(entry.generation))
            .bind(entry.entry)
            .bind(record);
        self.execute(stmt).await?;
        Ok(())
    }

    async fn delete_vault_index_entries(
        &mut self,
        tenant: TenantId,
        record: Uuid,
    ) -> Result<u64, StoreError> {
        self.execute(Stmt::new(DELETE_ENTRIES).bind(tenant.0).bind(record))
            .await
    }

    /// Stores a vault key generation unless one exists (a concurrent
    /// first use): answers whether this one was stored.
    async fn insert_vault_key(&mut self, key: &VaultKeyRow) -> Result<bool, StoreError> {
        let stmt = Stmt::new(INSERT_VAULT_KEY)
            .bind(key.tenant.0)
            .bind(key.scope.as_str())
            .bind(i64::from(key.generation))
            .bind(i64::from(key.bits))
            .bind(key.sealed.as_slice())
            .bind(key.state.as_str())
            .bind(to_micros(key.created_at)?);
        Ok(self.execute(stmt).await? == 1)
    }

    async fn set_vault_key_state(
        &mut self,
        tenant: TenantId,
        scope: &str,
        generation: u32,
        state: VaultKeyState,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(SET_VAULT_KEY_STATE)
            .bind(state.as_str())
            .bind(tenant.0)
            .bind(scope)
            .bind(i64::from(generation));
        self.execute(stmt).await?;
        Ok(())
    }

    /// Records a data subject and the purpose of its data key, unless it is
    /// recorded (a concurrent first record): answers whether this one was.
    async fn insert_vault_subject(
        &mut self,
        tenant: TenantId,
        fingerprint: &[u8],
        key_purpose: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let stmt = Stmt::new(INSERT_SUBJECT)
            .bind(tenant.0)
            .bind(fingerprint)
            .bind(key_purpose)
            .bind(to_micros(at)?);
        Ok(self.execute(stmt).await? == 1)
    }

    /// Stores a token unless its value already has a deterministic token
    /// (answers whether this one was stored).
    async fn insert_vault_token(&mut self, token: &TokenRow) -> Result<bool, StoreError> {
        let stmt = Stmt::new(INSERT_TOKEN)
            .bind(token.token.as_str())
            .bind(token.tenant.0)
            .bind(token.collection)
            .bind(token.field.as_str())
            .bind(token.subject.as_deref())
            .bind(token.sealed.as_slice())
            .bind(token.fingerprint.as_deref())
            .bind(to_micros(token.created_at)?);
        Ok(self.execute(stmt).await? == 1)
    }

    /// Deletes everything held about a data subject: its records, their
    /// index entries, its tokens, its fingerprint. Answers how many
    /// records went.
    async fn delete_vault_subject(
        &mut self,
        tenant: TenantId,
        subject: &[u8],
    ) -> Result<u64, StoreError> {
        let mut entries = Stmt::new("DELETE FROM vault_index WHERE tenant_id = ");
        entries
            .push_bind(tenant.0)
            .push(" AND record_id IN (SELECT id FROM vault_records WHERE tenant_id = ")
            .push_bind(tenant.0)
            .push(" AND subject = ")
            .push_bind(subject)
            .push(")");
        self.execute(entries).await?;
        let mut tokens = Stmt::new("DELETE FROM vault_tokens WHERE tenant_id = ");
        tokens
            .push_bind(tenant.0)
            .push(" AND subject = ")
            .push_bind(subject);
        self.execute(tokens).await?;
        let mut records = Stmt::new("DELETE FROM vault_records WHERE tenant_id = ");
        records
            .push_bind(tenant.0)
            .push(" AND subject = ")
            .push_bind(subject);
        let deleted = self.execute(records).await?;
        let mut row = Stmt::new("DELETE FROM vault_subjects WHERE tenant_id = ");
        row.push_bind(tenant.0)
            .push(" AND fingerprint = ")
            .push_bind(subject);
        self.execute(row).await?;
        Ok(deleted)
    }

    async fn insert_vault_disposal(&mut self, disposal: &DisposalRow) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_DISPOSAL)
            .bind(disposal.id)
            .bind(disposal.tenant.0)
            .bind(disposal.kind.as_str())
            .bind(disposal.what.as_str())
            .bind(to_i64(disposal.records)?)
            .bind(to_i64(disposal.keys_destroyed)?)
            .bind(to_micros(disposal.disposed_at)?)
            .bind(disposal.disposed_by.as_str());
        self.execute(stmt).await?;
        Ok(())
    }
}

impl<D: Db> VaultReadTx for EngineTx<D> {}
impl<D: Db> VaultTx for EngineTx<D> {}
