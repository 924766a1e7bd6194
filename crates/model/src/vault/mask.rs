//! What a reader of a field sees: the value in clear, masked, or nothing,
//! decided by the field's class and the reader's permissions; and the
//! stated purpose that reading sensitive personal data in clear needs.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Class, FieldType};
use crate::permission::Permission;

/// How a reader sees one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    Clear,
    /// A value that shows its shape, never enough to use it
    /// (`j•••@example.com`, `•••5678`).
    Masked,
    /// Left out of the answer.
    Hidden,
}

impl ReadMode {
    /// How a holder of the permissions `holds` answers sees a field of
    /// `class`. Public fields are clear to every vault reader.
    pub fn of(class: Class, holds: impl Fn(Permission) -> bool) -> Self {
        if class == Class::Public || holds(class.read_permission()) {
            Self::Clear
        } else if class >= Class::Confidential && holds(Permission::VaultReadMasked) {
            Self::Masked
        } else {
            Self::Hidden
        }
    }
}

const DOTS: &str = "•••";

/// The masked form of a value of type `ty`.
pub fn mask(ty: FieldType, value: &Value) -> Value {
    let text = match value {
        Value::String(s) => s.as_str(),
        _ => return Value::String(DOTS.to_owned()),
    };
    let masked = match ty {
        FieldType::Email => match text.rsplit_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}{DOTS}@{domain}")
            }
            None => DOTS.to_owned(),
        },
        FieldType::Phone => {
            let digits: Vec<char> = text.chars().filter(char::is_ascii_digit).collect();
            let skip = digits.len().saturating_sub(4);
            let last: String = digits.iter().skip(skip).collect();
            format!("{DOTS}{last}")
        }
        _ => DOTS.to_owned(),
    };
    Value::String(masked)
}

/// Why personal data is read, recorded in the audit event of the read
/// (Piiano's reasons; `other:` carries free text).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Purpose(String);

/// A purpose that is not one of the known reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown purpose: use one of {}, or other:<text of 1 to 200 characters>",
    Purpose::KNOWN.join(", ")
)]
pub struct PurposeError;

impl Purpose {
    pub const KNOWN: &'static [&'static str] = &[
        "app_functionality",
        "account_management",
        "analytics",
        "notifications",
        "marketing",
        "fraud_prevention",
        "legal_obligation",
        "maintenance",
        "data_subject_request",
    ];

    pub fn parse(raw: &str) -> Result<Self, PurposeError> {
        let raw = raw.trim();
        let other = raw.strip_prefix("other:").map(str::trim);
        let valid = Self::KNOWN.contains(&raw)
            || other.is_some_and(|t| {
                (1..=200).contains(&t.chars().count()) && !t.chars().any(char::is_control)
            });
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(PurposeError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Purpose {
    type Error = PurposeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Purpose> for String {
    fn from(value: Purpose) -> Self {
        value.0
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn masks_show_shape_only() {
        assert_eq!(
            mask(FieldType::Email, &json!("jane@example.com")),
            json!("j•••@example.com")
        );
        assert_eq!(
            mask(FieldType::Phone, &json!("+33612345678")),
            json!("•••5678")
        );
        assert_eq!(mask(FieldType::String, &json!("Jane Doe")), json!("•••"));
        assert_eq!(mask(FieldType::Integer, &json!(42)), json!("•••"));
    }

    #[test]
    fn the_class_and_permissions_decide_the_mode() {
        let support = |p| p == Permission::VaultReadMasked || p == Permission::VaultReadInternal;
        assert_eq!(ReadMode::of(Class::Pii, support), ReadMode::Masked);
        assert_eq!(ReadMode::of(Class::Internal, support), ReadMode::Clear);
        let nobody = |_| false;
        assert_eq!(ReadMode::of(Class::Public, nobody), ReadMode::Clear);
        assert_eq!(ReadMode::of(Class::Internal, nobody), ReadMode::Hidden);
        assert_eq!(ReadMode::of(Class::SensitivePii, nobody), ReadMode::Hidden);
        let app = |p| p == Permission::VaultReadPii;
        assert_eq!(ReadMode::of(Class::Pii, app), ReadMode::Clear);
    }

    #[test]
    fn purposes_are_known_reasons_or_explained() {
        assert!(Purpose::parse("fraud_prevention").is_ok());
        assert!(Purpose::parse("other: court order 12").is_ok());
        assert!(Purpose::parse("other:").is_err());
        assert!(Purpose::parse("because").is_err());
    }
}
