//! The vault's stored rows and their mapping from columns.

use rempart_model::TenantId;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::engine::Columns;

/// A collection: its name and the version of its current schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionRow {
    pub id: Uuid,
    pub tenant: TenantId,
    pub name: String,
    pub version: u32,
    pub created_at: OffsetDateTime,
}

/// One schema version of a collection; `fields` is the JSON of the
/// declared fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRow {
    pub collection: Uuid,
    pub version: u32,
    pub fields: String,
    pub created_at: OffsetDateTime,
}

/// A stored record. `fields` is JSON: clear values of public and internal
/// fields, envelopes (base64) of the others; `subject` the keyed hash of
/// its data subject's identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub id: Uuid,
    pub tenant: TenantId,
    pub collection: Uuid,
    pub subject: Option<Vec<u8>>,
    pub version: u64,
    pub schema_version: u32,
    pub fields: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A blind-index entry: a few bits of a keyed hash of a field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub collection: Uuid,
    pub field: String,
    pub generation: u32,
    pub entry: i64,
}

/// Where a vault key generation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultKeyState {
    /// Written and searched.
    Active,
    /// Written, being filled for the existing records; not yet searched.
    Filling,
    /// Neither written nor searched; its entries are being removed.
    Retired,
}

impl VaultKeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Filling => "filling",
            Self::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "active" => Ok(Self::Active),
            "filling" => Ok(Self::Filling),
            "retired" => Ok(Self::Retired),
            _ => Err(StoreError::corrupt("unknown vault key state")),
        }
    }
}

/// A generation of a vault key (a blind index's, the subject
/// fingerprints', a field's deterministic tokens'): 32 random bytes,
/// sealed under the tenant's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultKeyRow {
    pub tenant: TenantId,
    pub scope: String,
    pub generation: u32,
    /// Bits kept of each hash (blind indexes); 0 where the whole hash is
    /// kept.
    pub bits: u32,
    pub sealed: Vec<u8>,
    pub state: VaultKeyState,
    pub created_at: OffsetDateTime,
}

/// A token standing for a field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub token: String,
    pub tenant: TenantId,
    pub collection: Uuid,
    pub field: String,
    pub subject: Option<Vec<u8>>,
    /// The value's envelope.
    pub sealed: Vec<u8>,
    /// Keyed hash of the value, for deterministic tokens only.
    pub fingerprint: Option<Vec<u8>>,
    pub created_at: OffsetDateTime,
}

/// An entry of the disposal register (control DS-6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisposalRow {
    pub id: Uuid,
    pub tenant: TenantId,
    /// `record`, `subject` or `tenant`.
    pub kind: String,
    /// What was destroyed, in words that confirm no erased value.
    pub what: String,
    pub records: u64,
    pub keys_destroyed: u64,
    pub disposed_at: OffsetDateTime,
    pub disposed_by: String,
}

pub(super) fn collection(row: &dyn Columns) -> Result<CollectionRow, StoreError> {
    Ok(CollectionRow {
        id: row.uuid("id")?,
        tenant: TenantId(row.uuid("tenant_id")?),
        name: row.text("name")?,
        version: row.u32("version", "schema version")?,
        created_at: row.time("created_at")?,
    })
}

pub(super) fn schema(row: &dyn Columns) -> Result<SchemaRow, StoreError> {
    Ok(SchemaRow {
        collection: row.uuid("collection_id")?,
        version: row.u32("version", "schema version")?,
        fields: row.text("fields")?,
        created_at: row.time("created_at")?,
    })
}

pub(super) fn record(row: &dyn Columns) -> Result<RecordRow, StoreError> {
    Ok(RecordRow {
        id: row.uuid("id")?,
        tenant: TenantId(row.uuid("tenant_id")?),
        collection: row.uuid("collection_id")?,
        subject: row.opt_bytes("subject")?,
        version: row.u64("version")?,
        schema_version: row.u32("schema_version", "schema version")?,
        fields: row.text("fields")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(super) fn vault_key(row: &dyn Columns) -> Result<VaultKeyRow, StoreError> {
    Ok(VaultKeyRow {
        tenant: TenantId(row.uuid("tenant_id")?),
        scope: row.text("scope")?,
        generation: row.u32("generation", "key generation")?,
        bits: row.u32("bits", "index bits")?,
        sealed: row.bytes("sealed")?,
        state: VaultKeyState::parse(&row.text("state")?)?,
        created_at: row.time("created_at")?,
    })
}

pub(super) fn token(row: &dyn Columns) -> Result<TokenRow, StoreError> {
    Ok(TokenRow {
        token: row.text("token")?,
        tenant: TenantId(row.uuid("tenant_id")?),
        collection: row.uuid("collection_id")?,
        field: row.text("field")?,
        subject: row.opt_bytes("subject")?,
        sealed: row.bytes("sealed")?,
        fingerprint: row.opt_bytes("fingerprint")?,
        created_at: row.time("created_at")?,
    })
}

pub(super) fn disposal(row: &dyn Columns) -> Result<DisposalRow, StoreError> {
    Ok(DisposalRow {
        id: row.uuid("id")?,
        tenant: TenantId(row.uuid("tenant_id")?),
        kind: row.text("kind")?,
        what: row.text("what")?,
        records: row.u64("records")?,
        keys_destroyed: row.u64("keys_destroyed")?,
        disposed_at: row.time("disposed_at")?,
        disposed_by: row.text("disposed_by")?,
    })
}
