//! The audit log on both engines: an intact log verifies; each kind of
//! tampering done through SQL on the real database is found at its first
//! bad seq; proofs verify against signed checkpoints and respect tenant
//! scope; search is scoped in the query and itself audited.

use std::sync::Arc;

use rempart_audit::merkle::leaf_hash;
use rempart_audit::{
    Ed25519Signer, Problem, PublicKey, Signer as _, verify_consistency, verify_export,
    verify_inclusion,
};
use rempart_core::audit::ExportSummary;
use rempart_core::kernel::audit_chain::AuditChain;
use rempart_core::{Actor, Rempart, RequestContext, ServiceError};
use rempart_model::{Environment, NewTenant, Role, Scope, Tenant};
use rempart_store::AuditQuery;
use rempart_testkit::{Engine, both_engines};
use time::Duration;
use time::macros::datetime;

use crate::support::{Fixture, assert_not_found, context, new_tenant};

/// The log's signing key: a fixed test seed.
fn signer() -> Ed25519Signer {
    Ed25519Signer::from_seed(&[9; 32]).unwrap()
}

/// The public key the log verifies with.
fn key() -> PublicKey {
    signer().public_key()
}

/// A service whose log is signed by [`signer`], checkpointing every
/// fourth event.
async fn fixture(engine: Engine) -> Option<Fixture> {
    let chain = AuditChain::new(Some(Arc::new(signer())), 4, Duration::minutes(1));
    Fixture::new(engine, datetime!(2026-11-27 09:00 UTC), |core, db| {
        core.with_audit(chain)
            .with_keys(rempart_testkit::test_keys(db.dir()))
    })
    .await
}

/// A search for every event.
fn everything() -> AuditQuery {
    AuditQuery {
        limit: 1000,
        ..AuditQuery::default()
    }
}

/// Exports the log of `core` from event `from`, verified against
/// `key()`: the export and its summary.
async fn export_from(core: &Rempart, from: u64) -> (Vec<u8>, ExportSummary) {
    let mut out = Vec::new();
    let summary = core
        .export_audit_log_from(&mut out, &key(), from)
        .await
        .unwrap();
    (out, summary)
}

fn ctx() -> RequestContext {
    context("req-1", "2001:db8::7")
}

fn tenant(name: &str) -> NewTenant {
    new_tenant(name, "eu", Environment::production())
}

async fn admin(f: &Fixture) -> Actor {
    f.admin(&ctx()).await
}

/// A principal holding `role` in `scope`.
async fn holder(f: &Fixture, name: &str, role: Role, scope: Scope) -> Actor {
    f.holder(&ctx(), name, &[(role, scope)]).await
}

/// Ten or so events, checkpoints at every fourth and one at the end.
async fn populated(engine: Engine) -> Option<(Fixture, Vec<Tenant>)> {
    let f = fixture(engine).await?;
    let admin = admin(&f).await;
    let mut tenants = Vec::new();
    for name in ["Acme", "Globex", "Initech", "Umbrella", "Hooli"] {
        f.clock.advance(Duration::seconds(1));
        tenants.push(
            f.core
                .create_tenant(&admin, &ctx(), tenant(name))
                .await
                .unwrap(),
        );
    }
    f.clock.advance(Duration::seconds(1));
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    Some((f, tenants))
}

async fn sql(f: &Fixture, statements: &[&str]) {
    // Tamper with the chain, not with events still pending.
    f.core.drain_audit().await.unwrap();
    f.db.execute(statements).await;
}

/// Tampers with the populated log by `statements`: the first problem
/// verification finds must be the one `expected` describes.
async fn verify_finds(engine: Engine, statements: &[&str], expected: impl Fn(&Problem) -> bool) {
    let Some((f, _)) = populated(engine).await else {
        return;
    };
    sql(&f, statements).await;
    let problem = first_problem(&f).await;
    assert!(expected(&problem), "{problem:?}");
}

async fn first_problem(f: &Fixture) -> Problem {
    match f.core.verify_audit_log(&key()).await.unwrap() {
        Ok(report) => panic!("a tampered log verified: {report:?}"),
        Err(problem) => problem,
    }
}

