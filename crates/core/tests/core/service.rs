//! Invariant 1 on both engines: a successful action leaves its change and
//! its audit event; a refused or failed one leaves neither (a refusal is
//! recorded as such, in its own transaction).

mod concurrency;
mod controls;
mod upgrade;

use rempart_core::{Actor, BootstrapStatus, Clock as _, RequestContext, ServiceError};
use rempart_model::bootstrap::BootstrapRefusal;
use rempart_model::{Environment, NewTenant, PrincipalName, TenantName};
use rempart_store::{AuditRecord, Store};
use rempart_testkit::{Engine, both_engines};
use secrecy::{ExposeSecret as _, SecretString};
use time::Duration;
use time::macros::datetime;

use crate::support::{Fixture, context, domain_err, new_tenant};
use rempart_core::identity::error::IdentityError;
use rempart_core::tenants::error::TenantError;

async fn fixture(engine: Engine) -> Option<Fixture> {
    Fixture::with_keys(engine, datetime!(2026-11-27 09:00 UTC)).await
}

fn ctx() -> RequestContext {
    context("req-1", "192.0.2.7")
}

fn acme() -> NewTenant {
    new_tenant("Acme", "us", Environment::production())
}

async fn audit(f: &Fixture) -> Vec<AuditRecord> {
    f.audit().await
}

async fn tenant_count(store: &dyn Store) -> u64 {
    let mut tx = store.begin().await.unwrap();
    tx.count_tenants().await.unwrap()
}

async fn admin(f: &Fixture) -> Actor {
    f.admin(&ctx()).await
}

/// A principal with a token and no grant at all.
async fn nobody(f: &Fixture) -> Actor {
    f.holder(&ctx(), "nobody", &[]).await
}

async fn a_success_leaves_the_change_and_its_event(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    let before = audit(&f).await.len();

    let tenant = f.core.create_tenant(&admin, &ctx(), acme()).await.unwrap();

    assert_eq!(tenant_count(f.store.as_ref()).await, 1);
    let events = audit(&f).await;
    assert_eq!(events.len(), before + 1);
    let event = events.last().unwrap();
    assert_eq!(event.action, "tenant.create");
    assert_eq!(event.outcome, "success");
    assert_eq!(event.actor, format!("principal:{}", admin.principal));
    assert_eq!(
        event.target.as_deref(),
        Some(format!("tenant:{}", tenant.id).as_str())
    );
    assert_eq!(event.tenant, Some(tenant.id.0));
    assert_eq!(event.request_id.as_deref(), Some("req-1"));
    assert_eq!(event.source.as_deref(), Some("192.0.2.7"));
    assert_eq!(event.time, f.clock.now());
}

async fn a_refusal_changes_nothing_and_is_recorded(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let _admin = admin(&f).await;
    let nobody = nobody(&f).await;
    let before = audit(&f).await.len();

    let err = f
        .core
        .create_tenant(&nobody, &ctx(), acme())
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden { .. }), "{err:?}");
    let err = f.core.list_tenants(&nobody, &ctx()).await.unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden { .. }), "{err:?}");

    assert_eq!(tenant_count(f.store.as_ref()).await, 0);
    let events = audit(&f).await;
    // The first refusal's sealed reason creates the system-wide
    // audit-details data key (its own event) on first use.
    assert_eq!(events.len(), before + 3, "each refusal is recorded");
    let actions: Vec<(&str, &str)> = events[before..]
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("keys.data_key.create", "success"),
            ("tenant.create", "denied"),
            ("tenant.list", "denied")
        ]
    );
}

async fn a_failure_leaves_neither_change_nor_event(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    f.core.create_tenant(&admin, &ctx(), acme()).await.unwrap();
    let before = audit(&f).await;

    let mut duplicate = acme();
    duplicate.name = TenantName::parse("ACME").unwrap();
    let err = f.core.create_tenant(&admin, &ctx(), duplicate).await;
    let taken = domain_err::<TenantError, _>(&err);
    assert!(
        matches!(taken, Some(TenantError::NameTaken { .. })),
        "{err:?}"
    );

    assert_eq!(tenant_count(f.store.as_ref()).await, 1);
    assert_eq!(audit(&f).await, before);
}

