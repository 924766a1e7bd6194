//! Rempart's wire types: the bodies and query parameters of the HTTP API,
//! as the server answers and takes them and as the CLI sends and reads
//! them, with their OpenAPI schemas.
//!
//! One module per domain (`tenants`, `identity`, `keys`, `audit`,
//! `controls`, `bootstrap`, `operations`, `vault`), plus the RFC 9457 problem
//! document every error is (`problem`) and the formats of text and number
//! values (`format`). The types here only describe shapes: they are
//! separate from the domain types so that the domain can change without
//! breaking clients, they hold no business rule, and they are converted
//! from and to the domain in the server. Requests refuse unknown fields: a
//! misspelt field is an error, not a silent default. Every type both
//! serializes and deserializes, so that a body round-trips between the
//! server and its clients.
//!
//! Secrets a body carries (passwords, codes, tokens, recovery codes) are
//! never printed by `Debug`.

pub mod audit;
pub mod bootstrap;
pub mod controls;
pub mod format;
pub mod identity;
pub mod keys;
pub mod operations;
pub mod problem;
pub mod tenants;
pub mod vault;

/// `Debug` that names the type and prints nothing of its content.
macro_rules! redacted_debug {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), "(redacted)"))
            }
        }
    };
}
pub(crate) use redacted_debug;
