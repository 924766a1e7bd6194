//! Identity and access through the service layer, on both
//! engines: accounts, the password policy, login with TOTP and recovery
//! codes, no user enumeration, lockout, sessions and tokens, grants with
//! separation of duties, break-glass. Every refusal changes nothing and is
//! audited.

/// Asserts that `result` failed with an identity error matching `pattern`
/// (and the guard, if one is given).
macro_rules! assert_identity_err {
    ($result:expr, $pattern:pat $(if $guard:expr)?) => {{
        let result = &$result;
        assert!(
            matches!(
                crate::support::domain_err::<rempart_core::identity::error::IdentityError, _>(result),
                Some($pattern) $(if $guard)?
            ),
            "{result:?}"
        );
    }};
}

mod authority;
mod webauthn;

use std::ops::Deref;

use rempart_core::identity::{
    Identity, IdentityConfig, LoginKey, LoginStep, NewAccount, NewGrant, NewRole, NewToken,
    TenantAccess,
};
use rempart_core::{Actor, Clock as _, Rempart, RequestContext, ServiceError};
use rempart_model::password_policy::{PasswordPolicy, PasswordRule};
use rempart_model::{Environment, Permission, PermissionSet, Role, RoleName, Scope, TenantId};
use rempart_store::{
    AccountKind, AuditRecord, PrincipalRecord, PrincipalState, SessionStage, ThrottleRecord,
};
use rempart_testkit::{Engine, both_engines};
use secrecy::{ExposeSecret as _, SecretString};
use time::Duration;
use time::macros::datetime;

use crate::support::{self, account, context, new_tenant};
pub use crate::support::{grant, secret, staff};
use rempart_core::identity::error::IdentityError;

const GOOD: &str = "violet-Harbour-lantern-93";
const GOOD2: &str = "amber-Quarry-meadow-57";

/// A service with an identity service, and the key of its login throttle
/// (to find a name's counter).
struct Fixture {
    base: support::Fixture,
    login_key: LoginKey,
}

impl Deref for Fixture {
    type Target = support::Fixture;

    fn deref(&self) -> &support::Fixture {
        &self.base
    }
}

async fn fixture(engine: Engine) -> Option<Fixture> {
    fixture_with(engine, IdentityConfig::default()).await
}

async fn fixture_with(engine: Engine, config: IdentityConfig) -> Option<Fixture> {
    let login_key = LoginKey::ephemeral();
    let identity =
        Identity::for_tests(config, PasswordPolicy::default()).with_login_key(login_key.clone());
    let base = support::Fixture::new(engine, datetime!(2026-11-28 09:00 UTC), |core, db| {
        core.with_keys(rempart_testkit::test_keys(db.dir()))
            .with_identity(identity)
    })
    .await?;
    Some(Fixture { base, login_key })
}

fn ctx() -> RequestContext {
    context("req-id", "192.0.2.7")
}

/// The audit trail, every pending event chained first.
async fn audit(f: &Fixture) -> Vec<AuditRecord> {
    f.audit().await
}

async fn admin(f: &Fixture) -> Actor {
    f.admin(&ctx()).await
}

/// A fixture (`None`: the engine is unavailable) and its first
/// administrator.
async fn with_admin(engine: Engine) -> Option<(Fixture, Actor)> {
    let f = fixture(engine).await?;
    let admin = admin(&f).await;
    Some((f, admin))
}

/// The caller of the session `step` opened, which is at one of `stage`.
async fn session_actor(f: &Fixture, step: &LoginStep, stage: SessionStage) -> Actor {
    let (actor, _) = f
        .core
        .authenticate_session(&ctx(), &step.session, &[stage])
        .await
        .unwrap();
    actor
}

/// How many events of `action` were denied.
async fn denied(f: &Fixture, action: &str) -> usize {
    f.denied_events(action).await.len()
}

/// The login throttle's counter of the login name `name`.
async fn throttle_of(f: &Fixture, name: &str) -> ThrottleRecord {
    let mut tx = f.store.begin_read().await.unwrap();
    let key = f.login_key.throttle_key(name);
    tx.throttle(&key).await.unwrap().unwrap()
}

