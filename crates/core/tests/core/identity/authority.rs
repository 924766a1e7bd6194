//! Invariant 8 (a credential never exceeds its parent) and the rule that
//! keeps the organisation from locking itself out, through the service
//! layer on both engines: what a cut API token may mint, grant, define and
//! revoke; a property test over chains of token creations with random
//! cuts; and the last administrator, who cannot be removed, suspended or
//! terminated. Every refusal names its rule, is audited, and changes
//! nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use rempart_core::ServiceError;
use rempart_core::identity::{NewAccount, NewGrant, NewRole, NewToken};
use rempart_core::{Actor, BootstrapStatus, Clock as _, ManualClock, Rempart, RequestContext};
use rempart_model::{
    AllowList, Environment, Permission, PermissionSet, PrincipalId, PrincipalName, Role, RoleName,
    Scope, Tenant,
};
use rempart_store::{AccountKind, PrincipalState, TokenRecord};
use rempart_testkit::{Engine, both_engines};
use secrecy::SecretString;
use time::{Duration, OffsetDateTime};

use super::{
    Fixture, create, ctx, denied, fixture, grant, grant_as, grants, is_rule, staff, try_grant,
};
use crate::support::new_tenant;

fn from(source: &str) -> RequestContext {
    RequestContext {
        source: Some(source.parse().unwrap()),
        ..ctx()
    }
}

async fn tenant(f: &Fixture, admin: &Actor, name: &str, environment: Environment) -> Tenant {
    let new = new_tenant(name, "eu", environment);
    f.core.create_tenant(admin, &ctx(), new).await.unwrap()
}

/// Two tenants: Acme in production, Bolt in development.
async fn two_tenants(f: &Fixture, admin: &Actor) -> (Tenant, Tenant) {
    let acme = tenant(f, admin, "Acme", Environment::production()).await;
    let bolt = tenant(f, admin, "Bolt", Environment::development()).await;
    (acme, bolt)
}

/// `role` staff-wide for `principal`, until `end`.
fn until(end: OffsetDateTime, principal: PrincipalId, role: Role) -> NewGrant {
    NewGrant {
        expires_at: Some(end),
        ..grant(principal, role, Scope::Global)
    }
}

/// The first administrator, with the secret of its bootstrap API token.
async fn admin_with_secret(core: &Rempart) -> (Actor, SecretString) {
    let BootstrapStatus::Issued { credential, .. } = core.ensure_bootstrap().await.unwrap() else {
        panic!("a fresh database issues a credential");
    };
    let exchanged = core
        .exchange_bootstrap(
            &ctx(),
            &credential,
            PrincipalName::parse("admin@example.com").unwrap(),
        )
        .await
        .unwrap();
    let actor = core.authenticate(&ctx(), &exchanged.token).await.unwrap();
    (actor, exchanged.token)
}

fn token(
    holder: Option<PrincipalId>,
    tenant: Option<&Tenant>,
    permissions: Option<&[Permission]>,
    networks: Option<&[&str]>,
    days: Option<i64>,
) -> NewToken {
    NewToken {
        name: "cut".to_owned(),
        holder,
        expires_in: days.map(Duration::days),
        permissions: permissions.map(PermissionSet::of),
        tenant: tenant.map(|t| t.id),
        allow_list: networks.map(|n| AllowList::parse(n).unwrap()),
    }
}

/// Makes the token `new` as `actor`: its record and its secret.
async fn mint(
    f: &Fixture,
    actor: &Actor,
    new: NewToken,
) -> Result<(TokenRecord, SecretString), ServiceError> {
    mint_from(f, actor, &ctx(), new).await
}

/// Makes the token `new` as `actor`, in the request `ctx`.
async fn mint_from(
    f: &Fixture,
    actor: &Actor,
    ctx: &RequestContext,
    new: NewToken,
) -> Result<(TokenRecord, SecretString), ServiceError> {
    f.core.create_token(actor, ctx, new).await
}

async fn service_account(f: &Fixture, admin: &Actor, name: &str) -> PrincipalId {
    let new = NewAccount {
        kind: AccountKind::Service,
        ..staff(name, None)
    };
    create(f, admin, new).await.id
}

