//! The keyring over HTTP, on both engines: a sealed server is live but not
//! ready and answers "keyring sealed" until unsealed; and no key leaves:
//! real flows (init, unseal, rotate, re-wrap, encrypt/decrypt, shred, and
//! their errors) run while every log line is captured, and the logs, every
//! API response, every error message and the audit trail are scanned for
//! the raw bytes (hex and base64) of the root key, the KEKs, the tenant
//! keys and the data keys. And a shredded tenant is gone (410) to every
//! request that would read or write its data.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use rempart_core::keys::KeyVault;
use rempart_crypto::{KeyFileProvider, Keyring, WrappedDataKey};
use rempart_model::TenantId;
use rempart_testkit::http::{ANONYMOUS, Answer, Http as _, tenant};
use rempart_testkit::{Engine, TestServer, both_engines};
use reqwest::Method;
use serde_json::{Value, json};

/// Every log line of this test binary, at every level, from the first
/// call on (the other tests' lines too: more to scan, never less).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Buffer(buffer.clone());
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init()
            .ok();
        buffer
    })
    .clone()
}

#[derive(Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Records every answer it sees, headers and body.
struct Seen(Vec<String>);

impl Seen {
    async fn send(&mut self, answer: impl Future<Output = Answer>) -> (u16, Value) {
        let answer = answer.await;
        self.0.push(format!("{:?}", answer.headers));
        self.0.push(answer.text.clone());
        (answer.status, answer.value())
    }

    fn error(&mut self, err: &dyn std::fmt::Debug) {
        self.0.push(format!("{err:?}"));
    }
}

fn forms(key: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    vec![
        hex::encode(key),
        hex::encode_upper(key),
        STANDARD.encode(key),
        STANDARD_NO_PAD.encode(key),
        URL_SAFE.encode(key),
        URL_SAFE_NO_PAD.encode(key),
        // A Debug-printed byte array, such as `[12, 250, …]`.
        format!("{key:?}"),
    ]
}

fn secrets_of(server: &TestServer, data_keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let location = server.config.keyring_location();
    let keyring = Keyring::load(
        &location.path,
        &KeyFileProvider::load(&location.key_file).unwrap(),
    )
    .unwrap();
    let mut secrets: Vec<Vec<u8>> = keyring
        .secrets_for_leak_test()
        .into_iter()
        .map(|k| k.to_vec())
        .collect();
    for wrapped in data_keys {
        let wrapped = WrappedDataKey::from_bytes(wrapped.clone()).unwrap();
        secrets.push(keyring.data_key_for_leak_test(&wrapped).unwrap().to_vec());
    }
    secrets
}

async fn wrapped_data_keys(server: &TestServer, tenants: &[TenantId]) -> Vec<Vec<u8>> {
    let mut tx = server.store.begin().await.unwrap();
    let mut out = Vec::new();
    for t in tenants {
        if let Some(k) = tx.data_key_for(*t, "vault:customers.email").await.unwrap() {
            out.push(k.wrapped);
        }
    }
    out
}