async fn an_intact_log_verifies_from_the_database_and_from_its_export(engine: Engine) {
    let Some((f, _)) = populated(engine).await else {
        return;
    };
    let report = f.core.verify_audit_log(&key()).await.unwrap().unwrap();
    assert_eq!(
        report.events, 7,
        "issue, exchange, five creates: {report:?}"
    );
    assert_eq!(
        report.checkpointed, report.events,
        "the forced checkpoint covers all"
    );
    assert!(report.checkpoints >= 2, "by count and by force: {report:?}");

    let mut out = Vec::new();
    let (events, checkpoints) = f.core.export_audit_log(&mut out, &key()).await.unwrap();
    assert_eq!((events, checkpoints), (report.events, report.checkpoints));
    let from_export = verify_export(out.as_slice(), &key()).unwrap();
    assert_eq!(from_export.root, report.root);

    // Another key verifies nothing.
    let other = Ed25519Signer::from_seed(&[1; 32]).unwrap().public_key();
    assert!(verify_export(out.as_slice(), &other).is_err());
    let problem = f.core.verify_audit_log(&other).await.unwrap().unwrap_err();
    assert!(
        matches!(problem, Problem::CheckpointWrongKey { .. }),
        "{problem}"
    );
}

async fn a_partial_export_verifies_offline_from_its_anchor(engine: Engine) {
    let Some((f, _)) = populated(engine).await else {
        return;
    };
    let full = f.core.verify_audit_log(&key()).await.unwrap().unwrap();
    assert_eq!(full.events, 7);

    // From event 6: anchored on the checkpoint of 4 events, so from 5.
    let (out, summary) = export_from(&f.core, 6).await;
    assert_eq!((summary.first_seq, summary.events), (5, 3));
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("{\"type\":\"anchor\",\"size\":4,"))
    );
    let report = verify_export(out.as_slice(), &key()).unwrap();
    assert_eq!(
        (
            report.first_seq,
            report.events,
            report.root,
            report.last_hash
        ),
        (5, 7, full.root, full.last_hash)
    );

    // Tampering with an event or the anchor is named.
    let edited = text.replacen("\"outcome\":\"success\"", "\"outcome\":\"failed\"", 1);
    let err = verify_export(edited.as_bytes(), &key()).unwrap_err();
    assert!(
        matches!(err.problem(), Some(Problem::EventEdited { seq: 5 })),
        "{err}"
    );
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut anchor: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    anchor["frontier"][0] = "00".repeat(32).into();
    lines[1] = anchor.to_string();
    let err = verify_export(format!("{}\n", lines.join("\n")).as_bytes(), &key()).unwrap_err();
    assert!(
        matches!(err.problem(), Some(Problem::AnchorUnsigned { size: 4 })),
        "{err}"
    );

    // From event 1, or before any checkpoint: a full export.
    for from in [0, 1, 4] {
        let (out, summary) = export_from(&f.core, from).await;
        assert_eq!((summary.first_seq, summary.events), (1, 7), "{from}");
        assert_eq!(verify_export(out.as_slice(), &key()).unwrap().events, 7);
    }
    // Past the end: nothing to export.
    let mut out = Vec::new();
    assert!(matches!(
        f.core.export_audit_log_from(&mut out, &key(), 8).await,
        Err(ServiceError::Invalid { .. })
    ));
    // By time: the first event at or after it.
    let seq = f
        .core
        .audit_seq_at(datetime!(2026-11-27 09:00:03 UTC))
        .await
        .unwrap()
        .unwrap();
    assert!((3..=7).contains(&seq), "{seq}");
    assert_eq!(
        f.core
            .audit_seq_at(datetime!(2030-01-01 00:00 UTC))
            .await
            .unwrap(),
        None
    );
}

async fn an_edited_event_is_found(engine: Engine) {
    let tampering = ["UPDATE audit_events SET actor = 'principal:forged' WHERE seq = 3"];
    let expected = |p: &Problem| matches!(p, Problem::EventEdited { seq: 3 });
    verify_finds(engine, &tampering, expected).await;
}

async fn a_deleted_event_is_found(engine: Engine) {
    let tampering = ["DELETE FROM audit_events WHERE seq = 3"];
    let expected = |p: &Problem| matches!(p, Problem::EventMissing { seq: 3, found: 4 });
    verify_finds(engine, &tampering, expected).await;
}

async fn reordered_events_are_found(engine: Engine) {
    // In the database the order is the seq column: the event now at seq 3
    // was hashed as event 4, so it no longer matches its hash there.
    let tampering = [
        "UPDATE audit_events SET seq = 1000003 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = 4",
        "UPDATE audit_events SET seq = 4 WHERE seq = 1000003",
    ];
    verify_finds(engine, &tampering, |p| p.seq() == 3).await;
}

