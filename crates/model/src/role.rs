//! Roles and grants: a permission comes only from a role granted in a scope
//! (invariant 2). The decision is a pure function of the grants, the
//! permission asked for, the scope of the target, and the time (a grant may
//! expire).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::environment::Environment;
use crate::permission::Permission;
use crate::tenant::TenantId;

/// The built-in roles. Custom roles arrive with the identity issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Runs the programme: tenants, keys, access. Staff-wide by nature.
    #[serde(rename = "security-admin")]
    SecurityAdmin,
    /// Read-only access to evidence and the audit trail.
    #[serde(rename = "auditor")]
    Auditor,
}

impl Role {
    pub const ALL: &'static [Self] = &[Self::SecurityAdmin, Self::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecurityAdmin => "security-admin",
            Self::Auditor => "auditor",
        }
    }

    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Self::SecurityAdmin => &[
                Permission::TenantCreate,
                Permission::TenantRead,
                Permission::AuditSearch,
                Permission::AuditProof,
                Permission::KeysRead,
                Permission::KeysManage,
                Permission::KeysShred,
            ],
            Self::Auditor => &[
                Permission::TenantRead,
                Permission::AuditSearch,
                Permission::AuditProof,
            ],
        }
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

/// A role granted in a scope, possibly until a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub scope: Scope,
    pub expires_at: Option<OffsetDateTime>,
}

impl Grant {
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
            && grant.role.permissions().contains(&permission)
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
        Grant {
            role,
            scope,
            expires_at: None,
        }
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
        assert!(is_allowed(
            &grants,
            Permission::TenantRead,
            &Scope::Tenant(a),
            None,
            NOW
        ));
        assert!(!is_allowed(
            &grants,
            Permission::TenantRead,
            &Scope::Tenant(b),
            None,
            NOW
        ));
        assert!(!is_allowed(
            &grants,
            Permission::TenantRead,
            &Scope::Global,
            None,
            NOW
        ));
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
        assert!(is_allowed(
            &grants,
            Permission::TenantRead,
            &Scope::Tenant(t),
            Some(&dev),
            NOW
        ));
        assert!(!is_allowed(
            &grants,
            Permission::TenantRead,
            &Scope::Tenant(t),
            Some(&prod),
            NOW
        ));
        assert!(!is_allowed(
            &grants,
            Permission::TenantRead,
            &Scope::Tenant(t),
            None,
            NOW
        ));
    }

    #[test]
    fn an_expired_grant_gives_nothing() {
        let grants = [Grant {
            role: Role::SecurityAdmin,
            scope: Scope::Global,
            expires_at: Some(NOW),
        }];
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