/// A token cut to one tenant and `tenant.read` asks for more in every
/// direction; each is refused as `no-escalation`, audited, and mints
/// nothing. What stays within its cut is made.
async fn a_cut_token_mints_nothing_wider(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let (admin, _) = admin_with_secret(&f.core).await;
    let (a, b) = two_tenants(&f, &admin).await;
    let read = [Permission::TenantRead];
    let (cut_record, cut_secret) = mint(&f, &admin, token(None, Some(&a), Some(&read), None, None))
        .await
        .unwrap();
    let cut = f.core.authenticate(&ctx(), &cut_secret).await.unwrap();
    let before = f
        .core
        .list_tokens(&admin, &ctx(), None)
        .await
        .unwrap()
        .len();
    let wider = [
        // The case: every permission of the holder, unbound.
        token(None, None, None, None, Some(1)),
        token(None, Some(&a), None, None, Some(1)),
        token(None, None, Some(&read), None, Some(1)),
        token(None, Some(&b), Some(&read), None, Some(1)),
        token(
            None,
            Some(&a),
            Some(&[Permission::TenantRead, Permission::UserRead]),
            None,
            Some(1),
        ),
        // Longer than the asking token.
        token(None, Some(&a), Some(&read), None, Some(200)),
    ];
    let count = wider.len();
    for new in wider {
        let result = mint(&f, &cut, new.clone()).await;
        if new.tenant == Some(b.id) {
            // Tenant B is outside the cut: it answers as a tenant that
            // does not exist (out of scope looks like not there).
            assert!(
                matches!(result, Err(ServiceError::TenantNotFound)),
                "{new:?}: {result:?}"
            );
        } else {
            assert!(is_rule(&result, "no-escalation"), "{new:?}: {result:?}");
        }
    }
    assert_eq!(
        f.core
            .list_tokens(&admin, &ctx(), None)
            .await
            .unwrap()
            .len(),
        before,
        "a refusal mints nothing"
    );
    assert_eq!(denied(&f, "token.create").await, count);
    // Within the cut: made, and by default no longer-lived than its parent.
    let (child, _) = mint(&f, &cut, token(None, Some(&a), Some(&read), None, None))
        .await
        .unwrap();
    assert!(child.expires_at <= cut_record.expires_at);
    assert_eq!(child.tenant, Some(a.id));

    // Networks: a token limited to 10.0.0.0/8 makes tokens only within it.
    let (_, fenced) = mint(
        &f,
        &admin,
        token(None, None, None, Some(&["10.0.0.0/8"]), Some(10)),
    )
    .await
    .unwrap();
    let inside = from("10.1.2.3");
    let fenced = f.core.authenticate(&inside, &fenced).await.unwrap();
    for networks in [None, Some(&["192.0.2.0/24"][..]), Some(&["10.0.0.0/7"][..])] {
        let result = mint_from(
            &f,
            &fenced,
            &inside,
            token(None, None, None, networks, Some(1)),
        )
        .await;
        assert!(
            is_rule(&result, "no-escalation"),
            "{networks:?}: {result:?}"
        );
    }
    mint_from(
        &f,
        &fenced,
        &inside,
        token(None, None, None, Some(&["10.1.0.0/16"]), Some(1)),
    )
    .await
    .unwrap();

    // No token for a tenant the asking credential holds no grant in: a
    // service account administering only tenant A asks for tenant B.
    let robot = service_account(&f, &admin, "robot").await;
    try_grant(&f, &admin, robot, Role::TenantAdmin, Scope::Tenant(a.id))
        .await
        .unwrap();
    let (_, robot_secret) = mint(&f, &admin, token(Some(robot), None, None, None, Some(5)))
        .await
        .unwrap();
    let robot_actor = f.core.authenticate(&ctx(), &robot_secret).await.unwrap();
    let result = mint(&f, &robot_actor, token(None, Some(&b), None, None, Some(1))).await;
    // It sees no tenant B at all: the answer is that of a tenant that does
    // not exist.
    assert!(
        matches!(result, Err(ServiceError::TenantNotFound)),
        "{result:?}"
    );
    mint(&f, &robot_actor, token(None, Some(&a), None, None, Some(1)))
        .await
        .unwrap();

    // A token for a service account carries no more than its maker: an
    // account manager (user.update staff-wide) cannot mint a token of a
    // service account that administers everything.
    let almighty = service_account(&f, &admin, "root-robot").await;
    try_grant(&f, &admin, almighty, Role::SecurityAdmin, Scope::Global)
        .await
        .unwrap();
    let hana = f.holder(&ctx(), "hana", &[(Role::Hr, Scope::Global)]).await;
    let result = mint(&f, &hana, token(Some(almighty), None, None, None, Some(1))).await;
    assert!(is_rule(&result, "no-escalation"), "{result:?}");
    // Cut to what the account manager holds, it is made.
    mint(
        &f,
        &hana,
        token(
            Some(almighty),
            None,
            Some(&[Permission::UserRead]),
            None,
            Some(1),
        ),
    )
    .await
    .unwrap();
}

