//! WebAuthn over HTTP, on both engines, with a software passkey:
//! registration at the forced MFA enrolment, login with the key, a
//! replayed assertion answered with problem+json, audited, and leaving the
//! login where it was, and a lost key removed (never the last second
//! factor, never another account's). Without configuration the routes say
//! so.

use rempart_core::identity::webauthn::{CreationChallengeResponse, RequestChallengeResponse, Url};
use rempart_testkit::{Engine, TestServer, both_engines};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const PASSWORD: &str = "violet-Harbour-lantern-93";
const ORIGIN: &str = "https://localhost";

async fn post(server: &TestServer, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = server
        .client
        .post(server.at(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn login(server: &TestServer, name: &str) -> (String, String) {
    let (status, body) = post(
        server,
        "",
        "/api/v1/auth/login",
        &json!({"name": name, "password": PASSWORD, "return_token": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (
        body["token"].as_str().unwrap().to_owned(),
        body["stage"].as_str().unwrap().to_owned(),
    )
}

async fn start_auth(server: &TestServer, session: &str) -> (String, RequestChallengeResponse) {
    let (status, started) = post(server, session, "/api/v1/auth/webauthn/start", &json!({})).await;
    assert_eq!(status, 200, "{started}");
    (
        started["ceremony"].as_str().unwrap().to_owned(),
        serde_json::from_value(started["options"].clone()).unwrap(),
    )
}

/// Registers `key` under `name` from `session`; the finish answer.
async fn register(server: &TestServer, session: &str, key: &mut SoftPasskey, name: &str) -> Value {
    let (status, started) = post(
        server,
        session,
        "/api/v1/mfa/webauthn/register/start",
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let credential = key
        .do_registration(Url::parse(ORIGIN).unwrap(), options)
        .unwrap();
    let (status, registered) = post(
        server,
        session,
        "/api/v1/mfa/webauthn/register/finish",
        &json!({"ceremony": started["ceremony"], "name": name, "credential": credential}),
    )
    .await;
    assert_eq!(status, 200, "{registered}");
    registered
}

#[allow(clippy::too_many_lines, reason = "one scenario, told in order")]
async fn register_and_log_in_with_a_passkey(engine: Engine) {
    let Some(server) = TestServer::start_with(engine, |c| {
        "localhost".clone_into(&mut c.identity.webauthn_rp_id);
        ORIGIN.clone_into(&mut c.identity.webauthn_origin);
    })
    .await
    else {
        return;
    };
    let origin = Url::parse(ORIGIN).unwrap();
    let admin = server.admin_token().await;
    let (status, body) = post(
        &server,
        &admin,
        "/api/v1/users",
        &json!({"name": "dana", "kind": "staff", "password": PASSWORD,
                "temporary_password": false}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post(
        &server,
        &admin,
        "/api/v1/grants",
        &json!({"user": "dana", "role": "security-admin", "scope": "global"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Forced enrolment, done with a passkey instead of TOTP.
    let (session, stage) = login(&server, "dana").await;
    assert_eq!(stage, "enrol_mfa");
    let mut key = SoftPasskey::new(true);
    let registered = register(&server, &session, &mut key, "soft key").await;
    assert_eq!(registered["stage"], "full");
    assert_eq!(registered["name"], "soft key");
    let listed: Value = server
        .client
        .get(server.at("/api/v1/mfa/webauthn"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["credentials"].as_array().unwrap().len(), 1);

    // The next login asks for the key.
    let (session, stage) = login(&server, "dana").await;
    assert_eq!(stage, "second_factor");
    let (ceremony, options) = start_auth(&server, &session).await;
    let assertion = key.do_authentication(origin.clone(), options).unwrap();
    let (status, done) = post(
        &server,
        &session,
        "/api/v1/auth/webauthn/finish",
        &json!({"ceremony": ceremony, "credential": assertion}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["stage"], "full");

    // The same assertion replayed on a new login: refused, audited, and
    // the login still waits for its second factor.
    let (replayed_on, _) = login(&server, "dana").await;
    let (status, problem) = post(
        &server,
        &replayed_on,
        "/api/v1/auth/webauthn/finish",
        &json!({"ceremony": ceremony, "credential": assertion}),
    )
    .await;
    assert_eq!(status, 401, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("second-factor-refused"),
        "{problem}"
    );
    let (fresh, _) = start_auth(&server, &replayed_on).await;
    let (status, _) = post(
        &server,
        &replayed_on,
        "/api/v1/auth/webauthn/finish",
        &json!({"ceremony": fresh, "credential": assertion}),
    )
    .await;
    assert_eq!(status, 401);
    let still: Value = server
        .client
        .get(server.at("/api/v1/tenants"))
        .bearer_auth(&replayed_on)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        still["type"]
            .as_str()
            .unwrap()
            .ends_with("login-incomplete"),
        "{still}"
    );
    server.core.drain_audit().await.unwrap();
    let mut tx = server.store.begin().await.unwrap();
    let events = tx.audit_events(0, 100_000).await.unwrap();
    drop(tx);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "auth.webauthn" && e.outcome == "denied")
            .count(),
        2
    );
    // A malformed assertion is a 400/422 problem, not a server error.
    let (status, _) = post(
        &server,
        &replayed_on,
        "/api/v1/auth/webauthn/finish",
        &json!({"ceremony": fresh, "credential": {"id": "x"}}),
    )
    .await;
    assert!((400..500).contains(&status), "{status}");

    // A lost key is removed by its holder, from the session that just
    // logged in with it, but never the account's last second factor.
    let first = registered["id"].as_str().unwrap().to_owned();
    let remove = |token: &str, id: &str| {
        server
            .client
            .delete(server.at(&format!("/api/v1/mfa/webauthn/{id}")))
            .bearer_auth(token)
            .send()
    };
    let last = remove(&session, &first).await.unwrap();
    assert_eq!(last.status(), 403);
    let last: Value = last.json().await.unwrap();
    assert!(
        last["detail"]
            .as_str()
            .unwrap()
            .contains("last second factor"),
        "{last}"
    );
    let mut spare = SoftPasskey::new(true);
    let second = register(&server, &session, &mut spare, "spare key").await;
    // Another account's key is not found, even for an administrator.
    let spare_id = second["id"].as_str().unwrap().to_owned();
    assert_eq!(remove(&admin, &spare_id).await.unwrap().status(), 404);
    // A malformed id is a problem document, like every other refusal.
    let malformed = remove(&session, "not-a-uuid").await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );
    let malformed: Value = malformed.json().await.unwrap();
    assert!(
        malformed["type"].as_str().unwrap().ends_with("bad-request"),
        "{malformed}"
    );
    let tenant = server
        .client
        .get(server.at("/api/v1/tenants/not-a-uuid/access"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(tenant.status(), 400);
    assert_eq!(tenant.headers()["content-type"], "application/problem+json");
    let query = server
        .client
        .get(server.at("/api/v1/sessions?user=not-a-uuid"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 422);
    let query: Value = query.json().await.unwrap();
    assert_eq!(query["errors"][0]["field"], "query", "{query}");
    assert_eq!(remove(&session, &first).await.unwrap().status(), 204);
    assert_eq!(remove(&session, &first).await.unwrap().status(), 404);
    let listed: Value = server
        .client
        .get(server.at("/api/v1/mfa/webauthn"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listed["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["spare key"]);
    // The spare key logs in; every removal and refusal is in the log.
    let (next, stage) = login(&server, "dana").await;
    assert_eq!(stage, "second_factor");
    let (ceremony, options) = start_auth(&server, &next).await;
    let assertion = spare.do_authentication(origin, options).unwrap();
    let (status, done) = post(
        &server,
        &next,
        "/api/v1/auth/webauthn/finish",
        &json!({"ceremony": ceremony, "credential": assertion}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    server.core.drain_audit().await.unwrap();
    let mut tx = server.store.begin().await.unwrap();
    let events = tx.audit_events(0, 100_000).await.unwrap();
    drop(tx);
    let removals = |outcome: &str| {
        events
            .iter()
            .filter(|e| e.action == "mfa.webauthn.remove" && e.outcome == outcome)
            .count()
    };
    assert_eq!(removals("success"), 1);
    assert_eq!(removals("denied"), 3);
}

both_engines!(register_and_log_in_with_a_passkey);

#[tokio::test]
async fn webauthn_routes_say_when_it_is_not_configured() {
    let server = TestServer::start(Engine::Sqlite).await.unwrap();
    let admin = server.admin_token().await;
    let (status, body) = post(
        &server,
        &admin,
        "/api/v1/users",
        &json!({"name": "erin", "kind": "staff", "password": PASSWORD,
                "temporary_password": false}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (session, _) = login(&server, "erin").await;
    let (status, problem) =
        post(&server, &session, "/api/v1/auth/webauthn/start", &json!({})).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("webauthn-not-configured")
    );
}
