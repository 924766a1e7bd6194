//! Invariant 7 with the real binary: two `rempart serve` processes on one
//! PostgreSQL database. A token or session revoked through one replica,
//! or an account suspended there, fails on its next request to the other,
//! while the other is busy serving (its auth-epoch lease always fresh).

use std::path::Path;

use rempart_testkit::replica::Replica;
use rempart_testkit::{Engine, TestDatabase};
use reqwest::Method as M;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_rempart");
const PASSWORD: &str = "violet-Harbour-lantern-93";

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_every_replica_at_once() {
    let Some(db) = TestDatabase::create(Engine::Postgres).await else {
        return;
    };
    let mut a = Replica::serve(Path::new(BIN), &db, &[]);
    let credential = a.bootstrap_credential();
    let mut b = Replica::serve(Path::new(BIN), &db, &[]);
    let http = reqwest::Client::new();

    let (status, answer) = call(
        &http,
        M::POST,
        format!("{}/api/v1/bootstrap", a.url),
        "",
        Some(json!({"credential": credential, "administrator": "admin@example.com"})),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let admin = answer["token"].as_str().unwrap().to_owned();

    // B is kept busy with other requests throughout, so that it always
    // holds a fresh lease on the auth epoch (rempart_store::auth_lease):
    // what is checked below is that a revocation returns only once no
    // replica's lease from before it can still be used.
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let background = {
        let http = http.clone();
        let url = format!("{}/api/v1/auth/whoami", b.url);
        let admin = admin.clone();
        let busy = busy.clone();
        tokio::spawn(async move {
            let mut served = 0_u64;
            while busy.load(std::sync::atomic::Ordering::SeqCst) {
                assert_eq!(call(&http, M::GET, url.clone(), &admin, None).await.0, 200);
                served += 1;
            }
            served
        })
    };

    // An API token of a service account, made on A, works on B until it is
    // revoked on A.
    let (status, _) = call(
        &http,
        M::POST,
        format!("{}/api/v1/users", a.url),
        &admin,
        Some(json!({"name": "exporter", "kind": "service"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = call(
        &http,
        M::POST,
        format!("{}/api/v1/grants", a.url),
        &admin,
        Some(json!({"user": "exporter", "role": "auditor", "scope": "global"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, token) = call(
        &http,
        M::POST,
        format!("{}/api/v1/tokens", a.url),
        &admin,
        Some(json!({"name": "export", "holder": "exporter", "expires_in_days": 1})),
    )
    .await;
    assert_eq!(status, 201, "{token}");
    let secret = token["token"].as_str().unwrap().to_owned();
    let tenants_on_b = format!("{}/api/v1/tenants", b.url);
    assert_eq!(
        call(&http, M::GET, tenants_on_b.clone(), &secret, None)
            .await
            .0,
        200
    );
    let (status, _) = call(
        &http,
        M::DELETE,
        format!("{}/api/v1/tokens/{}", a.url, token["id"].as_str().unwrap()),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        call(&http, M::GET, tenants_on_b.clone(), &secret, None)
            .await
            .0,
        401
    );

    // A session opened on A, used on B, ended on A: refused on B.
    let (status, _) = call(
        &http,
        M::POST,
        format!("{}/api/v1/users", a.url),
        &admin,
        Some(json!({"name": "carol", "kind": "staff", "password": PASSWORD, "temporary_password": false})),
    )
    .await;
    assert_eq!(status, 201);
    let login = |url: String| {
        let http = http.clone();
        async move {
            let (status, body) = call(
                &http,
                M::POST,
                format!("{url}/api/v1/auth/login"),
                "",
                Some(json!({"name": "carol", "password": PASSWORD, "return_token": true})),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["stage"], "full");
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let session = login(a.url.clone()).await;
    let sessions_on_b = format!("{}/api/v1/sessions", b.url);
    assert_eq!(
        call(&http, M::GET, sessions_on_b.clone(), &session, None)
            .await
            .0,
        200
    );
    let (status, _) = call(
        &http,
        M::POST,
        format!("{}/api/v1/auth/logout", a.url),
        &session,
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        call(&http, M::GET, sessions_on_b.clone(), &session, None)
            .await
            .0,
        401
    );

    // Offboarding: suspended on A, every live session fails on B.
    let session = login(b.url.clone()).await;
    assert_eq!(
        call(&http, M::GET, sessions_on_b.clone(), &session, None)
            .await
            .0,
        200
    );
    let (status, body) = call(
        &http,
        M::PUT,
        format!("{}/api/v1/users/carol/state", a.url),
        &admin,
        Some(json!({"state": "suspended"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        call(&http, M::GET, sessions_on_b, &session, None).await.0,
        401
    );

    busy.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(background.await.unwrap() > 0);
    a.stop();
    b.stop();
}
