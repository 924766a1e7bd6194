//! Roles and grants: a permission comes only from a role granted in a scope
//! (invariant 2). The decision is a pure function of the grants, the
//! permission asked for, the scope of the target, and the time (a grant may
//! expire).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::environment::Environment;
use crate::newtype::validated_string;
use crate::permission::{Permission, PermissionSet};
use crate::tenant::TenantId;

/// The built-in roles. Custom roles ([`RoleName`] plus a
/// [`PermissionSet`]) are defined by whoever holds `role.manage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Runs the programme: tenants, keys, access. Staff-wide by nature.
    #[serde(rename = "security-admin")]
    SecurityAdmin,
    /// Read-only access to evidence and the audit trail.
    #[serde(rename = "auditor")]
    Auditor,
    /// Reviews who holds what (quarterly access reviews): reads accounts,
    /// roles and grants, changes nothing.
    #[serde(rename = "access-reviewer")]
    AccessReviewer,
    /// Leads an incident: reads the audit trail and revokes sessions.
    #[serde(rename = "incident-commander")]
    IncidentCommander,
    /// Joiners and leavers: creates, suspends and terminates accounts.
    #[serde(rename = "hr")]
    Hr,
    /// Customer support: sees tenants and accounts, never their data in
    /// clear (masked data only) and changes nothing.
    #[serde(rename = "support")]
    Support,
    /// Administers one tenant's own users and their roles.
    #[serde(rename = "tenant-admin")]
    TenantAdmin,
    /// An ordinary user of a tenant.
    #[serde(rename = "tenant-member")]
    TenantMember,
    /// A machine calling the API for a tenant: writes and reads the
    /// tenant's vault records (sensitive data only for a stated purpose),
    /// never schemas, keys or accounts.
    #[serde(rename = "application")]
    Application,
    /// The data protection officer: answers data-subject requests (export,
    /// erasure) and decides class downgrades; reads personal data masked.
    #[serde(rename = "privacy-officer")]
    PrivacyOfficer,
}

impl Role {
    pub const ALL: &'static [Self] = &[
        Self::SecurityAdmin,
        Self::Auditor,
        Self::AccessReviewer,
        Self::IncidentCommander,
        Self::Hr,
        Self::Support,
        Self::TenantAdmin,
        Self::TenantMember,
        Self::Application,
        Self::PrivacyOfficer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecurityAdmin => "security-admin",
            Self::Auditor => "auditor",
            Self::AccessReviewer => "access-reviewer",
            Self::IncidentCommander => "incident-commander",
            Self::Hr => "hr",
            Self::Support => "support",
            Self::TenantAdmin => "tenant-admin",
            Self::TenantMember => "tenant-member",
            Self::Application => "application",
            Self::PrivacyOfficer => "privacy-officer",
        }
    }

    pub fn permissions(self) -> PermissionSet {
        use Permission as P;
        match self {
            // Everything, by construction: a new permission reaches the
            // security administrator without an edit here.
            Self::SecurityAdmin => Permission::ALL.iter().copied().collect(),
            Self::Auditor => PermissionSet::of(&[
                P::TenantRead,
                P::AuditSearch,
                P::AuditProof,
                P::KeysRead,
                P::UserRead,
                P::RoleRead,
                P::ControlsCheck,
            ]),
            Self::AccessReviewer => PermissionSet::of(&[P::TenantRead, P::UserRead, P::RoleRead]),
            Self::IncidentCommander => PermissionSet::of(&[
                P::TenantRead,
                P::AuditSearch,
                P::AuditProof,
                P::UserRead,
                P::SessionRevoke,
            ]),
            Self::Hr => PermissionSet::of(&[P::UserCreate, P::UserRead, P::UserUpdate]),
            // Masked data only: the shape of a customer's e-mail address
            // or the last digits of a phone, enough to help, never to use.
            Self::Support => PermissionSet::of(&[
                P::TenantRead,
                P::UserRead,
                P::VaultReadInternal,
                P::VaultReadMasked,
                P::VaultSearch,
            ]),
            Self::TenantAdmin => PermissionSet::of(&[
                P::TenantRead,
                P::TenantUpdate,
                P::UserCreate,
                P::UserRead,
                P::UserUpdate,
                P::RoleRead,
                P::GrantManage,
                P::SessionRevoke,
                P::AuditSearch,
                P::AuditProof,
                P::VaultSchemaManage,
                P::VaultReadInternal,
                P::VaultReadMasked,
            ]),
            Self::TenantMember => PermissionSet::of(&[P::TenantRead]),
            Self::Application => PermissionSet::of(&[
                P::TenantRead,
                P::VaultRecordWrite,
                P::VaultRecordDelete,
                P::VaultReadInternal,
                P::VaultReadConfidential,
                P::VaultReadPii,
                P::VaultReadSensitive,
                P::VaultSearch,
            ]),
            Self::PrivacyOfficer => PermissionSet::of(&[
                P::TenantRead,
                P::VaultReadInternal,
                P::VaultReadMasked,
                P::VaultSearch,
                P::VaultSchemaDowngrade,
                P::VaultSubjectErase,
                P::VaultSubjectExport,
            ]),
        }
    }

    pub fn name(self) -> RoleName {
        RoleName(self.as_str().to_owned())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

validated_string! {
    /// The name of a role, built-in or custom: 1 to 64 characters of
    /// lowercase letters, digits and `-`, starting with a letter.
    pub struct RoleName; parse error RoleNameError
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a role name is 1 to 64 characters of lowercase letters, digits and '-', starting with a letter"
)]
pub struct RoleNameError;

