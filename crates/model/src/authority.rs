//! The authority a credential carries, and the two rules that keep it from
//! growing (invariant 8: a credential never exceeds its parent).
//!
//! A credential acts with its holder's grants, cut down by the
//! credential's own [`Cut`] (one tenant, some permissions, some networks,
//! an expiry). Whatever a credential creates — a token, a grant, a custom
//! role — must be covered by that cut authority: [`Cut::exceeds`] compares
//! the declared cuts (which holds whatever the holder is granted later),
//! and [`uncovered`] compares the grants a new credential or grant would
//! carry with the grants the creating credential carries, over time.
//!
//! The last rule here, [`administrators`], keeps the organisation from
//! locking itself out: who can still manage grants and accounts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use time::OffsetDateTime;

use crate::allow_list::AllowList;
use crate::environment::Environment;
use crate::permission::{Permission, PermissionSet};
use crate::principal::PrincipalId;
use crate::role::{Grant, Scope};
use crate::tenant::TenantId;

/// What a credential is cut down to; `None` in a field is "no cut there".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cut {
    /// Bound to one tenant: grants elsewhere are dropped, wider scopes
    /// narrowed to it.
    pub tenant: Option<TenantId>,
    /// Only these permissions of the holder's.
    pub permissions: Option<PermissionSet>,
    /// Only from these networks.
    pub networks: Option<AllowList>,
    /// Not after this time.
    pub expires_at: Option<OffsetDateTime>,
}

/// The first way a new credential's cut reaches beyond its parent's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Excess {
    /// The parent is bound to `parent`; the child asks for another tenant
    /// (`Some`) or for none (`None`: every tenant).
    Tenant {
        parent: TenantId,
        asked: Option<TenantId>,
    },
    /// The child asks for a permission outside the parent's cut (`None`:
    /// for every permission of its holder, uncut).
    Permission {
        parent: PermissionSet,
        asked: Option<Permission>,
    },
    /// The child asks for a network outside the parent's (`None`: for
    /// every network).
    Network { asked: Option<ipnet::IpNet> },
    /// The child would outlive the parent.
    Expiry { parent: OffsetDateTime },
}

impl fmt::Display for Excess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tenant {
                parent,
                asked: Some(asked),
            } => write!(
                f,
                "the asking credential is bound to tenant {parent}; it cannot make one for tenant {asked}"
            ),
            Self::Tenant {
                parent,
                asked: None,
            } => write!(
                f,
                "the asking credential is bound to tenant {parent}; it cannot make one bound to no tenant"
            ),
            Self::Permission {
                parent,
                asked: Some(asked),
            } => write!(
                f,
                "the asking credential is cut to {}; it cannot give {asked}",
                parent.to_names()
            ),
            Self::Permission {
                parent,
                asked: None,
            } => write!(
                f,
                "the asking credential is cut to {}; name at most those permissions",
                parent.to_names()
            ),
            Self::Network { asked: Some(net) } => write!(
                f,
                "the asking credential is limited to some networks; {net} is not within them"
            ),
            Self::Network { asked: None } => f.write_str(
                "the asking credential is limited to some networks; name at most those networks",
            ),
            Self::Expiry { parent } => write!(
                f,
                "the asking credential expires at {parent}; a credential it makes cannot outlive it"
            ),
        }
    }
}

impl Cut {
    /// No cut at all: the holder's whole authority.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether the cut narrows what (tenant or permissions), as opposed to
    /// only where from or until when.
    pub fn narrows_what(&self) -> bool {
        self.tenant.is_some() || self.permissions.is_some()
    }

