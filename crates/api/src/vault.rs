//! The customer-data vault (controls DS-1, DS-2, DS-5, DS-6, NS-2):
//! collections and their versioned schemas, records, searches, and the
//! data-subject requests (export, erasure) with the disposal register.
//!
//! Record values, search values and subject identifiers are personal data:
//! the types that carry them never print them with `Debug` (they say how
//! many fields they hold, nothing more), and none of them travels in a URL
//! (searches and subject requests are POST bodies).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::redacted_debug;

/// The most records a page of a listing holds.
pub const MAX_PAGE: u32 = 500;
/// The records a page holds when the request does not say.
pub const DEFAULT_PAGE: u32 = 100;

/// The sensitivity of a field, in increasing order: it decides whether
/// values are encrypted (`confidential` and above), who reads them in
/// clear, who sees them masked, and whether a purpose must be stated
/// (`sensitive_pii`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldClass {
    Public,
    Internal,
    Confidential,
    Pii,
    SensitivePii,
}

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Integer,
    /// A decimal number kept exactly, as text (`"12.50"`).
    Decimal,
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339, stored in UTC.
    Timestamp,
    Email,
    /// E.164: `+` and 8 to 15 digits.
    Phone,
    /// Any JSON value (never searchable).
    Json,
}

/// One declared field of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Lower-case letters, digits and `_`, starting with a letter; 1 to 63
    /// characters; unique in the collection.
    #[schema(min_length = 1, max_length = 63, pattern = "^[a-z][a-z0-9_]*$")]
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Required: a field without a class is refused (control DS-5).
    pub class: FieldClass,
    /// A record must carry a value for it.
    #[serde(default)]
    pub required: bool,
    /// Exact-match search through a blind index sized for this many
    /// expected distinct values (at least 32); absent: not searchable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 32)]
    pub searchable: Option<u64>,
    /// The longest text value, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub max_length: Option<u32>,
    /// Takes no new values; stored ones still read.
    #[serde(default)]
    pub deprecated: bool,
}

/// A collection to declare.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCollection {
    /// Lower-case letters, digits and `_`, starting with a letter; 1 to 63
    /// characters; unique in the tenant.
    #[schema(min_length = 1, max_length = 63, pattern = "^[a-z][a-z0-9_]*$")]
    pub name: String,
    /// 1 to 200 fields.
    pub fields: Vec<Field>,
}

/// A collection and its current schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Collection {
    pub id: Uuid,
    pub name: String,
    /// The schema's version: 1 when declared, one more at each change.
    pub version: u32,
    pub fields: Vec<Field>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The tenant's collections, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CollectionList {
    pub collections: Vec<Collection>,
}

/// One step of a schema change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum SchemaStep {
    /// Adds a field (never a required one: stored records lack it).
    Add { field: Field },
    /// Changes a field's class; lowering one needs
    /// `vault.schema.downgrade`.
    Reclassify { field: String, class: FieldClass },
    /// Stops accepting new values for a field.
    Deprecate { field: String },
}

/// A change to a collection's schema, applied to its current version in
/// one transaction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaChange {
    pub steps: Vec<SchemaStep>,
    /// The version the change was written against; refused with 412 when
    /// the schema has moved on (`If-Match: "<version>"` says the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u32>,
}

/// A record's new content.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWrite {
    /// The data subject the record is about: the application's own
    /// identifier of the person (1 to 200 characters). Its records are
    /// sealed under a key of its own and erased together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200)]
    pub subject: Option<String>,
    /// The field values, checked against the collection's schema.
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
}

impl std::fmt::Debug for RecordWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWrite")
            .field("subject", &self.subject.as_ref().map(|_| "(redacted)"))
            .field("fields", &self.values.len())
            .finish()
    }
}

/// What a write answers: the record and its new version (also its `ETag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordRef {
    pub id: Uuid,
    pub version: u64,
}