/// Roles, grants, and the holder's other credentials and sign-in factors,
/// from a cut credential or a temporary grant.
async fn restricted_credentials_change_nothing_beyond_their_cut(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let (admin, _) = admin_with_secret(&f.core).await;
    let a = tenant(&f, &admin, "Acme", Environment::production()).await;
    // Custom roles: only permissions the credential holds staff-wide.
    let (_, role_maker) = mint(
        &f,
        &admin,
        token(None, None, Some(&[Permission::RoleManage]), None, Some(1)),
    )
    .await
    .unwrap();
    let role_maker = f.core.authenticate(&ctx(), &role_maker).await.unwrap();
    let role = |permissions: &[Permission]| NewRole {
        name: RoleName::parse("reader").unwrap(),
        permissions: PermissionSet::of(permissions),
        description: String::new(),
    };
    let result = f
        .core
        .create_role(
            &role_maker,
            &ctx(),
            role(&[Permission::AuditSearch, Permission::RoleManage]),
        )
        .await;
    assert!(is_rule(&result, "no-escalation"), "{result:?}");
    assert_eq!(denied(&f, "role.create").await, 1);
    f.core
        .create_role(&role_maker, &ctx(), role(&[Permission::RoleManage]))
        .await
        .unwrap();

    // Grants: judged against the credential's cut, not the holder's
    // grants.
    let ivan = create(&f, &admin, staff("ivan", None)).await;
    let (_, granter) = mint(
        &f,
        &admin,
        token(
            None,
            None,
            Some(&[
                Permission::GrantManage,
                Permission::TenantRead,
                Permission::UserRead,
            ]),
            None,
            Some(1),
        ),
    )
    .await
    .unwrap();
    let granter = f.core.authenticate(&ctx(), &granter).await.unwrap();
    let result = f
        .core
        .grant_role(
            &granter,
            &ctx(),
            grant(ivan.id, Role::Auditor, Scope::Global),
        )
        .await;
    assert!(is_rule(&result, "no-escalation"), "{result:?}");
    try_grant(
        &f,
        &granter,
        ivan.id,
        Role::TenantMember,
        Scope::Tenant(a.id),
    )
    .await
    .unwrap();

    // Grants over time: a granter whose own grant ends tomorrow gives
    // nothing for longer.
    let gina = f.holder(&ctx(), "gina", &[]).await;
    let tomorrow = f.clock.now() + Duration::days(1);
    grant_as(
        &f,
        &admin,
        until(tomorrow, gina.principal, Role::SecurityAdmin),
    )
    .await
    .unwrap();
    let gina = f
        .core
        .authenticate(
            &ctx(),
            &SecretString::from("rmp_at_gina-token-for-tests-only"),
        )
        .await
        .unwrap();
    let judy = create(&f, &admin, staff("judy", None)).await;
    let result = f
        .core
        .grant_role(&gina, &ctx(), grant(judy.id, Role::Support, Scope::Global))
        .await;
    assert!(is_rule(&result, "no-escalation"), "{result:?}");
    grant_as(&f, &gina, until(tomorrow, judy.id, Role::Support))
        .await
        .unwrap();
    assert_eq!(denied(&f, "grant.create").await, 2);

    // The holder's other credentials and sign-in factors: out of a cut
    // token's reach; it may revoke itself.
    let (cut_record, cut) = mint(
        &f,
        &admin,
        token(
            None,
            Some(&a),
            Some(&[Permission::TenantRead]),
            None,
            Some(1),
        ),
    )
    .await
    .unwrap();
    let cut = f.core.authenticate(&ctx(), &cut).await.unwrap();
    let result = f.core.revoke_token(&cut, &ctx(), admin.token).await;
    assert!(
        matches!(
            result,
            Err(ServiceError::Forbidden {
                permission: Permission::SessionRevoke
            })
        ),
        "{result:?}"
    );
    let tokens = f.core.list_tokens(&admin, &ctx(), None).await.unwrap();
    let own = tokens.iter().find(|t| t.id == admin.token).unwrap();
    assert!(
        own.revoked_at.is_none(),
        "a refused revocation revokes nothing"
    );
    let result = f.core.enrol_totp(&cut, &ctx()).await;
    assert!(is_rule(&result, "no-escalation"), "{result:?}");
    f.core
        .revoke_token(&cut, &ctx(), cut_record.id)
        .await
        .unwrap();
}