/// Whether `result` is a refusal by the rule `name`.
fn is_rule(result: &Result<impl std::fmt::Debug, ServiceError>, name: &str) -> bool {
    matches!(result, Err(ServiceError::RuleRefused { rule, .. }) if *rule == name)
}

/// Creates `new` as `admin`.
async fn create(f: &Fixture, admin: &Actor, new: NewAccount) -> PrincipalRecord {
    f.core.create_account(admin, &ctx(), new).await.unwrap()
}

/// Creates `new` as `admin`, and grants it `role` staff-wide.
async fn create_with(f: &Fixture, admin: &Actor, new: NewAccount, role: Role) -> PrincipalRecord {
    let account = create(f, admin, new).await;
    try_grant(f, admin, account.id, role, Scope::Global)
        .await
        .unwrap();
    account
}

/// Tries to grant `role` in `scope` to `principal`, as `actor`.
async fn try_grant(
    f: &Fixture,
    actor: &Actor,
    principal: rempart_model::PrincipalId,
    role: Role,
    scope: Scope,
) -> Result<rempart_store::GrantRecord, ServiceError> {
    grant_as(f, actor, grant(principal, role, scope)).await
}

/// Tries to make the grant `new`, as `actor`.
async fn grant_as(
    f: &Fixture,
    actor: &Actor,
    new: NewGrant,
) -> Result<rempart_store::GrantRecord, ServiceError> {
    f.core.grant_role(actor, &ctx(), new).await
}

/// The grants of `principal`, as `actor` sees them.
async fn grants(
    f: &Fixture,
    actor: &Actor,
    principal: rempart_model::PrincipalId,
) -> Vec<rempart_store::GrantRecord> {
    f.core.list_grants(actor, &ctx(), principal).await.unwrap()
}

/// A tenant user of `tenant`.
fn tenant_user(name: &str, tenant: TenantId, password: Option<&str>) -> NewAccount {
    account(name, AccountKind::TenantUser, Some(tenant), password)
}

/// The current TOTP code of an enrolment URI, at the fixture's clock.
fn code(uri: &SecretString, f: &Fixture) -> SecretString {
    let totp = totp_rs::Totp::from_url(uri.expose_secret()).unwrap();
    let now = u64::try_from(f.clock.now().unix_timestamp()).unwrap();
    SecretString::from(totp.generate(now).to_string())
}

/// Logs `name` in through enrolment: returns the full session and the
/// enrolment URI (to make later codes).
async fn enrolled_login(f: &Fixture, name: &str, password: &str) -> (LoginStep, SecretString) {
    let step = f.core.login(&ctx(), name, secret(password)).await.unwrap();
    assert_eq!(step.stage, SessionStage::EnrolMfa);
    // Nothing but enrolment until then.
    assert_identity_err!(
        f.core.authenticate(&ctx(), &step.session).await,
        IdentityError::LoginIncomplete { next: "enrol_mfa" }
    );
    let actor = session_actor(f, &step, SessionStage::EnrolMfa).await;
    let enrolment = f.core.enrol_totp(&actor, &ctx()).await.unwrap();
    assert!(
        enrolment
            .uri
            .expose_secret()
            .starts_with("otpauth://totp/Rempart:")
    );
    let codes = f
        .core
        .confirm_totp(&actor, &ctx(), &code(&enrolment.uri, f))
        .await
        .unwrap();
    assert_eq!(codes.0.len(), 10);
    (step, enrolment.uri)
}

