//! Environment names (production, development, and any the operator names).
//!
//! Invariant: every environment name in a keyring, a wrapped key or an AAD
//! matches `[a-z0-9-]{1,32}`, so encodings stay unambiguous and short.

use std::fmt;
use std::str::FromStr;

use crate::error::{CryptoError, Result};

/// A validated environment name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Environment(String);

impl Environment {
    /// The longest accepted name.
    pub const MAX_LEN: usize = 32;

    /// Validates `name` against `[a-z0-9-]{1,32}`.
    pub fn new(name: &str) -> Result<Self> {
        let valid = (1..=Self::MAX_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(CryptoError::InvalidEnvironmentName {
                name: name.chars().take(64).collect(),
            })
        }
    }

    /// `production`.
    pub fn production() -> Self {
        Self("production".to_owned())
    }

    /// `development`.
    pub fn development() -> Self {
        Self("development".to_owned())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Environment {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for name in ["production", "development", "eu-1", "a", &"x".repeat(32)] {
            assert_eq!(Environment::new(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn rejects_invalid_names() {
        for name in ["", "Prod", "eu_1", "é", "a b", &"x".repeat(33)] {
            assert!(matches!(
                Environment::new(name),
                Err(CryptoError::InvalidEnvironmentName { .. })
            ));
        }
    }
}
