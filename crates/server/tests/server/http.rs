//! The HTTP interface end to end, on a real server (testkit), on both
//! engines where state is involved: first start, bootstrap, tenants; bad
//! input answered with problem+json and nothing changed; headers, request
//! ids, health, metrics, OpenAPI coverage, TLS, graceful shutdown; client
//! addresses and transports behind proxies (`forwarding`); every answer an
//! extractor gives documented by its operation (`contract`); objects out of
//! a caller's scope answered like absent ones (`scope`); the customer-data
//! vault (`vault`).

mod contract;
mod forwarding;
mod identity;
mod scope;
mod vault;
mod webauthn;

use std::io::{Read as _, Write as _};
use std::time::Duration;

use rempart_store::Store;
use rempart_testkit::http::{ANONYMOUS, Answer, Http as _, operations, send, tenant};
use rempart_testkit::{Engine, TestServer, both_engines};
use reqwest::Method;
use serde_json::json;

/// Tenants, and audit events recorded (chained or still pending).
async fn counts(store: &dyn Store) -> (u64, usize) {
    let mut tx = store.begin().await.unwrap();
    (
        tx.count_tenants().await.unwrap(),
        tx.audit_events(0, 100_000).await.unwrap().len()
            + tx.audit_pending(100_000).await.unwrap().len(),
    )
}

/// `method path` with `{}` as a JSON body and no credential: what every
/// documented operation is sent to see that it exists and is guarded.
pub async fn probe(server: &TestServer, method: Method, path: &str) -> Answer {
    send(
        server
            .request(method, ANONYMOUS, path)
            .header("content-type", "application/json")
            .body("{}"),
    )
    .await
}

async fn first_start_bootstrap_and_tenants(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let token = server.admin_token().await;

    let tenant = server
        .post(&token, "/api/v1/tenants", &tenant("Acme", "us"))
        .await
        .expect(201);
    assert_eq!(tenant["name"], "Acme");
    assert_eq!(tenant["region"], "us");
    assert_eq!(tenant["environment"], "production");

    let listed = server.get(&token, "/api/v1/tenants").await.json();
    assert_eq!(listed["tenants"].as_array().unwrap().len(), 1);
    assert_eq!(listed["tenants"][0]["id"], tenant["id"]);

    // The audit trail holds every step, with the source address.
    let events = server.audit_events().await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "bootstrap.issue",
            "bootstrap.exchange",
            "tenant.create",
            "tenant.list"
        ]
    );
    assert!(
        events[1..]
            .iter()
            .all(|e| e.source.as_deref() == Some("127.0.0.1"))
    );
    assert!(events[1..].iter().all(|e| e.request_id.is_some()));
    server.stop().await;
}