async fn login_flow(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    let alice = staff("Alice@Example.com", Some(GOOD));
    create_with(&f, &admin, alice, Role::SecurityAdmin).await;

    // Privileged staff enrol a second factor at their first login; the
    // identifier is compared without case.
    let (first, uri) = enrolled_login(&f, "alice@example.COM", GOOD).await;
    let actor = f.core.authenticate(&ctx(), &first.session).await.unwrap();
    assert!(actor.may(
        Permission::TenantCreate,
        &Scope::Global,
        None,
        f.clock.now()
    ));

    // Next login: password, then the TOTP code. The code of the step the
    // enrolment used cannot be used again.
    let step = f
        .core
        .login(&ctx(), "alice@example.com", secret(GOOD))
        .await
        .unwrap();
    assert_eq!(step.stage, SessionStage::SecondFactor);
    let replay = f
        .core
        .second_factor(&ctx(), &step.session, &code(&uri, &f))
        .await;
    assert_identity_err!(replay, IdentityError::SecondFactorRefused(m) if m.contains("already used"));
    f.clock.advance(Duration::seconds(30));
    let done = f
        .core
        .second_factor(&ctx(), &step.session, &code(&uri, &f))
        .await
        .unwrap();
    assert_eq!(done.stage, SessionStage::Full);
    f.core.authenticate(&ctx(), &step.session).await.unwrap();

    // Sessions are listed and revoked; a revoked one fails at once.
    let sessions = f.core.list_sessions(&actor, &ctx(), None).await.unwrap();
    assert_eq!(sessions.len(), 2);
    f.core
        .revoke_session(&actor, &ctx(), step.session_id)
        .await
        .unwrap();
    assert!(matches!(
        f.core.authenticate(&ctx(), &step.session).await,
        Err(ServiceError::Unauthenticated)
    ));

    // Idle timeout: 30 minutes without use ends the session.
    f.clock.advance(Duration::minutes(31));
    assert!(matches!(
        f.core.authenticate(&ctx(), &first.session).await,
        Err(ServiceError::Unauthenticated)
    ));

    let events = audit(&f).await;
    let login = events
        .iter()
        .find(|e| e.action == "auth.login" && e.outcome == "success")
        .unwrap();
    assert_eq!(login.source.as_deref(), Some("192.0.2.7"));
    assert!(
        events
            .iter()
            .any(|e| e.action == "auth.second_factor" && e.outcome == "denied")
    );
}

async fn recovery_codes_are_single_use(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    create_with(&f, &admin, staff("bob", Some(GOOD)), Role::Hr).await;
    let step = f.core.login(&ctx(), "bob", secret(GOOD)).await.unwrap();
    let actor = session_actor(&f, &step, SessionStage::EnrolMfa).await;
    let enrolment = f.core.enrol_totp(&actor, &ctx()).await.unwrap();
    let codes = f
        .core
        .confirm_totp(&actor, &ctx(), &code(&enrolment.uri, &f))
        .await
        .unwrap();
    let recovery = codes.0[3].clone();
    for attempt in 0..2 {
        let step = f.core.login(&ctx(), "bob", secret(GOOD)).await.unwrap();
        let result = f.core.second_factor(&ctx(), &step.session, &recovery).await;
        if attempt == 0 {
            assert_eq!(result.unwrap().stage, SessionStage::Full);
        } else {
            assert_identity_err!(result, IdentityError::SecondFactorRefused(_));
        }
    }
}

async fn no_user_enumeration(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    create(&f, &admin, staff("carol", Some(GOOD))).await;
    let hasher = f.core.identity().hasher().clone();
    let mut answers = Vec::new();
    let mut work = Vec::new();
    for name in ["carol", "nobody-here"] {
        let before = hasher.computations();
        let answer = f
            .core
            .login(&ctx(), name, secret("not-the-password-1"))
            .await
            .unwrap_err();
        work.push(hasher.computations() - before);
        answers.push(answer.to_string());
    }
    // The same answer, after the same Argon2id work (one computation each;
    // the dummy hash has the real parameters).
    assert_eq!(answers[0], answers[1]);
    assert_eq!(work, [1, 1]);
    let denied: Vec<_> = audit(&f)
        .await
        .into_iter()
        .filter(|e| e.action == "auth.login" && e.outcome == "denied")
        .collect();
    assert_eq!(denied.len(), 2);
    assert!(
        denied
            .iter()
            .all(|e| e.source.as_deref() == Some("192.0.2.7"))
    );
}

