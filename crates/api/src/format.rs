//! The formats of the API's text and number values (login names, tenant
//! names, slugs, role and permission names, scopes, sequence numbers) as
//! JSON Schema, built from the model's own limits, so that the OpenAPI
//! document says exactly what the server accepts: a value valid by the
//! schema passes the server's parsing, and the server's refusals of
//! well-formed values are business rules (a name taken, a weak password),
//! not surprises.
//!
//! Each type here only describes a value on the wire (`value_type = …` in a
//! schema or parameter); the handlers still parse with the model's types.

use std::borrow::Cow;

use rempart_model::{Environment, Permission, PrincipalName, TenantName};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{Components, KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// The largest sequence number, checkpoint size or cursor the server
/// accepts: the storage engines keep them as signed 64-bit integers.
pub const MAX_SEQ: u64 = 9_223_372_036_854_775_807;

/// Characters that are neither white space nor control characters (Rust's
/// `char::is_whitespace` and `char::is_control`), as a regular expression
/// class that both ECMA-262 and the usual engines read alike.
const VISIBLE: &str =
    r"[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// White space, as `char::is_whitespace` has it.
const SPACE: &str =
    r"[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// Characters that are not control characters.
const NOT_CONTROL: &str = r"[^\u0000-\u001f\u007f-\u009f]";

/// `[a-z][a-z0-9-]*` without a trailing or doubled `-` (environments and
/// regions).
const SLUG: &str = "[a-z][a-z0-9]*(-[a-z0-9]+)*";

const UUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description))
}

