//! Source addresses and transports end to end: `X-Forwarded-For` and
//! `X-Forwarded-Proto` believed only from `server.trusted_proxies`, the
//! audit log recording the effective client, and credentials refused over
//! plain HTTP from another machine (the bootstrap exchange).

use std::net::IpAddr;

use rempart_model::AllowList;
use rempart_testkit::http::{Answer, Http as _, send};
use rempart_testkit::{Engine, TestServer};
use reqwest::Method;
use serde_json::json;

/// The bootstrap exchange through `client`, saying `X-Forwarded-For` and
/// `X-Forwarded-Proto` when given.
async fn exchange(
    server: &TestServer,
    client: &reqwest::Client,
    forwarded_for: Option<&str>,
    proto: Option<&str>,
) -> Answer {
    let mut request = client.post(server.at("/api/v1/bootstrap")).json(
        &json!({"credential": server.bootstrap_secret(), "administrator": "admin@example.com"}),
    );
    for (name, value) in [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-proto", proto),
    ] {
        if let Some(value) = value {
            request = request.header(name, value);
        }
    }
    send(request).await
}

/// Sources as [`sources`] lists them.
fn some(sources: &[&str]) -> Vec<Option<String>> {
    sources.iter().map(|s| Some((*s).to_owned())).collect()
}

/// The `source` of every audit event with `action`.
async fn sources(server: &TestServer, action: &str) -> Vec<Option<String>> {
    server
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.source)
        .collect()
}

fn refused_over_plain_http(answer: &Answer) {
    let body = answer.problem(403, "/insecure-transport");
    assert_eq!(
        body["type"],
        "https://rempart.dev/problems/insecure-transport"
    );
    assert_eq!(body["title"], "Credentials over plain HTTP refused");
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let server = TestServer::start(Engine::Sqlite).await.unwrap();
    let response = exchange(&server, &server.client, Some("198.51.100.7"), Some("http")).await;
    // Loopback passes, whatever the headers say; the peer is the source.
    assert_eq!(response.status, 201);
    assert_eq!(
        sources(&server, "bootstrap.exchange").await,
        some(&["127.0.0.1"])
    );
    server.stop().await;
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_and_its_transport() {
    // The test client plays the proxy: it connects from 127.0.0.1.
    let server = TestServer::start_with(Engine::Sqlite, |config| {
        config.server.trusted_proxies = AllowList::parse(["127.0.0.1", "10.0.0.0/8"]).unwrap();
    })
    .await
    .unwrap();
    let before = server.audit_events().await.len();

    // The proxy says its client spoke plain HTTP from afar: refused, and
    // nothing changed (the credential still works below).
    let response = exchange(&server, &server.client, Some("198.51.100.7"), Some("http")).await;
    refused_over_plain_http(&response);
    // A silent proxy in front of a plain listener: plain, refused.
    let response = exchange(&server, &server.client, Some("198.51.100.7"), None).await;
    refused_over_plain_http(&response);
    assert_eq!(server.audit_events().await.len(), before);

    // Over HTTPS to the proxy: accepted; the client is the rightmost
    // address that is not a trusted proxy, not what the client wrote itself.
    let response = exchange(
        &server,
        &server.client,
        Some("203.0.113.66, 198.51.100.7, 10.1.2.3"),
        Some("https"),
    )
    .await;
    assert_eq!(response.status, 201);
    assert_eq!(
        sources(&server, "bootstrap.exchange").await,
        some(&["198.51.100.7"])
    );
    // And for an authenticated request too.
    let token = response.json()["token"].as_str().unwrap().to_owned();
    let listed = |from: &str| {
        send(
            server
                .request(Method::GET, &token, "/api/v1/tenants")
                .header("x-forwarded-for", from),
        )
    };
    assert_eq!(listed("2001:db8::77").await.status, 200);
    assert_eq!(
        sources(&server, "tenant.list").await,
        some(&["2001:db8::77"])
    );
    // A malformed header leaves the peer.
    listed("198.51.100.7, not-an-address").await;
    let listed = sources(&server, "tenant.list").await;
    assert_eq!(listed, some(&["2001:db8::77", "127.0.0.1"]));
    server.stop().await;
}

/// A local address that is not loopback, if the machine has one: the
/// address a UDP socket would send from (no packet is sent).
fn non_loopback_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("203.0.113.1:9").ok()?;
    let addr = socket.local_addr().ok()?.ip();
    (!addr.is_loopback() && !addr.is_unspecified()).then_some(addr)
}

#[tokio::test]
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
async fn credentials_over_plain_http_from_another_machine_are_refused() {
    let Some(address) = non_loopback_address() else {
        eprintln!("skipped: this machine has no non-loopback address to connect from");
        return;
    };
    // Listening on a non-loopback address without TLS needs a declared
    // proxy; the test connects directly, not through it.
    let server = TestServer::start_with(Engine::Sqlite, |config| {
        config.server.listen = (address, 0).into();
        config.server.behind_tls_proxy = true;
        config.server.trusted_proxies = AllowList::parse(["10.255.255.1"]).unwrap();
    })
    .await
    .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let before = server.audit_events().await.len();

    refused_over_plain_http(&exchange(&server, &client, None, None).await);
    // An untrusted peer cannot claim TLS or loopback.
    refused_over_plain_http(&exchange(&server, &client, Some("127.0.0.1"), Some("https")).await);
    assert_eq!(
        server.audit_events().await.len(),
        before,
        "nothing recorded or changed"
    );
    let mut tx = server.store.begin().await.unwrap();
    assert_eq!(tx.count_principals().await.unwrap(), 0);
    drop(tx);

    // Routes that carry no credential still answer.
    let health = send(client.get(server.at("/healthz"))).await;
    assert_eq!(health.status, 200);
    server.stop().await;

    // The same address listed as a trusted proxy that says https: accepted,
    // and the audit log records the client it names.
    let server = TestServer::start_with(Engine::Sqlite, |config| {
        config.server.listen = (address, 0).into();
        config.server.behind_tls_proxy = true;
        config.server.trusted_proxies = AllowList::parse([address.to_string()]).unwrap();
    })
    .await
    .unwrap();
    let response = exchange(&server, &client, Some("198.51.100.9"), Some("https")).await;
    assert_eq!(response.status, 201);
    assert_eq!(
        sources(&server, "bootstrap.exchange").await,
        some(&["198.51.100.9"])
    );
    server.stop().await;
}
