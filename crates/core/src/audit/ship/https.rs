//! The HTTPS sink: each batch is one `POST` of JSON lines over TLS to the
//! configured URL, acknowledged by a 2xx answer.
//!
//! Only `https://` URLs without a user or password are accepted; a private
//! CA can be trusted through a PEM file (and then only it). The bearer
//! token is read from a file, sent as a sensitive header, and never
//! written to a log, an error or the audit log; the sink's identity is its
//! URL without query or fragment.

use std::path::Path;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use secrecy::{ExposeSecret as _, SecretString};

use super::sink::{Ack, Batch, CONTENT_TYPE, Sink, SinkError};
use super::{ShipError, ShipOptions};

/// Checks a sink URL: `https://`, a host, no user or password (a credential
/// goes in the token file, where it is kept out of logs).
pub fn sink_url(url: &str) -> Result<reqwest::Url, ShipError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ShipError::BadUrl(format!("it does not parse ({e})")))?;
    if parsed.scheme() != "https" {
        return Err(ShipError::BadUrl(format!(
            "the scheme is {:?}; only https:// is accepted, so that the log travels encrypted",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ShipError::BadUrl("it has no host".to_owned()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ShipError::BadUrl(
            "it carries a user or password; put the token in audit.ship_auth_header_file"
                .to_owned(),
        ));
    }
    Ok(parsed)
}

/// Checks the sink's settings (URL, CA file, token file) without a
/// database: `rempart serve` calls it before it creates anything.
pub fn check(options: &ShipOptions) -> Result<(), ShipError> {
    HttpsSink::new(options.clone()).map(|_| ())
}

/// A receiver reached by HTTPS `POST`.
pub struct HttpsSink {
    http: reqwest::Client,
    url: reqwest::Url,
    /// The URL without query or fragment.
    id: String,
    token: Option<SecretString>,
}

impl std::fmt::Debug for HttpsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsSink")
            .field("id", &self.id)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl HttpsSink {
    /// Checks the URL, CA file and token file of `options` and builds the
    /// client; nothing is sent yet. Only the sink's settings and `timeout`
    /// are used (the pacing is the shipper's).
    pub fn new(options: ShipOptions) -> Result<Self, ShipError> {
        let ShipOptions {
            url,
            ca_file,
            token_file,
            timeout,
            ..
        } = options;
        let url = sink_url(&url)?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("rempart/", env!("CARGO_PKG_VERSION")))
            .https_only(true)
            .timeout(timeout)
            .connect_timeout(timeout.min(StdDuration::from_secs(10)));
        if let Some(ca) = ca_file {
            let pem = std::fs::read(&ca);
            let bad = |reason: String| ShipError::CaFile {
                path: ca.clone(),
                reason,
            };
            let pem = pem.map_err(|e| bad(e.kind().to_string()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|_| bad("expected PEM certificates".to_owned()))?;
            if certs.is_empty() {
                return Err(bad("no PEM certificate in the file".to_owned()));
            }
            builder = builder.tls_certs_only(certs);
        }
        let token = token_file.as_deref().map(read_token).transpose()?;
        let http = builder
            .build()
            .map_err(|e| ShipError::Client(e.to_string()))?;
        let mut id = url.clone();
        id.set_query(None);
        id.set_fragment(None);
        Ok(Self {
            http,
            url,
            id: id.to_string(),
            token,
        })
    }
}

#[async_trait]
impl Sink for HttpsSink {
    fn id(&self) -> &str {
        &self.id
    }

    async fn deliver(&self, batch: &Batch) -> Result<Ack, SinkError> {
        let mut request = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(batch.body.clone());
        if let Some(token) = &self.token {
            // Checked when the token file was read: visible ASCII only.
            let Ok(mut value) = reqwest::header::HeaderValue::from_str(&format!(
                "Bearer {}",
                token.expose_secret()
            )) else {
                return Err(SinkError::Unreachable {
                    reason: "the token cannot be a header".to_owned(),
                });
            };
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request.send().await.map_err(|e| SinkError::Unreachable {
            // The error names the URL with its query; the sink id does not.
            reason: error_chain(&e.without_url()),
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(Ack)
        } else {
            Err(SinkError::Refused {
                status: status.as_u16(),
            })
        }
    }
}

fn read_token(path: &Path) -> Result<SecretString, ShipError> {
    let bad = |reason: String| ShipError::TokenFile {
        path: path.to_owned(),
        reason,
    };
    let bytes =
        zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| bad(e.kind().to_string()))?);
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("it is not UTF-8".to_owned()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(bad("it is empty".to_owned()));
    }
    // Visible ASCII only: what a header can carry. The error never quotes it.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "the token holds characters other than visible ASCII".to_owned()
        ));
    }
    Ok(SecretString::from(token.to_owned()))
}

/// An error and its causes on one line (reqwest's top error says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_without_credentials() {
        assert!(sink_url("https://audit.example.com/ingest?x=1").is_ok());
        for bad in [
            "http://audit.example.com/ingest",
            "ftp://audit.example.com/",
            "https://user:secret@audit.example.com/",
            "not a url",
        ] {
            let e = sink_url(bad).unwrap_err().to_string();
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
