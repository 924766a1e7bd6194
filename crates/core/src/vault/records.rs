//! Records: created, read, updated, deleted, listed and looked up, each
//! through the gate. Writes check the record against its schema, seal its
//! confidential and personal values and write the blind-index entries of
//! its searchable fields in the same transaction as the record and its
//! audit event; updates apply only to the version the writer read
//! (optimistic concurrency).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rempart_model::vault::value::{normalise_lookup, search_text};
use rempart_model::vault::{IndexBits, Purpose, Record, Schema};
use rempart_model::{Action, Outcome, Permission, Tenant, TenantId};
use rempart_store::{IndexEntry, RecordRow, VaultKeyState};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::kernel::Kernel;
use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Cleared, Gate, Write};
use crate::kernel::target::Target;
use crate::service::Rempart;
use crate::vault::corrupt;
use crate::vault::error::VaultError;
use crate::vault::seal::{RECORDS, Sealer, field_aad};
use crate::vault::subjects::subject_key_or_create;
use crate::vault::view::{Reader, Stored, StoredFields, open_all, parse_stored};
use crate::vault::{Collection, collection_in, enter};

/// Records read at once past which a read of personal data in clear also
/// raises a `vault.bulk_read` event (high severity).
pub const BULK_READ_RECORDS: usize = 100;
/// The most records a page holds.
pub const MAX_PAGE: u32 = 500;
/// The most candidates a search opens.
const MAX_CANDIDATES: u32 = 2_000;

/// A record as one reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    pub id: Uuid,
    pub collection: rempart_model::vault::CollectionName,
    pub version: u64,
    /// Whether the record is linked to a data subject (never which).
    pub has_subject: bool,
    /// The fields the reader sees, clear or masked; others are left out.
    pub values: Map<String, Value>,
    /// The fields in `values` that are masked.
    pub masked: Vec<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A record's new content.
#[derive(Debug, Clone)]
pub struct RecordWrite {
    /// The data subject the record is about (a customer's id in the
    /// application): its records are erased together.
    pub subject: Option<String>,
    pub values: Value,
}

/// What a write answers: the record's id and new version (its ETag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef {
    pub id: Uuid,
    pub version: u64,
}

/// How a reader asks.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Why personal data is read: needed to see sensitive fields in clear.
    pub purpose: Option<Purpose>,
    /// Only these fields (all by default).
    pub fields: Option<Vec<String>>,
}

/// One page of a listing, and where the next starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPage {
    pub records: Vec<RecordView>,
    pub next: Option<Uuid>,
}

/// The scope of a searchable field's blind-index key.
pub(crate) fn index_scope(collection: Uuid, field: &str) -> String {
    format!("index/{collection}/{field}")
}

/// Seals `record`'s values as stored for `row_id`: the record row's
/// `fields` text.
async fn store_values(
    gate: &mut Gate<'_, Write, Cleared>,
    sealer: &mut Sealer<'_>,
    collection: &Collection,
    row_id: Uuid,
    purpose: &str,
    record: &Record,
) -> Result<String, ServiceError> {
    let ctx = gate.ctx().clone();
    let now = gate.now();
    let mut stored = StoredFields::new();
    for (name, value) in &record.0 {
        let Some(field) = collection.schema.field(name) else {
            continue;
        };
        let kept = if field.class.is_encrypted() {
            let plain = zeroize::Zeroizing::new(serde_json::to_vec(value).unwrap_or_default());
            let aad = field_aad(collection.id, row_id, name);
            let envelope = sealer
                .seal(gate.tx(), &ctx, now, purpose, &aad, &plain)
                .await?;
            Stored::Sealed(STANDARD.encode(envelope))
        } else {
            Stored::Clear(value.clone())
        };
        stored.insert(name.clone(), kept);
    }
    serde_json::to_string(&stored).map_err(|_| corrupt("a record does not serialise"))
}