// The property: chains of token creations with random cuts.

/// One creation in a chain.
#[derive(Debug, Clone)]
struct Step {
    /// For the service account (`true`) or for the asking token's holder.
    service: bool,
    /// 0: unbound; 1: tenant A; 2: tenant B.
    tenant: usize,
    /// A subset of the permissions (bits of `Permission::ALL`), or uncut.
    permissions: Option<u64>,
    /// An index into `NETWORKS`, or none.
    networks: Option<usize>,
    /// Days to live, or the default.
    days: Option<i64>,
}

/// A question to every credential of a chain.
#[derive(Debug, Clone)]
struct Query {
    permission: usize,
    /// 0: staff-wide; 1: tenant A; 2: tenant B.
    target: usize,
    source: usize,
    /// Hours after the chain was made.
    hours: i64,
}

const NETWORKS: &[&[&str]] = &[
    &["10.0.0.0/8"],
    &["10.1.0.0/16"],
    &["192.0.2.0/24"],
    &["10.1.0.0/16", "192.0.2.0/24"],
];

const SOURCES: &[&str] = &["10.1.2.3", "10.200.0.1", "192.0.2.7", "198.51.100.1"];

fn step() -> impl Strategy<Value = Step> {
    (
        any::<bool>(),
        0_usize..3,
        prop_oneof![1 => Just(None), 3 => any::<u64>().prop_map(Some)],
        prop_oneof![1 => Just(None), 2 => (0..NETWORKS.len()).prop_map(Some)],
        prop_oneof![1 => Just(None), 3 => (1_i64..120).prop_map(Some)],
    )
        .prop_map(|(service, tenant, permissions, networks, days)| Step {
            service,
            tenant,
            permissions,
            networks,
            days,
        })
}

fn query() -> impl Strategy<Value = Query> {
    (
        0..Permission::ALL.len(),
        0_usize..3,
        0..SOURCES.len(),
        0_i64..(130 * 24),
    )
        .prop_map(|(permission, target, source, hours)| Query {
            permission,
            target,
            source,
            hours,
        })
}

/// What the chains start from: an administrator's bootstrap token, two
/// tenants in two environments, and a service account holding grants of
/// its own (one expiring, one in an environment).
struct World {
    core: Rempart,
    clock: Arc<ManualClock>,
    root: SecretString,
    service: PrincipalId,
    tenants: [Tenant; 2],
    start: OffsetDateTime,
    made: AtomicUsize,
}

impl World {
    fn tenant(&self, index: usize) -> Option<&Tenant> {
        index.checked_sub(1).and_then(|i| self.tenants.get(i))
    }

    /// The actor of `secret` asking from the first source it admits.
    async fn actor(&self, secret: &SecretString) -> Option<(Actor, RequestContext)> {
        for source in SOURCES {
            let ctx = from(source);
            if let Ok(actor) = self.core.authenticate(&ctx, secret).await {
                return Some((actor, ctx));
            }
        }
        None
    }

