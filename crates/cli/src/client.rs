//! The API client behind administration commands. Problem documents from
//! the server become one-line errors; a token is sent only as a bearer
//! header and never printed.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use rempart_api::problem::Problem;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ClientArgs;
use crate::profile::{self, Profile};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8700";

#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<SecretString>,
}

impl Client {
    /// A client without a token (for the bootstrap exchange).
    pub fn anonymous(server: &str, ca_cert: Option<&Path>) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("rempart-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = ca_cert {
            let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        let base = server.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("the server address must start with http:// or https://, found {base:?}");
        }
        Ok(Self {
            http: builder.build().context("cannot build the HTTP client")?,
            base,
            token: None,
        })
    }

    /// A client for the server and token from flags, environment or the
    /// profile, in that order.
    pub fn from_args(args: &ClientArgs) -> anyhow::Result<Self> {
        let stored = profile::load(&args.profile)?;
        let (server, ca) = server_of(args, stored.as_ref());
        let token = match std::env::var("REMPART_TOKEN") {
            Ok(t) if !t.is_empty() => SecretString::from(t),
            _ => stored.map(|p| p.token).ok_or_else(|| {
                anyhow!(
                    "no API token: run `rempart bootstrap` first, or set REMPART_TOKEN (profile {:?} not found in {})",
                    args.profile,
                    profile::path().map(|p| p.display().to_string()).unwrap_or_default()
                )
            })?,
        };
        let mut client = Self::anonymous(&server, ca.as_deref())?;
        client.token = Some(token);
        Ok(client)
    }

    pub async fn get<R: DeserializeOwned>(&self, path: &str) -> anyhow::Result<R> {
        self.send::<(), (), R>(Method::GET, path, None, None, &[])
            .await
    }

    /// A GET with query parameters (one of the API's query types; its
    /// absent fields are left out).
    pub async fn get_with<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> anyhow::Result<R> {
        self.send::<Q, (), R>(Method::GET, path, Some(query), None, &[])
            .await
    }

    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<R> {
        self.send::<(), B, R>(Method::POST, path, None, Some(body), &[])
            .await
    }

    /// A POST to an operation that takes no body.
    pub async fn post_empty<R: DeserializeOwned>(&self, path: &str) -> anyhow::Result<R> {
        self.send::<(), (), R>(Method::POST, path, None, None, &[])
            .await
    }

    pub async fn put<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<R> {
        self.send::<(), B, R>(Method::PUT, path, None, Some(body), &[])
            .await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        self.send::<(), (), ()>(Method::DELETE, path, None, None, &[])
            .await
    }

    /// Uses `token` from now on (a session secret after login).
    pub fn with_token(mut self, token: SecretString) -> Self {
        self.token = Some(token);
        self
    }

    /// Any request: query parameters, a JSON body and request headers
    /// besides the credential (a conditional write's `If-Match`) when given.
    pub async fn send<Q: Serialize, B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
        headers: &[(&'static str, String)],
    ) -> anyhow::Result<R> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose_secret());
        }
        if let Some(query) = query {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            anyhow!(
                "cannot reach the server at {}: {} (is `rempart serve` running there?)",
                self.base,
                root_cause(&e)
            )
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .context("the server's answer was cut short")?;
        if status.is_success() {
            // 204 No Content: an empty answer reads as JSON null.
            let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(body)
                .context("the server's answer is not the expected JSON");
        }
        Err(problem_error(status, &bytes))
    }
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn problem_error(status: StatusCode, body: &[u8]) -> anyhow::Error {
    match serde_json::from_slice::<Problem>(body) {
        Ok(Problem { title, detail, .. }) if detail.is_empty() => {
            anyhow!("{title} ({})", status.as_u16())
        }
        Ok(Problem { title, detail, .. }) => {
            anyhow!("{title} ({}): {detail}", status.as_u16())
        }
        Err(_) => anyhow!("the server answered {status}"),
    }
}

/// The server to call and the CA certificate to trust for it: from the
/// flags or the environment, else from the `stored` profile, else the
/// default server.
pub fn server_of(args: &ClientArgs, stored: Option<&Profile>) -> (String, Option<PathBuf>) {
    let server = args
        .server
        .clone()
        .or_else(|| stored.map(|p| p.server.clone()))
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let ca = args
        .ca_cert
        .clone()
        .or_else(|| stored.and_then(|p| p.ca_cert.clone()));
    (server, ca)
}
