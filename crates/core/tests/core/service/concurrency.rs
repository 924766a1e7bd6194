//! Concurrency without surprises, on both engines: every kind of write of
//! the service layer, run while other requests write (tenant creations),
//! succeeds. On SQLite a write made in a transaction opened for reading
//! cannot wait for the write lock and fails with `database is locked`
//! (so writes go in write transactions, which the types now enforce); on
//! PostgreSQL two first uses of a data key at once must not fail one of
//! them on the unique key.

use rempart_core::identity::{NewAccount, NewGrant, NewToken, TenantAccess};
use rempart_core::{Actor, Rempart, RequestContext};
use rempart_model::{Environment, NewTenant, PrincipalId, Role, Scope, TenantId};
use rempart_store::AccountKind;
use rempart_testkit::Engine;
use time::Duration;
use time::macros::datetime;
use tokio::task::JoinSet;

use crate::support::{Fixture, account, context, new_tenant};

/// How many of each kind of write run at once.
const EACH: usize = 6;

async fn fixture(engine: Engine) -> Option<Fixture> {
    Fixture::with_keys(engine, datetime!(2026-11-29 09:00 UTC)).await
}

fn ctx() -> RequestContext {
    context("req-concurrent", "192.0.2.9")
}

fn tenant(name: &str) -> NewTenant {
    new_tenant(name, "eu", Environment::production())
}

fn service_account(name: &str) -> NewAccount {
    account(name, AccountKind::Service, None, None)
}

/// One write, named for the failure message.
type Outcome = (String, Result<(), String>);

fn spawn<F>(set: &mut JoinSet<Outcome>, name: String, write: F)
where
    F: Future<Output = Result<(), rempart_core::ServiceError>> + Send + 'static,
{
    set.spawn(async move { (name, write.await.map_err(|e| e.to_string())) });
}

/// What the writes act on: service accounts to hold tokens and grants, a
/// tenant whose access settings change, and tenants with no data key yet
/// (each gets its first one concurrently).
async fn targets(core: &Rempart, admin: &Actor) -> (Vec<PrincipalId>, TenantId, Vec<TenantId>) {
    let ctx = ctx();
    let mut holders = Vec::new();
    for i in 0..EACH {
        let account = service_account(&format!("holder-{i}"));
        let account = core.create_account(admin, &ctx, account).await.unwrap();
        holders.push(account.id);
    }
    let fenced = core.create_tenant(admin, &ctx, tenant("Fenced"));
    let fenced = fenced.await.unwrap().id;
    let mut fresh = Vec::new();
    for i in 0..2 {
        let created = core.create_tenant(admin, &ctx, tenant(&format!("Fresh-{i}")));
        fresh.push(created.await.unwrap().id);
    }
    (holders, fenced, fresh)
}

/// Every kind of write, `EACH` of each, all at once, with `2 * EACH`
/// tenant creations among them.
async fn every_write_succeeds_beside_other_writers(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin: Actor = f.admin(&ctx()).await;
    let (holders, fenced, fresh) = targets(&f.core, &admin).await;
    let mut set = JoinSet::new();
    for i in 0..2 * EACH {
        let (core, actor) = (f.core.clone(), admin.clone());
        spawn(&mut set, format!("tenant creation {i}"), async move {
            core.create_tenant(&actor, &ctx(), tenant(&format!("Busy-{i}")))
                .await
                .map(drop)
        });
    }
    for (i, holder) in holders.iter().copied().enumerate() {
        let (core, actor) = (f.core.clone(), admin.clone());
        spawn(&mut set, format!("TOTP enrolment {i}"), async move {
            core.enrol_totp(&actor, &ctx()).await.map(drop)
        });
        let (core, actor) = (f.core.clone(), admin.clone());
        spawn(&mut set, format!("account creation {i}"), async move {
            core.create_account(&actor, &ctx(), service_account(&format!("new-{i}")))
                .await
                .map(drop)
        });
        let (core, actor) = (f.core.clone(), admin.clone());
        spawn(&mut set, format!("token creation {i}"), async move {
            let new = NewToken {
                name: format!("concurrent-{i}"),
                holder: Some(holder),
                expires_in: Some(Duration::days(1)),
                permissions: None,
                tenant: None,
                allow_list: None,
            };
            core.create_token(&actor, &ctx(), new).await.map(drop)
        });
        let (core, actor) = (f.core.clone(), admin.clone());
        spawn(&mut set, format!("grant {i}"), async move {
            let new = NewGrant {
                principal: holder,
                role: Role::Auditor.name(),
                scope: Scope::Tenant(fenced),
                expires_at: None,
            };
            core.grant_role(&actor, &ctx(), new).await.map(drop)
        });
        let (core, actor) = (f.core.clone(), admin.clone());
        spawn(&mut set, format!("tenant access change {i}"), async move {
            let access = TenantAccess {
                password_policy: None,
                allow_list: None,
                require_mfa: i % 2 == 0,
            };
            core.set_tenant_access(&actor, &ctx(), fenced, access)
                .await
                .map(drop)
        });
        for (n, tenant) in fresh.iter().copied().enumerate() {
            let core = f.core.clone();
            spawn(
                &mut set,
                format!("first use of tenant {n}'s data key {i}"),
                async move {
                    let envelope = core
                        .encrypt_for_tenant(&ctx(), tenant, "concurrency", b"record", b"secret")
                        .await?;
                    // Under the key that was stored, not one that lost the race.
                    let opened = core
                        .decrypt_for_tenant(tenant, "concurrency", b"record", &envelope)
                        .await?;
                    assert_eq!(opened, b"secret");
                    Ok(())
                },
            );
        }
    }
    let mut failures = Vec::new();
    let mut done = 0;
    while let Some(outcome) = set.join_next().await {
        let (name, result) = outcome.unwrap();
        done += 1;
        if let Err(e) = result {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert_eq!(done, 2 * EACH + EACH * (5 + fresh.len()));
    assert!(
        failures.is_empty(),
        "{} of {done} concurrent writes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    one_data_key_each(&f, &fresh).await;
}

/// Each fresh tenant got one data key, created (and audited) once.
async fn one_data_key_each(f: &Fixture, fresh: &[TenantId]) {
    let events = f.audit().await;
    let mut tx = f.store.begin_read().await.unwrap();
    for tenant in fresh {
        assert!(
            tx.data_key_for(*tenant, "concurrency")
                .await
                .unwrap()
                .is_some()
        );
        let created = events
            .iter()
            .filter(|e| e.action == "keys.data_key.create" && e.tenant == Some(tenant.0))
            .count();
        assert_eq!(created, 1, "one data key creation per tenant and purpose");
    }
}

rempart_testkit::both_engines!(every_write_succeeds_beside_other_writers);
