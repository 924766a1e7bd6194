//! `rempart vault` as its users run it, on both engines: a tenant
//! administrator declares a collection from a file, the application
//! stores a record about a data subject (the subject from standard input)
//! and reads it back with a purpose, replaces it at the version read,
//! finds it by e-mail, and the privacy officer erases the subject; the
//! record is gone and the register says so. Personal data read from
//! standard input is never printed back.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use rempart_core::RequestContext;
use rempart_model::{Role, Scope, TenantId};
use rempart_testkit::fixtures::principal_with;
use rempart_testkit::http::{Http as _, tenant};
use rempart_testkit::{Engine, TestServer, both_engines};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_rempart");
const EMAIL: &str = "jane.roe.7341@example.org";
const SUBJECT: &str = "cust-1";

/// Runs `rempart args --server url` as the holder of `token`, with
/// `stdin` as its input.
fn run(home: &Path, url: &str, token: &str, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars() {
        if name.starts_with("REMPART_") {
            cmd.env_remove(name);
        }
    }
    let mut child = cmd
        .args(args)
        .args(["--server", url])
        .env("XDG_CONFIG_HOME", home)
        .env("REMPART_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// A principal holding `role` in `tenant`; its token.
async fn holder(server: &TestServer, name: &str, role: Role, tenant: uuid::Uuid) -> String {
    principal_with(
        &server.core,
        server.store.as_ref(),
        server.core.clock(),
        &RequestContext::system(),
        name,
        &[(role, Scope::Tenant(TenantId(tenant)))],
    )
    .await;
    format!("rmp_at_{name}-token-for-tests-only")
}

async fn vault_from_the_cli(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    let acme = server
        .post(&admin, "/api/v1/tenants", &tenant("Acme", "eu"))
        .await
        .expect(201);
    let acme: uuid::Uuid = acme["id"].as_str().unwrap().parse().unwrap();
    let owner = holder(&server, "acme-admin", Role::TenantAdmin, acme).await;
    let app = holder(&server, "acme-app", Role::Application, acme).await;
    let officer = holder(&server, "acme-dpo", Role::PrivacyOfficer, acme).await;
    let home = tempfile::tempdir().unwrap();
    let url = server.url.clone();
    let tenant = acme.to_string();
    // What a command printed; whether it succeeded.
    let cli = |token: &str, args: &[&str], stdin: &str| {
        let out = tokio::task::block_in_place(|| run(home.path(), &url, token, args, stdin));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    // The collection, from a file of fields.
    let fields = home.path().join("fields.json");
    std::fs::write(
        &fields,
        json!([
            {"name": "email", "type": "email", "class": "pii", "required": true, "searchable": 100_000},
            {"name": "ssn", "type": "string", "class": "sensitive_pii"},
            {"name": "plan", "type": "string", "class": "internal"},
        ])
        .to_string(),
    )
    .unwrap();
    let fields = fields.to_str().unwrap();
    let create = ["vault", "collection", "create", &tenant, "customers"];
    let (ok, out, err) = cli(&owner, &[&create[..], &["--fields", fields]].concat(), "");
    assert!(ok, "{err}");
    assert!(
        out.contains("customers") && out.contains("sensitive_pii"),
        "{out}"
    );
    let (ok, _, err) = cli(&app, &[&create[..], &["--fields", fields]].concat(), "");
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("403"), "{err}");

    // A record about a data subject, the subject from standard input.
    let values = json!({"email": EMAIL, "ssn": "178-05-1120-93", "plan": "gold"}).to_string();
    let put = ["vault", "record", "put", &tenant, "customers"];
    let (ok, out, err) = cli(
        &app,
        &[&put[..], &["--subject-stdin", "--values", &values]].concat(),
        &format!("{SUBJECT}\n"),
    );
    assert!(ok, "{err}");
    assert!(
        !out.contains(SUBJECT) && !err.contains(SUBJECT),
        "{out}{err}"
    );
    let (id, version) = out.trim().split_once(" version ").unwrap();
    assert_eq!(version, "1");
    let id = id.to_owned();

    // Read back: sensitive data needs a purpose.
    let get = ["vault", "record", "get", &tenant, "customers", &id];
    let (ok, _, err) = cli(&app, &get, "");
    assert!(!ok);
    assert!(err.contains("purpose"), "{err}");
    let (ok, out, err) = cli(
        &app,
        &[&get[..], &["--purpose", "fraud_prevention", "--json"]].concat(),
        "",
    );
    assert!(ok, "{err}");
    let record: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(record["values"]["email"], EMAIL);
    assert_eq!(record["version"], 1);

    // Replaced at the version read; a stale version is refused.
    let update = json!({"email": EMAIL, "plan": "platinum"}).to_string();
    let replace = [
        &put[..],
        &["--id", &id, "--if-match", "1", "--values", &update],
    ]
    .concat();
    let (ok, out, err) = cli(&app, &replace, "");
    assert!(ok, "{err}");
    assert!(out.trim().ends_with("version 2"), "{out}");
    let (ok, _, err) = cli(&app, &replace, "");
    assert!(!ok);
    assert!(err.contains("412"), "{err}");

    // Found by e-mail, the value from standard input.
    let search = [
        "vault",
        "record",
        "search",
        &tenant,
        "customers",
        "--field",
        "email",
        "--value-stdin",
        "--fields",
        "plan",
        "--json",
    ];
    let (ok, out, err) = cli(&app, &search, &format!("{}\n", EMAIL.to_uppercase()));
    assert!(ok, "{err}");
    let found: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(found[0]["id"], id.as_str());
    assert_eq!(found[0]["values"], json!({"plan": "platinum"}));

    // The privacy officer erases the subject: the record is gone.
    let erase = ["vault", "subject", "erase", &tenant, "--subject-stdin"];
    let (ok, out, err) = cli(&officer, &erase, &format!("{SUBJECT}\n"));
    assert!(ok, "{err}");
    assert!(out.contains("1 records, 1 keys destroyed"), "{out}");
    assert!(
        !out.contains(SUBJECT) && !err.contains(SUBJECT),
        "{out}{err}"
    );
    let (ok, _, err) = cli(&app, &[&get[..], &["--fields", "plan"]].concat(), "");
    assert!(!ok);
    assert!(err.contains("404"), "{err}");
    let (ok, out, err) = cli(&officer, &["vault", "disposals", &tenant, "--json"], "");
    assert!(ok, "{err}");
    let register: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(register.as_array().unwrap().len(), 1);
    assert_eq!(register[0]["records"], 1);
    let (ok, out, err) = cli(
        &officer,
        &["vault", "subject", "export", &tenant, "--subject-stdin"],
        &format!("{SUBJECT}\n"),
    );
    assert!(ok, "{err}");
    let export: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(export["records"], json!([]));
    server.stop().await;
}

both_engines!(vault_from_the_cli);
