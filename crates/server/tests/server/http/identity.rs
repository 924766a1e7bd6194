//! Identity over HTTP: the end-to-end identity path through the API, on
//! both engines. Bootstrap, a staff administrator with a password and
//! TOTP, login, a tenant user with a role, and a separation-of-duty rule
//! refusing a conflicting grant; plus cookies, CSRF, enumeration, policy
//! refusals, and the rule that every route declares its access.

use rempart_testkit::http::{ANONYMOUS, Answer, Http as _, operations, send, tenant};
use rempart_testkit::{Engine, PASSWORD, TestServer, both_engines};
use reqwest::Method;
use serde_json::{Value, json};

use super::probe;

/// The TOTP code of `uri` at the server's clock.
fn code_now(server: &TestServer, uri: &str) -> String {
    let totp = totp_rs::Totp::from_url(uri).unwrap();
    let now = u64::try_from(server.core.clock().now().unix_timestamp()).unwrap();
    totp.generate(now).to_string()
}

#[allow(clippy::too_many_lines, reason = "one scenario, told in order")]
async fn the_done_when_path(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;

    // A staff administrator with a password.
    let alice = json!({"name": "alice@example.com", "kind": "staff", "password": PASSWORD,
                       "temporary_password": false, "display_name": "Alice"});
    let alice = server
        .post(&admin, "/api/v1/users", &alice)
        .await
        .expect(201);
    assert_eq!(alice["state"], "active");
    let grant = json!({"user": "alice@example.com", "role": "security-admin", "scope": "global"});
    server
        .post(&admin, "/api/v1/grants", &grant)
        .await
        .expect(201);

    // Log in: the session cookie is HttpOnly, Secure, SameSite=Strict;
    // TOTP enrolment is forced before anything else.
    let response = server
        .post(
            ANONYMOUS,
            "/api/v1/auth/login",
            &json!({"name": "ALICE@example.com", "password": PASSWORD, "return_token": true}),
        )
        .await;
    let cookie = response.header("set-cookie").to_owned();
    for attribute in [
        "rempart_session=rmp_ses_",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let login = response.expect(200);
    assert_eq!(login["stage"], "enrol_mfa");
    let session = login["token"].as_str().unwrap().to_owned();
    server
        .get(&session, "/api/v1/tenants")
        .await
        .problem(403, "login-incomplete");

    let enrolment = server
        .post(&session, "/api/v1/mfa/totp", &json!({}))
        .await
        .expect(200);
    let uri = enrolment["uri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("otpauth://totp/Rempart:alice%40example.com?"),
        "{uri}"
    );
    let code = json!({"code": code_now(&server, &uri)});
    let codes = server
        .post(&session, "/api/v1/mfa/totp/confirm", &code)
        .await
        .expect(200);
    assert_eq!(codes["recovery_codes"].as_array().unwrap().len(), 10);

    // Logged in: Alice creates a tenant and one of its users, and gives
    // them a role.
    let acme = server
        .post(&session, "/api/v1/tenants", &tenant("Acme", "eu"))
        .await
        .expect(201);
    let acme_id = acme["id"].as_str().unwrap();
    let bob = json!({"name": "bob@acme.test", "kind": "tenant_user", "tenant": acme_id});
    server
        .post(&session, "/api/v1/users", &bob)
        .await
        .expect(201);
    let grant = json!({"user": "bob@acme.test", "role": "tenant-member", "scope": format!("tenant:{acme_id}")});
    let granted = server
        .post(&session, "/api/v1/grants", &grant)
        .await
        .expect(201);
    assert_eq!(granted["permissions"], json!(["tenant.read"]));

    // Separation of duties: Alice is a security administrator; the
    // auditor role is refused to her, naming the rule.
    let grant = json!({"user": "alice@example.com", "role": "auditor", "scope": "global"});
    server.post(&admin, "/api/v1/grants", &grant).await.refusal(
        403,
        "rule-refused",
        "separation-of-duties",
    );

    // The browser path: the cookie authenticates reads; a change from
    // another origin is refused.
    let pair = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = |method: Method, path: &str| {
        server
            .request(method, ANONYMOUS, path)
            .header("cookie", &pair)
    };
    let sessions = send(with_cookie(Method::GET, "/api/v1/sessions"))
        .await
        .expect(200);
    assert_eq!(sessions["sessions"][0]["current"], true);
    let forged =
        with_cookie(Method::POST, "/api/v1/auth/logout").header("origin", "https://evil.example");
    send(forged).await.expect(403);
    let logout = send(with_cookie(Method::POST, "/api/v1/auth/logout")).await;
    assert_eq!(logout.status, 204);
    let after = server.get(&session, "/api/v1/tenants").await;
    assert_eq!(after.status, 401);
    server.stop().await;
}

async fn refusals_are_clear_and_alike(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    server.new_staff(&admin, "carol").await;
    let mut answers = Vec::new();
    for name in ["carol", "nobody"] {
        let wrong = json!({"name": name, "password": "wrong-password-1"});
        let mut body = server
            .post(ANONYMOUS, "/api/v1/auth/login", &wrong)
            .await
            .expect(401);
        body.as_object_mut().unwrap().remove("instance");
        answers.push(body);
    }
    assert_eq!(answers[0], answers[1]);

    let weak = json!({"name": "dave", "kind": "staff", "password": "password"});
    let weak = server
        .post(&admin, "/api/v1/users", &weak)
        .await
        .problem(422, "password-refused");
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
        let bad = server
            .post(&admin, "/api/v1/grants", &body)
            .await
            .expect(422);
        assert_eq!(bad["errors"][0]["field"], field, "{bad}");
    }
    let forged = server
        .request(Method::GET, ANONYMOUS, "/api/v1/tenants")
        .header("cookie", "rempart_session=rmp_ses_forged");
    assert_eq!(send(forged).await.status, 401);
    server.stop().await;
}

