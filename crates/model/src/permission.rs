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
    /// Change a tenant's access settings (its password policy, allowed
    /// networks, MFA requirement).
    #[serde(rename = "tenant.update")]
    TenantUpdate,
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
    /// Create accounts (staff, or users of a tenant in scope).
    #[serde(rename = "user.create")]
    UserCreate,
    /// See accounts, their state, MFA enrolment and grants.
    #[serde(rename = "user.read")]
    UserRead,
    /// Suspend, reactivate, terminate accounts; reset passwords and MFA.
    #[serde(rename = "user.update")]
    UserUpdate,
    /// See roles and what they carry.
    #[serde(rename = "role.read")]
    RoleRead,
    /// Define custom roles.
    #[serde(rename = "role.manage")]
    RoleManage,
    /// Grant and revoke roles (never beyond what the granter holds).
    #[serde(rename = "grant.manage")]
    GrantManage,
    /// Revoke other people's sessions and API tokens.
    #[serde(rename = "session.revoke")]
    SessionRevoke,
    /// Run the control checks over live state and read their results
    /// (pass or fail with the evidence looked at; never data or secrets).
    #[serde(rename = "controls.check")]
    ControlsCheck,
    /// Declare collections and change their schemas (add a field, raise a
    /// class, deprecate a field).
    #[serde(rename = "vault.schema.manage")]
    VaultSchemaManage,
    /// Lower a field's class (less protection for stored data): distinct
    /// from managing schemas, and a high-severity event.
    #[serde(rename = "vault.schema.downgrade")]
    VaultSchemaDowngrade,
    /// Create and update records, attach files, tokenize values.
    #[serde(rename = "vault.record.write")]
    VaultRecordWrite,
    /// Delete records (their values are destroyed).
    #[serde(rename = "vault.record.delete")]
    VaultRecordDelete,
    /// Read records' public and internal fields.
    #[serde(rename = "vault.read.internal")]
    VaultReadInternal,
    /// Read confidential fields in clear.
    #[serde(rename = "vault.read.confidential")]
    VaultReadConfidential,
    /// Read personal data (pii) in clear.
    #[serde(rename = "vault.read.pii")]
    VaultReadPii,
    /// Read sensitive personal data in clear, for a stated purpose.
    #[serde(rename = "vault.read.sensitive")]
    VaultReadSensitive,
    /// See confidential and personal fields masked (support roles).
    #[serde(rename = "vault.read.masked")]
    VaultReadMasked,
    /// Look records up by a searchable field (exact match).
    #[serde(rename = "vault.search")]
    VaultSearch,
    /// Erase everything held about a data subject (crypto-shredding).
    #[serde(rename = "vault.subject.erase")]
    VaultSubjectErase,
    /// Export everything held about a data subject.
    #[serde(rename = "vault.subject.export")]
    VaultSubjectExport,
}

