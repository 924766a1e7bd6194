//! The customer-data vault's rules (controls DS-1, DS-2, DS-5, DS-6, NS-2):
//! collections of records whose every field declares a type and a class.
//!
//! The class of a field decides everything else about it: whether it is
//! encrypted before it reaches the database (confidential and above),
//! which permission reads it in clear, what a masked reader sees, whether
//! a stated purpose is needed (sensitive personal data), and how it is
//! erased. A field without a class cannot be declared (control DS-5).
//!
//! Schemas are versioned: a change is checked against the current version
//! by [`Schema::apply`], which allows adding a field, raising a class and
//! deprecating a field; lowering a class is a distinct change that needs
//! its own permission ([`SchemaChange::needs_downgrade`]).

pub mod index;
pub mod mask;
pub mod value;

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::permission::Permission;

pub use index::{IndexBits, IndexBitsError};
pub use mask::{Purpose, PurposeError, ReadMode};
pub use value::{FieldError, Record, RecordError};

/// The sensitivity of a field, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// May be published.
    Public,
    /// For the tenant's own people; stored in clear.
    Internal,
    /// Business secrets: encrypted at rest.
    Confidential,
    /// Personal data (GDPR): encrypted, masked for support roles.
    Pii,
    /// Special-category personal data (health, identity documents, …):
    /// encrypted, masked, and read in clear only for a stated purpose.
    SensitivePii,
}

impl Class {
    pub const ALL: &'static [Self] = &[
        Self::Public,
        Self::Internal,
        Self::Confidential,
        Self::Pii,
        Self::SensitivePii,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Internal => "internal",
            Self::Confidential => "confidential",
            Self::Pii => "pii",
            Self::SensitivePii => "sensitive_pii",
        }
    }

    /// Encrypted before it reaches the database (controls DS-1, NS-2).
    pub fn is_encrypted(self) -> bool {
        self >= Self::Confidential
    }

    /// Personal data: masked for masked readers, exported to its subject.
    pub fn is_personal(self) -> bool {
        self >= Self::Pii
    }

    /// The permission that reads a value of this class in clear.
    pub fn read_permission(self) -> Permission {
        match self {
            Self::Public | Self::Internal => Permission::VaultReadInternal,
            Self::Confidential => Permission::VaultReadConfidential,
            Self::Pii => Permission::VaultReadPii,
            Self::SensitivePii => Permission::VaultReadSensitive,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Integer,
    /// A decimal number kept exactly, as text (`"12.50"`).
    Decimal,
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339.
    Timestamp,
    Email,
    /// E.164: `+` and 8 to 15 digits.
    Phone,
    /// Any JSON value (not searchable).
    Json,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Decimal => "decimal",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Timestamp => "timestamp",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Json => "json",
        }
    }
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} {name:?} is not a valid name: 1 to 63 characters, lower-case letters, digits and \
     '_', starting with a letter"
)]
pub struct NameError {
    pub what: &'static str,
    pub name: String,
}

fn check_name(what: &'static str, raw: &str) -> Result<String, NameError> {
    let mut bytes = raw.bytes();
    let valid = (1..=63).contains(&raw.len())
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(NameError {
            what,
            name: raw.chars().take(64).collect(),
        })
    }
}

/// The name of a collection, unique within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CollectionName(String);

/// The name of a field, unique within a collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FieldName(String);

