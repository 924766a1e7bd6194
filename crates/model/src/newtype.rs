//! The shape every identifier and validated name of the model shares,
//! written once: a UUID identifier that prints as its UUID, and a string
//! that only its type's `parse` can make (serde goes through `parse` too,
//! so an invalid name never enters the model from outside).

/// A UUID identifier type: `uuid_id!(/** docs */ pub struct TenantId);`
/// declares `pub struct TenantId(pub Uuid)`, serialized as the bare UUID
/// and displayed as it.
macro_rules! uuid_id {
    ($(#[$meta:meta])* pub struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

/// A validated string type: `validated_string!(/** docs */ pub struct
/// Region; parse error RegionError);` declares `pub struct Region(String)`,
/// whose only way in is `Region::parse(&str) -> Result<Region,
/// RegionError>` (written beside it): `TryFrom<String>` and `Deserialize`
/// go through it. It reads back `as_str`, as a `String` and through
/// `Display`.
macro_rules! validated_string {
    ($(#[$meta:meta])* pub struct $name:ident; parse error $error:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// `raw` without surrounding white space, if that leaves 1 to `max`
/// characters; `empty`, or `too_long(max)`, otherwise.
pub(crate) fn trimmed<E>(
    raw: &str,
    max: usize,
    empty: E,
    too_long: impl FnOnce(usize) -> E,
) -> Result<&str, E> {
    let text = raw.trim();
    if text.is_empty() {
        Err(empty)
    } else if text.chars().count() > max {
        Err(too_long(max))
    } else {
        Ok(text)
    }
}

pub(crate) use {uuid_id, validated_string};
