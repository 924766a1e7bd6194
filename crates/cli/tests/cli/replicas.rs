//! Invariant 7 with the real binary: two `rempart serve` processes on one
//! PostgreSQL database. A token or session revoked through one replica,
//! or an account suspended there, fails on its next request to the other,
//! while the other is busy serving (its auth-epoch lease always fresh).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rempart_testkit::http::{Api, Http as _};
use rempart_testkit::replica::Replica;
use rempart_testkit::{Engine, PASSWORD, TestDatabase};
use reqwest::Method;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_rempart");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_every_replica_at_once() {
    let Some(db) = TestDatabase::create(Engine::Postgres).await else {
        return;
    };
    let mut a = Replica::serve(Path::new(BIN), &db, &[]);
    let credential = a.bootstrap_credential();
    let mut b = Replica::serve(Path::new(BIN), &db, &[]);

    let answer = a.bootstrap(&credential).await.expect(201);
    let admin = answer["token"].as_str().unwrap().to_owned();

    // B is kept busy with other requests throughout, so that it always
    // holds a fresh lease on the auth epoch (rempart_store::auth_lease):
    // what is checked below is that a revocation returns only once no
    // replica's lease from before it can still be used.
    let busy = Arc::new(AtomicBool::new(true));
    let background = {
        let b = Api::new(b.url.clone());
        let admin = admin.clone();
        let busy = busy.clone();
        tokio::spawn(async move {
            let mut served = 0_u64;
            while busy.load(Ordering::SeqCst) {
                assert_eq!(b.get(&admin, "/api/v1/auth/whoami").await.status, 200);
                served += 1;
            }
            served
        })
    };

    // An API token of a service account, made on A, works on B until it is
    // revoked on A.
    let exporter = json!({"name": "exporter", "kind": "service"});
    a.post(&admin, "/api/v1/users", &exporter).await.expect(201);
    let grant = json!({"user": "exporter", "role": "auditor", "scope": "global"});
    a.post(&admin, "/api/v1/grants", &grant).await.expect(201);
    let token = json!({"name": "export", "holder": "exporter", "expires_in_days": 1});
    let token = a.post(&admin, "/api/v1/tokens", &token).await.expect(201);
    let secret = token["token"].as_str().unwrap();
    assert_eq!(b.get(secret, "/api/v1/tenants").await.status, 200);
    let id = token["id"].as_str().unwrap();
    let revoked = a.delete(&admin, &format!("/api/v1/tokens/{id}")).await;
    assert_eq!(revoked.status, 204);
    assert_eq!(b.get(secret, "/api/v1/tenants").await.status, 401);

    // A session opened on A, used on B, ended on A: refused on B.
    a.new_staff(&admin, "carol").await;
    let login = |replica: &Replica| {
        let answer = replica.login("carol", PASSWORD);
        async move {
            let body = answer.await;
            assert_eq!(body["stage"], "full");
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let session = login(&a).await;
    assert_eq!(b.get(&session, "/api/v1/sessions").await.status, 200);
    let logout = a.call(Method::POST, &session, "/api/v1/auth/logout", None);
    let logout = logout.await;
    assert_eq!(logout.status, 204);
    assert_eq!(b.get(&session, "/api/v1/sessions").await.status, 401);

    // Offboarding: suspended on A, every live session fails on B.
    let session = login(&b).await;
    assert_eq!(b.get(&session, "/api/v1/sessions").await.status, 200);
    let suspended = json!({"state": "suspended"});
    a.call(
        Method::PUT,
        &admin,
        "/api/v1/users/carol/state",
        Some(&suspended),
    )
    .await
    .expect(200);
    assert_eq!(b.get(&session, "/api/v1/sessions").await.status, 401);

    busy.store(false, Ordering::SeqCst);
    assert!(background.await.unwrap() > 0);
    a.stop();
    b.stop();
}