async fn lockout_escalates_and_is_audited(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    create(&f, &admin, staff("dave", Some(GOOD))).await;
    for name in ["dave", "ghost"] {
        for _ in 0..5 {
            let wrong = f.core.login(&ctx(), name, secret("wrong-password-1")).await;
            assert_identity_err!(wrong, IdentityError::LoginFailed);
        }
        // Locked, whether the account exists or not; the right password
        // does not help.
        let locked = f.core.login(&ctx(), name, secret(GOOD)).await;
        assert_identity_err!(locked, IdentityError::LockedOut { retry_after_secs } if *retry_after_secs > 800);
    }
    assert_eq!(f.count_events(|e| e.action == "auth.lockout").await, 2);
    f.clock.advance(Duration::minutes(16));
    f.core.login(&ctx(), "dave", secret(GOOD)).await.unwrap();
    // The next lockout lasts twice as long.
    for _ in 0..5 {
        let _ = f
            .core
            .login(&ctx(), "ghost", secret("wrong-password-1"))
            .await;
    }
    let locked = f.core.login(&ctx(), "ghost", secret("x")).await;
    assert_identity_err!(locked, IdentityError::LockedOut { retry_after_secs } if *retry_after_secs > 1700);
    // Housekeeping forgets counters only once idle for a day.
    assert_eq!(f.core.purge_login_throttle().await.unwrap(), 0);
    f.clock.advance(Duration::days(2));
    assert!(f.core.purge_login_throttle().await.unwrap() >= 2);
    assert!(
        audit(&f)
            .await
            .iter()
            .any(|e| e.action == "auth.throttle_purge" && e.actor == "system")
    );
}

/// Whether `needle` appears anywhere in the database: in the SQLite files'
/// raw bytes (database and write-ahead log), or in the text of any row of
/// any PostgreSQL table.
async fn stored_anywhere(f: &Fixture, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    match f.db.engine {
        Engine::Sqlite => ["rempart.db", "rempart.db-wal"].iter().any(|file| {
            let bytes = std::fs::read(f.db.dir().join(file)).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).to_lowercase();
            text.contains(&needle)
        }),
        Engine::Postgres => {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&f.db.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            assert!(tables.iter().any(|t| t == "login_throttle"));
            for table in tables {
                let found: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT COUNT(*) FROM \"{table}\" AS r WHERE lower(r::text) LIKE '%' || $1 || '%'"
                )))
                .bind(&needle)
                .fetch_one(&mut conn)
                .await
                .unwrap();
                if found > 0 {
                    return true;
                }
            }
            false
        }
    }
}

async fn typed_names_are_never_stored_in_clear(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    create(&f, &admin, staff("dave", Some(GOOD))).await;
    // A password typed into the name field, until that name is locked.
    let slip = "Typed-Into-The-Name-Field-42";
    for _ in 0..5 {
        let wrong = f.core.login(&ctx(), slip, secret("whatever-1")).await;
        assert_identity_err!(wrong, IdentityError::LoginFailed);
    }
    let locked = f.core.login(&ctx(), slip, secret("whatever-1")).await;
    assert_identity_err!(locked, IdentityError::LockedOut { .. });
    // Counted per name: the same name in another case is the same counter,
    // another name is not locked, and dave's counts its own failures.
    let upper = f
        .core
        .login(&ctx(), &slip.to_uppercase(), secret("x"))
        .await;
    assert_identity_err!(upper, IdentityError::LockedOut { .. });
    let wrong = f
        .core
        .login(&ctx(), "dave", secret("wrong-password-1"))
        .await;
    assert_identity_err!(wrong, IdentityError::LoginFailed);
    let dave = throttle_of(&f, "Dave").await;
    let typed = throttle_of(&f, slip).await;
    assert_eq!(dave.failures, 1);
    assert!(typed.locked_until.is_some());
    assert!(!dave.key.contains("dave") && !typed.key.contains(&slip.to_lowercase()));
    f.core.login(&ctx(), "dave", secret(GOOD)).await.unwrap();

    // Nowhere in the database: not the throttle, not the audit details.
    f.core.drain_audit().await.unwrap();
    assert!(!stored_anywhere(&f, slip).await, "the typed name is stored");
    // (The check can find what is there: a known account's name is.)
    assert!(stored_anywhere(&f, "dave").await);

    // Step-up is refused while the account's name is locked, with when.
    let step = f.core.login(&ctx(), "dave", secret(GOOD)).await.unwrap();
    let actor = f.core.authenticate(&ctx(), &step.session).await.unwrap();
    for _ in 0..5 {
        let _ = f
            .core
            .login(&ctx(), "dave", secret("wrong-password-1"))
            .await;
    }
    let refused = f.core.step_up(&actor, &ctx(), secret(GOOD), None).await;
    assert_identity_err!(refused, IdentityError::LockedOut { retry_after_secs } if *retry_after_secs > 800);

    // Replicas share the key: the first recorded check value stands, and a
    // process with another key is told so.
    assert!(f.core.login_key_matches().await.unwrap());
    let other = Rempart::new(f.store.clone(), f.clock.clone()).with_identity(Identity::for_tests(
        IdentityConfig::default(),
        PasswordPolicy::default(),
    ));
    assert!(!other.login_key_matches().await.unwrap());
    assert!(f.core.login_key_matches().await.unwrap());
}

