//! Tenants: the organizations whose data Rempart holds.
//!
//! A tenant has a display name (unique, compared case-insensitively), a
//! residency region (control DS-3: backups of its data stay there) and an
//! environment (controls DS-7, DV-3: production data never meets
//! development keys).

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::environment::{Environment, is_slug};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A tenant's display name: 1 to 100 characters once trimmed, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantNameError {
    #[error("a tenant name cannot be empty")]
    Empty,
    #[error("a tenant name is at most {max} characters")]
    TooLong { max: usize },
    #[error("a tenant name cannot contain control characters")]
    ControlCharacter,
}

impl TenantName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, TenantNameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(TenantNameError::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(TenantNameError::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        if name.chars().any(char::is_control) {
            return Err(TenantNameError::ControlCharacter);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which names are unique: Unicode lowercase, so that
    /// "Acme" and "ACME" are the same tenant.
    pub fn uniqueness_key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl TryFrom<String> for TenantName {
    type Error = TenantNameError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantName> for String {
    fn from(value: TenantName) -> Self {
        value.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A residency region, such as `us`, `ca` or `eu-west-3`: where a tenant's
/// data, and its backups, must stay.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error(
        "a region is 2 to 32 characters: lowercase letters, digits and '-', starting with a letter (for example \"us\" or \"eu-west-3\")"
    )]
    Invalid,
}

impl Region {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, RegionError> {
        if raw.len() >= 2 && is_slug(raw, Self::MAX_LEN) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(RegionError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = RegionError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Region> for String {
    fn from(value: Region) -> Self {
        value.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a caller asks for when creating a tenant; every field already valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub name: TenantName,
    pub region: Region,
    pub environment: Environment,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: TenantName,
    pub region: Region,
    pub environment: Environment,
    pub created_at: OffsetDateTime,
    /// When the tenant was crypto-shredded (control DS-6): from then on
    /// its data is gone for good, and the tenant is closed to every use.
    /// `None` while it is live.
    pub shredded_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_and_compared_case_insensitively() {
        let a = TenantName::parse("  Acme Corp ").unwrap();
        assert_eq!(a.as_str(), "Acme Corp");
        assert_eq!(
            a.uniqueness_key(),
            TenantName::parse("ACME CORP").unwrap().uniqueness_key()
        );
    }

    #[test]
    fn bad_names_say_why() {
        assert_eq!(TenantName::parse("   "), Err(TenantNameError::Empty));
        assert_eq!(
            TenantName::parse(&"x".repeat(101)),
            Err(TenantNameError::TooLong { max: 100 })
        );
        assert_eq!(
            TenantName::parse("a\u{0}b"),
            Err(TenantNameError::ControlCharacter)
        );
    }

    #[test]
    fn regions() {
        assert!(Region::parse("us").is_ok());
        assert!(Region::parse("eu-west-3").is_ok());
        for bad in ["", "u", "US", "us_east", "-us", "us east"] {
            assert_eq!(Region::parse(bad), Err(RegionError::Invalid), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn a_parsed_name_always_reparses_to_itself(raw in "\\PC{0,120}") {
            if let Ok(name) = TenantName::parse(&raw) {
                prop_assert_eq!(TenantName::parse(name.as_str()), Ok(name.clone()));
                prop_assert!(name.as_str().chars().count() <= TenantName::MAX_CHARS);
            }
        }
    }
}