/// Replaces the blind-index entries of record `row_id` by those of
/// `record`'s searchable fields. The record row must exist: an entry
/// references it.
async fn index_values(
    gate: &mut Gate<'_, Write, Cleared>,
    sealer: &mut Sealer<'_>,
    collection: &Collection,
    row_id: Uuid,
    record: &Record,
) -> Result<(), ServiceError> {
    let ctx = gate.ctx().clone();
    let now = gate.now();
    let tenant = sealer.tenant.id;
    gate.tx().delete_vault_index_entries(tenant, row_id).await?;
    for (name, value) in &record.0 {
        let Some(field) = collection.schema.field(name) else {
            continue;
        };
        let Some(bits) = field.index_bits() else {
            continue;
        };
        let scope = index_scope(collection.id, name);
        let keys = sealer
            .vault_keys_or_create(gate.tx(), &ctx, now, &scope, bits.get())
            .await?;
        let text = search_text(field, value);
        for key in keys.iter().filter(|k| k.state != VaultKeyState::Retired) {
            let bits = IndexBits::from_stored(key.bits)
                .map_err(|e| corrupt(&format!("a blind index key: {e}")))?;
            let entry = IndexEntry {
                collection: collection.id,
                field: name.clone(),
                generation: key.generation,
                entry: i64::from_ne_bytes(
                    bits.cut(&key.mac("index", text.as_bytes())).to_ne_bytes(),
                ),
            };
            gate.tx()
                .insert_vault_index_entry(tenant, &entry, row_id)
                .await?;
        }
    }
    Ok(())
}

/// Re-seals or opens, in every record of `collection`, the fields whose
/// class crossed the encryption boundary in `next`.
pub(crate) async fn reseal_collection(
    kernel: &Kernel,
    gate: &mut Gate<'_, Write, Cleared>,
    tenant: &Tenant,
    collection: &Collection,
    next: &Schema,
) -> Result<(), ServiceError> {
    let mut sealer = Sealer::new(kernel, tenant.clone());
    let reclassified = Collection {
        schema: next.clone(),
        ..collection.clone()
    };
    let mut after = None;
    loop {
        let rows = gate
            .read()
            .vault_records(tenant.id, collection.id, after, MAX_PAGE)
            .await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        for row in rows {
            let record = open_all(&mut sealer, gate.read(), collection, &row).await?;
            let purpose = record_purpose(gate.read(), tenant.id, &row).await?;
            let fields =
                store_values(gate, &mut sealer, &reclassified, row.id, &purpose, &record).await?;
            let resealed = RecordRow {
                fields,
                schema_version: next.version,
                ..row
            };
            gate.tx()
                .update_vault_record(&resealed, resealed.version)
                .await?;
            index_values(gate, &mut sealer, &reclassified, resealed.id, &record).await?;
        }
    }
    sealer.finish(gate.tx()).await
}

/// The data-key purpose that seals a stored record's values.
async fn record_purpose(
    tx: &mut dyn rempart_store::ReadTx,
    tenant: TenantId,
    row: &RecordRow,
) -> Result<String, ServiceError> {
    match &row.subject {
        Some(fingerprint) => Ok(tx
            .vault_subject_key(tenant, fingerprint)
            .await?
            .unwrap_or_else(|| RECORDS.to_owned())),
        None => Ok(RECORDS.to_owned()),
    }
}

