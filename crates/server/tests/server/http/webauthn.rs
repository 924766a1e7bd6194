//! WebAuthn over HTTP, on both engines, with a software passkey:
//! registration at the forced MFA enrolment, login with the key, a
//! replayed assertion answered with problem+json, audited, and leaving the
//! login where it was, and a lost key removed (never the last second
//! factor, never another account's). Without configuration the routes say
//! so.

use rempart_core::identity::webauthn::{CreationChallengeResponse, RequestChallengeResponse, Url};
use rempart_testkit::http::Http as _;
use rempart_testkit::{Engine, PASSWORD, TestServer, both_engines};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const ORIGIN: &str = "https://localhost";

/// Logs `name` in: the session's token and its stage.
async fn login(server: &TestServer, name: &str) -> (String, String) {
    let body = server.login(name, PASSWORD).await;
    (
        body["token"].as_str().unwrap().to_owned(),
        body["stage"].as_str().unwrap().to_owned(),
    )
}

async fn start_auth(server: &TestServer, session: &str) -> (String, RequestChallengeResponse) {
    let started = server
        .post(session, "/api/v1/auth/webauthn/start", &json!({}))
        .await
        .expect(200);
    (
        started["ceremony"].as_str().unwrap().to_owned(),
        serde_json::from_value(started["options"].clone()).unwrap(),
    )
}

/// Answers the second factor `session`'s login waits for with `key`: the
/// finish request (to replay) and its answer.
async fn authenticate(server: &TestServer, session: &str, key: &mut SoftPasskey) -> (Value, Value) {
    let (ceremony, options) = start_auth(server, session).await;
    let assertion = key
        .do_authentication(Url::parse(ORIGIN).unwrap(), options)
        .unwrap();
    let finish = json!({"ceremony": ceremony, "credential": assertion});
    let done = server
        .post(session, "/api/v1/auth/webauthn/finish", &finish)
        .await
        .expect(200);
    (finish, done)
}

/// Registers `key` under `name` from `session`; the finish answer.
async fn register(server: &TestServer, session: &str, key: &mut SoftPasskey, name: &str) -> Value {
    let started = server
        .post(session, "/api/v1/mfa/webauthn/register/start", &json!({}))
        .await
        .expect(200);
    let options: CreationChallengeResponse =
        serde_json::from_value(started["options"].clone()).unwrap();
    let credential = key
        .do_registration(Url::parse(ORIGIN).unwrap(), options)
        .unwrap();
    let finish = json!({"ceremony": started["ceremony"], "name": name, "credential": credential});
    server
        .post(session, "/api/v1/mfa/webauthn/register/finish", &finish)
        .await
        .expect(200)
}

/// The names of the security keys `session`'s account holds.
async fn keys(server: &TestServer, session: &str) -> Vec<String> {
    let listed = server
        .get(session, "/api/v1/mfa/webauthn")
        .await
        .expect(200);
    listed["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn register_and_log_in_with_a_passkey(engine: Engine) {
    let Some(server) = TestServer::start_with(engine, |c| {
        "localhost".clone_into(&mut c.identity.webauthn_rp_id);
        ORIGIN.clone_into(&mut c.identity.webauthn_origin);
    })
    .await
    else {
        return;
    };
    let admin = server.admin_token().await;
    server.new_staff(&admin, "dana").await;
    let grant = json!({"user": "dana", "role": "security-admin", "scope": "global"});
    server
        .post(&admin, "/api/v1/grants", &grant)
        .await
        .expect(201);

    // Forced enrolment, done with a passkey instead of TOTP.
    let (session, stage) = login(&server, "dana").await;
    assert_eq!(stage, "enrol_mfa");
    let mut key = SoftPasskey::new(true);
    let registered = register(&server, &session, &mut key, "soft key").await;
    assert_eq!(registered["stage"], "full");
    assert_eq!(registered["name"], "soft key");
    assert_eq!(keys(&server, &session).await, ["soft key"]);

    // The next login asks for the key.
    let (session, stage) = login(&server, "dana").await;
    assert_eq!(stage, "second_factor");
    let (replay, done) = authenticate(&server, &session, &mut key).await;
    assert_eq!(done["stage"], "full");

    // The same assertion replayed on a new login: refused, audited, and
    // the login still waits for its second factor.
    let (replayed_on, _) = login(&server, "dana").await;
    server
        .post(&replayed_on, "/api/v1/auth/webauthn/finish", &replay)
        .await
        .problem(401, "second-factor-refused");
    let (fresh, _) = start_auth(&server, &replayed_on).await;
    let replay = json!({"ceremony": fresh, "credential": replay["credential"]});
    let again = server
        .post(&replayed_on, "/api/v1/auth/webauthn/finish", &replay)
        .await;
    assert_eq!(again.status, 401, "{}", again.text);
    server
        .get(&replayed_on, "/api/v1/tenants")
        .await
        .problem(403, "login-incomplete");
    let denied = server
        .audit_events()
        .await
        .iter()
        .filter(|e| e.action == "auth.webauthn" && e.outcome == "denied")
        .count();
    assert_eq!(denied, 2);
    // A malformed assertion is a 400/422 problem, not a server error.
    let malformed = json!({"ceremony": fresh, "credential": {"id": "x"}});
    let status = server
        .post(&replayed_on, "/api/v1/auth/webauthn/finish", &malformed)
        .await
        .status;
    assert!((400..500).contains(&status), "{status}");

    // A lost key is removed by its holder, from the session that just
    // logged in with it, but never the account's last second factor.
    let first = registered["id"].as_str().unwrap().to_owned();
    let remove =
        |token: &str, id: &str| server.delete(token, &format!("/api/v1/mfa/webauthn/{id}"));
    remove(&session, &first)
        .await
        .refusal(403, "rule-refused", "last second factor");
    let mut spare = SoftPasskey::new(true);
    let second = register(&server, &session, &mut spare, "spare key").await;
    // Another account's key is not found, even for an administrator.
    let spare_id = second["id"].as_str().unwrap().to_owned();
    assert_eq!(remove(&admin, &spare_id).await.status, 404);
    // A malformed id is a problem document, like every other refusal.
    remove(&session, "not-a-uuid")
        .await
        .problem(400, "bad-request");
    let tenant = server
        .get(&admin, "/api/v1/tenants/not-a-uuid/access")
        .await;
    assert_eq!(tenant.status, 400);
    assert_eq!(tenant.header("content-type"), "application/problem+json");
    let query = server
        .get(&admin, "/api/v1/sessions?user=not-a-uuid")
        .await
        .expect(422);
    assert_eq!(query["errors"][0]["field"], "query", "{query}");
    assert_eq!(remove(&session, &first).await.status, 204);
    assert_eq!(remove(&session, &first).await.status, 404);
    assert_eq!(keys(&server, &session).await, ["spare key"]);
    // The spare key logs in; every removal and refusal is in the log.
    let (next, stage) = login(&server, "dana").await;
    assert_eq!(stage, "second_factor");
    let (_, done) = authenticate(&server, &next, &mut spare).await;
    assert_eq!(done["stage"], "full");
    let events = server.audit_events().await;
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
    server.new_staff(&admin, "erin").await;
    let (session, _) = login(&server, "erin").await;
    server
        .post(&session, "/api/v1/auth/webauthn/start", &json!({}))
        .await
        .problem(409, "webauthn-not-configured");
}
