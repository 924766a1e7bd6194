//! The control registry on both engines: each check passes on sound state
//! and fails, naming what it found, once the state is broken behind the
//! service layer's back; a run needs `controls.check` and is audited; a
//! control that is unknown or has no check is refused, never reported as
//! passing.

use std::sync::Arc;

use rempart_audit::Ed25519Signer;
use rempart_core::controls::{ControlReport, Deployment};
use rempart_core::identity::{Identity, IdentityConfig};
use rempart_core::kernel::audit_chain::AuditChain;
use rempart_core::{Actor, RequestContext, ServiceError};
use rempart_model::control::{CheckOutcome, ControlId};
use rempart_model::password_policy::PasswordPolicy;
use rempart_model::{Grant, Role, Scope};
use rempart_testkit::{Engine, PASSWORD, both_engines};
use time::Duration;
use time::macros::datetime;

use crate::support::{Fixture, context, staff};

/// A service with a signed audit log, a 90-day password age, and a
/// deployment on loopback.
async fn fixture(engine: Engine) -> Option<Fixture> {
    let policy = PasswordPolicy {
        max_age_days: Some(90),
        ..PasswordPolicy::default()
    };
    let signer = Ed25519Signer::from_seed(&[7; 32]).unwrap();
    let chain = AuditChain::new(Some(Arc::new(signer)), 1_000, Duration::minutes(1));
    Fixture::new(engine, datetime!(2026-11-29 09:00 UTC), |core, db| {
        core.with_audit(chain)
            .with_keys(rempart_testkit::test_keys(db.dir()))
            .with_identity(Identity::for_tests(IdentityConfig::default(), policy))
            .with_deployment(Deployment {
                listens_on_loopback: true,
                ..Deployment::default()
            })
    })
    .await
}

fn ctx() -> RequestContext {
    context("req-controls", "192.0.2.9")
}

fn id(text: &str) -> ControlId {
    text.parse().unwrap()
}

fn outcome<'a>(report: &'a ControlReport, control: &str) -> &'a CheckOutcome {
    &report
        .results
        .iter()
        .find(|r| r.control == id(control))
        .unwrap_or_else(|| panic!("{control} not in the report"))
        .outcome
}

fn findings(report: &ControlReport, control: &str) -> Vec<String> {
    match outcome(report, control) {
        CheckOutcome::Fail { findings } => findings.clone(),
        other => panic!("{control}: expected a failure, got {other:?}"),
    }
}

/// Asserts that `control` failed with a finding that says each of `words`.
#[track_caller]
fn has_finding(report: &ControlReport, control: &str, words: &[&str]) {
    let findings = findings(report, control);
    assert!(
        findings.iter().any(|f| words.iter().all(|w| f.contains(w))),
        "{control}: {findings:?}"
    );
}

async fn check(f: &Fixture, actor: &Actor, only: &[&str]) -> ControlReport {
    let only: Vec<ControlId> = only.iter().map(|c| id(c)).collect();
    f.core.check_controls(actor, &ctx(), &only).await.unwrap()
}

async fn sql(f: &Fixture, statement: &str) {
    f.core.drain_audit().await.unwrap();
    f.db.execute(&[statement]).await;
}

both_engines!(every_checked_control_reports_with_evidence);
async fn every_checked_control_reports_with_evidence(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = f.admin(&ctx()).await;
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    let report = check(&f, &admin, &[]).await;
    let ids: Vec<String> = report
        .results
        .iter()
        .map(|r| r.control.to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "AC-1", "AC-2", "AC-5", "AC-6", "AS-3", "NS-2", "NS-3", "ML-2", "ML-7", "DS-1", "DS-2",
            "DS-4", "DS-5", "DS-6", "DS-7", "DV-3", "DV-4", "CR-1", "CR-2"
        ],
        "the catalogue's order"
    );
    assert!(report.results.iter().all(|r| !r.evidence.is_empty()));
    // The first administrator has not enrolled a second factor yet: AC-1
    // (and NS-3, proved the same way) says so, by name.
    has_finding(&report, "AC-1", &["admin@example.com", "no second factor"]);
    assert_eq!(outcome(&report, "NS-3"), outcome(&report, "AC-1"));
    // It may also answer data-subject requests: CR-2 names it too.
    let cr2 = findings(&report, "CR-2");
    assert!(
        cr2.iter().any(|f| f.contains("admin@example.com")),
        "{cr2:?}"
    );
    for sound in [
        "AC-2", "AC-5", "AC-6", "AS-3", "NS-2", "DS-1", "DS-2", "DS-4", "DS-5", "DS-6", "DS-7",
        "ML-2", "ML-7", "DV-3", "DV-4", "CR-1",
    ] {
        assert_eq!(
            outcome(&report, sound),
            &CheckOutcome::Pass,
            "{sound}: {report:?}"
        );
    }
    assert!(!report.all_pass());

    // The run is audited, with its summary.
    let events = f.audit().await;
    let last = events.last().unwrap();
    assert_eq!(last.action, "controls.check");
    assert_eq!(last.outcome, "success");
    assert_eq!(last.actor, admin.audit_name());
}

