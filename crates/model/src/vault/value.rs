//! Records checked against their schema: every value typed, normalised and
//! within its limits, every error naming the field and the reason, all of
//! them at once so that a client fixes a record in one round.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

use super::{Field, FieldName, FieldType, Schema};

/// A record's values, by field, checked and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Record(pub BTreeMap<String, Value>);

/// One field's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("field {field:?}: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("a record is a JSON object of field values")]
    NotAnObject,
    #[error("the record is larger than {max} bytes")]
    TooLarge { max: usize },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Fields(Vec<FieldError>),
}

impl Record {
    /// The largest record, as JSON text.
    pub const MAX_BYTES: usize = 1 << 20;
    /// The longest text value of a field that sets no `max_length`.
    pub const DEFAULT_MAX_CHARS: u32 = 10_000;
    /// The largest JSON value of a field that sets no `max_length`.
    pub const DEFAULT_MAX_JSON: u32 = 64 * 1024;

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }
}

impl Schema {
    /// Checks `input` as the new content of a record. `previous`, on an
    /// update, is the stored record: a deprecated field may keep its stored
    /// value but takes no new one.
    pub fn validate(
        &self,
        input: &Value,
        previous: Option<&Record>,
    ) -> Result<Record, RecordError> {
        let Value::Object(object) = input else {
            return Err(RecordError::NotAnObject);
        };
        if serde_json::to_vec(input).map_or(usize::MAX, |v| v.len()) > Record::MAX_BYTES {
            return Err(RecordError::TooLarge {
                max: Record::MAX_BYTES,
            });
        }
        let mut errors = Vec::new();
        let mut record = Record::default();
        for name in object.keys() {
            if self.field(name).is_none() {
                errors.push(FieldError {
                    field: name.chars().take(64).collect(),
                    reason: "is not in the collection's schema".to_owned(),
                });
            }
        }
        for field in &self.fields {
            match (object.get(field.name.as_str()), field) {
                (None | Some(Value::Null), f) if f.required => errors.push(error(f, "is required")),
                (None | Some(Value::Null), _) => {}
                (Some(value), f) if f.deprecated => {
                    let kept = previous.and_then(|p| p.get(f.name.as_str()));
                    if kept == Some(value) {
                        record.0.insert(f.name.to_string(), value.clone());
                    } else {
                        errors.push(error(f, "is deprecated and takes no new values"));
                    }
                }
                (Some(value), f) => match normalise(f, value) {
                    Ok(value) => {
                        record.0.insert(f.name.to_string(), value);
                    }
                    Err(reason) => errors.push(error(f, reason)),
                },
            }
        }
        if errors.is_empty() {
            Ok(record)
        } else {
            Err(RecordError::Fields(errors))
        }
    }
}

fn error(field: &Field, reason: &str) -> FieldError {
    FieldError {
        field: field.name.to_string(),
        reason: reason.to_owned(),
    }
}

/// The text a searchable value is indexed and looked up by: the same
/// value always gives the same text (e-mail addresses compare without
/// case).
pub fn search_text(field: &Field, value: &Value) -> String {
    match (field.ty, value) {
        (FieldType::Email, Value::String(s)) => s.to_lowercase(),
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

/// Checks and normalises a lookup value for `field`, as a write would.
pub fn normalise_lookup(field: &Field, value: &Value) -> Result<Value, FieldError> {
    normalise(field, value).map_err(|reason| error(field, reason))
}

fn normalise(field: &Field, value: &Value) -> Result<Value, &'static str> {
    let max_chars = field.max_length.unwrap_or(Record::DEFAULT_MAX_CHARS) as usize;
    match (field.ty, value) {
        (FieldType::String, Value::String(s)) => {
            if s.chars().count() > max_chars {
                return Err("is longer than the field's max_length");
            }
            if s.contains('\0') {
                return Err("contains a NUL character");
            }
            Ok(value.clone())
        }
        (FieldType::Integer, Value::Number(n)) if n.is_i64() => Ok(value.clone()),
        (FieldType::Integer, _) => Err("must be an integer between -2^63 and 2^63-1"),
        (FieldType::Decimal, Value::String(s)) => decimal(s),
        (FieldType::Decimal, Value::Number(n)) => decimal(&n.to_string()),
        (FieldType::Boolean, Value::Bool(_)) => Ok(value.clone()),
        (FieldType::Date, Value::String(s)) => {
            Date::parse(s, format_description!("[year]-[month]-[day]"))
                .map(|_| value.clone())
                .map_err(|_| "must be a date, YYYY-MM-DD")
        }
        (FieldType::Timestamp, Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .and_then(|t| t.to_offset(UtcOffset::UTC).format(&Rfc3339).ok())
            .map(Value::String)
            .ok_or("must be an RFC 3339 timestamp"),
        (FieldType::Email, Value::String(s)) => email(s, max_chars.min(254)),
        (FieldType::Phone, Value::String(s)) => phone(s),
        (FieldType::Json, _) => {
            let max = field.max_length.unwrap_or(Record::DEFAULT_MAX_JSON) as usize;
            if value.to_string().len() > max {
                return Err("is larger than the field's max_length");
            }
            Ok(value.clone())
        }
        (FieldType::Decimal, _) => Err("must be a decimal number, as a string (\"12.50\")"),
        (FieldType::Boolean, _) => Err("must be true or false"),
        (
            FieldType::String
            | FieldType::Date
            | FieldType::Timestamp
            | FieldType::Email
            | FieldType::Phone,
            _,
        ) => Err("must be a string"),
    }
}

fn decimal(s: &str) -> Result<Value, &'static str> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let valid = s.len() <= 40
        && !whole.is_empty()
        && !fraction.is_empty()
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit());
    if valid {
        Ok(Value::String(s.to_owned()))
    } else {
        Err("must be a decimal number such as \"-12.50\" (at most 40 characters)")
    }
}