async fn no_key_leaves_through_logs_responses_or_errors(engine: Engine) {
    let logs = logs();
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let token = server.admin_token().await;
    let mut seen = Seen(Vec::new());

    let mut tenants = Vec::new();
    for (name, env) in [("Prod", "production"), ("Dev", "development")] {
        let tenant = json!({"name": name, "region": "us", "environment": env});
        let (status, body) = seen
            .send(server.post(&token, "/api/v1/tenants", &tenant))
            .await;
        assert_eq!(status, 201, "{body}");
        let id: uuid::Uuid = body["id"].as_str().unwrap().parse().unwrap();
        tenants.push(TenantId(id));
    }
    let (prod, dev) = (tenants[0], tenants[1]);
    let ctx = rempart_core::RequestContext::default();
    let purpose = "vault:customers.email";
    let envelope = server
        .core
        .encrypt_for_tenant(&ctx, prod, purpose, b"r1", b"alice@example.com")
        .await
        .unwrap();
    server
        .core
        .encrypt_for_tenant(&ctx, dev, purpose, b"r1", b"bob@example.com")
        .await
        .unwrap();
    let decrypt = async |tenant: TenantId, envelope: &[u8]| {
        let core = &server.core;
        core.decrypt_for_tenant(tenant, purpose, b"r1", envelope)
            .await
    };
    assert_eq!(
        decrypt(prod, &envelope).await.unwrap(),
        b"alice@example.com"
    );
    // Another tenant's key, a tampered envelope, a truncated one: refused,
    // and what the refusals say is scanned too.
    let mut tampered = envelope.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    for (tenant, envelope) in [
        (dev, &envelope[..]),
        (prod, &tampered),
        (prod, &envelope[..10]),
    ] {
        seen.error(&decrypt(tenant, envelope).await.unwrap_err());
    }
    let mut secrets = secrets_of(&server, &wrapped_data_keys(&server, &tenants).await);

    // Administration over HTTP, with its errors, in this order: each call
    // and the status it answers.
    let retire = json!({"environment": "production", "min_version": 2});
    let shred = json!({"tenant": dev.0, "confirm": dev.0.to_string()});
    let calls = [
        (Method::GET, "keys", Value::Null, 200),
        (
            Method::POST,
            "keys/rotate",
            json!({"environment": "production"}),
            200,
        ),
        (
            Method::POST,
            "keys/rotate",
            json!({"environment": "nowhere"}),
            422,
        ),
        (Method::POST, "keys/retire", retire.clone(), 409),
        (
            Method::POST,
            "keys/rewrap",
            json!({"environment": "production", "limit": 1}),
            200,
        ),
        (
            Method::POST,
            "keys/rewrap",
            json!({"environment": "production", "after": "zz"}),
            422,
        ),
        (Method::POST, "keys/retire", retire, 200),
        (
            Method::POST,
            "keys/shred",
            json!({"tenant": dev.0, "confirm": "yes"}),
            422,
        ),
        (Method::POST, "keys/shred", shred.clone(), 200),
        (Method::POST, "keys/shred", shred, 410),
    ];
    let mut answers = Vec::new();
    for (method, path, body, status) in calls {
        let path = format!("/api/v1/{path}");
        let body = (!body.is_null()).then_some(body);
        let (got, answer) = seen
            .send(server.call(method, &token, &path, body.as_ref()))
            .await;
        assert_eq!(got, status, "{path}: {answer}");
        answers.push(answer);
    }
    // Unsealed, two environments or more; the rotation made version 2; the
    // re-wrap did one key.
    assert_eq!(answers[0]["seal"]["sealed"], false);
    assert!(answers[0]["environments"].as_array().unwrap().len() >= 2);
    assert_eq!(answers[1]["version"].as_u64(), Some(2), "{}", answers[1]);
    assert_eq!(answers[4]["rewrapped"].as_u64(), Some(1), "{}", answers[4]);
    // And the routes without a credential.
    let unseal = json!({"share": "x", "passphrase": "y"});
    let (status, _) = seen
        .send(server.post(ANONYMOUS, "/api/v1/sys/unseal", &unseal))
        .await;
    assert_eq!(status, 422);
    let (status, body) = seen
        .send(server.get(ANONYMOUS, "/api/v1/sys/seal-status"))
        .await;
    assert_eq!((status, body["sealed"].as_bool()), (200, Some(false)));
    let (status, _) = seen
        .send(server.get(ANONYMOUS, "/api/v1/openapi.json"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        decrypt(prod, &envelope).await.unwrap(),
        b"alice@example.com"
    );

    // The keyring after rotation holds the new KEK: scan for it too.
    secrets.extend(secrets_of(
        &server,
        &wrapped_data_keys(&server, &[prod]).await,
    ));
    server.core.drain_audit().await.unwrap();
    let mut tx = server.store.begin().await.unwrap();
    for event in tx.audit_events(0, 10_000).await.unwrap() {
        seen.0.push(format!("{event:?}"));
    }
    drop(tx);
    seen.0.push(format!("{:?}", server.core));
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logged.contains("keys"), "the log capture works");
    let mut scanned = seen.0;
    scanned.push(logged);
    assert!(
        secrets.len() >= 8,
        "root, audit seed, KEKs, tenant and data keys"
    );
    for secret in &secrets {
        for form in forms(secret) {
            for text in &scanned {
                assert!(!text.contains(&form), "a key leaked as {form}");
            }
        }
    }
    server.stop().await;
}

/// A passphrase tried to unseal, never logged either.
const WRONG_PASSPHRASE: &str = "not the passphrase of the sealed test";

async fn a_sealed_server_is_live_but_not_ready_until_unsealed(engine: Engine) {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let location = rempart_testkit::keyring_location(dir.path());
    let passphrase = "a passphrase for the sealed test";
    let source = rempart_testkit::passphrase_source(passphrase);
    drop(KeyVault::init(location.clone(), &source, time::OffsetDateTime::UNIX_EPOCH).unwrap());
    let path = location.path.clone();
    let Some(server) = TestServer::start_with(engine, move |c| {
        c.keyring.path = Some(path);
    })
    .await
    else {
        return;
    };
    let token = server.admin_token().await;
    let ready = || server.get(ANONYMOUS, "/readyz");

    assert_eq!(server.get(ANONYMOUS, "/healthz").await.status, 200);
    assert_eq!(ready().await.status, 503);
    let create = || server.post(&token, "/api/v1/tenants", &tenant("Acme", "us"));
    let problem = create().await.problem(503, "/keyring-sealed");
    assert_eq!(problem["title"], "keyring sealed");
    assert_eq!(
        problem["type"],
        "https://rempart.dev/problems/keyring-sealed"
    );
    let status = server
        .get(ANONYMOUS, "/api/v1/sys/seal-status")
        .await
        .json();
    assert_eq!(status["sealed"], true);
    assert_eq!(status["provider"], "passphrase");

    let unseal = |passphrase: &str| {
        server.post(
            ANONYMOUS,
            "/api/v1/sys/unseal",
            &json!({"passphrase": passphrase}),
        )
    };
    let problem = unseal(WRONG_PASSPHRASE).await.expect(400);
    assert_eq!(
        problem["type"],
        "https://rempart.dev/problems/unseal-refused"
    );
    assert_eq!(ready().await.status, 503);
    let status = unseal(passphrase).await.expect(200);
    assert_eq!(status["sealed"], false);
    assert_eq!(ready().await.status, 200);
    assert_eq!(create().await.status, 201);
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logged.contains(passphrase), "the passphrase was logged");
    assert!(
        !logged.contains(WRONG_PASSPHRASE),
        "a wrong passphrase was logged"
    );
    server.stop().await;
}