/// Asserts a 429 `locked-out` with a `Retry-After` of whole seconds, at
/// least one and at most `limit`; answers it.
fn locked_out(answer: &Answer, limit: u64) -> u64 {
    let body = answer.expect(429);
    let retry: u64 = answer.header("retry-after").parse().unwrap();
    assert!((1..=limit).contains(&retry), "Retry-After: {retry}");
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
    let bob = json!({"name": "bob@example.com", "kind": "staff", "password": PASSWORD,
                     "temporary_password": false, "display_name": "Bob"});
    server.post(&admin, "/api/v1/users", &bob).await.expect(201);
    let login = |name: &str, password: &str| {
        server.post(
            ANONYMOUS,
            "/api/v1/auth/login",
            &json!({"name": name, "password": password, "return_token": true}),
        )
    };
    let session = server.login("bob@example.com", PASSWORD).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let lockout = server.core.identity().config().lockout_secs;
    for _ in 0..5 {
        let wrong = login("bob@example.com", "wrong-password-1").await;
        assert_eq!(wrong.status, 401);
    }
    // The name's lockout: the right password waits too.
    locked_out(&login("bob@example.com", PASSWORD).await, lockout);
    // Step-up from a session opened before the lockout waits as well.
    let step_up = server
        .post(
            &session,
            "/api/v1/auth/step-up",
            &json!({"password": PASSWORD}),
        )
        .await;
    locked_out(&step_up, lockout);
    // The source's lockout: eight failures from one address, whatever
    // the names (five counted above, three more here).
    for name in ["carol@example.com", "dan@example.com", "erin@example.com"] {
        let wrong = login(name, "wrong-password-1").await;
        assert_eq!(wrong.status, 401);
    }
    locked_out(&login("frank@example.com", "x").await, lockout);

    // Documented: every 429 in the OpenAPI document carries Retry-After,
    // and every route a lockout refuses documents its 429.
    let doc = server.openapi().await;
    let mut with_429 = Vec::new();
    for (method, path, operation) in operations(&doc) {
        if let Some(answer) = operation["responses"].get("429") {
            assert!(
                answer["headers"].get("Retry-After").is_some(),
                "{method} {path}: {answer}"
            );
            with_429.push(format!("{method} {path}"));
        }
    }
    for route in [
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/second-factor",
        "POST /api/v1/auth/step-up",
        "POST /api/v1/auth/webauthn/start",
        "POST /api/v1/auth/webauthn/finish",
        "POST /api/v1/sys/unseal",
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
async fn authority_never_widens_over_http(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let admin = server.admin_token().await;
    let tenants = server.tenants(&admin, &["Acme", "Bolt"]).await;
    let cut = json!({"name": "reader", "tenant": tenants[0], "permissions": ["tenant.read"]});
    let cut = server
        .post(&admin, "/api/v1/tokens", &cut)
        .await
        .expect(201);
    let cut = cut["token"].as_str().unwrap().to_owned();
    for body in [
        json!({"name": "wider"}),
        json!({"name": "wider", "permissions": ["tenant.read"]}),
        json!({"name": "wider", "tenant": tenants[0], "permissions": ["tenant.read", "user.read"]}),
    ] {
        server.post(&cut, "/api/v1/tokens", &body).await.refusal(
            403,
            "rule-refused",
            "no-escalation",
        );
    }
    // Another tenant is outside the cut: it answers as a tenant that does
    // not exist.
    let other = json!({"name": "wider", "tenant": tenants[1], "permissions": ["tenant.read"]});
    server
        .post(&cut, "/api/v1/tokens", &other)
        .await
        .problem(404, "tenant-not-found");
    let narrower = json!({"name": "narrower", "tenant": tenants[0], "permissions": ["tenant.read"], "expires_in_days": 1});
    server
        .post(&cut, "/api/v1/tokens", &narrower)
        .await
        .expect(201);

    // The only administrator keeps its own grant.
    let me = server.get(&admin, "/api/v1/auth/whoami").await.expect(200);
    let me = me["id"].as_str().unwrap();
    let grants = server
        .get(&admin, &format!("/api/v1/users/{me}/grants"))
        .await
        .expect(200);
    let grant = grants["grants"][0]["id"].as_str().unwrap();
    server
        .delete(&admin, &format!("/api/v1/grants/{grant}"))
        .await
        .refusal(403, "rule-refused", "last-administrator");
    assert_eq!(
        server.get(&admin, "/api/v1/tenants").await.status,
        200,
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
    let doc = server.openapi().await;
    let mut secured = 0;
    for (method, path, operation) in operations(&doc) {
        let name = format!("{method} {path}");
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
        assert_eq!(
            probe(&server, method, &concrete).await.status,
            401,
            "{name} answers without a credential"
        );
    }
    assert!(secured > 20, "{secured}");
    server.stop().await;
}
