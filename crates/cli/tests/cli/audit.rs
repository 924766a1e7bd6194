//! The audit log end to end with the real binary: two `rempart serve`
//! replicas append concurrently to one fresh PostgreSQL database and leave
//! one valid chain; `rempart audit verify` checks it from the database and,
//! after `rempart audit export`, from the file with only the public key; a
//! tampered database or export makes it fail naming the first bad seq. A
//! fresh install verifies in its first minute (intact, with an unsigned
//! tail that --strict refuses) and its export verifies strictly; verifying
//! the database leaves it as it was, pending events included.

use std::path::Path;
use std::process::Command;

use rempart_testkit::http::{Http as _, tenant};
use rempart_testkit::replica::Replica;
use rempart_testkit::{AuditRows, Engine, TestDatabase};

const BIN: &str = env!("CARGO_BIN_EXE_rempart");

fn serve(db: &TestDatabase) -> Replica {
    Replica::serve(
        Path::new(BIN),
        db,
        &[("REMPART_AUDIT_CHECKPOINT_EVERY_EVENTS", "5")],
    )
}

fn rempart(db: &TestDatabase, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(db.dir())
        .args(["--database-url", &db.url])
        .output()
        .expect("rempart runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `rempart audit export --since since --output path`.
fn export_since(db: &TestDatabase, since: &str, path: &Path) -> std::process::Output {
    let path = path.to_str().unwrap();
    rempart(db, &["audit", "export", "--since", since, "--output", path])
}

/// The standard output of a run that must have succeeded.
#[track_caller]
fn succeeded(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// The standard error of a run that must have failed.
#[track_caller]
fn failed(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "{}", text(&out.stdout));
    text(&out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_append_one_chain_that_verifies_and_tampering_is_named() {
    let Some(db) = TestDatabase::create(Engine::Postgres).await else {
        return;
    };
    let mut first = serve(&db);
    let credential = first.bootstrap_credential();
    let mut second = serve(&db);
    let answer = first.bootstrap(&credential).await.expect(201);
    let token = answer["token"].as_str().unwrap().to_owned();

    // Appends through both replicas at once.
    let per_replica = 15;
    let mut tasks = Vec::new();
    for (r, replica) in [&first, &second].into_iter().enumerate() {
        for i in 0..per_replica {
            let name = format!("Tenant {r}-{i}");
            let created = replica.post(&token, "/api/v1/tenants", &tenant(&name, "eu"));
            tasks.push(tokio::spawn(async move {
                assert_eq!(created.await.status, 201);
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }

    // Search and proofs over HTTP: a page with a cursor; an unknown event
    // is a 404 problem.
    let page = second
        .get(&token, "/api/v1/audit/events?action=tenant.create&limit=5")
        .await
        .json();
    assert_eq!(page["events"].as_array().unwrap().len(), 5);
    assert!(page["next_after"].as_u64().is_some());
    first
        .get(&token, "/api/v1/audit/events/999999/proof")
        .await
        .problem(404, "not-found");
    let bad = first.get(&token, "/api/v1/audit/events?limit=banana").await;
    assert_eq!(bad.status, 422);

    // SIGTERM: a graceful stop, which signs a final checkpoint.
    first.stop();
    second.stop();

    // One valid chain, from the database.
    let verified = rempart(&db, &["audit", "verify"]);
    let stdout = succeeded(&verified);
    assert!(stdout.starts_with("intact\n"), "{stdout}");
    let report = stdout
        .lines()
        .find(|l| l.starts_with("verified: "))
        .unwrap()
        .to_owned();
    let events: u64 = report
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(events >= 2 + 2 * per_replica, "{report}");
    assert!(
        report.contains("(0 events after it"),
        "the final checkpoint covers all: {report}"
    );

    // The export verifies with the public key alone.
    let key = rempart(&db, &["audit", "public-key"]);
    let key = succeeded(&key).trim().to_owned();
    assert!(key.starts_with("rempart-audit-ed25519:"));
    let file = db.dir().join("audit.jsonl");
    let exported = rempart(
        &db,
        &["audit", "export", "--output", file.to_str().unwrap()],
    );
    succeeded(&exported);
    let offline = |path: &Path, key: &str| {
        Command::new(BIN)
            .args(["audit", "verify", "--export"])
            .arg(path)
            .args(["--public-key", key])
            .output()
            .unwrap()
    };
    let ok = offline(&file, &key);
    succeeded(&ok);

    // Partial exports (--since a seq or a time) verify the same way; their
    // first event is at most the one asked for.
    let partial = db.dir().join("partial.jsonl");
    for since in [
        events.to_string(),
        "2".to_owned(),
        "1970-01-01T00:00:00Z".to_owned(),
    ] {
        let exported = export_since(&db, &since, &partial);
        assert!(
            exported.status.success(),
            "{since}: {}",
            text(&exported.stderr)
        );
        let ok = offline(&partial, &key);
        assert!(ok.status.success(), "{since}: {}", text(&ok.stderr));
        let stdout = text(&ok.stdout);
        let report = stdout
            .lines()
            .find(|l| l.starts_with("verified: "))
            .unwrap_or_else(|| panic!("{stdout}"));
        let first: u64 = match report.strip_prefix("verified: events ") {
            Some(rest) => rest.split_whitespace().next().unwrap().parse().unwrap(),
            None => 1,
        };
        let asked: u64 = since.parse().unwrap_or(1);
        assert!(first <= asked, "{since}: {report}");
    }
    let refused = export_since(&db, "yesterday", &partial);
    let message = failed(&refused);
    assert!(message.contains("RFC 3339"), "{message}");

    // Wrong key, malformed key, malformed file, tampered file: refused.
    let other = "rempart-audit-ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let wrong = offline(&file, other);
    let message = failed(&wrong);
    assert!(message.contains("key"), "{message}");
    let malformed = offline(&file, "not-a-key");
    assert!(!malformed.status.success());
    let garbage = db.dir().join("garbage.jsonl");
    std::fs::write(&garbage, "{\"type\":\"header\"\n").unwrap();
    assert!(!offline(&garbage, &key).status.success());
    let original = std::fs::read_to_string(&file).unwrap();
    let tampered_file = db.dir().join("tampered.jsonl");
    std::fs::write(
        &tampered_file,
        original.replacen(
            "\"action\":\"tenant.create\"",
            "\"action\":\"tenant.delete\"",
            1,
        ),
    )
    .unwrap();
    let first_create = original
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["action"] == "tenant.create")
        .and_then(|v| v["seq"].as_u64())
        .unwrap();
    let tampered = offline(&tampered_file, &key);
    assert!(!tampered.status.success());
    assert!(
        text(&tampered.stderr).contains(&format!("first bad seq {first_create}")),
        "{}",
        text(&tampered.stderr)
    );

    // Tampering in the database is named by seq.
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::raw_sql("UPDATE audit_events SET outcome = 'denied' WHERE seq = 5")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let refused = rempart(&db, &["audit", "verify"]);
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    assert!(
        message.contains("first bad seq 5") && message.contains("edited"),
        "{message}"
    );
}

/// `rempart audit public-key` works offline, without the keyring: it prints
/// the keyring's audit key as recorded in the database by `rempart init`.
async fn public_key_offline_is_the_keyrings(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    succeeded(&rempart(&db, &["migrate"]));
    let message = failed(&rempart(&db, &["audit", "public-key"]));
    assert!(
        message.contains("no audit signing key is recorded"),
        "{message}"
    );
    succeeded(&rempart(&db, &["init"]));
    let vault =
        rempart_core::keys::KeyVault::load(rempart_testkit::keyring_location(db.dir()), None)
            .unwrap();
    let expected = rempart_core::kernel::signing_key::keyring_public_key(&vault)
        .unwrap()
        .to_string();
    // Without the root key file the keyring cannot be opened: the key comes
    // from the database.
    std::fs::rename(db.dir().join("root.key"), db.dir().join("elsewhere.key")).unwrap();
    let key = rempart(&db, &["audit", "public-key"]);
    assert_eq!(succeeded(&key).trim(), expected);
}

rempart_testkit::both_engines!(public_key_offline_is_the_keyrings);

/// The audit rows a verification must leave as they were.
async fn audit_rows(db: &TestDatabase) -> AuditRows {
    let store = db.store().await;
    let rows = rempart_testkit::audit_rows(store.as_ref()).await;
    store.close().await;
    rows
}

/// A fresh install: `rempart audit verify` answers intact with an unsigned
/// tail (exit 0; --strict refuses it), reads only (pending events stay
/// pending and are reported), and an export made at once signs a
/// checkpoint over its last event, so that it verifies strictly.
async fn a_fresh_install_verifies_in_its_first_minute(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    succeeded(&rempart(&db, &["init"]));

    let verified = rempart(&db, &["audit", "verify"]);
    let out = succeeded(&verified);
    assert!(
        out.contains("intact; the last ") && out.contains("events chained but not yet signed"),
        "{out}"
    );
    let strict = rempart(&db, &["audit", "verify", "--strict"]);
    assert!(!strict.status.success(), "{}", text(&strict.stdout));
    assert!(
        text(&strict.stderr).contains("no signed checkpoint covers them"),
        "{}",
        text(&strict.stderr)
    );

    // Events left pending by a stopped server: verification reports them
    // and changes nothing.
    let store = db.store().await;
    let clock = std::sync::Arc::new(rempart_core::SystemClock);
    let core = rempart_core::Rempart::new(store.clone(), clock);
    for _ in 0..2 {
        core.record_offline(
            rempart_model::Action::AuditSearch,
            rempart_model::Outcome::Success,
        )
        .await
        .unwrap();
    }
    store.close().await;
    let before = audit_rows(&db).await;
    assert_eq!(before.pending.len(), 2);
    let verified = rempart(&db, &["audit", "verify"]);
    succeeded(&verified);
    assert!(
        text(&verified.stdout).contains("2 recorded events are pending"),
        "{}",
        text(&verified.stdout)
    );
    assert_eq!(audit_rows(&db).await, before, "audit verify wrote");
    let sealed = rempart(&db, &["audit", "seal-pending"]);
    succeeded(&sealed);
    assert!(audit_rows(&db).await.pending.is_empty());

    // The export signs a checkpoint over its last event.
    let key = rempart(&db, &["audit", "public-key"]);
    let key = text(&key.stdout).trim().to_owned();
    let file = db.dir().join("first-minute.jsonl");
    let exported = rempart(
        &db,
        &["audit", "export", "--output", file.to_str().unwrap()],
    );
    succeeded(&exported);
    let ok = Command::new(BIN)
        .args(["audit", "verify", "--strict", "--export"])
        .arg(&file)
        .args(["--public-key", &key])
        .output()
        .unwrap();
    let report = succeeded(&ok);
    assert!(report.starts_with("intact\n"), "{report}");
    // Its last checkpoint, trusted by a later verification.
    let trusted = report
        .lines()
        .find_map(|l| l.strip_prefix("last checkpoint: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let again = rempart(&db, &["audit", "verify", "--trusted-checkpoint", &trusted]);
    succeeded(&again);
    let wrong = format!("{}:{}", trusted.split(':').next().unwrap(), "00".repeat(32));
    let refused = rempart(&db, &["audit", "verify", "--trusted-checkpoint", &wrong]);
    let message = failed(&refused);
    assert!(message.contains("first bad seq"), "{message}");

    // --since past the end is an error.
    let past = export_since(&db, "100000", &file);
    let message = failed(&past);
    assert!(message.contains("the audit log ends at event"), "{message}");
}

rempart_testkit::both_engines!(a_fresh_install_verifies_in_its_first_minute);