async fn an_inserted_event_is_found(engine: Engine) {
    let tampering = [
        "UPDATE audit_events SET seq = seq + 1000000 WHERE seq >= 3",
        "UPDATE audit_events SET seq = seq - 999999 WHERE seq > 1000000",
        "INSERT INTO audit_events (seq, time, actor, action, target, tenant_id, outcome, request_id, source, details, prev_hash, hash) \
             SELECT 3, time, actor, action, target, tenant_id, outcome, request_id, source, details, hash, hash FROM audit_events WHERE seq = 2",
    ];
    let expected = |p: &Problem| matches!(p, Problem::EventEdited { seq: 3 });
    verify_finds(engine, &tampering, expected).await;
}

async fn a_truncated_log_is_found(engine: Engine) {
    let tampering = ["DELETE FROM audit_events WHERE seq > 5"];
    let expected = |p: &Problem| matches!(p, Problem::Truncated { present: 5, .. }) && p.seq() == 6;
    verify_finds(engine, &tampering, expected).await;
}

async fn a_forged_checkpoint_is_found(engine: Engine) {
    // Point the first checkpoint at another root: its signature no longer
    // covers what it says.
    let tampering = ["UPDATE audit_checkpoints SET root = prev_hash WHERE number = 1"];
    let expected = |p: &Problem| matches!(p, Problem::CheckpointForged { size: 4 });
    verify_finds(engine, &tampering, expected).await;
}

async fn proofs_verify_and_respect_tenant_scope(engine: Engine) {
    let Some((f, tenants)) = populated(engine).await else {
        return;
    };
    let acme = tenants[0].id;
    let globex = tenants[1].id;
    let auditor = holder(&f, "acme-auditor", Role::Auditor, Scope::Tenant(acme)).await;
    let admin_events = f.audit().await;
    let acme_event = admin_events
        .iter()
        .find(|e| e.tenant == Some(acme.0))
        .unwrap()
        .seq;
    let globex_event = admin_events
        .iter()
        .find(|e| e.tenant == Some(globex.0))
        .unwrap()
        .seq;

    let proof = f
        .core
        .audit_inclusion_proof(&auditor, &ctx(), acme_event, None)
        .await
        .unwrap();
    proof.checkpoint.verify_signature(&key()).unwrap();
    assert_eq!(proof.leaf_hash, leaf_hash(&proof.event.hash));
    verify_inclusion(
        &proof.leaf_hash,
        proof.leaf_index,
        proof.checkpoint.size,
        &proof.path,
        &proof.checkpoint.root,
    )
    .unwrap();
    // A proof against an older checkpoint also verifies.
    let early = f
        .core
        .audit_inclusion_proof(&auditor, &ctx(), acme_event, Some(4))
        .await
        .unwrap();
    assert_eq!(early.checkpoint.size, 4);
    verify_inclusion(
        &early.leaf_hash,
        early.leaf_index,
        4,
        &early.path,
        &early.checkpoint.root,
    )
    .unwrap();

    assert_not_found(
        &f.core
            .audit_inclusion_proof(&auditor, &ctx(), globex_event, None)
            .await,
    );
    assert_not_found(
        &f.core
            .audit_inclusion_proof(&auditor, &ctx(), 99_999, None)
            .await,
    );
    // The refusal was recorded.
    let events = f.audit().await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "audit.proof" && e.outcome == "denied")
    );

    let consistency = f
        .core
        .audit_consistency_proof(&auditor, &ctx(), 4, proof.checkpoint.size)
        .await
        .unwrap();
    verify_consistency(
        4,
        consistency.new.size,
        &consistency.old.root,
        &consistency.new.root,
        &consistency.path,
    )
    .unwrap();
    assert_not_found(
        &f.core
            .audit_consistency_proof(&auditor, &ctx(), 3, proof.checkpoint.size)
            .await,
    );

    // The log with proofs and refusals appended still verifies.
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    f.core.verify_audit_log(&key()).await.unwrap().unwrap();
}