async fn password_policy_and_history(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    let refused = f
        .core
        .create_account(&admin, &ctx(), staff("erin", Some("password")))
        .await
        .unwrap_err();
    let Some(IdentityError::PasswordRefused { rules }) = refused.domain::<IdentityError>() else {
        panic!("{refused:?}");
    };
    assert!(rules.contains(&PasswordRule::Common));
    assert!(rules.contains(&PasswordRule::TooShort { min: 12 }));
    let with_name = f
        .core
        .create_account(&admin, &ctx(), staff("erin", Some("erin-Quartz-river-88")))
        .await;
    assert_identity_err!(with_name, IdentityError::PasswordRefused { rules } if rules.contains(&PasswordRule::ContainsIdentifier));
    // Nothing was created by the refusals.
    let mut tx = f.store.begin().await.unwrap();
    assert!(tx.principal_by_name("erin").await.unwrap().is_none());
    drop(tx);

    // A reset password is temporary: the next login changes it, and an
    // old one cannot come back.
    let mut new = staff("erin", Some(GOOD));
    new.temporary_password = true;
    let erin = create(&f, &admin, new).await;
    let step = f.core.login(&ctx(), "erin", secret(GOOD)).await.unwrap();
    assert_eq!(step.stage, SessionStage::ChangePassword);
    let actor = session_actor(&f, &step, SessionStage::ChangePassword).await;
    let reuse = f
        .core
        .change_password(&actor, &ctx(), secret(GOOD), secret(GOOD))
        .await;
    assert_identity_err!(reuse, IdentityError::PasswordRefused { rules } if rules.contains(&PasswordRule::Reused { within: 5 }));
    let wrong = f
        .core
        .change_password(&actor, &ctx(), secret("not-it-at-all-1"), secret(GOOD2))
        .await;
    assert_identity_err!(wrong, IdentityError::LoginFailed);
    f.core
        .change_password(&actor, &ctx(), secret(GOOD), secret(GOOD2))
        .await
        .unwrap();
    f.core.authenticate(&ctx(), &step.session).await.unwrap();
    assert!(f.core.login(&ctx(), "erin", secret(GOOD)).await.is_err());
    let step = f.core.login(&ctx(), "erin", secret(GOOD2)).await.unwrap();
    assert_eq!(step.stage, SessionStage::Full);
    assert_eq!(erin.kind, AccountKind::Staff);

    // Wrong current passwords lock the login name out; while the lockout
    // holds, even the right one is refused, saying how long to wait.
    let actor = session_actor(&f, &step, SessionStage::Full).await;
    for _ in 0..5 {
        let wrong = f
            .core
            .change_password(&actor, &ctx(), secret("not-it-at-all-1"), secret(GOOD))
            .await;
        assert!(wrong.is_err());
    }
    let next = secret("amber-Quarry-meadow-58");
    let locked = f
        .core
        .change_password(&actor, &ctx(), secret(GOOD2), next)
        .await;
    assert_identity_err!(locked, IdentityError::LockedOut { retry_after_secs } if *retry_after_secs > 0);
    assert!(f.core.login(&ctx(), "erin", secret(GOOD2)).await.is_err());
}

