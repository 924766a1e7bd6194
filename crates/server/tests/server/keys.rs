//! The keyring over HTTP, on both engines: a sealed server is live but not
//! ready and answers "keyring sealed" until unsealed; and no key leaves:
//! real flows (init, unseal, rotate, re-wrap, encrypt/decrypt, shred, and
//! their errors) run while every log line is captured, and the logs, every
//! API response, every error message and the audit trail are scanned for
//! the raw bytes (hex and base64) of the root key, the KEKs, the tenant
//! keys and the data keys.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use rempart_core::keys::{KdfParams, KeyVault, KeyringLocation, RootKeySource};
use rempart_crypto::{KeyFileProvider, Keyring, WrappedDataKey};
use rempart_model::TenantId;
use rempart_testkit::{Engine, TestServer, both_engines};
use secrecy::SecretString;
use serde_json::{Value, json};

/// Every log line of this test binary, at every level.
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

/// Records every response body it sees.
struct Seen(Vec<String>);

impl Seen {
    async fn send(&mut self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = format!("{:?}", response.headers());
        let text = response.text().await.unwrap();
        self.0.push(headers);
        self.0.push(text.clone());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
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
    let location = KeyringLocation::from_config(&server.config);
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
    let client = server.client.clone();
    let mut seen = Seen(Vec::new());
    let post =
        |path: &str, body: Value| client.post(server.at(path)).bearer_auth(&token).json(&body);

    let mut tenants = Vec::new();
    for (name, env) in [("Prod", "production"), ("Dev", "development")] {
        let (status, body) = seen
            .send(post(
                "/api/v1/tenants",
                json!({"name": name, "region": "us", "environment": env}),
            ))
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
    assert_eq!(
        server
            .core
            .decrypt_for_tenant(prod, purpose, b"r1", &envelope)
            .await
            .unwrap(),
        b"alice@example.com"
    );
    seen.error(
        &server
            .core
            .decrypt_for_tenant(dev, purpose, b"r1", &envelope)
            .await
            .unwrap_err(),
    );
    let mut tampered = envelope.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    seen.error(
        &server
            .core
            .decrypt_for_tenant(prod, purpose, b"r1", &tampered)
            .await
            .unwrap_err(),
    );
    seen.error(
        &server
            .core
            .decrypt_for_tenant(prod, purpose, b"r1", &envelope[..10])
            .await
            .unwrap_err(),
    );
    let mut secrets = secrets_of(&server, &wrapped_data_keys(&server, &tenants).await);

    // Administration over HTTP, with its errors.
    let (status, body) = seen
        .send(client.get(server.at("/api/v1/keys")).bearer_auth(&token))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["seal"]["sealed"], false);
    assert!(body["environments"].as_array().unwrap().len() >= 2);
    let (status, body) = seen
        .send(post(
            "/api/v1/keys/rotate",
            json!({"environment": "production"}),
        ))
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(2)), "{body}");
    let (status, _) = seen
        .send(post(
            "/api/v1/keys/rotate",
            json!({"environment": "nowhere"}),
        ))
        .await;
    assert_eq!(status, 422);
    let (status, _) = seen
        .send(post(
            "/api/v1/keys/retire",
            json!({"environment": "production", "min_version": 2}),
        ))
        .await;
    assert_eq!(status, 409);
    let (status, body) = seen
        .send(post(
            "/api/v1/keys/rewrap",
            json!({"environment": "production", "limit": 1}),
        ))
        .await;
    assert_eq!(
        (status, body["rewrapped"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    let (status, _) = seen
        .send(post(
            "/api/v1/keys/rewrap",
            json!({"environment": "production", "after": "zz"}),
        ))
        .await;
    assert_eq!(status, 422);
    let (status, _) = seen
        .send(post(
            "/api/v1/keys/retire",
            json!({"environment": "production", "min_version": 2}),
        ))
        .await;
    assert_eq!(status, 200);
    let (status, _) = seen
        .send(post(
            "/api/v1/keys/shred",
            json!({"tenant": dev.0, "confirm": "yes"}),
        ))
        .await;
    assert_eq!(status, 422);
    let (status, body) = seen
        .send(post(
            "/api/v1/keys/shred",
            json!({"tenant": dev.0, "confirm": dev.0.to_string()}),
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = seen
        .send(post(
            "/api/v1/keys/shred",
            json!({"tenant": dev.0, "confirm": dev.0.to_string()}),
        ))
        .await;
    assert_eq!(status, 410, "{body}");
    let (status, _) = seen
        .send(
            client
                .post(server.at("/api/v1/sys/unseal"))
                .json(&json!({"share": "x", "passphrase": "y"})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, body) = seen
        .send(client.get(server.at("/api/v1/sys/seal-status")))
        .await;
    assert_eq!((status, body["sealed"].as_bool()), (200, Some(false)));
    let (status, _) = seen
        .send(client.get(server.at("/api/v1/openapi.json")))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        server
            .core
            .decrypt_for_tenant(prod, purpose, b"r1", &envelope)
            .await
            .unwrap(),
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

async fn a_sealed_server_is_live_but_not_ready_until_unsealed(engine: Engine) {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let location = KeyringLocation {
        path: dir.path().join("keyring.rmk"),
        key_file: dir.path().join("root.key"),
    };
    let passphrase = "a passphrase for the sealed test";
    let source = RootKeySource::Passphrase {
        passphrase: SecretString::from(passphrase.to_owned()),
        kdf: KdfParams::new(8, 1, 1).unwrap(),
    };
    drop(KeyVault::init(location.clone(), &source, time::OffsetDateTime::UNIX_EPOCH).unwrap());
    let path = location.path.clone();
    let Some(server) = TestServer::start_with(engine, move |c| {
        c.keyring.path = Some(path);
    })
    .await
    else {
        return;
    };
    let client = &server.client;
    let token = server.admin_token().await;

    let healthz = client.get(server.at("/healthz")).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
    let readyz = client.get(server.at("/readyz")).send().await.unwrap();
    assert_eq!(readyz.status(), 503);
    let create = || {
        client
            .post(server.at("/api/v1/tenants"))
            .bearer_auth(&token)
            .json(&json!({"name": "Acme", "region": "us", "environment": "production"}))
    };
    let refused = create().send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["title"], "keyring sealed");
    assert_eq!(
        problem["type"],
        "https://rempart.dev/problems/keyring-sealed"
    );
    let status: Value = client
        .get(server.at("/api/v1/sys/seal-status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["sealed"], true);
    assert_eq!(status["provider"], "passphrase");

    let unseal = |body: Value| client.post(server.at("/api/v1/sys/unseal")).json(&body);
    let wrong = unseal(json!({"passphrase": "not it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let problem: Value = wrong.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://rempart.dev/problems/unseal-refused"
    );
    assert_eq!(
        client
            .get(server.at("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    let right = unseal(json!({"passphrase": passphrase}))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    let status: Value = right.json().await.unwrap();
    assert_eq!(status["sealed"], false);
    assert_eq!(
        client
            .get(server.at("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(create().send().await.unwrap().status(), 201);
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logged.contains(passphrase), "the passphrase was logged");
    assert!(!logged.contains("not it"), "a wrong passphrase was logged");
    server.stop().await;
}

both_engines!(
    no_key_leaves_through_logs_responses_or_errors,
    a_sealed_server_is_live_but_not_ready_until_unsealed,
);