async fn search_is_scoped_paginated_and_audited(engine: Engine) {
    let Some((f, tenants)) = populated(engine).await else {
        return;
    };
    let acme = tenants[0].id;
    let admin = holder(&f, "staff", Role::Auditor, Scope::Global).await;
    let scoped = holder(&f, "acme-auditor", Role::Auditor, Scope::Tenant(acme)).await;

    let all = f
        .core
        .search_audit(&admin, &ctx(), everything())
        .await
        .unwrap();
    assert!(all.iter().any(|e| e.tenant.is_none()));
    assert!(all.iter().any(|e| e.tenant == Some(tenants[1].id.0)));

    let mine = f
        .core
        .search_audit(&scoped, &ctx(), everything())
        .await
        .unwrap();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|e| e.tenant == Some(acme.0)), "{mine:?}");
    // Asking for another tenant's events yields none of them.
    let theirs = f
        .core
        .search_audit(
            &scoped,
            &ctx(),
            AuditQuery {
                tenant: Some(tenants[1].id.0),
                limit: 1000,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(theirs.is_empty());

    // Filters and the seq cursor.
    let request = ctx();
    let search = |query| f.core.search_audit(&admin, &request, query);
    let creates = search(AuditQuery {
        action: Some("tenant.create".into()),
        outcome: Some("success".into()),
        since: Some(datetime!(2026-11-27 09:00:02 UTC)),
        limit: 2,
        ..AuditQuery::default()
    })
    .await
    .unwrap();
    assert_eq!(creates.len(), 2);
    assert!(creates.iter().all(|e| e.action == "tenant.create"));
    let next = search(AuditQuery {
        action: Some("tenant.create".into()),
        after_seq: creates[1].seq,
        limit: 100,
        ..AuditQuery::default()
    })
    .await
    .unwrap();
    assert_eq!(
        next.len(),
        2,
        "five creates after 09:00:02 are the 2nd to 5th"
    );
    assert!(next[0].seq > creates[1].seq);

    let searches = f
        .core
        .search_audit(
            &admin,
            &ctx(),
            AuditQuery {
                action: Some("audit.search".into()),
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(searches.len() >= 4, "every search is recorded");
}

/// The audit rows a verification must leave as they were.
async fn verification_reads_only_and_reports_pending_events(engine: Engine) {
    let Some((f, _)) = populated(engine).await else {
        return;
    };
    // Events a stopped server left pending: recorded, not chained.
    for _ in 0..3 {
        f.core
            .record_offline(
                rempart_model::Action::AuditVerify,
                rempart_model::Outcome::Success,
            )
            .await
            .unwrap();
    }
    let before = rempart_testkit::audit_rows(f.store.as_ref()).await;
    assert_eq!(before.pending.len(), 3);
    let report = f.core.verify_audit_log(&key()).await.unwrap().unwrap();
    assert_eq!((report.events, report.unsigned_tail()), (7, 0));
    assert_eq!(f.core.pending_audit_events().await.unwrap(), 3);
    assert_eq!(
        rempart_testkit::audit_rows(f.store.as_ref()).await,
        before,
        "verification changed the log"
    );

    // Chaining them is an explicit, audited command.
    assert_eq!(f.core.seal_pending_audit().await.unwrap(), 3);
    assert_eq!(f.core.pending_audit_events().await.unwrap(), 0);
    let report = f.core.verify_audit_log(&key()).await.unwrap().unwrap();
    assert_eq!(report.events, 11, "three pending and audit.seal_pending");
}

async fn an_export_signs_a_checkpoint_over_its_last_event(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    // A fresh install: two events, no checkpoint yet (every 4 events, or a
    // minute). The database verifies as intact with an unsigned tail.
    admin(&f).await;
    f.core.drain_audit().await.unwrap();
    let report = f.core.verify_audit_log(&key()).await.unwrap().unwrap();
    assert_eq!((report.checkpoints, report.unsigned_tail()), (0, 2));
    let strict = f
        .core
        .verify_audit_log_with(rempart_audit::Verifier::new(key()).strict())
        .await
        .unwrap();
    assert!(
        matches!(strict, Err(Problem::UnsignedTail { first: 1, last: 2 })),
        "{strict:?}"
    );

    // Without a signer the export says so; with one it signs.
    let unsigned = Rempart::new(f.store.clone(), f.clock.clone());
    let (_, summary) = export_from(&unsigned, 1).await;
    assert_eq!(
        (summary.unsigned_tail, summary.signed_checkpoint),
        (2, false)
    );
    let (out, summary) = export_from(&f.core, 1).await;
    assert_eq!(
        (summary.unsigned_tail, summary.signed_checkpoint),
        (0, true)
    );
    let report = rempart_audit::verify_export_with(
        out.as_slice(),
        rempart_audit::Verifier::new(key()).strict(),
    )
    .unwrap();
    assert_eq!(report.checkpointed, summary.last_seq);

    // --since past the end of the log is an error, as a time past it is.
    let mut out = Vec::new();
    let past = f
        .core
        .export_audit_log_from(&mut out, &key(), summary.last_seq + 5)
        .await;
    assert!(
        matches!(past, Err(ServiceError::Invalid { .. })),
        "{past:?}"
    );
}

async fn an_export_verifies_across_a_rotation_of_the_signing_key(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    for name in ["Acme", "Globex", "Initech"] {
        f.clock.advance(Duration::seconds(1));
        f.core
            .create_tenant(&admin, &ctx(), tenant(name))
            .await
            .unwrap();
    }
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    let first = Ed25519Signer::from_seed(&[9; 32]).unwrap();
    let second = Ed25519Signer::from_seed(&[10; 32]).unwrap();
    f.core
        .certify_audit_key(&first, second.public_key())
        .await
        .unwrap();
    let rotated = f.core.clone().with_audit(AuditChain::new(
        Some(Arc::new(second)),
        4,
        Duration::minutes(1),
    ));
    f.clock.advance(Duration::seconds(1));
    rotated
        .create_tenant(&admin, &ctx(), tenant("Vandelay"))
        .await
        .unwrap();
    let (out, summary) = export_from(&rotated, 1).await;
    assert_eq!(summary.unsigned_tail, 0);
    let second = String::from_utf8(out.clone())
        .unwrap()
        .lines()
        .nth(1)
        .map(str::to_owned);
    assert!(second.is_some_and(|l| l.starts_with("{\"type\":\"key\",")));
    // The first key alone verifies it, following the certificate.
    let report = verify_export(out.as_slice(), &key()).unwrap();
    assert_eq!(report.keys.len(), 2);
    assert!(report.checkpoints >= 3, "{report:?}");
    // So does the database, and a partial export.
    let from_db = rotated.verify_audit_log(&key()).await.unwrap().unwrap();
    assert_eq!((from_db.root, from_db.keys.len()), (report.root, 2));
    assert_eq!(rotated.first_audit_public_key().await.unwrap(), Some(key()));
    let mut out = Vec::new();
    rotated
        .export_audit_log_from(&mut out, &key(), report.events)
        .await
        .unwrap();
    assert_eq!(
        verify_export(out.as_slice(), &key()).unwrap().root,
        report.root
    );
}

both_engines!(
    verification_reads_only_and_reports_pending_events,
    an_export_signs_a_checkpoint_over_its_last_event,
    an_export_verifies_across_a_rotation_of_the_signing_key,
);

both_engines!(
    an_intact_log_verifies_from_the_database_and_from_its_export,
    an_edited_event_is_found,
    a_deleted_event_is_found,
    reordered_events_are_found,
    an_inserted_event_is_found,
    a_truncated_log_is_found,
    a_forged_checkpoint_is_found,
    proofs_verify_and_respect_tenant_scope,
    search_is_scoped_paginated_and_audited,
    a_partial_export_verifies_offline_from_its_anchor,
);

mod ship;
use ship::{shipping_survives_outages_refusals_and_restarts, the_background_task_catches_up};

both_engines!(
    shipping_survives_outages_refusals_and_restarts,
    the_background_task_catches_up,
);

mod keyring;
use keyring::{
    a_sealed_keyring_chains_events_and_signs_after_unsealing,
    checkpoints_are_signed_by_the_keyring_key,
    while_sealed_events_are_stored_without_their_details,
};

both_engines!(
    checkpoints_are_signed_by_the_keyring_key,
    a_sealed_keyring_chains_events_and_signs_after_unsealing,
    while_sealed_events_are_stored_without_their_details,
);

mod details;
use details::{
    details_are_sealed_bound_and_read_in_scope, details_without_a_tenant_use_the_system_key,
};

both_engines!(
    details_are_sealed_bound_and_read_in_scope,
    details_without_a_tenant_use_the_system_key,
);

mod sequencer;
use sequencer::{
    concurrent_writers_and_sequencers_make_one_chain, pending_events_hold_only_sealed_details,
};

both_engines!(
    concurrent_writers_and_sequencers_make_one_chain,
    pending_events_hold_only_sealed_details,
);
