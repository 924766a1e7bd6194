//! Identity over HTTP: the end-to-end identity path through the API, on
//! both engines. Bootstrap, a staff administrator with a password and
//! TOTP, login, a tenant user with a role, and a separation-of-duty rule
//! refusing a conflicting grant; plus cookies, CSRF, enumeration, policy
//! refusals, and the rule that every route declares its access.

use rempart_testkit::{Engine, TestServer, both_engines};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "violet-Harbour-lantern-93";

/// The TOTP code of `uri` at the server's clock.
fn code_now(server: &TestServer, uri: &str) -> String {
    let totp = totp_rs::Totp::from_url(uri).unwrap();
    let now = u64::try_from(server.core.clock().now().unix_timestamp()).unwrap();
    totp.generate(now).to_string()
}

async fn post(server: &TestServer, token: &str, path: &str, body: &Value) -> reqwest::Response {
    server
        .client
        .post(server.at(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

#[allow(clippy::too_many_lines, reason = "one scenario, told in order")]
async fn the_done_when_path(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;

    // A staff administrator with a password.
    let alice = json_of(
        post(
            &server,
            &admin,
            "/api/v1/users",
            &json!({"name": "alice@example.com", "kind": "staff", "password": PASSWORD,
                    "temporary_password": false, "display_name": "Alice"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(alice["state"], "active");
    json_of(
        post(
            &server,
            &admin,
            "/api/v1/grants",
            &json!({"user": "alice@example.com", "role": "security-admin", "scope": "global"}),
        )
        .await,
        201,
    )
    .await;

    // Log in: the session cookie is HttpOnly, Secure, SameSite=Strict;
    // TOTP enrolment is forced before anything else.
    let response = server
        .client
        .post(server.at("/api/v1/auth/login"))
        .json(&json!({"name": "ALICE@example.com", "password": PASSWORD, "return_token": true}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in [
        "rempart_session=rmp_ses_",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let login = json_of(response, 200).await;
    assert_eq!(login["stage"], "enrol_mfa");
    let session = login["token"].as_str().unwrap().to_owned();
    let early = server
        .client
        .get(server.at("/api/v1/tenants"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    let early = json_of(early, 403).await;
    assert!(
        early["type"]
            .as_str()
            .unwrap()
            .ends_with("login-incomplete")
    );

    let enrolment = json_of(
        post(&server, &session, "/api/v1/mfa/totp", &json!({})).await,
        200,
    )
    .await;
    let uri = enrolment["uri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("otpauth://totp/Rempart:alice%40example.com?"),
        "{uri}"
    );
    let codes = json_of(
        post(
            &server,
            &session,
            "/api/v1/mfa/totp/confirm",
            &json!({"code": code_now(&server, &uri)}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(codes["recovery_codes"].as_array().unwrap().len(), 10);

    // Logged in: Alice creates a tenant and one of its users, and gives
    // them a role.
    let acme = json_of(
        post(
            &server,
            &session,
            "/api/v1/tenants",
            &json!({"name": "Acme", "region": "eu", "environment": "production"}),
        )
        .await,
        201,
    )
    .await;
    let acme_id = acme["id"].as_str().unwrap();
    json_of(
        post(
            &server,
            &session,
            "/api/v1/users",
            &json!({"name": "bob@acme.test", "kind": "tenant_user", "tenant": acme_id}),
        )
        .await,
        201,
    )
    .await;
    let granted = json_of(
        post(
            &server,
            &session,
            "/api/v1/grants",
            &json!({"user": "bob@acme.test", "role": "tenant-member", "scope": format!("tenant:{acme_id}")}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(granted["permissions"], json!(["tenant.read"]));

    // Separation of duties: Alice is a security administrator; the
    // auditor role is refused to her, naming the rule.
    let refused = json_of(
        post(
            &server,
            &admin,
            "/api/v1/grants",
            &json!({"user": "alice@example.com", "role": "auditor", "scope": "global"}),
        )
        .await,
        403,
    )
    .await;
    assert!(refused["type"].as_str().unwrap().ends_with("rule-refused"));
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("separation-of-duties"),
        "{refused}"
    );

    // The browser path: the cookie authenticates reads; a change from
    // another origin is refused.
    let pair = cookie.split(';').next().unwrap().to_owned();
    let sessions = server
        .client
        .get(server.at("/api/v1/sessions"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    let sessions = json_of(sessions, 200).await;
    assert_eq!(sessions["sessions"][0]["current"], true);
    let forged = server
        .client
        .post(server.at("/api/v1/auth/logout"))
        .header("cookie", &pair)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    json_of(forged, 403).await;
    let logout = server
        .client
        .post(server.at("/api/v1/auth/logout"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let after = server
        .client
        .get(server.at("/api/v1/tenants"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

async fn refusals_are_clear_and_alike(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    json_of(
        post(
            &server,
            &admin,
            "/api/v1/users",
            &json!({"name": "carol", "kind": "staff", "password": PASSWORD, "temporary_password": false}),
        )
        .await,
        201,
    )
    .await;
    let mut answers = Vec::new();
    for name in ["carol", "nobody"] {
        let response = server
            .client
            .post(server.at("/api/v1/auth/login"))
            .json(&json!({"name": name, "password": "wrong-password-1"}))
            .send()
            .await
            .unwrap();
        let mut body = json_of(response, 401).await;
        body.as_object_mut().unwrap().remove("instance");
        answers.push(body);
    }
    assert_eq!(answers[0], answers[1]);

    let weak = json_of(
        post(
            &server,
            &admin,
            "/api/v1/users",
            &json!({"name": "dave", "kind": "staff", "password": "password"}),
        )
        .await,
        422,
    )
    .await;
    assert!(weak["type"].as_str().unwrap().ends_with("password-refused"));
    let rules: Vec<&str> = weak["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        rules.iter().any(|r| r.contains("common or breached")),
        "{rules:?}"
    );
    assert!(rules.iter().any(|r| r.contains("at least 12")), "{rules:?}");

    for (body, field) in [
        (
            json!({"user": "carol", "role": "no such role", "scope": "global"}),
            "role",
        ),
        (
            json!({"user": "carol", "role": "auditor", "scope": "galaxy"}),
            "scope",
        ),
        (
            json!({"user": "carol", "role": "wizard", "scope": "global"}),
            "role",
        ),
    ] {
        let bad = json_of(post(&server, &admin, "/api/v1/grants", &body).await, 422).await;
        assert_eq!(bad["errors"][0]["field"], field, "{bad}");
    }
    let forged = server
        .client
        .get(server.at("/api/v1/tenants"))
        .header("cookie", "rempart_session=rmp_ses_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

/// Asserts a 429 `locked-out` with a `Retry-After` of whole seconds, at
/// least one and at most `limit`; answers it.
async fn locked_out(response: reqwest::Response, limit: u64) -> u64 {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=limit).contains(&retry), "Retry-After: {retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "https://rempart.dev/problems/locked-out");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&retry.to_string()),
        "{body}"
    );
    retry
}

/// Every refusal by a limit is a 429 with `Retry-After` from the
/// lockout's end: the login name's lockout, the source's, and step-up
/// while the account is locked; and the OpenAPI document says so.
async fn limits_say_when_to_retry(engine: Engine) {
    let Some(server) = TestServer::start_with(engine, |config| {
        config.identity.source_attempts = 8;
    })
    .await
    else {
        return;
    };
    let admin = server.admin_token().await;
    json_of(
        post(
            &server,
            &admin,
            "/api/v1/users",
            &json!({"name": "bob@example.com", "kind": "staff", "password": PASSWORD,
                    "temporary_password": false, "display_name": "Bob"}),
        )
        .await,
        201,
    )
    .await;
    let login = |name: &str, password: &str| {
        server
            .client
            .post(server.at("/api/v1/auth/login"))
            .json(&json!({"name": name, "password": password, "return_token": true}))
            .send()
    };
    let session = json_of(login("bob@example.com", PASSWORD).await.unwrap(), 200).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let lockout = server.core.identity().config().lockout_secs;
    for _ in 0..5 {
        let wrong = login("bob@example.com", "wrong-password-1").await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // The name's lockout: the right password waits too.
    locked_out(login("bob@example.com", PASSWORD).await.unwrap(), lockout).await;
    // Step-up from a session opened before the lockout waits as well.
    let step_up = post(
        &server,
        &session,
        "/api/v1/auth/step-up",
        &json!({"password": PASSWORD}),
    )
    .await;
    locked_out(step_up, lockout).await;
    // The source's lockout: eight failures from one address, whatever
    // the names (five counted above, three more here).
    for name in ["carol@example.com", "dan@example.com", "erin@example.com"] {
        let wrong = login(name, "wrong-password-1").await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    locked_out(login("frank@example.com", "x").await.unwrap(), lockout).await;

    // Documented: every 429 in the OpenAPI document carries Retry-After,
    // and every route a lockout refuses documents its 429.
    let doc: Value = server
        .client
        .get(server.at("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut with_429 = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(answer) = operation["responses"].get("429") {
                assert!(
                    answer["headers"].get("Retry-After").is_some(),
                    "{method} {path}: {answer}"
                );
                with_429.push(format!("{method} {path}"));
            }
        }
    }
    for route in [
        "post /api/v1/auth/login",
        "post /api/v1/auth/second-factor",
        "post /api/v1/auth/step-up",
        "post /api/v1/auth/webauthn/start",
        "post /api/v1/auth/webauthn/finish",
        "post /api/v1/sys/unseal",
    ] {
        assert!(with_429.iter().any(|r| r == route), "{route}: {with_429:?}");
    }
}

/// Invariant 8 and the last administrator over HTTP: a token cut to one
/// tenant and `tenant.read` asking `POST /api/v1/tokens` for every
/// permission of its holder, unbound, or for another tenant, is refused
/// (`rule-refused`, naming `no-escalation`); the only administrator
/// deleting its own `security-admin` grant is refused
/// (`last-administrator`) and keeps it.
#[allow(clippy::too_many_lines, reason = "one scenario, told in order")]
async fn authority_never_widens_over_http(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    let mut tenants = Vec::new();
    for name in ["Acme", "Bolt"] {
        let tenant = json_of(
            post(
                &server,
                &admin,
                "/api/v1/tenants",
                &json!({"name": name, "region": "eu", "environment": "production"}),
            )
            .await,
            201,
        )
        .await;
        tenants.push(tenant["id"].as_str().unwrap().to_owned());
    }
    let cut = json_of(
        post(
            &server,
            &admin,
            "/api/v1/tokens",
            &json!({"name": "reader", "tenant": tenants[0], "permissions": ["tenant.read"]}),
        )
        .await,
        201,
    )
    .await;
    let cut = cut["token"].as_str().unwrap().to_owned();
    for body in [
        json!({"name": "wider"}),
        json!({"name": "wider", "permissions": ["tenant.read"]}),
        json!({"name": "wider", "tenant": tenants[0], "permissions": ["tenant.read", "user.read"]}),
    ] {
        let refused = json_of(post(&server, &cut, "/api/v1/tokens", &body).await, 403).await;
        assert!(
            refused["type"].as_str().unwrap().ends_with("rule-refused"),
            "{refused}"
        );
        assert!(
            refused["detail"]
                .as_str()
                .unwrap()
                .contains("no-escalation"),
            "{refused}"
        );
    }
    // Another tenant is outside the cut: it answers as a tenant that does
    // not exist.
    let unseen = json_of(
        post(
            &server,
            &cut,
            "/api/v1/tokens",
            &json!({"name": "wider", "tenant": tenants[1], "permissions": ["tenant.read"]}),
        )
        .await,
        404,
    )
    .await;
    assert!(
        unseen["type"]
            .as_str()
            .unwrap()
            .ends_with("tenant-not-found"),
        "{unseen}"
    );
    json_of(
        post(
            &server,
            &cut,
            "/api/v1/tokens",
            &json!({"name": "narrower", "tenant": tenants[0], "permissions": ["tenant.read"], "expires_in_days": 1}),
        )
        .await,
        201,
    )
    .await;

    // The only administrator keeps its own grant.
    let me = json_of(
        server
            .client
            .get(server.at("/api/v1/auth/whoami"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let grants = json_of(
        server
            .client
            .get(server.at(&format!(
                "/api/v1/users/{}/grants",
                me["id"].as_str().unwrap()
            )))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let grant = grants["grants"][0]["id"].as_str().unwrap().to_owned();
    let delete = || async {
        server
            .client
            .delete(server.at(&format!("/api/v1/grants/{grant}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
    };
    let refused = json_of(delete().await, 403).await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("last-administrator"),
        "{refused}"
    );
    assert_eq!(
        server
            .client
            .get(server.at("/api/v1/tenants"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK,
        "still administering"
    );
}

both_engines!(
    the_done_when_path,
    refusals_are_clear_and_alike,
    limits_say_when_to_retry,
    authority_never_widens_over_http
);

/// Deny by default: every documented operation either declares how it is
/// authenticated (and then refuses a request without a credential), or is
/// one of the few public ones, listed here.
#[tokio::test]
async fn every_route_declares_its_access() {
    const PUBLIC: &[&str] = &[
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /api/v1/openapi.json",
        "POST /api/v1/bootstrap",
        "POST /api/v1/auth/login",
        "GET /api/v1/sys/seal-status",
        "POST /api/v1/sys/unseal",
    ];
    let server = TestServer::start(Engine::Sqlite).await.unwrap();
    let doc: Value = server
        .client
        .get(server.at("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut secured = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            let declared = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            if !declared {
                assert!(
                    PUBLIC.contains(&name.as_str()),
                    "{name} declares no security"
                );
                continue;
            }
            secured += 1;
            let concrete = path
                .replace("{seq}", "1")
                .replace("{id}", "00000000-0000-0000-0000-000000000000")
                .replace("{user}", "someone")
                .replace("{environment}", "production")
                .replace("{tenant}", "00000000-0000-0000-0000-000000000000");
            let response = server
                .client
                .request(
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    server.at(&concrete),
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{name} answers without a credential"
            );
        }
    }
    assert!(secured > 20, "{secured}");
    server.stop().await;
}