async fn bad_input_changes_nothing(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let token = server.admin_token().await;
    let create = |body: String, content_type: &'static str| {
        send(
            server
                .request(Method::POST, &token, "/api/v1/tenants")
                .header("content-type", content_type)
                .body(body),
        )
    };
    let ok = tenant("Acme", "us").to_string();
    create(ok.clone(), "application/json").await.expect(201);
    let before = counts(server.store.as_ref()).await;

    create("{\"name\": ".to_owned(), "application/json")
        .await
        .problem(400, "malformed-json");
    create(ok.clone(), "text/plain")
        .await
        .problem(415, "unsupported-media-type");
    let unknown = json!({"name": "B", "region": "us", "environment": "production", "owner": "x"});
    create(unknown.to_string(), "application/json")
        .await
        .refusal(422, "invalid-body", "owner");
    let missing = json!({"name": "B", "region": "us"});
    create(missing.to_string(), "application/json")
        .await
        .problem(422, "invalid-body");
    let big = tenant(&"x".repeat(2 * 1024 * 1024), "us");
    // The server answers before reading the whole body and then closes the
    // connection: send it on a connection of its own, so the client does not
    // reuse a closing one for the next request.
    let oversized = reqwest::Client::new()
        .post(server.at("/api/v1/tenants"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(big.to_string());
    send(oversized).await.problem(413, "body-too-large");
    let bad_region = json!({"name": "B", "region": "United States", "environment": "production"});
    let body = create(bad_region.to_string(), "application/json")
        .await
        .problem(422, "invalid-field");
    assert_eq!(body["errors"][0]["field"], "region");
    create(tenant("ACME", "us").to_string(), "application/json")
        .await
        .refusal(409, "name-taken", "ACME");

    assert_eq!(
        counts(server.store.as_ref()).await,
        before,
        "no tenant and no event from bad input"
    );
    server.stop().await;
}

async fn bootstrap_credentials_are_single_use_and_expire(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let credential = server.bootstrap_secret();
    // Expired: a day later, the credential no longer works.
    server.clock.advance(time::Duration::hours(24));
    server
        .bootstrap(&credential)
        .await
        .refusal(403, "bootstrap-refused", "expired");
    server.clock.advance(-time::Duration::hours(1));

    let exchanged = server.bootstrap(&credential).await.expect(201);
    let token = exchanged["token"].as_str().unwrap().to_owned();
    let expires_at = time::OffsetDateTime::parse(
        exchanged["token_expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // The administrator's token is an API token like any other: it has the
    // default lifetime, not none.
    let lifetime = expires_at - rempart_core::Clock::now(server.clock.as_ref());
    assert!(
        lifetime > time::Duration::days(89) && lifetime <= time::Duration::days(90),
        "{lifetime}"
    );
    let before = counts(server.store.as_ref()).await;
    server
        .bootstrap(&credential)
        .await
        .refusal(403, "bootstrap-refused", "already used");
    server
        .bootstrap("rmp_boot_guess")
        .await
        .problem(403, "bootstrap-refused");
    let after = counts(server.store.as_ref()).await;
    assert_eq!(after.0, before.0);
    assert_eq!(
        after.1,
        before.1 + 2,
        "each refusal is recorded, nothing else"
    );
    let mut tx = server.store.begin().await.unwrap();
    assert_eq!(tx.count_principals().await.unwrap(), 1);
    drop(tx);

    let whoami = || server.get(&token, "/api/v1/auth/whoami");
    assert_eq!(whoami().await.status, 200);
    server.clock.set(expires_at);
    assert_eq!(whoami().await.status, 401);
    server.stop().await;
}

async fn tokens_are_required_and_checked(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let none = server.get(ANONYMOUS, "/api/v1/tenants").await;
    assert_eq!(none.header("www-authenticate"), "Bearer realm=\"rempart\"");
    none.problem(401, "unauthenticated");
    server
        .get("rmp_at_forged", "/api/v1/tenants")
        .await
        .problem(401, "unauthenticated");
    let malformed = server
        .request(Method::GET, ANONYMOUS, "/api/v1/tenants")
        .header("authorization", "Basic YTpi");
    send(malformed).await.problem(401, "unauthenticated");
    server.stop().await;
}

/// Sealed audit details over HTTP: an authorized reader gets the plaintext,
/// an event without details answers null, and the read is audited.
async fn audit_details_are_read_in_scope(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let token = server.admin_token().await;
    let ids = server.tenants(&token, &["Acme", "Globex"]).await;
    // A Globex auditor asks for the proof of Acme's creation: not found,
    // as if it did not exist; the refusal is recorded in Acme, its reason
    // sealed in Acme's key.
    let outsider = rempart_core::Actor::new(
        rempart_model::PrincipalId(uuid::Uuid::new_v4()),
        rempart_model::PrincipalName::parse("globex-auditor").unwrap(),
        uuid::Uuid::new_v4(),
        vec![rempart_model::Grant::of(
            rempart_model::Role::Auditor,
            rempart_model::Scope::Tenant(rempart_model::TenantId(ids[1])),
            None,
        )],
    );
    let created = server
        .audit_events()
        .await
        .iter()
        .find(|e| e.action == "tenant.create" && e.tenant == Some(ids[0]))
        .unwrap()
        .seq;
    let err = server
        .core
        .audit_inclusion_proof(
            &outsider,
            &rempart_core::RequestContext::system(),
            created,
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, rempart_core::ServiceError::NotFound { .. }));
    let events = server.audit_events().await;
    let refused = events.iter().rfind(|e| e.action == "audit.proof").unwrap();
    assert!(refused.details.is_some());
    assert_eq!(refused.tenant, Some(ids[0]));
    let refused = refused.seq;

    let details =
        |seq: u64, token: &str| server.get(token, &format!("/api/v1/audit/events/{seq}/details"));
    let body = details(refused, &token).await.expect(200);
    assert_eq!(
        body,
        json!({"seq": refused, "details": {"reason": "outside the caller's scope"}})
    );
    let body = details(created, &token).await.json();
    assert_eq!(body, json!({"seq": created, "details": null}));
    details(refused, ANONYMOUS)
        .await
        .problem(401, "unauthenticated");
    details(1_000_000, &token).await.problem(404, "not-found");
    let target = format!("audit-event:{refused}/details");
    let reads = server
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.target.as_deref() == Some(target.as_str()))
        .count();
    assert_eq!(reads, 1);
    server.stop().await;
}

both_engines!(
    audit_details_are_read_in_scope,
    first_start_bootstrap_and_tenants,
    bad_input_changes_nothing,
    bootstrap_credentials_are_single_use_and_expire,
    tokens_are_required_and_checked,
);

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let server = TestServer::start(Engine::Sqlite).await.unwrap();
    for path in ["/healthz", "/api/v1/tenants", "/no/such/route"] {
        let response = server.get(ANONYMOUS, path).await;
        assert!(
            response
                .header("content-security-policy")
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(
            response.header("x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(response.header("referrer-policy"), "no-referrer", "{path}");
        assert!(
            response.headers.get("strict-transport-security").is_none(),
            "no HSTS without TLS"
        );
        assert_eq!(response.header("x-request-id").len(), 36, "{path}");
    }
    let with_id = |id: &'static str| {
        send(
            server
                .request(Method::GET, ANONYMOUS, "/healthz")
                .header("x-request-id", id),
        )
    };
    assert_eq!(with_id("trace-42").await.header("x-request-id"), "trace-42");
    assert_ne!(with_id("a b\tc").await.headers["x-request-id"], "a b\tc");
    server
        .get(ANONYMOUS, "/no/such/route")
        .await
        .problem(404, "not-found");
    server
        .delete(ANONYMOUS, "/healthz")
        .await
        .problem(405, "method-not-allowed");
    server.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start(Engine::Sqlite).await.unwrap();
    assert_eq!(server.get(ANONYMOUS, "/healthz").await.status, 200);
    assert_eq!(server.get(ANONYMOUS, "/readyz").await.status, 200);
    let metrics = server.get(ANONYMOUS, "/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = &metrics.text;
    assert!(
        text.contains("# TYPE rempart_http_requests_total counter"),
        "{text}"
    );
    assert!(text.contains("route=\"/readyz\""), "{text}");

    // With the database gone, readiness says so.
    server.store.close().await;
    assert_eq!(server.get(ANONYMOUS, "/readyz").await.status, 503);
    assert_eq!(server.get(ANONYMOUS, "/healthz").await.status, 200);
    server.stop().await;
}

/// Every route has an OpenAPI entry: routes are only registered through
/// utoipa-axum's `routes!` (which registers the handler and its entry
/// together), so a plain `.route(` anywhere in the server is an error; and
/// every documented operation answers (not 404 or 405).
#[tokio::test]
async fn every_route_is_documented() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut stack = vec![std::path::PathBuf::from(src)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let source = std::fs::read_to_string(&path).unwrap();
                let code: Vec<&str> = source
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect();
                let text = code.join("\n");
                for needle in [
                    ".route(",
                    ".route_service(",
                    ".nest(",
                    ".nest_service(",
                    ".merge(",
                ] {
                    assert!(
                        !text.contains(needle),
                        "{}: `{needle}` registers a route without an OpenAPI entry; use routes!()",
                        path.display()
                    );
                }
            }
        }
    }

    let server = TestServer::start(Engine::Sqlite).await.unwrap();
    let doc = server.openapi().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/bootstrap",
        "/api/v1/tenants",
        "/api/v1/audit/events/{seq}/details",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    for (method, path, _) in operations(&doc) {
        let status = probe(&server, method.clone(), path).await.status;
        assert!(
            ![404, 405].contains(&status),
            "{method} {path} is documented but answers {status}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let mut server = TestServer::start(Engine::Sqlite).await.unwrap();
    let credential = server.bootstrap_secret();
    let body = json!({"credential": credential, "administrator": "admin@example.com"}).to_string();
    let addr = server.url.trim_start_matches("http://").to_owned();

    // Start a request and send only half of its body.
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /api/v1/bootstrap HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let (first, second) = body.split_at(body.len() / 2);
    let second = second.to_owned();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first.as_bytes()).unwrap();
    stream.flush().unwrap();
    // Let the server read the head and start the request.
    server.get(ANONYMOUS, "/healthz").await;

    let task = server.signal_shutdown().unwrap();
    // Wait until the listener is closed to new connections.
    let mut closed = false;
    for _ in 0..1000 {
        if std::net::TcpStream::connect(&addr).is_err() {
            closed = true;
            break;
        }
        rempart_core::clock::pause(Duration::from_millis(20)).await;
    }
    assert!(
        closed,
        "the server still accepts connections after shutdown began"
    );

    // The in-flight request still completes.
    let response = tokio::task::spawn_blocking(move || {
        stream.write_all(second.as_bytes()).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0_u8; 4096];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if String::from_utf8_lossy(&buf).contains("\"token\"") {
                        break;
                    }
                }
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    task.await.unwrap().unwrap();
    let mut tx = server.store.begin().await.unwrap();
    assert_eq!(tx.count_principals().await.unwrap(), 1);
}

#[tokio::test]
async fn tls_12_and_13_with_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rempart_testkit::self_signed_certificate(dir.path());
    let (c, k) = (cert.cert_file.clone(), cert.key_file.clone());
    let server = TestServer::start_with(Engine::Sqlite, move |config| {
        config.server.tls_cert_file = Some(c);
        config.server.tls_key_file = Some(k);
    })
    .await
    .unwrap();
    assert!(server.url.starts_with("https://"));
    let url = server.url.replace("127.0.0.1", "localhost");
    let root = reqwest::Certificate::from_pem(cert.pem.as_bytes()).unwrap();
    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let client = reqwest::Client::builder()
            .tls_certs_only([root.clone()])
            .min_tls_version(version)
            .max_tls_version(version)
            .resolve(
                "localhost",
                server.url.trim_start_matches("https://").parse().unwrap(),
            )
            .build()
            .unwrap();
        let response = client.get(format!("{url}/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{version:?}");
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=63072000; includeSubDomains"
        );
    }
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(server.url.replace("https://", "http://") + "/healthz")
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    server.stop().await;

    // A missing key file is a clear error naming it.
    let missing = dir.path().join("nope.pem");
    let err = rempart_server::tls::load_config(&cert.cert_file, &missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.pem"), "{err}");
}
