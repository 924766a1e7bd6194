//! Permissions, named for the actions they allow (invariant 2: deny by
//! default). A permission is held only through a role granted in a scope.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every permission Rempart knows. Each service method and each route
/// declares the one it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "tenant.create")]
    TenantCreate,
    #[serde(rename = "tenant.read")]
    TenantRead,
    #[serde(rename = "audit.search")]
    AuditSearch,
    /// Inclusion and consistency proofs of the audit log.
    #[serde(rename = "audit.proof")]
    AuditProof,
    /// See key versions, dates, usage and seal state (never key bytes).
    #[serde(rename = "keys.read")]
    KeysRead,
    /// Rotate, re-wrap and retire key-encryption keys.
    #[serde(rename = "keys.manage")]
    KeysManage,
    /// Crypto-shred a tenant (irreversible).
    #[serde(rename = "keys.shred")]
    KeysShred,
}

impl Permission {
    pub const ALL: &'static [Self] = &[
        Self::TenantCreate,
        Self::TenantRead,
        Self::AuditSearch,
        Self::AuditProof,
        Self::KeysRead,
        Self::KeysManage,
        Self::KeysShred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TenantCreate => "tenant.create",
            Self::TenantRead => "tenant.read",
            Self::AuditSearch => "audit.search",
            Self::AuditProof => "audit.proof",
            Self::KeysRead => "keys.read",
            Self::KeysManage => "keys.manage",
            Self::KeysShred => "keys.shred",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission {0:?}")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPermission(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(*p));
        }
        assert!("tenant.delete".parse::<Permission>().is_err());
    }
}
