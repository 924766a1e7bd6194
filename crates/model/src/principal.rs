//! Principals: the people and machines that act. The identity issue adds
//! passwords, MFA and tenant users; the foundation needs the first
//! administrator and the identifier rules.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrincipalId(pub Uuid);

impl fmt::Display for PrincipalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A login identifier (an e-mail address or a short name): 1 to 254
/// characters, no whitespace or control characters, compared
/// case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PrincipalName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalNameError {
    #[error("a login name cannot be empty")]
    Empty,
    #[error("a login name is at most {max} characters")]
    TooLong { max: usize },
    #[error("a login name cannot contain spaces or control characters")]
    Whitespace,
}

impl PrincipalName {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, PrincipalNameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(PrincipalNameError::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(PrincipalNameError::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PrincipalNameError::Whitespace);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn uniqueness_key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl TryFrom<String> for PrincipalName {
    type Error = PrincipalNameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PrincipalName> for String {
    fn from(value: PrincipalName) -> Self {
        value.0
    }
}

impl fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        let n = PrincipalName::parse(" Alice@Example.com ").unwrap();
        assert_eq!(n.as_str(), "Alice@Example.com");
        assert_eq!(n.uniqueness_key(), "alice@example.com");
        assert_eq!(PrincipalName::parse(""), Err(PrincipalNameError::Empty));
        assert_eq!(
            PrincipalName::parse("a b"),
            Err(PrincipalNameError::Whitespace)
        );
    }
}