/// The data keys stored for `tenant`, of the purposes these tests use.
async fn data_keys_of(server: &TestServer, tenant: &str) -> usize {
    let tenant = TenantId(tenant.parse().unwrap());
    let mut tx = server.store.begin_read().await.unwrap();
    let mut found = 0;
    for purpose in ["vault:customers.email", "audit-details"] {
        found += usize::from(tx.data_key_for(tenant, purpose).await.unwrap().is_some());
    }
    found
}

/// After a shred, every request that would read or write the tenant's
/// data answers 410 `tenant-shredded` naming when (the time the tenant
/// listing shows), and stores no data key; a caller who does not see the
/// tenant still gets 404; another tenant is untouched.
async fn a_shredded_tenant_is_gone(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    let mut ids = Vec::new();
    for name in ["Gone", "Kept"] {
        let created = server
            .post(&admin, "/api/v1/tenants", &tenant(name, "eu"))
            .await
            .expect(201);
        assert!(created.get("shredded_at").is_none(), "{created}");
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let (gone, kept) = (ids[0].as_str(), ids[1].as_str());
    let user =
        |name: &str, tenant: &str| json!({"name": name, "kind": "tenant_user", "tenant": tenant});
    let mut created_events = Vec::new();
    for (t, name) in [(gone, "ann@gone.example"), (kept, "ann@kept.example")] {
        server
            .post(&admin, "/api/v1/users", &user(name, t))
            .await
            .expect(201);
        let path = format!("/api/v1/audit/events?tenant={t}&action=user.create");
        let page = server.get(&admin, &path).await.expect(200);
        assert_eq!(page["events"][0]["has_details"], true, "{page}");
        created_events.push(page["events"][0]["seq"].as_u64().unwrap());
    }
    // A token cut to the other tenant does not see the shredded one.
    let cut = json!({"name": "kept only", "tenant": kept});
    let cut = server
        .post(&admin, "/api/v1/tokens", &cut)
        .await
        .expect(201);
    let cut = cut["token"].as_str().unwrap().to_owned();
    assert_eq!(data_keys_of(&server, gone).await, 1);

    let shred = json!({"tenant": gone, "confirm": gone});
    server
        .post(&admin, "/api/v1/keys/shred", &shred)
        .await
        .expect(200);
    assert_eq!(data_keys_of(&server, gone).await, 0);
    let listed = server.get(&admin, "/api/v1/tenants").await.expect(200);
    let listed = listed["tenants"].as_array().unwrap().clone();
    let shredded_at = listed[0]["shredded_at"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["id"], gone);
    assert!(listed[1].get("shredded_at").is_none(), "{}", listed[1]);
    assert!(
        time::OffsetDateTime::parse(&shredded_at, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{shredded_at}"
    );

    let details = format!("/api/v1/audit/events/{}/details", created_events[0]);
    let gone_calls = [
        server
            .post(&admin, "/api/v1/users", &user("bob@gone.example", gone))
            .await,
        server
            .get(&admin, &format!("/api/v1/users?tenant={gone}"))
            .await,
        server.get(&admin, &details).await,
        server
            .get(&admin, &format!("/api/v1/tenants/{gone}/access"))
            .await,
        server
            .post(
                &admin,
                "/api/v1/tokens",
                &json!({"name": "gone", "tenant": gone}),
            )
            .await,
        server.post(&admin, "/api/v1/keys/shred", &shred).await,
    ];
    for answer in gone_calls {
        let problem = answer.problem(410, "tenant-shredded");
        assert_eq!(problem["shredded_at"], shredded_at.as_str(), "{problem}");
    }
    assert_eq!(data_keys_of(&server, gone).await, 0);
    // Out of sight, not there.
    server
        .post(&cut, "/api/v1/users", &user("eve@gone.example", gone))
        .await
        .problem(404, "tenant-not-found");

    // The other tenant is untouched.
    server
        .post(&admin, "/api/v1/users", &user("bob@kept.example", kept))
        .await
        .expect(201);
    let users = server
        .get(&admin, &format!("/api/v1/users?tenant={kept}"))
        .await
        .expect(200);
    assert_eq!(users["users"].as_array().unwrap().len(), 2, "{users}");
    let details = format!("/api/v1/audit/events/{}/details", created_events[1]);
    let details = server.get(&admin, &details).await.expect(200);
    assert_eq!(details["details"]["kind"], "tenant_user", "{details}");
    server.stop().await;
}

both_engines!(
    no_key_leaves_through_logs_responses_or_errors,
    a_sealed_server_is_live_but_not_ready_until_unsealed,
    a_shredded_tenant_is_gone,
);
