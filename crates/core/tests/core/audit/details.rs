//! Sealed audit details: stored only as ciphertext bound to their event,
//! covered by the hash (the log verifies without the keyring), readable in
//! clear by an authorized caller in scope only, and undecryptable once moved
//! to another event.

use rempart_core::ServiceError;
use rempart_model::{Role, Scope};

use super::{Fixture, ctx, first_problem, holder, key, populated, sql};
use crate::support::assert_not_found;
use rempart_core::identity::error::IdentityError;
use rempart_core::keys::KeyError;

/// Moves the sealed details of event `from` onto event `to`, in SQL: they
/// do not open for `reader` there (they are bound to their seq); the error.
async fn moved_details_do_not_open(
    f: &Fixture,
    reader: &rempart_core::Actor,
    from: u64,
    to: u64,
) -> ServiceError {
    let moved = format!(
        "UPDATE audit_events SET details = (SELECT details FROM audit_events WHERE seq = {from}) WHERE seq = {to}"
    );
    sql(f, &[&moved]).await;
    let err = f
        .core
        .audit_event_details(reader, &ctx(), to)
        .await
        .unwrap_err();
    assert!(err.domain::<KeyError>().is_some(), "{err:?}");
    err
}

pub async fn details_are_sealed_bound_and_read_in_scope(engine: rempart_testkit::Engine) {
    let Some((f, tenants)) = populated(engine).await else {
        return;
    };
    let admin = holder(&f, "staff", Role::SecurityAdmin, Scope::Global).await;
    let (acme, globex) = (tenants[0].id, tenants[1].id);
    let outsider = holder(&f, "globex-auditor", Role::Auditor, Scope::Tenant(globex)).await;
    let insider = holder(&f, "acme-auditor", Role::Auditor, Scope::Tenant(acme)).await;
    let created = f
        .audit()
        .await
        .into_iter()
        .find(|e| e.action == "tenant.create" && e.tenant == Some(acme.0))
        .unwrap()
        .seq;

    // Two refusals about an Acme event: each carries its sealed reason.
    for _ in 0..2 {
        assert_not_found(
            &f.core
                .audit_inclusion_proof(&outsider, &ctx(), created, None)
                .await,
        );
    }
    let refused = f.denied_events("audit.proof").await;
    assert_eq!(refused.len(), 2);
    for e in &refused {
        assert_eq!(e.tenant, Some(acme.0));
        let stored = e.details.as_deref().unwrap();
        for clear in [&b"outside the caller"[..], b"reason", b"scope"] {
            assert!(
                !stored.windows(clear.len()).any(|w| w == clear),
                "plaintext in the stored details"
            );
        }
    }
    let (first, second) = (refused[0].seq, refused[1].seq);

    // The hash covers the ciphertext: the log verifies without decrypting.
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    f.core.verify_audit_log(&key()).await.unwrap().unwrap();

    // In scope: the plaintext. Out of scope: not found, as if absent, and
    // that is audited.
    let expected = serde_json::json!({"reason": "outside the caller's scope"});
    for reader in [&admin, &insider] {
        let got = f
            .core
            .audit_event_details(reader, &ctx(), first)
            .await
            .unwrap();
        assert_eq!(got, Some(expected.clone()));
    }
    assert_not_found(&f.core.audit_event_details(&outsider, &ctx(), first).await);
    assert_eq!(
        f.core
            .audit_event_details(&admin, &ctx(), created)
            .await
            .unwrap(),
        None
    );
    let target = format!("audit-event:{first}/details");
    let reads: Vec<(String, String)> = f
        .audit()
        .await
        .into_iter()
        .filter(|e| e.target.as_deref() == Some(target.as_str()))
        .map(|e| (e.actor, e.outcome))
        .collect();
    assert_eq!(reads.len(), 3, "{reads:?}");
    assert_eq!(
        reads.iter().filter(|(_, o)| o == "denied").count(),
        1,
        "{reads:?}"
    );
    assert_not_found(&f.core.audit_event_details(&admin, &ctx(), 1_000_000).await);

    // Moved to another event of the same tenant, the details do not open
    // (they are bound to their seq), and the edit breaks the chain.
    let err = moved_details_do_not_open(&f, &admin, first, second).await;
    assert!(!err.to_string().contains("outside the caller"), "{err}");
    assert_eq!(first_problem(&f).await.seq(), second);
}

/// Details of an event with no tenant (a refused bootstrap) are sealed under
/// the system-wide key: read by staff-wide `audit.search` only.
pub async fn details_without_a_tenant_use_the_system_key(engine: rempart_testkit::Engine) {
    let Some((f, tenants)) = populated(engine).await else {
        return;
    };
    let staff = holder(&f, "staff", Role::SecurityAdmin, Scope::Global).await;
    let scoped = holder(
        &f,
        "acme-auditor",
        Role::Auditor,
        Scope::Tenant(tenants[0].id),
    )
    .await;
    let bad = secrecy::SecretString::from("rmp_not_a_credential".to_owned());
    for _ in 0..2 {
        let err = f
            .core
            .exchange_bootstrap(
                &ctx(),
                &bad,
                rempart_model::PrincipalName::parse("mallory").unwrap(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err.domain::<IdentityError>(),
                Some(IdentityError::BootstrapRefused(_))
            ),
            "{err:?}"
        );
    }
    let refused = f.denied_events("bootstrap.exchange").await;
    assert_eq!(refused.len(), 2);
    let clear = b"not valid";
    for e in &refused {
        assert_eq!(e.tenant, None);
        let stored = e.details.as_deref().unwrap();
        assert!(!stored.windows(clear.len()).any(|w| w == clear));
    }
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    f.core.verify_audit_log(&key()).await.unwrap().unwrap();
    let (first, second) = (refused[0].seq, refused[1].seq);
    assert_eq!(
        f.core
            .audit_event_details(&staff, &ctx(), first)
            .await
            .unwrap(),
        Some(serde_json::json!({"reason": "the bootstrap credential is not valid"}))
    );
    assert_not_found(&f.core.audit_event_details(&scoped, &ctx(), first).await);
    // The system key is re-wrapped with the tenants' keys, and still opens.
    let production = rempart_model::Environment::production();
    f.core
        .rotate_kek(&staff, &ctx(), &production)
        .await
        .unwrap();
    let batch = f
        .core
        .rewrap_data_keys(&staff, &ctx(), &production, None, 1000)
        .await
        .unwrap();
    assert_eq!(batch.remaining, 0);
    assert!(batch.rewrapped >= 1, "{batch:?}");
    f.core
        .retire_keks(&staff, &ctx(), &production, batch.encryption_version)
        .await
        .unwrap();
    assert!(
        f.core
            .audit_event_details(&staff, &ctx(), first)
            .await
            .unwrap()
            .is_some()
    );
    moved_details_do_not_open(&f, &staff, first, second).await;
}