macro_rules! vault_name {
    ($name:ident, $what:literal) => {
        impl $name {
            pub fn parse(raw: &str) -> Result<Self, NameError> {
                check_name($what, raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

vault_name!(CollectionName, "collection name");
vault_name!(FieldName, "field name");

/// One declared field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: FieldName,
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Required at declaration: a field without a class is refused
    /// (control DS-5).
    pub class: Class,
    /// A record must carry a value for it.
    #[serde(default)]
    pub required: bool,
    /// Exact-match search through a blind index sized for this many
    /// distinct values ([`IndexBits::for_distinct`]); absent: no search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searchable: Option<u64>,
    /// Longest text value in characters (strings, e-mail, JSON text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// No longer written: new values are refused, stored ones still read.
    #[serde(default)]
    pub deprecated: bool,
}

impl Field {
    /// The blind-index size of a searchable field.
    pub fn index_bits(&self) -> Option<IndexBits> {
        self.searchable
            .and_then(|distinct| IndexBits::for_distinct(distinct).ok())
    }
}

/// The fields of one schema version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub version: u32,
    pub fields: Vec<Field>,
}

/// Why a schema or a change to it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("a collection needs at least one field")]
    NoFields,
    #[error("a collection has at most {max} fields")]
    TooManyFields { max: usize },
    #[error("field {0:?} is declared twice")]
    Duplicate(String),
    #[error("field {0:?} is not in the schema")]
    UnknownField(String),
    #[error("field {field:?}: {reason}")]
    Field { field: String, reason: String },
    #[error("the change changes nothing")]
    Empty,
}

/// A change to a collection's schema: every step names a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum SchemaStep {
    /// Adds a field (not required: existing records have no value for it).
    Add { field: Field },
    /// Changes a field's class, upward, or downward with the distinct
    /// permission `vault.schema.downgrade`.
    Reclassify { field: FieldName, class: Class },
    /// Stops accepting new values for a field.
    Deprecate { field: FieldName },
}

/// A checked change, ready to become the next version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    pub next: Schema,
    /// Fields whose class goes down: the change needs
    /// [`Permission::VaultSchemaDowngrade`] and is a high-severity event.
    pub downgraded: Vec<FieldName>,
    /// Fields whose class went from clear to encrypted or back, so that
    /// their stored values must be re-encrypted or decrypted.
    pub reencrypted: Vec<FieldName>,
}

impl SchemaChange {
    pub fn needs_downgrade(&self) -> bool {
        !self.downgraded.is_empty()
    }
}

impl Schema {
    pub const MAX_FIELDS: usize = 200;

    /// The first version of a collection's schema, checked.
    pub fn first(fields: Vec<Field>) -> Result<Self, SchemaError> {
        if fields.is_empty() {
            return Err(SchemaError::NoFields);
        }
        let schema = Self { version: 1, fields };
        schema.check()?;
        Ok(schema)
    }

    fn check(&self) -> Result<(), SchemaError> {
        if self.fields.len() > Self::MAX_FIELDS {
            return Err(SchemaError::TooManyFields {
                max: Self::MAX_FIELDS,
            });
        }
        let mut seen = BTreeSet::new();
        for field in &self.fields {
            if !seen.insert(field.name.as_str()) {
                return Err(SchemaError::Duplicate(field.name.to_string()));
            }
            check_field(field)?;
        }
        Ok(())
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name.as_str() == name)
    }

    /// Checks `steps` against this version and returns the next one.
    pub fn apply(&self, steps: &[SchemaStep]) -> Result<SchemaChange, SchemaError> {
        if steps.is_empty() {
            return Err(SchemaError::Empty);
        }
        let mut next = Self {
            version: self.version.saturating_add(1),
            fields: self.fields.clone(),
        };
        let mut downgraded = Vec::new();
        let mut reencrypted = Vec::new();
        for step in steps {
            match step {
                SchemaStep::Add { field } => {
                    if field.required {
                        return Err(field_error(
                            &field.name,
                            "a field added to an existing collection cannot be required",
                        ));
                    }
                    next.fields.push(field.clone());
                }
                SchemaStep::Reclassify { field, class } => {
                    let found = next.field_mut(field)?;
                    if found.class == *class {
                        return Err(field_error(field, "already has this class"));
                    }
                    if *class < found.class {
                        downgraded.push(field.clone());
                    }
                    if class.is_encrypted() != found.class.is_encrypted() {
                        reencrypted.push(field.clone());
                    }
                    found.class = *class;
                }
                SchemaStep::Deprecate { field } => {
                    let found = next.field_mut(field)?;
                    if found.deprecated {
                        return Err(field_error(field, "is already deprecated"));
                    }
                    found.deprecated = true;
                    found.required = false;
                }
            }
        }
        next.check()?;
        Ok(SchemaChange {
            next,
            downgraded,
            reencrypted,
        })
    }

    fn field_mut(&mut self, name: &FieldName) -> Result<&mut Field, SchemaError> {
        self.fields
            .iter_mut()
            .find(|f| f.name == *name)
            .ok_or_else(|| SchemaError::UnknownField(name.to_string()))
    }
}

