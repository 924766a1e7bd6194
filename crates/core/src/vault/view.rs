//! What a reader sees of a stored record: each field in clear, masked or
//! left out, by its class and the reader's permissions
//! ([`ReadMode::of`]); sensitive personal data in clear only for a stated
//! purpose. Values are opened only when they are shown, masked or clear.

use std::collections::BTreeMap;

use rempart_model::vault::mask::mask;
use rempart_model::vault::{Class, Purpose, ReadMode, Record};
use rempart_model::{Permission, Scope, Tenant};
use rempart_store::{ReadTx, RecordRow};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::kernel::actor::Actor;
use crate::kernel::error::ServiceError;
use crate::vault::Collection;
use crate::vault::corrupt;
use crate::vault::error::VaultError;
use crate::vault::records::RecordView;
use crate::vault::seal::{Sealer, field_aad};

/// How a stored field is kept: a clear value, or an envelope (base64).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Stored {
    #[serde(rename = "v")]
    Clear(Value),
    #[serde(rename = "c")]
    Sealed(String),
}

/// A record's stored fields.
pub(crate) type StoredFields = BTreeMap<String, Stored>;

pub(crate) fn parse_stored(row: &RecordRow) -> Result<StoredFields, ServiceError> {
    serde_json::from_str(&row.fields).map_err(|_| corrupt("a stored vault record does not parse"))
}

/// Who reads, and how: the modes of each field of a collection.
pub(crate) struct Reader {
    modes: Vec<(String, Class, ReadMode)>,
    pub purpose: Option<Purpose>,
}

impl Reader {
    /// The modes of `collection`'s fields for `actor` in `tenant`, limited
    /// to `only` when given. Refuses a clear read of sensitive personal
    /// data without a purpose.
    pub fn new(
        actor: &Actor,
        tenant: &Tenant,
        now: OffsetDateTime,
        collection: &Collection,
        only: Option<&[String]>,
        purpose: Option<Purpose>,
    ) -> Result<Self, VaultError> {
        let scope = Scope::Tenant(tenant.id);
        let holds = |p: Permission| actor.may(p, &scope, Some(&tenant.environment), now);
        let modes: Vec<_> = collection
            .schema
            .fields
            .iter()
            .filter(|f| only.is_none_or(|only| only.iter().any(|o| o == f.name.as_str())))
            .map(|f| (f.name.to_string(), f.class, ReadMode::of(f.class, holds)))
            .collect();
        let needs_purpose = modes
            .iter()
            .any(|(_, class, mode)| *class == Class::SensitivePii && *mode == ReadMode::Clear);
        if needs_purpose && purpose.is_none() {
            return Err(VaultError::PurposeRequired);
        }
        Ok(Self { modes, purpose })
    }

    /// Every field in clear: the data subject's own export.
    pub fn everything(collection: &Collection, purpose: Purpose) -> Self {
        let modes = collection
            .schema
            .fields
            .iter()
            .map(|f| (f.name.to_string(), f.class, ReadMode::Clear))
            .collect();
        Self {
            modes,
            purpose: Some(purpose),
        }
    }

    /// Whether the reader sees any personal field in clear.
    pub fn reveals_personal(&self) -> bool {
        self.modes
            .iter()
            .any(|(_, class, mode)| class.is_personal() && *mode == ReadMode::Clear)
    }

    /// The audit details of a read of `count` records: the fields shown in
    /// clear and masked, and the purpose.
    pub fn details(&self, count: usize) -> Map<String, Value> {
        let names = |wanted: ReadMode| -> Vec<Value> {
            self.modes
                .iter()
                .filter(|(_, class, mode)| *mode == wanted && *class >= Class::Confidential)
                .map(|(name, _, _)| Value::from(name.as_str()))
                .collect()
        };
        let mut details = Map::new();
        details.insert("records".into(), count.into());
        details.insert("clear".into(), names(ReadMode::Clear).into());
        details.insert("masked".into(), names(ReadMode::Masked).into());
        if let Some(purpose) = &self.purpose {
            details.insert("purpose".into(), purpose.as_str().into());
        }
        details
    }

    /// The record as this reader sees it.
    pub async fn render(
        &self,
        sealer: &mut Sealer<'_>,
        tx: &mut dyn ReadTx,
        collection: &Collection,
        row: &RecordRow,
    ) -> Result<RecordView, ServiceError> {
        let stored = parse_stored(row)?;
        let mut values = Map::new();
        let mut masked = Vec::new();
        for (name, _, mode) in &self.modes {
            let Some(value) = stored.get(name) else {
                continue;
            };
            if *mode == ReadMode::Hidden {
                continue;
            }
            let clear = open(sealer, tx, collection, row, name, value).await?;
            let shown = if *mode == ReadMode::Masked {
                masked.push(name.clone());
                let ty = collection.schema.field(name).map(|f| f.ty);
                ty.map_or(Value::Null, |ty| mask(ty, &clear))
            } else {
                clear
            };
            values.insert(name.clone(), shown);
        }
        Ok(RecordView {
            id: row.id,
            collection: collection.name.clone(),
            version: row.version,
            has_subject: row.subject.is_some(),
            values,
            masked,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// One stored field's value, opened when sealed.
pub(crate) async fn open(
    sealer: &mut Sealer<'_>,
    tx: &mut dyn ReadTx,
    collection: &Collection,
    row: &RecordRow,
    name: &str,
    stored: &Stored,
) -> Result<Value, ServiceError> {
    match stored {
        Stored::Clear(value) => Ok(value.clone()),
        Stored::Sealed(text) => {
            use base64::Engine as _;
            let envelope = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| VaultError::Tampered)?;
            let aad = field_aad(collection.id, row.id, name);
            let plain = sealer.open(tx, &aad, &envelope).await?;
            Ok(serde_json::from_slice(&plain).map_err(|_| VaultError::Tampered)?)
        }
    }
}

/// Every stored field of a record, opened: what an update checks a
/// deprecated field against.
pub(crate) async fn open_all(
    sealer: &mut Sealer<'_>,
    tx: &mut dyn ReadTx,
    collection: &Collection,
    row: &RecordRow,
) -> Result<Record, ServiceError> {
    let mut record = Record::default();
    for (name, stored) in parse_stored(row)? {
        let value = open(sealer, tx, collection, row, &name, &stored).await?;
        record.0.insert(name, value);
    }
    Ok(record)
}