    /// Whether `secret` may do `query` (at the query's time and source).
    async fn allows(&self, secret: &SecretString, query: &Query) -> bool {
        let ctx = from(SOURCES[query.source]);
        let Ok(actor) = self.core.authenticate(&ctx, secret).await else {
            return false;
        };
        let (target, environment) = match self.tenant(query.target) {
            Some(t) => (Scope::Tenant(t.id), Some(t.environment.clone())),
            None => (Scope::Global, None),
        };
        actor.may(
            Permission::ALL[query.permission],
            &target,
            environment.as_ref(),
            self.clock.now(),
        )
    }

    async fn check(&self, steps: Vec<Step>, queries: Vec<Query>) -> Result<(), String> {
        self.clock.set(self.start);
        let mut chain = vec![self.root.clone()];
        for step in &steps {
            let Some(parent) = chain.last() else { break };
            let Some((actor, ctx)) = self.actor(parent).await else {
                break;
            };
            let permissions = step.permissions.map(|bits| {
                Permission::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| bits & (1_u64 << i) != 0)
                    .map(|(_, p)| *p)
                    .collect::<PermissionSet>()
            });
            let new = NewToken {
                name: "chain".to_owned(),
                holder: step.service.then_some(self.service),
                expires_in: step.days.map(Duration::days),
                permissions,
                tenant: self.tenant(step.tenant).map(|t| t.id),
                allow_list: step
                    .networks
                    .map(|i| AllowList::parse(NETWORKS[i]).unwrap()),
            };
            match self.core.create_token(&actor, &ctx, new).await {
                Ok((_, secret)) => {
                    self.made.fetch_add(1, Ordering::Relaxed);
                    chain.push(secret);
                }
                Err(
                    ServiceError::RuleRefused {
                        rule: "no-escalation",
                        ..
                    }
                    | ServiceError::Forbidden { .. }
                    // A tenant or holder outside the asking credential's
                    // sight answers as absent.
                    | ServiceError::TenantNotFound
                    | ServiceError::NotFound { .. },
                ) => break,
                Err(other) => return Err(format!("{step:?}: unexpected {other:?}")),
            }
        }
        for query in &queries {
            self.clock.set(self.start + Duration::hours(query.hours));
            let mut allowed_by_ancestor = true;
            for (depth, secret) in chain.iter().enumerate() {
                let allowed = self.allows(secret, query).await;
                if allowed && !allowed_by_ancestor {
                    return Err(format!(
                        "credential {depth} of the chain may do {query:?}, an ancestor may not"
                    ));
                }
                allowed_by_ancestor = allowed_by_ancestor && allowed;
            }
        }
        self.clock.set(self.start);
        Ok(())
    }
}

/// No descendant can do anything its ancestors could not: for random
/// questions (permission, tenant, source address, time), a descendant
/// allowed implies every ancestor allowed.
async fn no_descendant_exceeds_its_ancestors(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let (admin, root) = admin_with_secret(&f.core).await;
    let (production, development) = two_tenants(&f, &admin).await;
    let service = service_account(&f, &admin, "chain-robot").await;
    let start = f.clock.now();
    for (role, scope, expires_at) in [
        (Role::TenantAdmin, Scope::Tenant(production.id), None),
        (
            Role::Auditor,
            Scope::Global,
            Some(start + Duration::days(30)),
        ),
        (
            Role::Support,
            Scope::Environment(Environment::development()),
            None,
        ),
    ] {
        f.core
            .grant_role(
                &admin,
                &ctx(),
                NewGrant {
                    expires_at,
                    ..grant(service, role, scope)
                },
            )
            .await
            .unwrap();
    }
    let world = Arc::new(World {
        core: f.core.clone(),
        clock: f.clock.clone(),
        root,
        service,
        tenants: [production, development],
        start,
        made: AtomicUsize::new(0),
    });
    let handle = tokio::runtime::Handle::current();
    let runner_world = world.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut runner = TestRunner::new(ProptestConfig {
            cases: 12,
            failure_persistence: None,
            ..ProptestConfig::default()
        });
        let strategy = (
            proptest::collection::vec(step(), 1..4),
            proptest::collection::vec(query(), 6..10),
        );
        runner
            .run(&strategy, |(steps, queries)| {
                handle
                    .block_on(runner_world.check(steps, queries))
                    .map_err(TestCaseError::fail)
            })
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap();
    assert_eq!(outcome, Ok(()));
    assert!(
        world.made.load(Ordering::Relaxed) > 0,
        "some chains were made"
    );
}