    /// The first way `self`, a new credential's cut, reaches beyond
    /// `parent`'s; `None` when it is within it. Compared field by field, so
    /// the answer holds whatever the holders are granted later.
    pub fn exceeds(&self, parent: &Cut) -> Option<Excess> {
        if let Some(bound) = parent.tenant
            && self.tenant != Some(bound)
        {
            return Some(Excess::Tenant {
                parent: bound,
                asked: self.tenant,
            });
        }
        if let Some(allowed) = parent.permissions {
            match self.permissions {
                None => {
                    return Some(Excess::Permission {
                        parent: allowed,
                        asked: None,
                    });
                }
                Some(asked) => {
                    if let Some(extra) = asked.iter().find(|p| !allowed.contains(*p)) {
                        return Some(Excess::Permission {
                            parent: allowed,
                            asked: Some(extra),
                        });
                    }
                }
            }
        }
        if let Some(allowed) = &parent.networks
            && !allowed.allows_any()
        {
            match &self.networks {
                None => return Some(Excess::Network { asked: None }),
                Some(asked) => {
                    if let Some(net) = asked
                        .entries()
                        .iter()
                        .find(|net| !network_within(net, allowed))
                    {
                        return Some(Excess::Network { asked: Some(*net) });
                    }
                }
            }
        }
        if let Some(until) = parent.expires_at
            && self.expires_at.is_none_or(|at| at > until)
        {
            return Some(Excess::Expiry { parent: until });
        }
        None
    }

    /// Whether a request from `source` at `now` may use a credential with
    /// this cut (its networks and expiry; what it may do is in its grants).
    pub fn admits(&self, source: Option<std::net::IpAddr>, now: OffsetDateTime) -> bool {
        let from = match &self.networks {
            None => true,
            Some(list) => source.is_some_and(|ip| list.contains(ip)),
        };
        from && self.expires_at.is_none_or(|at| now < at)
    }
}

/// Whether every address of `net` is in `list`.
fn network_within(net: &ipnet::IpNet, list: &AllowList) -> bool {
    list.entries().iter().any(|outer| outer.contains(net))
        || (net.prefix_len() == 0 && list.allows_any())
}

/// A permission a new credential or grant would carry, in a scope, that
/// the creating credential does not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncovered {
    pub permission: Permission,
    pub scope: Scope,
    /// The creator holds it now, but not for as long as the new one would
    /// last.
    pub held_now: bool,
}

impl fmt::Display for Uncovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match &self.scope {
            Scope::Global => "staff-wide".to_owned(),
            Scope::Tenant(t) => format!("in tenant {t}"),
            Scope::Environment(e) => format!("in environment {e}"),
        };
        if self.held_now {
            write!(
                f,
                "the asking credential holds {} {scope} for less time than the new one would last",
                self.permission
            )
        } else {
            write!(
                f,
                "the asking credential does not hold {} {scope}",
                self.permission
            )
        }
    }
}

/// The first permission in a scope that `child` (the grants a new
/// credential or grant would carry) holds at `now` and that `parent` (the
/// creating credential's grants, already cut) does not cover from `now`
/// until the child's end: the earlier of its grant's expiry and `until`
/// (`None`: for good). Each child grant must be covered by one parent grant
/// lasting at least as long (a chain of successive grants is not counted:
/// a refusal, never a widening). `environment_of` gives a tenant's
/// environment, for grants made in an environment.
pub fn uncovered(
    child: &[Grant],
    parent: &[Grant],
    until: Option<OffsetDateTime>,
    now: OffsetDateTime,
    environment_of: impl Fn(TenantId) -> Option<Environment>,
) -> Option<Uncovered> {
    for grant in child.iter().filter(|g| g.is_active(now)) {
        let end = earlier(grant.expires_at, until);
        let environment = match &grant.scope {
            Scope::Tenant(t) => environment_of(*t),
            _ => None,
        };
        for permission in grant.permissions.iter() {
            let holding = parent.iter().filter(|h| {
                h.is_active(now)
                    && h.permissions.contains(permission)
                    && h.scope.covers(&grant.scope, environment.as_ref())
            });
            let mut held_now = false;
            let mut lasting = false;
            for h in holding {
                held_now = true;
                if lasts(h.expires_at, end) {
                    lasting = true;
                    break;
                }
            }
            if !lasting {
                return Some(Uncovered {
                    permission,
                    scope: grant.scope.clone(),
                    held_now,
                });
            }
        }
    }
    None
}

