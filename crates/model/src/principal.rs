//! Principals: the people and machines that act. The identity issue adds
//! passwords, MFA and tenant users; the foundation needs the first
//! administrator and the identifier rules.

use crate::newtype::{trimmed, uuid_id, validated_string};

uuid_id! {
    /// A principal's identifier.
    pub struct PrincipalId;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalNameError {
    #[error("a login name cannot be empty")]
    Empty,
    #[error("a login name is at most {max} characters")]
    TooLong { max: usize },
    #[error("a login name cannot contain spaces or control characters")]
    Whitespace,
}

validated_string! {
    /// A login identifier (an e-mail address or a short name): 1 to 254
    /// characters, no whitespace or control characters, compared
    /// case-insensitively.
    pub struct PrincipalName; parse error PrincipalNameError
}

impl PrincipalName {
    pub const MAX_CHARS: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, PrincipalNameError> {
        use PrincipalNameError as E;
        let name = trimmed(raw, Self::MAX_CHARS, E::Empty, |max| E::TooLong { max })?;
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(E::Whitespace);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn uniqueness_key(&self) -> String {
        self.0.to_lowercase()
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