async fn bootstrap_is_single_use_and_expires(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let BootstrapStatus::Issued {
        credential,
        expires_at,
    } = f.core.ensure_bootstrap().await.unwrap()
    else {
        panic!("issued");
    };
    assert_eq!(expires_at, f.clock.now() + Duration::hours(24));
    // A second start does not issue (or show) another.
    assert!(matches!(
        f.core.ensure_bootstrap().await.unwrap(),
        BootstrapStatus::Pending { .. }
    ));

    let exchange = async |credential: &SecretString| {
        let name = PrincipalName::parse("admin@example.com").unwrap();
        f.core.exchange_bootstrap(&ctx(), credential, name).await
    };
    let wrong = SecretString::from("rmp_boot_not-the-credential".to_owned());
    let err = exchange(&wrong).await.unwrap_err();
    assert!(matches!(
        err.domain::<IdentityError>(),
        Some(IdentityError::BootstrapRefused(BootstrapRefusal::Unknown))
    ));

    let result = exchange(&credential).await.unwrap();
    assert!(result.token.expose_secret().starts_with("rmp_at_"));
    let err = exchange(&credential).await.unwrap_err();
    assert!(matches!(
        err.domain::<IdentityError>(),
        Some(IdentityError::BootstrapRefused(
            BootstrapRefusal::AlreadyUsed
        ))
    ));
    assert!(matches!(
        f.core.ensure_bootstrap().await.unwrap(),
        BootstrapStatus::AdministratorExists
    ));

    let events = audit(&f).await;
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("bootstrap.issue", "success"),
            // First use of the system-wide audit-details data key, for the
            // sealed reason of the refusal that follows.
            ("keys.data_key.create", "success"),
            ("bootstrap.exchange", "denied"),
            ("bootstrap.exchange", "success"),
            ("bootstrap.exchange", "denied"),
        ]
    );
    // Nothing secret reaches the log.
    for e in &events {
        let text = format!("{e:?}");
        assert!(!text.contains(credential.expose_secret()));
        assert!(!text.contains(result.token.expose_secret()));
    }
}

async fn an_expired_bootstrap_credential_is_refused(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let BootstrapStatus::Issued { credential, .. } = f.core.ensure_bootstrap().await.unwrap()
    else {
        panic!("issued");
    };
    f.clock.advance(Duration::hours(24));
    let exchange = async |credential: &SecretString| {
        let name = PrincipalName::parse("a@example.com").unwrap();
        f.core.exchange_bootstrap(&ctx(), credential, name).await
    };
    let err = exchange(&credential).await.unwrap_err();
    assert!(matches!(
        err.domain::<IdentityError>(),
        Some(IdentityError::BootstrapRefused(BootstrapRefusal::Expired))
    ));
    assert!(matches!(
        f.core.ensure_bootstrap().await.unwrap(),
        BootstrapStatus::Expired { .. }
    ));
    let mut tx = f.store.begin().await.unwrap();
    assert_eq!(tx.count_principals().await.unwrap(), 0);
    drop(tx);

    // The offline reissue gives a working credential.
    let BootstrapStatus::Issued { credential, .. } = f.core.reissue_bootstrap().await.unwrap()
    else {
        panic!("reissued");
    };
    exchange(&credential).await.unwrap();
}

async fn unknown_tokens_are_refused_and_recorded(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let before = audit(&f).await.len();
    let err = f
        .core
        .authenticate(&ctx(), &SecretString::from("rmp_at_forged".to_owned()))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Unauthenticated));
    let events = audit(&f).await;
    // One event for the refusal; sealing its reason may first create the
    // system data key for audit details, which records its own event.
    let recorded = events[before..]
        .iter()
        .filter(|e| e.action != "keys.data_key.create")
        .count();
    assert_eq!(recorded, 1);
    let last = events.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.outcome.as_str()),
        ("auth.token", "denied")
    );
    assert_eq!(last.source.as_deref(), Some("192.0.2.7"));
}

async fn the_chain_links_every_event(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    for name in ["A", "B", "C"] {
        let mut t = acme();
        t.name = TenantName::parse(name).unwrap();
        f.core.create_tenant(&admin, &ctx(), t).await.unwrap();
    }
    let events = audit(&f).await;
    assert_eq!(events.first().unwrap().prev_hash, [0; 32]);
    for (n, pair) in events.windows(2).enumerate() {
        assert_eq!(pair[0].seq, n as u64 + 1);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
}

async fn tenant_lists_are_scoped_by_grant(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    let a = f.core.create_tenant(&admin, &ctx(), acme()).await.unwrap();
    let mut dev = acme();
    dev.name = TenantName::parse("Dev Co").unwrap();
    dev.environment = Environment::development();
    let b = f.core.create_tenant(&admin, &ctx(), dev).await.unwrap();

    let all = f.core.list_tenants(&admin, &ctx()).await.unwrap();
    assert_eq!(all.iter().map(|t| t.id).collect::<Vec<_>>(), [a.id, b.id]);

    // An auditor of the development environment sees its tenant only.
    let auditor = f
        .holder(
            &ctx(),
            "dev-auditor",
            &[(
                rempart_model::Role::Auditor,
                rempart_model::Scope::Environment(Environment::development()),
            )],
        )
        .await;
    let seen = f.core.list_tenants(&auditor, &ctx()).await.unwrap();
    assert_eq!(seen.iter().map(|t| t.id).collect::<Vec<_>>(), [b.id]);
    let err = f
        .core
        .create_tenant(&auditor, &ctx(), acme())
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden { .. }));
}

both_engines!(
    a_success_leaves_the_change_and_its_event,
    a_refusal_changes_nothing_and_is_recorded,
    a_failure_leaves_neither_change_nor_event,
    bootstrap_is_single_use_and_expires,
    an_expired_bootstrap_credential_is_refused,
    unknown_tokens_are_refused_and_recorded,
    the_chain_links_every_event,
    tenant_lists_are_scoped_by_grant,
);
