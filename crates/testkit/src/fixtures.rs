//! Actors for service-level tests: the first administrator (through the
//! real bootstrap exchange), and principals holding given grants (written
//! straight to the store, as a later identity service will).

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failure fails the test"
)]

use rempart_core::{Actor, BootstrapStatus, Clock, Rempart, RequestContext};
use rempart_model::{Grant, PrincipalId, PrincipalName, Role, Scope};
use rempart_store::{PrincipalRecord, Store, TokenRecord};
use secrecy::SecretString;

/// Issues the bootstrap credential on a fresh database, exchanges it for
/// `admin@example.com`, and returns that administrator as an actor.
///
/// # Panics
///
/// When the database is not fresh or the exchange fails.
pub async fn first_admin(core: &Rempart, ctx: &RequestContext) -> Actor {
    let BootstrapStatus::Issued { credential, .. } =
        core.ensure_bootstrap().await.expect("ensure_bootstrap")
    else {
        panic!("a fresh database issues a credential");
    };
    let administrator = PrincipalName::parse("admin@example.com").expect("a valid name");
    let result = core
        .exchange_bootstrap(ctx, &credential, administrator)
        .await
        .expect("the bootstrap exchange");
    core.authenticate(ctx, &result.token)
        .await
        .expect("the administrator's token")
}

/// A principal `<name>@example.com` holding `grants` (none: a principal
/// that may do nothing), with an API token, authenticated as an actor.
///
/// # Panics
///
/// When the store refuses the rows.
pub async fn principal_with(
    core: &Rempart,
    store: &dyn Store,
    clock: &dyn Clock,
    ctx: &RequestContext,
    name: &str,
    grants: &[(Role, Scope)],
) -> Actor {
    let id = PrincipalId(clock.new_id());
    let token = SecretString::from(format!("rmp_at_{name}-token-for-tests-only"));
    let mut tx = store.begin().await.expect("begin");
    tx.insert_principal(&PrincipalRecord::staff(
        id,
        PrincipalName::parse(&format!("{name}@example.com")).expect("a valid name"),
        clock.now(),
    ))
    .await
    .expect("insert principal");
    for (role, scope) in grants {
        let grant = Grant::of(*role, scope.clone(), None);
        tx.insert_grant(clock.new_id(), id, &grant, clock.now())
            .await
            .expect("insert grant");
    }
    tx.insert_token(&TokenRecord::unrestricted(
        clock.new_id(),
        id,
        rempart_core::secret::fingerprint(&token),
        "test",
        clock.now(),
    ))
    .await
    .expect("insert token");
    tx.commit().await.expect("commit");
    core.authenticate(ctx, &token).await.expect("the token")
}