/// A string of `min` to `max` characters matching `pattern`.
fn text(description: &str, min: usize, max: usize, pattern: impl Into<String>) -> RefOr<Schema> {
    string(description)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

fn one_of_words(description: &str, words: &[&str]) -> RefOr<Schema> {
    string(description)
        .enum_values(Some(words.iter().copied()))
        .into()
}

macro_rules! wire_format {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

fn login_name(description: &str) -> RefOr<Schema> {
    text(
        description,
        1,
        PrincipalName::MAX_CHARS,
        format!("^{VISIBLE}+$"),
    )
}

wire_format!(
    /// An account's login name.
    LoginName => login_name(
        "A login name: 1 to 254 characters, no white space or control characters; compared without case",
    )
);

wire_format!(
    /// An account, by login name or id (an id is also a valid login name).
    AccountRef => login_name(
        "An account's id, or its login name (1 to 254 characters, no white space or control characters; compared without case)",
    )
);

wire_format!(
    /// An API token's name.
    TokenNameText => text(
        "1 to 100 characters, not all white space",
        1,
        100,
        SPACE.replacen('[', "[^", 1),
    )
);

wire_format!(
    /// A tenant's display name.
    TenantNameText => text(
        "1 to 100 characters, not all white space, no control characters; unique without regard to case",
        1,
        TenantName::MAX_CHARS,
        format!("^{NOT_CONTROL}*{VISIBLE}{NOT_CONTROL}*$"),
    )
);

wire_format!(
    /// An environment's name.
    EnvironmentName => text(
        "Lowercase letters, digits and single '-' between them, starting with a letter; 1 to 32 characters",
        1,
        Environment::MAX_LEN,
        format!("^{SLUG}$"),
    )
);

wire_format!(
    /// A residency region.
    RegionName => text(
        "Lowercase letters, digits and single '-' between them, starting with a letter; 2 to 32 characters (`us`, `eu-west-3`)",
        2,
        rempart_model::Region::MAX_LEN,
        format!("^{SLUG}$"),
    )
);

wire_format!(
    /// A role's name, built-in or custom.
    RoleNameText => text(
        "Lowercase letters, digits and '-', starting with a letter; 1 to 64 characters",
        1,
        64,
        "^[a-z][a-z0-9-]*$",
    )
);

wire_format!(
    /// A permission's name.
    PermissionName => one_of_words(
        "A permission",
        &Permission::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    )
);

wire_format!(
    /// Where a grant applies.
    ScopeText => text(
        "`global`, `tenant:<uuid>` or `environment:<name>`",
        6,
        12 + Environment::MAX_LEN,
        format!("^(global|tenant:{UUID}|environment:{SLUG})$"),
    )
);

wire_format!(
    /// The kind of an account.
    AccountKindName => one_of_words("The kind of account", &["staff", "tenant_user", "service"])
);

wire_format!(
    /// The state of an account.
    AccountStateName =>
        one_of_words("The state of an account", &["active", "suspended", "terminated"])
);

wire_format!(
    /// The outcome of an audited action.
    OutcomeName => one_of_words("The outcome of an action", &["success", "denied", "failed"])
);

wire_format!(
    /// A re-wrap cursor.
    KeyCursor => text(
        "The cursor a previous batch returned: 32 hex digits",
        32,
        32,
        "^[0-9a-fA-F]{32}$",
    )
);

wire_format!(
    /// An entry of an allow-list.
    NetworkText => string(
        "An IPv4 or IPv6 address; the server also takes a network in CIDR notation with no host bits set, such as 192.0.2.0/24",
    )
    .format(Some(SchemaFormat::Custom("ip-address-or-network".to_owned())))
    .min_length(Some(2))
    .pattern(Some("^[0-9a-fA-F.:]+(/[0-9]{1,3})?$"))
    .into()
);

wire_format!(
    /// An audit event's sequence number, or a checkpoint's size.
    SeqNumber => ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(0_u64))
        .maximum(Some(MAX_SEQ))
        .into()
);

/// Adds every format to the document's components: a parameter's schema
/// is a reference that utoipa does not collect by itself.
pub fn register(components: &mut Components) {
    fn add<T: ToSchema>(components: &mut Components) {
        components
            .schemas
            .insert(T::name().into_owned(), T::schema());
    }
    add::<LoginName>(components);
    add::<AccountRef>(components);
    add::<TokenNameText>(components);
    add::<TenantNameText>(components);
    add::<EnvironmentName>(components);
    add::<RegionName>(components);
    add::<RoleNameText>(components);
    add::<PermissionName>(components);
    add::<ScopeText>(components);
    add::<AccountKindName>(components);
    add::<AccountStateName>(components);
    add::<OutcomeName>(components);
    add::<KeyCursor>(components);
    add::<NetworkText>(components);
    add::<SeqNumber>(components);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn pattern_of<T: PartialSchema>() -> regex::Regex {
        let json = serde_json::to_value(T::schema()).unwrap();
        regex::Regex::new(json["pattern"].as_str().unwrap()).unwrap()
    }

    /// The patterns agree with the model's parsers on the edge cases.
    #[test]
    fn patterns_agree_with_the_model() {
        let login = pattern_of::<LoginName>();
        for name in ["alice@example.com", "x", "Ünïcode", "a\u{200b}b"] {
            assert!(login.is_match(name), "{name:?}");
            assert!(PrincipalName::parse(name).is_ok(), "{name:?}");
        }
        for name in ["", "a b", "a\u{0}b", "a\u{85}b", "a\u{3000}b", "\u{a0}"] {
            assert!(!login.is_match(name), "{name:?}");
        }
        let tenant = pattern_of::<TenantNameText>();
        for name in ["Acme", " Acme Corp ", "ü"] {
            assert!(tenant.is_match(name), "{name:?}");
            assert!(TenantName::parse(name).is_ok(), "{name:?}");
        }
        for name in ["", "   ", "a\u{7}b", "\u{2000}"] {
            assert!(!tenant.is_match(name), "{name:?}");
            assert!(TenantName::parse(name).is_err(), "{name:?}");
        }
        let env = pattern_of::<EnvironmentName>();
        for name in ["production", "eu-west-3", "a1"] {
            assert!(env.is_match(name), "{name:?}");
            assert!(Environment::parse(name).is_ok(), "{name:?}");
        }
        for name in ["", "-a", "a-", "a--b", "A", "1a"] {
            assert!(!env.is_match(name), "{name:?}");
            assert!(Environment::parse(name).is_err(), "{name:?}");
        }
    }
}