impl RoleName {
    pub fn parse(raw: &str) -> Result<Self, RoleNameError> {
        let ok = (1..=64).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(RoleNameError)
        }
    }

    /// The built-in role of this name, if it is one.
    pub fn builtin(&self) -> Option<Role> {
        self.0.parse().ok()
    }
}

/// Where a grant applies, and where an action lands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everything (staff-wide).
    Global,
    /// One tenant.
    Tenant(TenantId),
    /// Every tenant of one environment.
    Environment(Environment),
}

impl Scope {
    /// Whether a grant in `self` covers an action on `target`.
    ///
    /// `target_environment` is the environment of the target tenant, when
    /// the target is a tenant; a global target is covered only by a global
    /// grant.
    pub fn covers(&self, target: &Scope, target_environment: Option<&Environment>) -> bool {
        match (self, target) {
            (Scope::Global, _) => true,
            (Scope::Tenant(granted), Scope::Tenant(wanted)) => granted == wanted,
            (Scope::Environment(granted), Scope::Environment(wanted)) => granted == wanted,
            (Scope::Environment(granted), Scope::Tenant(_)) => {
                target_environment.is_some_and(|env| env == granted)
            }
            _ => false,
        }
    }
}

/// A role granted in a scope, possibly until a time, with the permissions
/// the role carried when the grant was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: RoleName,
    pub permissions: PermissionSet,
    pub scope: Scope,
    pub expires_at: Option<OffsetDateTime>,
}

impl Grant {
    /// A grant of a built-in role.
    pub fn of(role: Role, scope: Scope, expires_at: Option<OffsetDateTime>) -> Self {
        Self {
            role: role.name(),
            permissions: role.permissions(),
            scope,
            expires_at,
        }
    }

    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|until| now < until)
    }
}

/// Deny by default: allowed only if some active grant's role carries the
/// permission and its scope covers the target.
pub fn is_allowed(
    grants: &[Grant],
    permission: Permission,
    target: &Scope,
    target_environment: Option<&Environment>,
    now: OffsetDateTime,
) -> bool {
    grants.iter().any(|grant| {
        grant.is_active(now)
            && grant.permissions.contains(permission)
            && grant.scope.covers(target, target_environment)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-11-27 12:00 UTC);

    fn grant(role: Role, scope: Scope) -> Grant {
        Grant::of(role, scope, None)
    }

    #[test]
    fn no_grant_no_permission() {
        assert!(!is_allowed(
            &[],
            Permission::TenantRead,
            &Scope::Global,
            None,
            NOW
        ));
    }

    #[test]
    fn a_role_gives_only_its_permissions() {
        let auditor = [grant(Role::Auditor, Scope::Global)];
        assert!(is_allowed(
            &auditor,
            Permission::TenantRead,
            &Scope::Global,
            None,
            NOW
        ));
        assert!(!is_allowed(
            &auditor,
            Permission::TenantCreate,
            &Scope::Global,
            None,
            NOW
        ));
    }

    #[test]
    fn a_tenant_grant_does_not_reach_other_tenants_or_global() {
        let a = TenantId(Uuid::from_u128(1));
        let b = TenantId(Uuid::from_u128(2));
        let grants = [grant(Role::Auditor, Scope::Tenant(a))];
        let reads = |scope: Scope| is_allowed(&grants, Permission::TenantRead, &scope, None, NOW);
        assert!(reads(Scope::Tenant(a)));
        assert!(!reads(Scope::Tenant(b)));
        assert!(!reads(Scope::Global));
    }

    #[test]
    fn an_environment_grant_covers_its_tenants_only() {
        let t = TenantId(Uuid::from_u128(1));
        let grants = [grant(
            Role::Auditor,
            Scope::Environment(Environment::development()),
        )];
        let dev = Environment::development();
        let prod = Environment::production();
        let reads_in = |environment: Option<&Environment>| {
            is_allowed(
                &grants,
                Permission::TenantRead,
                &Scope::Tenant(t),
                environment,
                NOW,
            )
        };
        assert!(reads_in(Some(&dev)));
        assert!(!reads_in(Some(&prod)));
        assert!(!reads_in(None));
    }

    #[test]
    fn an_expired_grant_gives_nothing() {
        let grants = [Grant::of(Role::SecurityAdmin, Scope::Global, Some(NOW))];
        assert!(!is_allowed(
            &grants,
            Permission::TenantRead,
            &Scope::Global,
            None,
            NOW
        ));
        assert!(is_allowed(
            &grants,
            Permission::TenantRead,
            &Scope::Global,
            None,
            NOW - time::Duration::seconds(1)
        ));
    }
}