both_engines!(a_run_needs_controls_check_and_names_only_known_checked_controls);
async fn a_run_needs_controls_check_and_names_only_known_checked_controls(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = f.admin(&ctx()).await;
    let support = f
        .holder(&ctx(), "support", &[(Role::Support, Scope::Global)])
        .await;
    let err = f
        .core
        .check_controls(&support, &ctx(), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden { .. }), "{err:?}");

    // An auditor may run them.
    let auditor = f
        .holder(&ctx(), "auditor", &[(Role::Auditor, Scope::Global)])
        .await;
    let report = check(&f, &auditor, &["ML-7"]).await;
    assert_eq!(report.results.len(), 1);

    // HR-1 is a control of the catalogue with no automated check yet; ZZ-1
    // is no control at all. Neither is reported as anything.
    for (asked, says) in [("HR-1", "no automated check"), ("ZZ-1", "not a control")] {
        let err = f
            .core
            .check_controls(&admin, &ctx(), &[id(asked)])
            .await
            .unwrap_err();
        match err {
            ServiceError::Invalid { field, message } => {
                assert_eq!(field, "control");
                assert!(
                    message.contains(asked) && message.contains(says),
                    "{message}"
                );
            }
            other => panic!("{asked}: {other:?}"),
        }
    }

    let events = f.audit().await;
    let runs: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.action == "controls.check")
        .map(|e| (e.actor.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        runs,
        [
            (support.audit_name().as_str(), "denied"),
            (auditor.audit_name().as_str(), "success"),
        ]
    );
}

both_engines!(checks_fail_once_state_is_broken_behind_the_service_layer);
async fn checks_fail_once_state_is_broken_behind_the_service_layer(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = f.admin(&ctx()).await;

    // AC-5: a password past the policy's 90-day maximum age.
    f.core
        .create_account(&admin, &ctx(), staff("carol@example.com", Some(PASSWORD)))
        .await
        .unwrap();
    let report = check(&f, &admin, &["AC-5", "CR-1"]).await;
    assert_eq!(outcome(&report, "AC-5"), &CheckOutcome::Pass);
    f.clock.advance(Duration::days(91));
    let report = check(&f, &admin, &["AC-5", "CR-1"]).await;
    has_finding(&report, "AC-5", &["carol@example.com", "maximum age"]);
    assert_eq!(outcome(&report, "CR-1"), outcome(&report, "AC-5"));

    // DV-4: two roles a separation-of-duty rule keeps apart, written
    // straight into the store (the service layer refuses the grant).
    let reviewer = f
        .holder(&ctx(), "dual", &[(Role::SecurityAdmin, Scope::Global)])
        .await;
    let report = check(&f, &admin, &["DV-4"]).await;
    assert_eq!(outcome(&report, "DV-4"), &CheckOutcome::Pass);
    let mut tx = f.store.begin().await.unwrap();
    tx.insert_grant(
        uuid::Uuid::now_v7(),
        reviewer.principal,
        &Grant::of(Role::Auditor, Scope::Global, None),
        datetime!(2026-11-29 10:00 UTC),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let dv4 = findings(&check(&f, &admin, &["DV-4"]).await, "DV-4");
    assert!(
        dv4.iter()
            .any(|f| f.contains("dual@example.com") && f.contains("auditor")),
        "{dv4:?}"
    );

    // ML-7: events that no signed checkpoint has covered for longer than
    // two checkpoint intervals and a minute.
    f.core.drain_audit().await.unwrap();
    f.clock.advance(Duration::minutes(4));
    let ml7 = findings(&check(&f, &admin, &["ML-7"]).await, "ML-7");
    assert!(
        ml7.iter()
            .any(|f| f.contains("no signed checkpoint covers them")),
        "{ml7:?}"
    );
    // An event edited in the database, under a signed checkpoint.
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    let report = check(&f, &admin, &["ML-7"]).await;
    assert_eq!(outcome(&report, "ML-7"), &CheckOutcome::Pass, "{report:?}");
    sql(
        &f,
        "UPDATE audit_events SET outcome = 'denied' WHERE seq = 2",
    )
    .await;
    let ml7 = findings(&check(&f, &admin, &["ML-7"]).await, "ML-7");
    assert!(ml7.iter().any(|f| f.contains("event 2")), "{ml7:?}");

    // AC-6: a token's text in an event's target.
    sql(
        &f,
        "UPDATE audit_events SET target = 'rmp_at_leaked' WHERE seq = 3",
    )
    .await;
    let ac6 = findings(&check(&f, &admin, &["AC-6"]).await, "AC-6");
    assert_eq!(ac6, ["event 3: a secret in a clear field"]);
}

both_engines!(a_plain_http_deployment_and_a_plain_sink_fail);
async fn a_plain_http_deployment_and_a_plain_sink_fail(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let core = f.core.clone().with_deployment(Deployment {
        tls: false,
        behind_tls_proxy: false,
        listens_on_loopback: false,
        audit_sinks: vec!["http://logs.example.com/ingest".to_owned()],
        ..Deployment::default()
    });
    let admin = rempart_testkit::fixtures::first_admin(&core, &ctx()).await;
    let only = [id("DS-4"), id("ML-2")];
    let report = core.check_controls(&admin, &ctx(), &only).await.unwrap();
    assert_eq!(
        findings(&report, "DS-4"),
        ["plain HTTP on a non-loopback address with no TLS and no TLS proxy"]
    );
    has_finding(&report, "ML-2", &["not an https URL"]);
}