fn field_error(field: &FieldName, reason: &str) -> SchemaError {
    SchemaError::Field {
        field: field.to_string(),
        reason: reason.to_owned(),
    }
}

fn check_field(field: &Field) -> Result<(), SchemaError> {
    if let Some(distinct) = field.searchable {
        if field.ty == FieldType::Json {
            return Err(field_error(
                &field.name,
                "a JSON field cannot be searchable",
            ));
        }
        IndexBits::for_distinct(distinct).map_err(|e| field_error(&field.name, &e.to_string()))?;
    }
    if field.max_length == Some(0) {
        return Err(field_error(&field.name, "max_length must be at least 1"));
    }
    if field.required && field.deprecated {
        return Err(field_error(
            &field.name,
            "a deprecated field cannot be required",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn field(name: &str, ty: FieldType, class: Class) -> Field {
        Field {
            name: FieldName::parse(name).unwrap(),
            ty,
            class,
            required: false,
            searchable: None,
            max_length: None,
            deprecated: false,
        }
    }

    #[test]
    fn a_field_without_a_class_is_refused() {
        let raw = r#"{"name": "email", "type": "email"}"#;
        let error = serde_json::from_str::<Field>(raw).unwrap_err();
        assert!(
            error.to_string().contains("missing field `class`"),
            "{error}"
        );
    }

    #[test]
    fn names_are_lower_snake_case() {
        assert!(FieldName::parse("email_2").is_ok());
        for bad in ["", "Email", "2email", "e-mail", "e mail", &"a".repeat(64)] {
            assert!(FieldName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn duplicates_and_empty_schemas_are_refused() {
        assert_eq!(Schema::first(vec![]), Err(SchemaError::NoFields));
        let twice = vec![
            field("a", FieldType::String, Class::Public),
            field("a", FieldType::Integer, Class::Pii),
        ];
        assert_eq!(
            Schema::first(twice),
            Err(SchemaError::Duplicate("a".into()))
        );
    }

    #[test]
    fn raising_a_class_is_a_plain_change_lowering_one_is_a_downgrade() {
        let schema =
            Schema::first(vec![field("name", FieldType::String, Class::Internal)]).unwrap();
        let up = schema
            .apply(&[SchemaStep::Reclassify {
                field: FieldName::parse("name").unwrap(),
                class: Class::Pii,
            }])
            .unwrap();
        assert!(!up.needs_downgrade());
        assert_eq!(up.next.version, 2);
        assert_eq!(up.reencrypted.len(), 1);
        let down = up
            .next
            .apply(&[SchemaStep::Reclassify {
                field: FieldName::parse("name").unwrap(),
                class: Class::Confidential,
            }])
            .unwrap();
        assert!(down.needs_downgrade());
        assert!(down.reencrypted.is_empty());
    }

    #[test]
    fn added_fields_cannot_be_required_and_unknown_fields_cannot_change() {
        let schema = Schema::first(vec![field("a", FieldType::String, Class::Public)]).unwrap();
        let mut required = field("b", FieldType::String, Class::Public);
        required.required = true;
        assert!(
            schema
                .apply(&[SchemaStep::Add { field: required }])
                .is_err()
        );
        let unknown = SchemaStep::Deprecate {
            field: FieldName::parse("zz").unwrap(),
        };
        assert_eq!(
            schema.apply(&[unknown]),
            Err(SchemaError::UnknownField("zz".into()))
        );
        assert_eq!(schema.apply(&[]), Err(SchemaError::Empty));
    }

    #[test]
    fn json_fields_are_not_searchable() {
        let mut json = field("doc", FieldType::Json, Class::Pii);
        json.searchable = Some(1_000);
        assert!(Schema::first(vec![json]).is_err());
    }
}
