//! What can go wrong with object storage, in its own words.
//!
//! Rules: a message names the key and the provider (a description such as
//! `s3 bucket rempart at https://…`), never a credential. Messages that
//! come from the backend pass through the provider's redaction first
//! ([`Redactions`]), so that a server echoing the access key in an error
//! body does not carry it into a log.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};

/// Why an object operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Bad input: the key is refused before any I/O.
    #[error("the object key \"{key}\" is not valid: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    /// Bad input: a checksum that is not 64 lowercase hex digits.
    #[error("a SHA-256 checksum is 64 lowercase hex digits")]
    InvalidChecksum,
    /// The storage configuration cannot be used; nothing was opened.
    #[error("the object storage configuration is not usable: {0}")]
    Config(String),
    #[error("there is no object under {key} in {backend}")]
    NotFound { backend: String, key: String },
    /// The caller's stream failed: nothing was stored.
    #[error("the data for {key} could not be read, and nothing was stored: {reason}")]
    Source { key: String, reason: String },
    /// The object is not what was written: its bytes, its length or its
    /// trailer changed (tampering, truncation, or not Rempart's object).
    #[error("the object under {key} in {backend} is corrupt or was tampered with: {what}")]
    Corrupt {
        backend: String,
        key: String,
        what: &'static str,
    },
    /// The object is intact but is not the one the caller expected (its
    /// SHA-256 differs from the one the caller stored): a substitution.
    #[error("the object under {key} in {backend} is not the one expected: its SHA-256 is {found}")]
    Unexpected {
        backend: String,
        key: String,
        found: crate::Sha256,
    },
    /// The backend failed (unreachable, refused, out of space …).
    #[error("object storage {backend} failed on {key}: {reason}")]
    Backend {
        backend: String,
        key: String,
        reason: String,
    },
}

/// Strings a provider's messages must never carry (its credentials),
/// replaced before a backend error becomes an [`ObjectError`].
#[derive(Clone, Default)]
pub(crate) struct Redactions(Arc<[SecretString]>);

impl Redactions {
    pub(crate) fn new(secrets: Vec<SecretString>) -> Self {
        Self(
            secrets
                .into_iter()
                .filter(|s| !s.expose_secret().is_empty())
                .collect(),
        )
    }

    /// `message` with every secret replaced by `[redacted]`.
    pub(crate) fn apply(&self, message: &str) -> String {
        self.0.iter().fold(message.to_owned(), |message, secret| {
            message.replace(secret.expose_secret(), "[redacted]")
        })
    }
}

impl std::fmt::Debug for Redactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactions({} secrets)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_backend_messages() {
        let redactions = Redactions::new(vec![
            SecretString::from("AKIDEXAMPLE"),
            SecretString::from("wJalrXUtnFEMI/K7MDENG"),
            SecretString::from(""),
        ]);
        let message = "403: <AWSAccessKeyId>AKIDEXAMPLE</AWSAccessKeyId> key wJalrXUtnFEMI/K7MDENG";
        let redacted = redactions.apply(message);
        assert!(!redacted.contains("AKIDEXAMPLE"));
        assert!(!redacted.contains("wJalrXUtnFEMI"));
        assert_eq!(
            redacted,
            "403: <AWSAccessKeyId>[redacted]</AWSAccessKeyId> key [redacted]"
        );
        assert_eq!(format!("{redactions:?}"), "Redactions(2 secrets)");
    }
}