impl Permission {
    pub const ALL: &'static [Self] = &[
        Self::TenantCreate,
        Self::TenantRead,
        Self::TenantUpdate,
        Self::AuditSearch,
        Self::AuditProof,
        Self::KeysRead,
        Self::KeysManage,
        Self::KeysShred,
        Self::UserCreate,
        Self::UserRead,
        Self::UserUpdate,
        Self::RoleRead,
        Self::RoleManage,
        Self::GrantManage,
        Self::SessionRevoke,
        Self::ControlsCheck,
        Self::VaultSchemaManage,
        Self::VaultSchemaDowngrade,
        Self::VaultRecordWrite,
        Self::VaultRecordDelete,
        Self::VaultReadInternal,
        Self::VaultReadConfidential,
        Self::VaultReadPii,
        Self::VaultReadSensitive,
        Self::VaultReadMasked,
        Self::VaultSearch,
        Self::VaultSubjectErase,
        Self::VaultSubjectExport,
    ];

    /// Permissions whose holders must use a second factor (control AC-1):
    /// they change who may do what, or destroy data.
    pub fn is_privileged(self) -> bool {
        matches!(
            self,
            Self::TenantCreate
                | Self::TenantUpdate
                | Self::KeysManage
                | Self::KeysShred
                | Self::UserCreate
                | Self::UserUpdate
                | Self::RoleManage
                | Self::GrantManage
                | Self::SessionRevoke
                | Self::VaultSchemaDowngrade
                | Self::VaultSubjectErase
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TenantCreate => "tenant.create",
            Self::TenantRead => "tenant.read",
            Self::TenantUpdate => "tenant.update",
            Self::AuditSearch => "audit.search",
            Self::AuditProof => "audit.proof",
            Self::KeysRead => "keys.read",
            Self::KeysManage => "keys.manage",
            Self::KeysShred => "keys.shred",
            Self::UserCreate => "user.create",
            Self::UserRead => "user.read",
            Self::UserUpdate => "user.update",
            Self::RoleRead => "role.read",
            Self::RoleManage => "role.manage",
            Self::GrantManage => "grant.manage",
            Self::SessionRevoke => "session.revoke",
            Self::ControlsCheck => "controls.check",
            Self::VaultSchemaManage => "vault.schema.manage",
            Self::VaultSchemaDowngrade => "vault.schema.downgrade",
            Self::VaultRecordWrite => "vault.record.write",
            Self::VaultRecordDelete => "vault.record.delete",
            Self::VaultReadInternal => "vault.read.internal",
            Self::VaultReadConfidential => "vault.read.confidential",
            Self::VaultReadPii => "vault.read.pii",
            Self::VaultReadSensitive => "vault.read.sensitive",
            Self::VaultReadMasked => "vault.read.masked",
            Self::VaultSearch => "vault.search",
            Self::VaultSubjectErase => "vault.subject.erase",
            Self::VaultSubjectExport => "vault.subject.export",
        }
    }

    fn bit(self) -> u64 {
        let index = Self::ALL.iter().position(|p| *p == self).unwrap_or(0);
        1_u64 << index
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

/// A set of permissions: what a role carries, what a token is limited to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PermissionSet(u64);

impl PermissionSet {
    pub const EMPTY: Self = Self(0);

    pub fn of(permissions: &[Permission]) -> Self {
        permissions.iter().copied().collect()
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    pub fn insert(&mut self, permission: Permission) {
        self.0 |= permission.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every permission of `self` is in `other`.
    pub fn is_subset(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    #[must_use]
    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    pub fn is_privileged(self) -> bool {
        self.iter().any(Permission::is_privileged)
    }

    /// Parses a list of permission names; the error names the first
    /// unknown one.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownPermission> {
        names
            .into_iter()
            .map(|n| n.trim().parse::<Permission>())
            .collect()
    }

    /// The names, space-separated (the stored form).
    pub fn to_names(self) -> String {
        self.iter()
            .map(Permission::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = Self::EMPTY;
        for p in iter {
            set.insert(p);
        }
        set
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Permission::as_str))
            .finish()
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

    #[test]
    fn sets() {
        assert!(Permission::ALL.len() <= 64, "a PermissionSet is 64 bits");
        let all: PermissionSet = Permission::ALL.iter().copied().collect();
        assert_eq!(all.iter().count(), Permission::ALL.len());
        let read = PermissionSet::of(&[Permission::TenantRead, Permission::AuditSearch]);
        assert!(read.is_subset(all));
        assert!(!all.is_subset(read));
        assert_eq!(
            PermissionSet::parse(read.to_names().split(' ')).unwrap(),
            read
        );
        assert_eq!(
            PermissionSet::parse(["tenant.read", "nope"]),
            Err(UnknownPermission("nope".to_owned()))
        );
        assert!(!read.is_privileged());
        assert!(PermissionSet::of(&[Permission::GrantManage]).is_privileged());
    }
}
