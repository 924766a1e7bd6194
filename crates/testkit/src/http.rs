//! Requests to a running server as a test makes them, and its answers read
//! in full: one call sends a request as a caller (a bearer token, or none)
//! with an optional JSON body; the [`Answer`] then asserts what the test
//! expects of it (a status and its JSON body, or a problem document of a
//! kind).

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failure fails the test"
)]
#![allow(
    clippy::indexing_slicing,
    reason = "a JSON value indexed by a name it lacks is null, never a panic"
)]

use std::future::Future;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::PASSWORD;

/// The token of a caller without a credential: no `Authorization` header.
pub const ANONYMOUS: &str = "";

/// What a request answered, read in full.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    /// Reads `response` to its end.
    ///
    /// # Panics
    ///
    /// When the body cannot be read.
    pub async fn read(response: Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("the answer's body");
        Self {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When the body is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "the answer ({}) is not JSON ({e}): {:?}",
                self.status, self.text
            )
        })
    }

    /// The body as JSON, or as a JSON string of its text when it is not
    /// JSON (for answers compared or shown whatever they hold).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| Value::String(self.text.clone()))
    }

    /// Asserts the status; the body, as JSON.
    ///
    /// # Panics
    ///
    /// When the status is another, or the body is not JSON.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        self.json()
    }

    /// A header's value.
    ///
    /// # Panics
    ///
    /// When the answer has no such header, or its value is not text.
    #[track_caller]
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header: {:?}", self.headers))
            .to_str()
            .expect("a header value in text")
    }

    /// Asserts a problem document (RFC 9457) with `status`, served as
    /// `application/problem+json`, whose type ends with `kind` and whose
    /// detail says something; the document.
    ///
    /// # Panics
    ///
    /// When any of that does not hold.
    #[track_caller]
    pub fn problem(&self, status: u16, kind: &str) -> Value {
        let body = self.expect(status);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{body}"
        );
        assert_eq!(body["status"], status, "{body}");
        assert!(
            body["type"].as_str().is_some_and(|t| t.ends_with(kind)),
            "not a {kind} problem: {body}"
        );
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{body}"
        );
        body
    }

    /// Asserts a problem document as [`Answer::problem`] does, whose
    /// detail says `says`; the document.
    ///
    /// # Panics
    ///
    /// When any of that does not hold.
    #[track_caller]
    pub fn refusal(&self, status: u16, kind: &str, says: &str) -> Value {
        let body = self.problem(status, kind);
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains(says)),
            "the detail does not say {says:?}: {body}"
        );
        body
    }
}

/// Sends `request`; its answer, read in full.
///
/// # Panics
///
/// When the request cannot be sent or its answer read.
pub async fn send(request: RequestBuilder) -> Answer {
    Answer::read(request.send().await.expect("the request is sent")).await
}

/// A server a test talks to. The calls take the caller's token first
/// ([`ANONYMOUS`] for none), then the path (with its query), then the
/// JSON body if any.
pub trait Http {
    /// The client requests go through.
    fn client(&self) -> &reqwest::Client;

    /// `scheme://host:port`, which paths are appended to.
    fn base(&self) -> &str;

    /// A request to `path` as `token`, to add to before sending.
    fn request(&self, method: Method, token: &str, path: &str) -> RequestBuilder {
        let request = self
            .client()
            .request(method, format!("{}{path}", self.base()));
        if token.is_empty() {
            request
        } else {
            request.bearer_auth(token)
        }
    }

    /// Sends `method path` as `token`, with `body` as JSON if any.
    fn call(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> impl Future<Output = Answer> + Send + use<Self> {
        let mut request = self.request(method, token, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        send(request)
    }

    /// `GET path` as `token`.
    fn get(&self, token: &str, path: &str) -> impl Future<Output = Answer> + Send + use<Self> {
        self.call(Method::GET, token, path, None)
    }

    /// `POST path` as `token`, with `body` as JSON.
    fn post(
        &self,
        token: &str,
        path: &str,
        body: &Value,
    ) -> impl Future<Output = Answer> + Send + use<Self> {
        self.call(Method::POST, token, path, Some(body))
    }

    /// `DELETE path` as `token`.
    fn delete(&self, token: &str, path: &str) -> impl Future<Output = Answer> + Send + use<Self> {
        self.call(Method::DELETE, token, path, None)
    }

    /// Exchanges a bootstrap `credential` for the administrator
    /// `admin@example.com`.
    fn bootstrap(&self, credential: &str) -> impl Future<Output = Answer> + Send + use<Self> {
        self.post(
            ANONYMOUS,
            "/api/v1/bootstrap",
            &json!({"credential": credential, "administrator": "admin@example.com"}),
        )
    }

    /// Logs `name` in with `password`, asking for the session's token in
    /// the answer; asserts it succeeds and returns the answer (`token`,
    /// `stage`, `session_id`).
    fn login(&self, name: &str, password: &str) -> impl Future<Output = Value> + Send + use<Self> {
        let answer = self.post(
            ANONYMOUS,
            "/api/v1/auth/login",
            &json!({"name": name, "password": password, "return_token": true}),
        );
        async move { answer.await.expect(200) }
    }

    /// Creates the staff account `name` (see [`staff`]) as `token`: its
    /// view.
    fn new_staff(&self, token: &str, name: &str) -> impl Future<Output = Value> + Send + use<Self> {
        let answer = self.post(token, "/api/v1/users", &staff(name));
        async move { answer.await.expect(201) }
    }

    /// Creates a production tenant of each of `names`, in order, as
    /// `token`: their ids.
    ///
    /// # Panics
    ///
    /// When one is not created.
    fn tenants(
        &self,
        token: &str,
        names: &[&str],
    ) -> impl Future<Output = Vec<uuid::Uuid>> + Send + use<Self> {
        let answers: Vec<_> = names
            .iter()
            .map(|name| self.post(token, "/api/v1/tenants", &tenant(name, "eu")))
            .collect();
        async move {
            let mut ids = Vec::new();
            for answer in answers {
                let created = answer.await.expect(201);
                let id = created["id"].as_str().and_then(|id| id.parse().ok());
                ids.push(id.expect("a tenant id"));
            }
            ids
        }
    }

    /// The OpenAPI document the server serves.
    fn openapi(&self) -> impl Future<Output = Value> + Send + use<Self> {
        let answer = self.get(ANONYMOUS, "/api/v1/openapi.json");
        async move { answer.await.expect(200) }
    }
}

/// The body of `POST /api/v1/tenants` for a production tenant in `region`.
pub fn tenant(name: &str, region: &str) -> Value {
    json!({"name": name, "region": region, "environment": "production"})
}

/// The body of `POST /api/v1/users` for a staff account with the password
/// [`PASSWORD`], not a temporary one.
pub fn staff(name: &str) -> Value {
    json!({"name": name, "kind": "staff", "password": PASSWORD, "temporary_password": false})
}

/// Every operation of an OpenAPI document: its method, its path (a
/// template, such as `/api/v1/users/{user}`) and its description.
///
/// # Panics
///
/// When the document has no paths, or a method is not one.
pub fn operations(doc: &Value) -> Vec<(Method, &str, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("the document's paths") {
        for (method, operation) in item.as_object().expect("a path's operations") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            found.push((method, path.as_str(), operation));
        }
    }
    found
}

/// A server known by its address alone.
#[derive(Debug, Clone)]
pub struct Api {
    pub client: reqwest::Client,
    /// `scheme://host:port`.
    pub url: String,
}

impl Api {
    /// A new client for the server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: url.into(),
        }
    }
}

impl Http for Api {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn base(&self) -> &str {
        &self.url
    }
}