/// A record as the caller sees it: each field in clear, masked (listed in
/// `masked`), or left out, by its class and the caller's permissions.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Record {
    pub id: Uuid,
    pub collection: String,
    pub version: u64,
    /// Whether the record is about a data subject (never which).
    pub has_subject: bool,
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
    /// The fields of `values` shown masked.
    pub masked: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("collection", &self.collection)
            .field("version", &self.version)
            .field("fields", &self.values.len())
            .field("masked", &self.masked)
            .finish_non_exhaustive()
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordPage {
    pub records: Vec<Record>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// How a record is read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    /// Only these fields, comma-separated (all by default): leave out
    /// sensitive fields to read without a purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<String>,
    /// Why personal data is read: needed to see `sensitive_pii` fields in
    /// clear. One of `app_functionality`, `account_management`,
    /// `analytics`, `notifications`, `marketing`, `fraud_prevention`,
    /// `legal_obligation`, `maintenance`, `data_subject_request`, or
    /// `other:<text>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

/// A page of a collection's records.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordListQuery {
    /// The `next` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Uuid>,
    /// Records per page, 1 to 500 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Only these fields, comma-separated (all by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<String>,
    /// Why personal data is read (see a record's read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

/// An exact-match search on a searchable field. The value travels in the
/// body, never in a URL: it is personal data.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// A field declared `searchable`.
    pub field: String,
    /// The value looked for, as it would be written (e-mail addresses
    /// compare without case).
    pub value: Value,
    /// Only these fields in the answer (all by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Why personal data is read (see a record's read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

impl std::fmt::Debug for SearchRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchRequest")
            .field("field", &self.field)
            .field("value", &"(redacted)")
            .field("fields", &self.fields)
            .field("purpose", &self.purpose)
            .finish()
    }
}

/// A data-subject request: the application's identifier of the person.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectRequest {
    /// 1 to 200 characters, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub subject: String,
}

redacted_debug!(SubjectRequest);

/// Everything held about a data subject, every field in clear.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubjectExport {
    pub records: Vec<Record>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub exported_at: OffsetDateTime,
}

impl std::fmt::Debug for SubjectExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubjectExport")
            .field("records", &self.records.len())
            .field("exported_at", &self.exported_at)
            .finish()
    }
}

/// An entry of the disposal register: what an erasure destroyed, naming
/// the subject only by the random name of its destroyed key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Disposal {
    pub id: Uuid,
    pub tenant: Uuid,
    /// What was disposed of (`subject`).
    pub kind: String,
    pub what: String,
    pub records: u64,
    pub keys_destroyed: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub disposed_at: OffsetDateTime,
    pub disposed_by: String,
}

/// Records found by a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordList {
    pub records: Vec<Record>,
}

/// The disposal register, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DisposalList {
    pub disposals: Vec<Disposal>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;

    use super::*;

    /// The wire field reads as the model's does, and back.
    #[test]
    fn a_field_matches_the_model() {
        let raw = json!({"name": "email", "type": "email", "class": "pii", "searchable": 1000});
        let wire: Field = serde_json::from_value(raw.clone()).unwrap();
        let model: rempart_model::vault::Field = serde_json::from_value(raw).unwrap();
        assert_eq!(
            serde_json::to_value(&wire).unwrap(),
            serde_json::to_value(&model).unwrap()
        );
        let missing = json!({"name": "email", "type": "email"});
        assert!(serde_json::from_value::<Field>(missing).is_err());
    }

    #[test]
    fn steps_are_tagged_by_op() {
        let steps: Vec<SchemaStep> = serde_json::from_value(json!([
            {"op": "deprecate", "field": "phone"},
            {"op": "reclassify", "field": "plan", "class": "confidential"},
        ]))
        .unwrap();
        assert_eq!(
            steps[1],
            SchemaStep::Reclassify {
                field: "plan".into(),
                class: FieldClass::Confidential
            }
        );
    }

    /// Personal data never reaches a log through `Debug`.
    #[test]
    fn debug_prints_no_personal_data() {
        let write = RecordWrite {
            subject: Some("cust-1".into()),
            values: json!({"email": "jane@example.com"})
                .as_object()
                .cloned()
                .unwrap(),
        };
        let search = SearchRequest {
            field: "email".into(),
            value: json!("jane@example.com"),
            fields: None,
            purpose: None,
        };
        let subject = SubjectRequest {
            subject: "cust-1".into(),
        };
        for text in [
            format!("{write:?}"),
            format!("{search:?}"),
            format!("{subject:?}"),
        ] {
            assert!(!text.contains("jane") && !text.contains("cust-1"), "{text}");
        }
    }
}
