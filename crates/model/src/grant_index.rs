//! Authorization decisions in constant time, however many grants a
//! principal holds (invariant 2; the identity benchmark's "p99 under 1 µs with 10,000
//! grants").
//!
//! [`is_allowed`](crate::role::is_allowed) walks every grant; this index,
//! built once when a request is authenticated, answers the same question
//! with two hash lookups. A property test keeps the two in agreement.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::environment::Environment;
use crate::permission::Permission;
use crate::role::{Grant, Scope};
use crate::tenant::TenantId;

/// Until when a scope is granted: `None` is for good. Several grants of the
/// same scope keep the latest expiry.
type Until = Option<OffsetDateTime>;

fn later(a: Until, b: Until) -> Until {
    match (a, b) {
        (None, _) | (_, None) => None,
        (Some(x), Some(y)) => Some(x.max(y)),
    }
}

fn active(until: Until, now: OffsetDateTime) -> bool {
    until.is_none_or(|t| now < t)
}

#[derive(Debug, Default, Clone)]
struct Scopes {
    global: Option<Until>,
    tenants: HashMap<TenantId, Until>,
    environments: HashMap<Environment, Until>,
}

/// The grants of one principal, indexed by permission and scope.
#[derive(Debug, Default, Clone)]
pub struct GrantIndex {
    by_permission: HashMap<Permission, Scopes>,
}

impl GrantIndex {
    pub fn new(grants: &[Grant]) -> Self {
        let mut by_permission: HashMap<Permission, Scopes> = HashMap::new();
        for grant in grants {
            for permission in grant.permissions.iter() {
                let scopes = by_permission.entry(permission).or_default();
                match &grant.scope {
                    Scope::Global => {
                        scopes.global = Some(match scopes.global {
                            Some(until) => later(until, grant.expires_at),
                            None => grant.expires_at,
                        });
                    }
                    Scope::Tenant(t) => {
                        let until = scopes
                            .tenants
                            .get(t)
                            .map_or(grant.expires_at, |u| later(*u, grant.expires_at));
                        scopes.tenants.insert(*t, until);
                    }
                    Scope::Environment(e) => {
                        let until = scopes
                            .environments
                            .get(e)
                            .map_or(grant.expires_at, |u| later(*u, grant.expires_at));
                        scopes.environments.insert(e.clone(), until);
                    }
                }
            }
        }
        Self { by_permission }
    }

    /// The same decision as [`crate::role::is_allowed`] over the grants
    /// the index was built from.
    pub fn allows(
        &self,
        permission: Permission,
        target: &Scope,
        target_environment: Option<&Environment>,
        now: OffsetDateTime,
    ) -> bool {
        let Some(scopes) = self.by_permission.get(&permission) else {
            return false;
        };
        if scopes.global.is_some_and(|until| active(until, now)) {
            return true;
        }
        match target {
            Scope::Global => false,
            Scope::Tenant(t) => {
                scopes.tenants.get(t).is_some_and(|u| active(*u, now))
                    || target_environment
                        .and_then(|e| scopes.environments.get(e))
                        .is_some_and(|u| active(*u, now))
            }
            Scope::Environment(e) => scopes.environments.get(e).is_some_and(|u| active(*u, now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::{Role, is_allowed};
    use proptest::prelude::*;
    use time::macros::datetime;
    use uuid::Uuid;

    const NOW: OffsetDateTime = datetime!(2026-11-27 12:00 UTC);

    fn scope_strategy() -> impl Strategy<Value = Scope> {
        prop_oneof![
            Just(Scope::Global),
            (0_u128..4).prop_map(|n| Scope::Tenant(TenantId(Uuid::from_u128(n)))),
            prop_oneof![
                Just(Environment::production()),
                Just(Environment::development())
            ]
            .prop_map(Scope::Environment),
        ]
    }

    fn grant_strategy() -> impl Strategy<Value = Grant> {
        (
            proptest::sample::select(Role::ALL),
            scope_strategy(),
            prop_oneof![
                Just(None),
                (-3_i64..3).prop_map(|h| Some(NOW + time::Duration::hours(h)))
            ],
        )
            .prop_map(|(role, scope, expires_at)| Grant::of(role, scope, expires_at))
    }

    proptest! {
        /// The index and the linear walk agree on every question.
        #[test]
        fn the_index_decides_like_the_rule(
            grants in proptest::collection::vec(grant_strategy(), 0..12),
            target in scope_strategy(),
            env in prop_oneof![Just(None), Just(Some(Environment::production())), Just(Some(Environment::development()))],
            hours in -4_i64..4,
        ) {
            let index = GrantIndex::new(&grants);
            let now = NOW + time::Duration::hours(hours);
            for permission in Permission::ALL {
                prop_assert_eq!(
                    index.allows(*permission, &target, env.as_ref(), now),
                    is_allowed(&grants, *permission, &target, env.as_ref(), now),
                    "{:?} on {:?}", permission, target
                );
            }
        }
    }
}
