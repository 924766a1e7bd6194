//! Environments (`production`, `development`, any the operator names).
//!
//! Keys, data and grants are separated by environment (controls DS-7, DV-3),
//! so the name is validated once, here, and carried as a type.

use crate::newtype::validated_string;

validated_string! {
    /// The name of an environment: lowercase ASCII letters, digits and `-`,
    /// 1 to 32 characters, starting with a letter.
    pub struct Environment; parse error EnvironmentError
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvironmentError {
    #[error(
        "an environment name is 1 to 32 characters: lowercase letters, digits and '-', starting with a letter"
    )]
    Invalid,
}

impl Environment {
    pub const MAX_LEN: usize = 32;

    pub fn production() -> Self {
        Self("production".to_owned())
    }

    pub fn development() -> Self {
        Self("development".to_owned())
    }

    pub fn parse(name: &str) -> Result<Self, EnvironmentError> {
        if is_slug(name, Self::MAX_LEN) {
            Ok(Self(name.to_owned()))
        } else {
            Err(EnvironmentError::Invalid)
        }
    }
}

/// A short machine name: `[a-z][a-z0-9-]*`, at most `max` bytes, no
/// trailing or doubled `-`.
pub(crate) fn is_slug(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    let Some(first) = bytes.first() else {
        return false;
    };
    bytes.len() <= max
        && first.is_ascii_lowercase()
        && !name.ends_with('-')
        && !name.contains("--")
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_slugs_and_refuses_the_rest() {
        for ok in ["production", "development", "staging-2", "a"] {
            assert!(Environment::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Production",
            "2prod",
            "prod-",
            "pro--d",
            "prod env",
            "prød",
            "a23456789012345678901234567890123",
        ] {
            assert_eq!(
                Environment::parse(bad),
                Err(EnvironmentError::Invalid),
                "{bad}"
            );
        }
    }
}
