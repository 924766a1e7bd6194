//! The API contract end to end: every operation the OpenAPI document lists
//! is sent the requests its extractors refuse (no credential, a malformed
//! one, a cookie from another origin, a body that is not JSON, not sent as
//! JSON, of the wrong shape or too large, path parameters that do not parse
//! or name nothing, query parameters that do not parse), and each answer's
//! status must be one the operation documents, as a problem document.
//! None of these requests reaches a handler that changes anything.

use rempart_testkit::http::{ANONYMOUS, Http as _, operations, send};
use rempart_testkit::{Engine, TestServer, both_engines};
use reqwest::Method;
use serde_json::Value;

/// What one probe sends.
struct Probe {
    what: String,
    method: Method,
    path: String,
    query: Option<String>,
    token: bool,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
}

/// The path with each parameter replaced by `value(name)`.
fn fill(path: &str, value: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(&value(&rest[start + 1..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A value of a parameter's type that names nothing.
fn absent_value(operation: &Value, name: &str) -> String {
    let schema = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| p["schema"].clone())
        .unwrap();
    let reference = schema["$ref"].as_str().unwrap_or_default();
    if schema["type"] == "integer" || reference.ends_with("/SeqNumber") {
        "9000000000".to_owned()
    } else {
        uuid::Uuid::new_v4().to_string()
    }
}

fn probes(path: &str, method: &Method, operation: &Value, body_limit: usize) -> Vec<Probe> {
    let params = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let query_params: Vec<String> = params
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let takes_path = params.iter().any(|p| p["in"] == "path");
    let takes_body = operation.get("requestBody").is_some();
    let absent = fill(path, &|name| absent_value(operation, name));
    let probe = |what: &str, token: bool| Probe {
        what: what.to_owned(),
        method: method.clone(),
        path: absent.clone(),
        query: None,
        token,
        headers: Vec::new(),
        body: None,
    };
    let json = |body: &[u8]| {
        (
            vec![("content-type", "application/json".to_owned())],
            Some(body.to_vec()),
        )
    };

    let mut out = vec![probe("no credential", false)];
    let mut p = probe("no credential, malformed JSON", false);
    (p.headers, p.body) = json(b"{");
    out.push(p);
    let mut p = probe("a malformed Authorization header", false);
    p.headers.push(("authorization", "Basic eDp5".to_owned()));
    out.push(p);
    let mut p = probe("a session cookie from another origin", false);
    p.headers
        .push(("cookie", "rempart_session=rmp_ses_unknown".to_owned()));
    p.headers
        .push(("origin", "https://elsewhere.example".to_owned()));
    out.push(p);

    if takes_body {
        let mut p = probe("malformed JSON", true);
        (p.headers, p.body) = json(b"{");
        out.push(p);
        let mut p = probe("a body without a JSON content type", true);
        p.body = Some(b"{}".to_vec());
        p.headers.push(("content-type", "text/plain".to_owned()));
        out.push(p);
        let mut p = probe("a body of the wrong shape", true);
        (p.headers, p.body) = json(b"[1]");
        out.push(p);
        let mut p = probe("an unknown field", true);
        (p.headers, p.body) = json(br#"{"no_such_field": 1}"#);
        out.push(p);
        let mut oversized = br#"{"pad": ""#.to_vec();
        oversized.resize(body_limit + 16, b'a');
        oversized.extend_from_slice(br#""}"#);
        let mut p = probe("an oversized body", true);
        (p.headers, p.body) = json(&oversized);
        out.push(p);
    }
    if takes_path {
        for bad in [
            "x",
            "%FF",
            "-1",
            "18446744073709551616",
            "9223372036854775807",
        ] {
            let mut p = probe(&format!("path parameters {bad:?}"), true);
            p.path = fill(path, &|_| bad.to_owned());
            out.push(p);
        }
        if !takes_body {
            out.push(probe("path parameters naming nothing", true));
        }
    }
    for name in &query_params {
        for bad in ["", "x", "%FF", "-1", "18446744073709551616"] {
            let mut p = probe(&format!("query {name}={bad:?}"), true);
            p.query = Some(format!("{name}={bad}"));
            out.push(p);
        }
    }
    if !query_params.is_empty() {
        let mut p = probe("an unknown query parameter", true);
        p.query = Some("no_such_parameter=1".to_owned());
        out.push(p);
    }
    out
}

async fn every_answer_is_documented(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let token = server.admin_token().await;
    let doc = server.openapi().await;
    let body_limit = server.config.server.body_limit_bytes;
    let mut sent = 0;
    let mut undocumented = Vec::new();
    for (method, path, operation) in operations(&doc) {
        let documented = operation["responses"].as_object().unwrap();
        for probe in probes(path, &method, operation, body_limit) {
            let mut target = probe.path;
            if let Some(query) = &probe.query {
                target = format!("{target}?{query}");
            }
            let caller = if probe.token {
                token.as_str()
            } else {
                ANONYMOUS
            };
            let mut request = server.request(probe.method, caller, &target);
            for (name, value) in &probe.headers {
                request = request.header(*name, value);
            }
            if let Some(body) = probe.body {
                request = request.body(body);
            }
            let answer = send(request).await;
            sent += 1;
            let status = answer.status;
            let problem_json = answer
                .headers
                .get("content-type")
                .is_some_and(|v| v == "application/problem+json");
            if !documented.contains_key(&status.to_string()) {
                undocumented.push(format!(
                    "{method} {path} ({}): {status} {}",
                    probe.what, answer.text
                ));
            } else if status >= 400 && !problem_json {
                undocumented.push(format!(
                    "{method} {path} ({}): {status} is not a problem document",
                    probe.what
                ));
            }
        }
    }
    assert!(sent > 300, "only {sent} probes sent");
    assert!(
        undocumented.is_empty(),
        "{} answers are not documented by their operation:\n{}",
        undocumented.len(),
        undocumented.join("\n")
    );
    server.stop().await;
}

both_engines!(every_answer_is_documented);