impl Rempart {
    /// Stores a new record in the collection `name`. Needs
    /// `vault.record.write`.
    pub async fn create_record(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        name: &str,
        write: RecordWrite,
    ) -> Result<RecordRef, ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultRecordCreate)
            .on(Target::VaultRecords(name.chars().take(64).collect()))
            .in_tenant(Some(tenant));
        let gate = self.kernel.write(call).await?;
        let (gate, found) = enter(gate, tenant, Permission::VaultRecordWrite).await?;
        let (gate, collection) = collection_in(gate, tenant, name).await?;
        let record = match collection.schema.validate(&write.values, None) {
            Ok(record) => record,
            Err(e) => {
                let reason = format!("the record does not fit its schema: {e}");
                return Err(gate.refuse(&reason, VaultError::from(e)).await);
            }
        };
        let id = self.kernel.clock.new_id();
        let now = gate.now();
        let mut gate = gate;
        let mut sealer = Sealer::new(&self.kernel, found);
        let (subject, purpose) =
            subject_key_or_create(&mut gate, &mut sealer, write.subject.as_deref()).await?;
        let fields =
            store_values(&mut gate, &mut sealer, &collection, id, &purpose, &record).await?;
        let row = RecordRow {
            id,
            tenant,
            collection: collection.id,
            subject,
            version: 1,
            schema_version: collection.schema.version,
            fields,
            created_at: now,
            updated_at: now,
        };
        gate.tx().insert_vault_record(&row).await?;
        index_values(&mut gate, &mut sealer, &collection, id, &record).await?;
        sealer.finish(gate.tx()).await?;
        gate.on(Target::VaultRecord(id));
        gate.details(written_details(&record));
        gate.commit().await?;
        Ok(RecordRef { id, version: 1 })
    }

    /// Replaces the content of record `id`, if it is still at version
    /// `expected`. Needs `vault.record.write`.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_record(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        name: &str,
        id: Uuid,
        expected: u64,
        write: RecordWrite,
    ) -> Result<RecordRef, ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultRecordUpdate)
            .on(Target::VaultRecord(id))
            .in_tenant(Some(tenant));
        let gate = self.kernel.write(call).await?;
        let (gate, found) = enter(gate, tenant, Permission::VaultRecordWrite).await?;
        let (gate, collection) = collection_in(gate, tenant, name).await?;
        let (mut gate, row) = record_in(gate, tenant, &collection, id).await?;
        if row.version != expected {
            let answer = VaultError::Stale {
                expected,
                current: row.version,
            };
            return Err(gate.refuse("stale version", answer).await);
        }
        let mut sealer = Sealer::new(&self.kernel, found);
        let previous = open_all(&mut sealer, gate.read(), &collection, &row).await?;
        let record = match collection.schema.validate(&write.values, Some(&previous)) {
            Ok(record) => record,
            Err(e) => {
                let reason = format!("the record does not fit its schema: {e}");
                return Err(gate.refuse(&reason, VaultError::from(e)).await);
            }
        };
        let (subject, purpose) = match write.subject.as_deref() {
            Some(subject) => subject_key_or_create(&mut gate, &mut sealer, Some(subject)).await?,
            None => (
                row.subject.clone(),
                record_purpose(gate.read(), tenant, &row).await?,
            ),
        };
        let fields =
            store_values(&mut gate, &mut sealer, &collection, id, &purpose, &record).await?;
        let version = row.version.saturating_add(1);
        let updated = RecordRow {
            subject,
            version,
            schema_version: collection.schema.version,
            fields,
            updated_at: gate.now(),
            ..row
        };
        if !gate.tx().update_vault_record(&updated, expected).await? {
            return Err(VaultError::Stale {
                expected,
                current: version,
            }
            .into());
        }
        index_values(&mut gate, &mut sealer, &collection, id, &record).await?;
        sealer.finish(gate.tx()).await?;
        gate.details(written_details(&record));
        gate.commit().await?;
        Ok(RecordRef { id, version })
    }

    /// Deletes record `id` (its values and index entries go with it), at
    /// version `expected` when given. Needs `vault.record.delete`.
    pub async fn delete_record(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        name: &str,
        id: Uuid,
        expected: Option<u64>,
    ) -> Result<(), ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultRecordDelete)
            .on(Target::VaultRecord(id))
            .in_tenant(Some(tenant));
        let gate = self.kernel.write(call).await?;
        let (gate, _) = enter(gate, tenant, Permission::VaultRecordDelete).await?;
        let (gate, collection) = collection_in(gate, tenant, name).await?;
        let (mut gate, row) = record_in(gate, tenant, &collection, id).await?;
        if let Some(expected) = expected
            && expected != row.version
        {
            let answer = VaultError::Stale {
                expected,
                current: row.version,
            };
            return Err(gate.refuse("stale version", answer).await);
        }
        gate.tx().delete_vault_record(tenant, id).await?;
        gate.commit().await
    }

    /// Record `id` as the caller sees it. Needs `vault.read.internal`;
    /// each field's class decides clear, masked or left out.
    #[allow(clippy::too_many_arguments)]
    pub async fn read_record(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        name: &str,
        id: Uuid,
        options: ReadOptions,
    ) -> Result<RecordView, ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultRecordRead)
            .on(Target::VaultRecord(id))
            .in_tenant(Some(tenant));
        let gate = self.kernel.audited_read(call).await?;
        let (gate, found) = enter(gate, tenant, Permission::VaultReadInternal).await?;
        let (gate, collection) = collection_in(gate, tenant, name).await?;
        let (gate, reader) = reader_for(gate, actor, &found, &collection, options).await?;
        let (mut gate, row) = record_in(gate, tenant, &collection, id).await?;
        let mut sealer = Sealer::new(&self.kernel, found);
        let view = reader
            .render(&mut sealer, gate.read(), &collection, &row)
            .await?;
        gate.details(Details::new(&reader.details(1)));
        gate.commit().await?;
        Ok(view)
    }

    /// Up to `limit` records of the collection `name` after `after`, in id
    /// order, as the caller sees them. Needs `vault.read.internal`.
    #[allow(clippy::too_many_arguments)]
    pub async fn list_records(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        name: &str,
        after: Option<Uuid>,
        limit: u32,
        options: ReadOptions,
    ) -> Result<RecordPage, ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultRecordList)
            .on(Target::VaultRecords(name.chars().take(64).collect()))
            .in_tenant(Some(tenant));
        let gate = self.kernel.audited_read(call).await?;
        let (gate, found) = enter(gate, tenant, Permission::VaultReadInternal).await?;
        let (gate, collection) = collection_in(gate, tenant, name).await?;
        let (mut gate, reader) = reader_for(gate, actor, &found, &collection, options).await?;
        let limit = limit.clamp(1, MAX_PAGE);
        let rows = gate
            .read()
            .vault_records(tenant, collection.id, after, limit)
            .await?;
        let next = (rows.len() == limit as usize)
            .then(|| rows.last().map(|r| r.id))
            .flatten();
        let mut sealer = Sealer::new(&self.kernel, found);
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(
                reader
                    .render(&mut sealer, gate.read(), &collection, row)
                    .await?,
            );
        }
        finish_read(
            gate,
            actor,
            ctx,
            tenant,
            &collection,
            &reader,
            records.len(),
        )
        .await?;
        Ok(RecordPage { records, next })
    }

    /// The records of the collection `name` whose searchable `field`
    /// equals `value`, through the field's blind index. Needs
    /// `vault.search`.
    #[allow(clippy::too_many_arguments)]
    pub async fn search_records(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        name: &str,
        field: &str,
        value: &Value,
        options: ReadOptions,
    ) -> Result<Vec<RecordView>, ServiceError> {
        let call = Call::by(actor, ctx, Action::VaultSearch)
            .on(Target::VaultRecords(name.chars().take(64).collect()))
            .in_tenant(Some(tenant));
        let gate = self.kernel.audited_read(call).await?;
        let (gate, found) = enter(gate, tenant, Permission::VaultSearch).await?;
        let (gate, collection) = collection_in(gate, tenant, name).await?;
        let declared = collection
            .schema
            .field(field)
            .filter(|f| f.searchable.is_some());
        let Some(declared) = declared.cloned() else {
            let answer = VaultError::NotSearchable {
                field: field.chars().take(64).collect(),
            };
            return Err(gate.refuse("field not searchable", answer).await);
        };
        let wanted = normalise_lookup(&declared, value)
            .map_err(|e| VaultError::Record(rempart_model::vault::RecordError::Fields(vec![e])))?;
        let (mut gate, reader) = reader_for(gate, actor, &found, &collection, options).await?;
        let mut sealer = Sealer::new(&self.kernel, found);
        let scope = index_scope(collection.id, field);
        let keys = sealer.vault_keys(gate.read(), &scope).await?;
        let text = search_text(&declared, &wanted);
        let mut records = Vec::new();
        if let Some(key) = keys.iter().rev().find(|k| k.state == VaultKeyState::Active) {
            let bits = IndexBits::from_stored(key.bits).map_err(|e| corrupt(&e.to_string()))?;
            let entry = IndexEntry {
                collection: collection.id,
                field: field.to_owned(),
                generation: key.generation,
                entry: i64::from_ne_bytes(
                    bits.cut(&key.mac("index", text.as_bytes())).to_ne_bytes(),
                ),
            };
            let candidates = gate
                .read()
                .vault_records_by_entry(tenant, &entry, MAX_CANDIDATES)
                .await?;
            for row in &candidates {
                let stored = parse_stored(row)?;
                let Some(kept) = stored.get(field) else {
                    continue;
                };
                let value = crate::vault::view::open(
                    &mut sealer,
                    gate.read(),
                    &collection,
                    row,
                    field,
                    kept,
                )
                .await?;
                if search_text(&declared, &value) == text {
                    records.push(
                        reader
                            .render(&mut sealer, gate.read(), &collection, row)
                            .await?,
                    );
                }
            }
        }
        finish_read(
            gate,
            actor,
            ctx,
            tenant,
            &collection,
            &reader,
            records.len(),
        )
        .await?;
        Ok(records)
    }
}