// Never lock the organisation out.

/// The only administrator cannot delete its own `security-admin` grant,
/// nor be suspended or terminated; a temporary administrator does not
/// count; once a second lasting administrator exists, the grant goes.
async fn the_last_administrator_stays(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let (admin, _) = admin_with_secret(&f.core).await;
    let own = grants(&f, &admin, admin.principal).await;
    let own = own[0].id;
    let result = f.core.revoke_grant(&admin, &ctx(), own).await;
    assert!(is_rule(&result, "last-administrator"), "{result:?}");
    assert_eq!(
        grants(&f, &admin, admin.principal).await.len(),
        1,
        "the grant stays"
    );

    // A temporary administrator does not count.
    let tess = create(&f, &admin, staff("tess", None)).await;
    f.core
        .grant_role(
            &admin,
            &ctx(),
            NewGrant {
                expires_at: Some(f.clock.now() + Duration::hours(1)),
                ..grant(tess.id, Role::SecurityAdmin, Scope::Global)
            },
        )
        .await
        .unwrap();
    let result = f.core.revoke_grant(&admin, &ctx(), own).await;
    assert!(is_rule(&result, "last-administrator"), "{result:?}");

    // Nor suspended or terminated by an account manager.
    let hana = f.holder(&ctx(), "hana", &[(Role::Hr, Scope::Global)]).await;
    for state in [PrincipalState::Suspended, PrincipalState::Terminated] {
        let result = f
            .core
            .set_account_state(&hana, &ctx(), admin.principal, state)
            .await;
        assert!(is_rule(&result, "last-administrator"), "{result:?}");
    }

    // A second lasting administrator: then the first may step down.
    let bob = f
        .holder(&ctx(), "bob", &[(Role::SecurityAdmin, Scope::Global)])
        .await;
    f.core.revoke_grant(&admin, &ctx(), own).await.unwrap();
    // Bob is the last now.
    let result = f
        .core
        .set_account_state(&hana, &ctx(), bob.principal, PrincipalState::Suspended)
        .await;
    assert!(is_rule(&result, "last-administrator"), "{result:?}");
    let bobs = grants(&f, &bob, bob.principal).await;
    let result = f.core.revoke_grant(&bob, &ctx(), bobs[0].id).await;
    assert!(is_rule(&result, "last-administrator"), "{result:?}");

    assert_eq!(denied(&f, "grant.revoke").await, 3);
    assert_eq!(denied(&f, "user.state").await, 3);
}

/// Two administrators remove each other at the same time: one passes,
/// the other is refused (the rows are locked, the count read again).
async fn concurrent_removals_leave_an_administrator(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let (admin, _) = admin_with_secret(&f.core).await;
    let bob = f
        .holder(&ctx(), "bob", &[(Role::SecurityAdmin, Scope::Global)])
        .await;
    let admins = grants(&f, &admin, admin.principal).await[0].id;
    let bobs = grants(&f, &bob, bob.principal).await[0].id;
    let context = ctx();
    let (first, second) = tokio::join!(
        f.core.revoke_grant(&admin, &context, bobs),
        f.core.revoke_grant(&bob, &context, admins),
    );
    let passed = [first.is_ok(), second.is_ok()];
    assert_eq!(
        passed.iter().filter(|p| **p).count(),
        1,
        "{first:?} {second:?}"
    );
    for result in [first, second] {
        assert!(
            result.is_ok() || is_rule(&result, "last-administrator"),
            "{result:?}"
        );
    }
}

both_engines!(
    a_cut_token_mints_nothing_wider,
    restricted_credentials_change_nothing_beyond_their_cut,
    no_descendant_exceeds_its_ancestors,
    the_last_administrator_stays,
    concurrent_removals_leave_an_administrator,
);
