//! Tenants: the organizations whose data Rempart holds.
//!
//! A tenant has a display name (unique, compared case-insensitively), a
//! residency region (control DS-3: backups of its data stay there) and an
//! environment (controls DS-7, DV-3: production data never meets
//! development keys).

use time::OffsetDateTime;

use crate::environment::{Environment, is_slug};
use crate::newtype::{trimmed, uuid_id, validated_string};

uuid_id! {
    /// A tenant's identifier.
    pub struct TenantId;
}

validated_string! {
    /// A tenant's display name: 1 to 100 characters once trimmed, no control
    /// characters.
    pub struct TenantName; parse error TenantNameError
}

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
        use TenantNameError as E;
        let name = trimmed(raw, Self::MAX_CHARS, E::Empty, |max| E::TooLong { max })?;
        if name.chars().any(char::is_control) {
            return Err(E::ControlCharacter);
        }
        Ok(Self(name.to_owned()))
    }

    /// The key under which names are unique: Unicode lowercase, so that
    /// "Acme" and "ACME" are the same tenant.
    pub fn uniqueness_key(&self) -> String {
        self.0.to_lowercase()
    }
}

validated_string! {
    /// A residency region, such as `us`, `ca` or `eu-west-3`: where a tenant's
    /// data, and its backups, must stay.
    pub struct Region; parse error RegionError
}

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