async fn separation_of_duties_and_grant_rules(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    let frank = create_with(&f, &admin, staff("frank", None), Role::Auditor).await;
    let grants_before = grants(&f, &admin, frank.id).await;

    let sod = try_grant(&f, &admin, frank.id, Role::SecurityAdmin, Scope::Global)
        .await
        .unwrap_err();
    assert!(
        matches!(&sod, ServiceError::RuleRefused { rule: "separation-of-duties", message } if message.contains("auditor")),
        "{sod:?}"
    );
    let own = try_grant(&f, &admin, admin.principal, Role::Hr, Scope::Global).await;
    assert!(is_rule(&own, "no-self-grant"), "{own:?}");
    let unknown = f
        .core
        .grant_role(
            &admin,
            &ctx(),
            NewGrant {
                principal: frank.id,
                role: RoleName::parse("wizard").unwrap(),
                scope: Scope::Global,
                expires_at: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(
        unknown,
        ServiceError::Invalid { field: "role", .. }
    ));
    assert_eq!(grants(&f, &admin, frank.id).await, grants_before);

    // A tenant administrator grants within the tenant, never beyond what
    // they hold.
    let acme = new_tenant("Acme", "eu", Environment::production());
    let acme = f.core.create_tenant(&admin, &ctx(), acme).await.unwrap();
    let user = |name: &str| NewAccount {
        email: Some(format!("{name}@acme.test")),
        ..tenant_user(name, acme.id, None)
    };
    let grace = create(&f, &admin, user("grace")).await;
    let heidi = create(&f, &admin, user("heidi")).await;
    let in_acme = Scope::Tenant(acme.id);
    try_grant(&f, &admin, grace.id, Role::TenantAdmin, in_acme.clone())
        .await
        .unwrap();
    let grace_actor = Actor::new(
        grace.id,
        grace.name.clone(),
        uuid::Uuid::nil(),
        grants(&f, &admin, grace.id)
            .await
            .into_iter()
            .map(|g| g.grant)
            .collect(),
    );
    let as_grace = |role: Role, scope: Scope| try_grant(&f, &grace_actor, heidi.id, role, scope);
    as_grace(Role::TenantMember, in_acme.clone()).await.unwrap();
    let beyond = as_grace(Role::Auditor, Scope::Global).await;
    assert!(
        matches!(
            beyond,
            Err(ServiceError::Forbidden {
                permission: Permission::GrantManage
            })
        ),
        "{beyond:?}"
    );
    let escalate = as_grace(Role::SecurityAdmin, in_acme).await;
    assert!(is_rule(&escalate, "no-escalation"), "{escalate:?}");
    let outside = try_grant(&f, &admin, heidi.id, Role::Support, Scope::Global).await;
    assert!(is_rule(&outside, "tenant-boundary"), "{outside:?}");

    // Every refusal is in the audit trail.
    assert_eq!(denied(&f, "grant.create").await, 6);
}

async fn custom_roles(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    let role = f
        .core
        .create_role(
            &admin,
            &ctx(),
            NewRole {
                name: RoleName::parse("evidence-reader").unwrap(),
                permissions: PermissionSet::of(&[Permission::AuditSearch, Permission::TenantRead]),
                description: "reads evidence".to_owned(),
            },
        )
        .await
        .unwrap();
    assert!(!role.builtin);
    let builtin = f
        .core
        .create_role(
            &admin,
            &ctx(),
            NewRole {
                name: RoleName::parse("auditor").unwrap(),
                permissions: PermissionSet::of(&[Permission::AuditSearch]),
                description: String::new(),
            },
        )
        .await;
    assert!(matches!(
        builtin,
        Err(ServiceError::Invalid { field: "name", .. })
    ));
    let ivan = create(&f, &admin, staff("ivan", Some(GOOD))).await;
    f.core
        .grant_role(
            &admin,
            &ctx(),
            NewGrant {
                principal: ivan.id,
                role: role.name.clone(),
                scope: Scope::Global,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    // Not privileged: no MFA enrolment forced.
    let step = f.core.login(&ctx(), "ivan", secret(GOOD)).await.unwrap();
    assert_eq!(step.stage, SessionStage::Full);
    let actor = f.core.authenticate(&ctx(), &step.session).await.unwrap();
    let now = f.clock.now();
    assert!(actor.may(Permission::AuditSearch, &Scope::Global, None, now));
    assert!(!actor.may(Permission::TenantCreate, &Scope::Global, None, now));
    let roles = f.core.list_roles(&admin, &ctx()).await.unwrap();
    assert_eq!(roles.len(), Role::ALL.len() + 1);
}

async fn tokens_and_offboarding(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    let exporter = account("billing-exporter", AccountKind::Service, None, None);
    let service = create_with(&f, &admin, exporter, Role::Auditor).await;
    let new_token = |permissions, allow_list: Option<&str>| NewToken {
        name: "ci".to_owned(),
        holder: Some(service.id),
        expires_in: Some(Duration::days(1)),
        permissions,
        tenant: None,
        allow_list: allow_list.map(|l| rempart_model::AllowList::parse([l]).unwrap()),
    };
    // Scoped to tenant.read only.
    let (_, scoped) = f
        .core
        .create_token(
            &admin,
            &ctx(),
            new_token(Some(PermissionSet::of(&[Permission::TenantRead])), None),
        )
        .await
        .unwrap();
    let actor = f.core.authenticate(&ctx(), &scoped).await.unwrap();
    let now = f.clock.now();
    assert!(actor.may(Permission::TenantRead, &Scope::Global, None, now));
    assert!(!actor.may(Permission::AuditSearch, &Scope::Global, None, now));

    // Allow-listed to another network: refused from here.
    let (_, fenced) = f
        .core
        .create_token(&admin, &ctx(), new_token(None, Some("198.51.100.0/24")))
        .await
        .unwrap();
    assert_identity_err!(
        f.core.authenticate(&ctx(), &fenced).await,
        IdentityError::SourceNotAllowed { .. }
    );

    // Expired after a day.
    f.clock.advance(Duration::days(1));
    assert!(matches!(
        f.core.authenticate(&ctx(), &scoped).await,
        Err(ServiceError::Unauthenticated)
    ));

    // Offboarding: suspending ends every credential at once.
    let (_, live) = f
        .core
        .create_token(&admin, &ctx(), new_token(None, None))
        .await
        .unwrap();
    f.core.authenticate(&ctx(), &live).await.unwrap();
    let suspended = f
        .core
        .set_account_state(&admin, &ctx(), service.id, PrincipalState::Suspended)
        .await
        .unwrap();
    assert_eq!(suspended.state, PrincipalState::Suspended);
    assert!(matches!(
        f.core.authenticate(&ctx(), &live).await,
        Err(ServiceError::Unauthenticated)
    ));
    let own = f
        .core
        .set_account_state(&admin, &ctx(), admin.principal, PrincipalState::Suspended)
        .await;
    assert!(is_rule(&own, "no-self-service"), "{own:?}");
}

async fn break_glass_is_limited_and_loud(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    for (i, name) in ["glass-1", "glass-2", "glass-3"].iter().enumerate() {
        let result = f
            .core
            .create_account(
                &admin,
                &ctx(),
                NewAccount {
                    break_glass: true,
                    ..staff(name, Some(GOOD))
                },
            )
            .await;
        if i < 2 {
            result.unwrap();
        } else {
            assert!(is_rule(&result, "break-glass-limit"), "{result:?}");
        }
    }
    f.core.login(&ctx(), "glass-1", secret(GOOD)).await.unwrap();
    assert!(
        audit(&f)
            .await
            .iter()
            .any(|e| e.action == "auth.break_glass" && e.outcome == "success")
    );
}

async fn step_up_guards_sensitive_actions(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    let judy = create(&f, &admin, staff("judy", Some(GOOD))).await;
    let kim = create(&f, &admin, staff("kim", None)).await;
    try_grant(&f, &admin, judy.id, Role::Hr, Scope::Global)
        .await
        .unwrap();
    let (step, uri) = enrolled_login(&f, "judy", GOOD).await;
    let judy_actor = f.core.authenticate(&ctx(), &step.session).await.unwrap();
    f.clock.advance(Duration::minutes(6));
    let stale = f
        .core
        .set_account_state(&judy_actor, &ctx(), kim.id, PrincipalState::Suspended)
        .await;
    assert_identity_err!(stale, IdentityError::StepUpRequired);
    f.core
        .step_up(&judy_actor, &ctx(), secret(GOOD), Some(code(&uri, &f)))
        .await
        .unwrap();
    let judy_actor = f.core.authenticate(&ctx(), &step.session).await.unwrap();
    f.core
        .set_account_state(&judy_actor, &ctx(), kim.id, PrincipalState::Suspended)
        .await
        .unwrap();
}

async fn tenant_access_tightens_and_fences(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    let acme = new_tenant("Acme", "eu", Environment::production());
    let acme = f.core.create_tenant(&admin, &ctx(), acme).await.unwrap();
    let tighter = PasswordPolicy {
        min_length: 16,
        ..PasswordPolicy::default()
    };
    f.core
        .set_tenant_access(
            &admin,
            &ctx(),
            acme.id,
            TenantAccess {
                password_policy: Some(tighter),
                allow_list: Some(rempart_model::AllowList::parse(["198.51.100.0/24"]).unwrap()),
                require_mfa: true,
            },
        )
        .await
        .unwrap();
    let user = |name: &str, password: &str| tenant_user(name, acme.id, Some(password));
    // 13 characters: enough for staff (12), not for Acme (16).
    let short = "Lime-Orbit-72";
    create(&f, &admin, staff("staffer", Some(short))).await;
    let refused = f
        .core
        .create_account(&admin, &ctx(), user("mallory", short))
        .await;
    assert_identity_err!(refused, IdentityError::PasswordRefused { rules } if rules.contains(&PasswordRule::TooShort { min: 16 }));
    create(&f, &admin, user("nina", GOOD)).await;
    // Outside the tenant's networks: the same answer as a wrong password.
    let outside = f.core.login(&ctx(), "nina", secret(GOOD)).await;
    assert_identity_err!(outside, IdentityError::LoginFailed);
    let inside = RequestContext {
        source: Some("198.51.100.9".parse().unwrap()),
        ..ctx()
    };
    let step = f.core.login(&inside, "nina", secret(GOOD)).await.unwrap();
    assert_eq!(step.stage, SessionStage::EnrolMfa);
    let read = f.core.tenant_access(&admin, &ctx(), acme.id).await.unwrap();
    assert!(read.require_mfa);
    assert_eq!(read.password_policy.unwrap().min_length, 16);
}

async fn hashes_are_upgraded_at_login(engine: Engine) {
    let Some((f, admin)) = with_admin(engine).await else {
        return;
    };
    let olive = create(&f, &admin, staff("olive", Some(GOOD))).await;
    let stored = |f: &Fixture| {
        let store = f.store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            tx.password(olive.id).await.unwrap().unwrap().hash
        }
    };
    assert!(stored(&f).await.contains("m=64,t=1,p=1"));
    // The operator raises the parameters; the next login re-hashes.
    let raised = f.core.clone().with_identity(
        Identity::for_tests_with(
            IdentityConfig::default(),
            PasswordPolicy::default(),
            rempart_core::identity::password::HashParams {
                memory_kib: 128,
                iterations: 2,
                parallelism: 1,
            },
        )
        .unwrap(),
    );
    raised.login(&ctx(), "olive", secret(GOOD)).await.unwrap();
    let upgraded = stored(&f).await;
    assert!(upgraded.contains("m=128,t=2,p=1"), "{upgraded}");
    raised.login(&ctx(), "olive", secret(GOOD)).await.unwrap();
    assert_eq!(stored(&f).await, upgraded, "no second re-hash");
}

both_engines!(
    hashes_are_upgraded_at_login,
    tenant_access_tightens_and_fences,
    login_flow,
    recovery_codes_are_single_use,
    no_user_enumeration,
    lockout_escalates_and_is_audited,
    typed_names_are_never_stored_in_clear,
    password_policy_and_history,
    separation_of_duties_and_grant_rules,
    custom_roles,
    tokens_and_offboarding,
    break_glass_is_limited_and_loud,
    step_up_guards_sensitive_actions,
);