/// The earlier of two ends (`None`: never).
fn earlier(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => Some(a.min(b)),
    }
}

/// Whether a grant ending at `holder` lasts until `end`.
fn lasts(holder: Option<OffsetDateTime>, end: Option<OffsetDateTime>) -> bool {
    match (holder, end) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(h), Some(e)) => h >= e,
    }
}

/// The permissions that administer access itself: whoever holds both
/// staff-wide can grant any role and restore any account, so at least one
/// active account must (rule `last-administrator`).
pub const ADMINISTRATION: &[Permission] = &[Permission::GrantManage, Permission::UserUpdate];

/// The accounts that administer access for good: their grants without an
/// expiry, staff-wide, carry every [`ADMINISTRATION`] permission between
/// them. A grant with an expiry does not count: it lapses on its own, and
/// no one would be left to renew it.
pub fn administrators<'a>(
    grants: impl IntoIterator<Item = (PrincipalId, &'a Grant)>,
) -> BTreeSet<PrincipalId> {
    let mut held: BTreeMap<PrincipalId, PermissionSet> = BTreeMap::new();
    for (principal, grant) in grants {
        if grant.scope != Scope::Global || grant.expires_at.is_some() {
            continue;
        }
        let entry = held.entry(principal).or_default();
        *entry = union(*entry, grant.permissions);
    }
    let needed = PermissionSet::of(ADMINISTRATION);
    held.into_iter()
        .filter(|(_, permissions)| needed.is_subset(*permissions))
        .map(|(principal, _)| principal)
        .collect()
}