/// The reader of a call, or the recorded refusal of a clear read of
/// sensitive data without a purpose.
async fn reader_for<'a, M>(
    gate: Gate<'a, M, Cleared>,
    actor: &Actor,
    tenant: &Tenant,
    collection: &Collection,
    options: ReadOptions,
) -> Result<(Gate<'a, M, Cleared>, Reader), ServiceError> {
    let only = options.fields.as_deref();
    match Reader::new(actor, tenant, gate.now(), collection, only, options.purpose) {
        Ok(reader) => Ok((gate, reader)),
        Err(e) => Err(gate.refuse("no purpose stated for sensitive data", e).await),
    }
}

/// The stored record `id` of `collection`, or a recorded refusal.
async fn record_in<'a, M>(
    gate: Gate<'a, M, Cleared>,
    tenant: TenantId,
    collection: &Collection,
    id: Uuid,
) -> Result<(Gate<'a, M, Cleared>, RecordRow), ServiceError> {
    let mut gate = gate;
    match gate.read().vault_record(tenant, collection.id, id).await? {
        Some(row) => Ok((gate, row)),
        None => Err(gate
            .refuse("unknown record", VaultError::UnknownRecord)
            .await),
    }
}

/// Commits a read of `count` records, with a bulk-access event when many
/// records' personal data went out in clear.
async fn finish_read<M>(
    mut gate: Gate<'_, M, Cleared>,
    actor: &Actor,
    ctx: &RequestContext,
    tenant: TenantId,
    collection: &Collection,
    reader: &Reader,
    count: usize,
) -> Result<(), ServiceError> {
    let details = reader.details(count);
    if count >= BULK_READ_RECORDS && reader.reveals_personal() {
        let bulk = Call::by(actor, ctx, Action::VaultBulkRead)
            .on(Target::VaultRecords(collection.name.to_string()))
            .in_tenant(Some(tenant));
        gate.also(bulk, Outcome::Success, Some(Details::new(&details)));
    }
    gate.details(Details::new(&details));
    gate.commit().await
}

/// The audit details of a write: the fields written (never their values).
fn written_details(record: &Record) -> Details {
    let names: Vec<Value> = record.0.keys().map(|k| Value::from(k.as_str())).collect();
    let mut object = Map::new();
    object.insert("fields".into(), names.into());
    Details::new(&object)
}