fn email(s: &str, max: usize) -> Result<Value, &'static str> {
    const BAD: &str = "must be an e-mail address (local@domain.tld)";
    let s = s.trim();
    if s.len() > max {
        return Err("is longer than the field's max_length");
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return Err(BAD);
    };
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || !b.is_ascii())
        });
    let local_ok = (1..=64).contains(&local.len())
        && !local.contains('@')
        && !local.chars().any(|c| c.is_whitespace() || c.is_control());
    if domain_ok && local_ok {
        Ok(Value::String(format!("{local}@{}", domain.to_lowercase())))
    } else {
        Err(BAD)
    }
}

fn phone(s: &str) -> Result<Value, &'static str> {
    let compact: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Value::String(compact))
    } else {
        Err("must be a phone number in international form, + and 8 to 15 digits")
    }
}

/// A record's JSON object, for answers.
pub fn to_object(record: &Record) -> Map<String, Value> {
    record
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The field names of a record.
pub fn field_names(record: &Record) -> impl Iterator<Item = FieldName> + '_ {
    record.0.keys().filter_map(|k| FieldName::parse(k).ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::vault::Class;

    fn schema() -> Schema {
        serde_json::from_value(json!({
            "version": 1,
            "fields": [
                {"name": "email", "type": "email", "class": "pii", "required": true},
                {"name": "phone", "type": "phone", "class": "pii"},
                {"name": "age", "type": "integer", "class": "internal"},
                {"name": "balance", "type": "decimal", "class": "confidential"},
                {"name": "born", "type": "date", "class": "sensitive_pii"},
                {"name": "seen", "type": "timestamp", "class": "public"},
                {"name": "note", "type": "string", "class": "internal", "max_length": 5},
                {"name": "old", "type": "string", "class": "internal", "deprecated": true},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn values_are_normalised() {
        let record = schema()
            .validate(
                &json!({
                    "email": "Jane@Example.COM",
                    "phone": "+33 6 12-34-56-78",
                    "balance": 12,
                    "seen": "2026-11-30T10:00:00+01:00",
                }),
                None,
            )
            .unwrap();
        assert_eq!(record.get("email"), Some(&json!("Jane@example.com")));
        assert_eq!(record.get("phone"), Some(&json!("+33612345678")));
        assert_eq!(record.get("balance"), Some(&json!("12")));
        assert_eq!(record.get("seen"), Some(&json!("2026-11-30T09:00:00Z")));
        assert_eq!(schema().field("born").unwrap().class, Class::SensitivePii);
    }

    #[test]
    fn every_bad_field_is_named_with_its_reason() {
        let error = schema()
            .validate(
                &json!({
                    "phone": "12",
                    "age": "ten",
                    "born": "30/11/2026",
                    "note": "too long",
                    "old": "x",
                    "nope": 1,
                }),
                None,
            )
            .unwrap_err();
        let RecordError::Fields(errors) = error else {
            panic!("{error:?}")
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["nope", "email", "phone", "age", "born", "note", "old"]
        );
    }

    #[test]
    fn a_deprecated_field_keeps_its_stored_value_only() {
        let previous = Record([("old".to_owned(), json!("x"))].into_iter().collect());
        let kept = schema()
            .validate(&json!({"email": "a@b.co", "old": "x"}), Some(&previous))
            .unwrap();
        assert_eq!(kept.get("old"), Some(&json!("x")));
        assert!(
            schema()
                .validate(&json!({"email": "a@b.co", "old": "y"}), Some(&previous))
                .is_err()
        );
    }

    #[test]
    fn not_an_object_is_refused() {
        assert_eq!(
            schema().validate(&json!([1]), None),
            Err(RecordError::NotAnObject)
        );
    }
}