fn union(a: PermissionSet, b: PermissionSet) -> PermissionSet {
    a.iter().chain(b.iter()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;
    use time::macros::datetime;
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-11-27 12:00 UTC);

    fn tenant(n: u128) -> TenantId {
        TenantId(Uuid::from_u128(n))
    }

    fn nets(list: &[&str]) -> AllowList {
        AllowList::parse(list).unwrap()
    }

    #[test]
    fn a_cut_within_its_parent_passes() {
        let parent = Cut {
            tenant: Some(tenant(1)),
            permissions: Some(PermissionSet::of(&[
                Permission::TenantRead,
                Permission::UserRead,
            ])),
            networks: Some(nets(&["10.0.0.0/8"])),
            expires_at: Some(NOW + time::Duration::days(2)),
        };
        let child = Cut {
            permissions: Some(PermissionSet::of(&[Permission::TenantRead])),
            networks: Some(nets(&["10.1.0.0/16", "10.2.3.4"])),
            expires_at: Some(NOW + time::Duration::days(1)),
            ..parent.clone()
        };
        assert_eq!(child.exceeds(&parent), None);
        assert_eq!(parent.exceeds(&Cut::none()), None);
    }

    #[test]
    fn each_way_out_is_named() {
        let parent = Cut {
            tenant: Some(tenant(1)),
            permissions: Some(PermissionSet::of(&[Permission::TenantRead])),
            networks: Some(nets(&["10.0.0.0/8"])),
            expires_at: Some(NOW),
        };
        let within = Cut {
            expires_at: Some(NOW),
            ..parent.clone()
        };
        assert_eq!(within.exceeds(&parent), None);
        // `within` with one field changed: what it exceeds its parent by.
        let changed = |change: fn(&mut Cut)| {
            let mut cut = within.clone();
            change(&mut cut);
            cut.exceeds(&parent)
        };
        let other_tenant = changed(|c| c.tenant = Some(tenant(2)));
        assert!(matches!(
            other_tenant,
            Some(Excess::Tenant { asked: Some(_), .. })
        ));
        let unbound = changed(|c| c.tenant = None);
        assert!(matches!(unbound, Some(Excess::Tenant { asked: None, .. })));
        let wider = changed(|c| {
            c.permissions = Some(PermissionSet::of(&[
                Permission::TenantRead,
                Permission::GrantManage,
            ]));
        });
        assert_eq!(
            wider,
            Some(Excess::Permission {
                parent: PermissionSet::of(&[Permission::TenantRead]),
                asked: Some(Permission::GrantManage)
            })
        );
        let uncut = changed(|c| c.permissions = None);
        assert!(matches!(
            uncut,
            Some(Excess::Permission { asked: None, .. })
        ));
        let elsewhere = changed(|c| c.networks = Some(nets(&["192.0.2.0/24"])));
        assert!(matches!(
            elsewhere,
            Some(Excess::Network { asked: Some(_) })
        ));
        let anywhere = changed(|c| c.networks = None);
        assert_eq!(anywhere, Some(Excess::Network { asked: None }));
        let later = changed(|c| c.expires_at = Some(NOW + time::Duration::seconds(1)));
        assert_eq!(later, Some(Excess::Expiry { parent: NOW }));
        assert!(changed(|c| c.expires_at = None).is_some());
    }

    #[test]
    fn coverage_counts_scope_and_time() {
        let a = tenant(1);
        let admin_until = NOW + time::Duration::days(1);
        let parent = [
            Grant::of(Role::Auditor, Scope::Global, None),
            Grant::of(Role::TenantAdmin, Scope::Tenant(a), Some(admin_until)),
        ];
        let env = |_| Some(Environment::production());
        // Inside the parent's grants, for as long as they last.
        let child = [Grant::of(Role::AccessReviewer, Scope::Global, None)];
        assert_eq!(uncovered(&child, &parent, None, NOW, env), None);
        let child = [Grant::of(Role::TenantAdmin, Scope::Tenant(a), None)];
        assert_eq!(
            uncovered(&child, &parent, Some(admin_until), NOW, env),
            None
        );
        // Longer than the parent's grant.
        let found = uncovered(&child, &parent, None, NOW, env).unwrap();
        assert!(found.held_now);
        // Another tenant, or staff-wide.
        let child = [Grant::of(Role::TenantAdmin, Scope::Tenant(tenant(2)), None)];
        assert!(!uncovered(&child, &parent, None, NOW, env).unwrap().held_now);
        let child = [Grant::of(Role::Hr, Scope::Global, None)];
        assert_eq!(
            uncovered(&child, &parent, None, NOW, env)
                .unwrap()
                .permission,
            Permission::UserCreate
        );
        // An expired child grant carries nothing to cover.
        let child = [Grant::of(Role::SecurityAdmin, Scope::Global, Some(NOW))];
        assert_eq!(uncovered(&child, &parent, None, NOW, env), None);
    }

    #[test]
    fn administrators_hold_both_permissions_staff_wide_for_good() {
        let (a, b, c, d) = (
            PrincipalId(Uuid::from_u128(1)),
            PrincipalId(Uuid::from_u128(2)),
            PrincipalId(Uuid::from_u128(3)),
            PrincipalId(Uuid::from_u128(4)),
        );
        let admin = Grant::of(Role::SecurityAdmin, Scope::Global, None);
        let temporary = Grant::of(Role::SecurityAdmin, Scope::Global, Some(NOW));
        let in_tenant = Grant::of(Role::SecurityAdmin, Scope::Tenant(tenant(1)), None);
        let hr = Grant::of(Role::Hr, Scope::Global, None);
        let granter = Grant {
            role: crate::role::RoleName::parse("granter").unwrap(),
            permissions: PermissionSet::of(&[Permission::GrantManage]),
            scope: Scope::Global,
            expires_at: None,
        };
        let found = administrators([
            (a, &admin),
            (b, &temporary),
            (c, &in_tenant),
            (d, &hr),
            (d, &granter),
        ]);
        assert_eq!(found, BTreeSet::from([a, d]));
    }
}
