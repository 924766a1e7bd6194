//! What the service-layer tests share: a fresh service on a fresh
//! database (`Fixture`), request contexts, and the inputs of the common
//! actions (tenants, accounts, grants).

use std::sync::Arc;

use rempart_core::identity::{NewAccount, NewGrant};
use rempart_core::{Actor, ManualClock, Rempart, RequestContext};
use rempart_model::{
    Environment, NewTenant, PrincipalId, PrincipalName, Region, Role, Scope, TenantId, TenantName,
};
use rempart_store::{AccountKind, AuditRecord, Store};
use rempart_testkit::{Engine, TestDatabase};
use secrecy::SecretString;
use time::OffsetDateTime;

/// A service over a fresh database, with a clock the test moves.
pub struct Fixture {
    pub core: Rempart,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub db: TestDatabase,
}

impl Fixture {
    /// A fresh database on `engine` (`None`: the engine is unavailable, the
    /// test is skipped), a clock at `now`, and the service `build` makes of
    /// `Rempart::new(store, clock)`.
    pub async fn new(
        engine: Engine,
        now: OffsetDateTime,
        build: impl FnOnce(Rempart, &TestDatabase) -> Rempart,
    ) -> Option<Self> {
        let db = TestDatabase::create(engine).await?;
        let store = db.store().await;
        let clock = Arc::new(ManualClock::new(now));
        let core = build(Rempart::new(store.clone(), clock.clone()), &db);
        Some(Self {
            core,
            store,
            clock,
            db,
        })
    }

    /// A service with a keyring and nothing else configured.
    pub async fn with_keys(engine: Engine, now: OffsetDateTime) -> Option<Self> {
        Self::new(engine, now, |core, db| {
            core.with_keys(rempart_testkit::test_keys(db.dir()))
        })
        .await
    }

    /// The audit trail: every event, pending ones chained first.
    pub async fn audit(&self) -> Vec<AuditRecord> {
        rempart_testkit::audit_trail(&self.core, self.store.as_ref()).await
    }

    /// How many events of the audit trail `keep` keeps.
    pub async fn count_events(&self, keep: impl Fn(&AuditRecord) -> bool) -> usize {
        self.audit().await.iter().filter(|e| keep(e)).count()
    }

    /// The events of `action` that were denied.
    pub async fn denied_events(&self, action: &str) -> Vec<AuditRecord> {
        let mut events = self.audit().await;
        events.retain(|e| e.action == action && e.outcome == "denied");
        events
    }

    /// The first administrator, through the bootstrap exchange.
    pub async fn admin(&self, ctx: &RequestContext) -> Actor {
        rempart_testkit::fixtures::first_admin(&self.core, ctx).await
    }

    /// A principal `<name>@example.com` holding `grants`, with a token.
    pub async fn holder(
        &self,
        ctx: &RequestContext,
        name: &str,
        grants: &[(Role, Scope)],
    ) -> Actor {
        rempart_testkit::fixtures::principal_with(
            &self.core,
            self.store.as_ref(),
            self.clock.as_ref(),
            ctx,
            name,
            grants,
        )
        .await
    }
}

/// A request with this id, from this address.
pub fn context(request_id: &str, source: &str) -> RequestContext {
    RequestContext {
        request_id: Some(request_id.to_owned()),
        source: Some(source.parse().unwrap()),
        ..RequestContext::default()
    }
}

pub fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// A tenant in `region`, of `environment`.
pub fn new_tenant(name: &str, region: &str, environment: Environment) -> NewTenant {
    NewTenant {
        name: TenantName::parse(name).unwrap(),
        region: Region::parse(region).unwrap(),
        environment,
    }
}

/// An account of `kind` (in `tenant` for a tenant user), with `password`
/// if any, permanent; no e-mail, no display name, not break-glass.
pub fn account(
    name: &str,
    kind: AccountKind,
    tenant: Option<TenantId>,
    password: Option<&str>,
) -> NewAccount {
    NewAccount {
        name: PrincipalName::parse(name).unwrap(),
        kind,
        tenant,
        email: None,
        display_name: None,
        password: password.map(secret),
        temporary_password: false,
        break_glass: false,
    }
}

/// A staff account.
pub fn staff(name: &str, password: Option<&str>) -> NewAccount {
    account(name, AccountKind::Staff, None, password)
}

/// `role` in `scope` for `principal`, without an end.
pub fn grant(principal: PrincipalId, role: Role, scope: Scope) -> NewGrant {
    NewGrant {
        principal,
        role: role.name(),
        scope,
        expires_at: None,
    }
}

/// Asserts that a call was answered as if what it names did not exist
/// (out of scope looks like not there).
#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: &Result<T, rempart_core::ServiceError>) {
    assert!(
        matches!(result, Err(rempart_core::ServiceError::NotFound { .. })),
        "{result:?}"
    );
}

/// The domain error of type `D` a call failed with, if that is how it failed.
pub fn domain_err<D: rempart_core::kernel::error::DomainError, T>(
    result: &Result<T, rempart_core::ServiceError>,
) -> Option<&D> {
    result
        .as_ref()
        .err()
        .and_then(rempart_core::ServiceError::domain::<D>)
}
