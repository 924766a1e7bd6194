//! Continuous shipping of the audit log to an HTTPS sink (control ML-2).
//!
//! A copy of the log outside Rempart's database is what makes a rewrite of
//! the database detectable by someone other than its administrator. The
//! shipper posts batches (docs/formats/audit.md section 8: events and
//! checkpoints in the export format) to one sink over TLS, one batch in
//! flight at a time, and moves the sink's cursor in the database only after
//! a 2xx answer: a sink that is down loses nothing, and shipping resumes at
//! the cursor after any restart. A lease row lets one replica ship at a
//! time; the cursor moves only from the value the lease holder read, so a
//! replica that lost its lease cannot move it.
//!
//! Delivery is at least once: a 2xx that is lost on the way back makes the
//! batch go again, with the same `seq` numbers, so a sink keeps each `seq`
//! once. The sink's bearer token is read from a file, sent as a sensitive
//! header, and never written to a log, an error or the audit log.

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use rempart_audit::{BatchWriter, PublicKey};
use rempart_store::ShipCursor;
use secrecy::{ExposeSecret as _, SecretString};

use crate::config::AuditConfig;
use crate::kernel::audit_chain::{to_checkpoint, to_event};
use crate::kernel::clock::pause;
use crate::kernel::error::ServiceError;
use crate::service::Rempart;

/// The largest `audit.ship_batch_size`.
pub const MAX_BATCH_SIZE: u32 = 10_000;

/// The metric counting events the sink acknowledged.
pub const SHIPPED_METRIC: &str = "rempart_audit_shipped_events_total";
/// The metric giving the events appended and not yet acknowledged.
pub const LAG_METRIC: &str = "rempart_audit_ship_lag_events";

/// Why shipping cannot start or a batch did not go. Never holds the token.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    #[error("the audit sink URL is not usable: {0}")]
    BadUrl(String),
    #[error("cannot read the audit sink's CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("cannot read the audit sink's token file {path}: {reason}")]
    TokenFile { path: PathBuf, reason: String },
    #[error("the HTTP client for the audit sink cannot be built: {0}")]
    Client(String),
    #[error("audit shipping needs the checkpoint signing key, and none is configured")]
    NoSigningKey,
    #[error("the audit sink {sink} is unreachable: {reason}")]
    Unreachable { sink: String, reason: String },
    #[error("the audit sink {sink} refused the batch with HTTP {status}")]
    Refused { sink: String, status: u16 },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

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

/// How to ship: the sink, and the pacing.
#[derive(Debug, Clone)]
pub struct ShipOptions {
    pub url: String,
    pub ca_file: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    /// Events per batch at most.
    pub batch_size: u32,
    /// The first wait after a failure; doubled at each failure up to
    /// `retry_max`.
    pub retry_min: StdDuration,
    pub retry_max: StdDuration,
    /// The wait when there is nothing to ship or another replica ships.
    pub poll: StdDuration,
    /// How long a lease lasts without renewal (renewed at every batch and
    /// every poll).
    pub lease: time::Duration,
    /// The time limit of one request.
    pub timeout: StdDuration,
}

impl ShipOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_file: None,
            token_file: None,
            batch_size: 500,
            retry_min: StdDuration::from_secs(1),
            retry_max: StdDuration::from_secs(30),
            poll: StdDuration::from_secs(1),
            lease: time::Duration::minutes(2),
            timeout: StdDuration::from_secs(30),
        }
    }

    /// The options `config` asks for; `None` when no sink is configured.
    pub fn from_config(config: &AuditConfig) -> Option<Self> {
        let url = config.ship_url.as_ref()?;
        let mut options = Self::new(url.clone());
        options.ca_file.clone_from(&config.ship_ca_file);
        options.token_file.clone_from(&config.ship_auth_header_file);
        options.batch_size = config.ship_batch_size;
        Some(options)
    }
}

/// What one shipping step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shipped {
    /// The sink acknowledged a batch; the cursor is now at `through_seq`.
    Batch {
        events: u64,
        checkpoints: u64,
        through_seq: u64,
    },
    /// The sink has everything.
    UpToDate,
    /// Another replica holds the lease.
    NotLeader,
}

/// Ships the audit log to one sink.
pub struct Shipper {
    core: Rempart,
    http: reqwest::Client,
    url: reqwest::Url,
    /// The sink's identity in the database and in logs: the URL without
    /// query or fragment.
    sink: String,
    token: Option<SecretString>,
    key: PublicKey,
    holder: String,
    options: ShipOptions,
}

impl std::fmt::Debug for Shipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shipper")
            .field("sink", &self.sink)
            .field("holder", &self.holder)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
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

/// Checks the sink's settings (URL, CA file, token file) without a
/// database: `rempart serve` calls it before it creates anything.
pub fn check(options: &ShipOptions) -> Result<(), ShipError> {
    prepare(options).map(|_| ())
}

fn prepare(
    options: &ShipOptions,
) -> Result<(reqwest::Url, reqwest::Client, Option<SecretString>), ShipError> {
    let url = sink_url(&options.url)?;
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("rempart/", env!("CARGO_PKG_VERSION")))
        .https_only(true)
        .timeout(options.timeout)
        .connect_timeout(options.timeout.min(StdDuration::from_secs(10)));
    if let Some(ca) = &options.ca_file {
        let bad = |reason: String| ShipError::CaFile {
            path: ca.clone(),
            reason,
        };
        let pem = std::fs::read(ca).map_err(|e| bad(e.kind().to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|_| bad("expected PEM certificates".to_owned()))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in the file".to_owned()));
        }
        builder = builder.tls_certs_only(certs);
    }
    let token = options.token_file.as_deref().map(read_token).transpose()?;
    let http = builder
        .build()
        .map_err(|e| ShipError::Client(e.to_string()))?;
    Ok((url, http, token))
}

impl Shipper {
    /// Checks the options and builds the client; nothing is sent yet. A bad
    /// URL, CA file or token file is an error here, before anything starts.
    pub fn new(core: Rempart, options: ShipOptions) -> Result<Self, ShipError> {
        let (url, http, token) = prepare(&options)?;
        let mut sink_id = url.clone();
        sink_id.set_query(None);
        sink_id.set_fragment(None);
        let key = core.audit_public_key().ok_or(ShipError::NoSigningKey)?;
        let holder = core.clock().new_id().to_string();
        Ok(Self {
            core,
            http,
            url,
            sink: sink_id.to_string(),
            token,
            key,
            holder,
            options,
        })
    }

    /// The shipper configured in `config`, if any.
    pub fn from_config(core: Rempart, config: &AuditConfig) -> Result<Option<Self>, ShipError> {
        ShipOptions::from_config(config)
            .map(|options| Self::new(core, options))
            .transpose()
    }

    /// The sink's identity (its URL without query), as logs name it.
    pub fn sink(&self) -> &str {
        &self.sink
    }

    /// The sink's cursor as the database holds it.
    pub async fn cursor(&self) -> Result<Option<ShipCursor>, ShipError> {
        let mut tx = self
            .core
            .kernel
            .store
            .begin()
            .await
            .map_err(ServiceError::from)?;
        Ok(tx
            .ship_cursor(&self.sink)
            .await
            .map_err(ServiceError::from)?)
    }

    /// One step: takes or renews the lease, sends the next batch after the
    /// cursor, and moves the cursor if the sink answers 2xx.
    pub async fn ship_once(&self) -> Result<Shipped, ShipError> {
        // Only chained events are shipped: chain what is pending first.
        self.core.drain_audit().await?;
        let store = &self.core.kernel.store;
        let now = self.core.kernel.clock().now();
        let cursor = {
            let mut tx = store.begin().await.map_err(ServiceError::from)?;
            let cursor = tx
                .acquire_ship_lease(&self.sink, &self.holder, now, now + self.options.lease)
                .await
                .map_err(ServiceError::from)?;
            tx.commit().await.map_err(ServiceError::from)?;
            cursor
        };
        let Some(cursor) = cursor else {
            return Ok(Shipped::NotLeader);
        };
        let limit = self.options.batch_size.clamp(1, MAX_BATCH_SIZE);
        // Events first, then the checkpoints up to the last of them: a
        // checkpoint of a size below the last event read was committed no
        // later than that event (signed under the head lock, in the same
        // sequencer batch or an earlier one), so none can be missed and
        // turn up later out of place.
        let (events, checkpoints, head) = {
            let mut tx = store.begin().await.map_err(ServiceError::from)?;
            let events = tx
                .audit_events(cursor.shipped_seq, limit)
                .await
                .map_err(ServiceError::from)?;
            let through = events.last().map_or(cursor.shipped_seq, |e| e.seq);
            let checkpoints = tx
                .audit_checkpoints(cursor.shipped_checkpoint, limit)
                .await
                .map_err(ServiceError::from)?;
            let checkpoints: Vec<_> = checkpoints
                .into_iter()
                .take_while(|cp| cp.size <= through)
                .collect();
            let head = tx.audit_head().await.map_err(ServiceError::from)?;
            (events, checkpoints, head)
        };
        if events.is_empty() && checkpoints.is_empty() {
            record_lag(head.seq.saturating_sub(cursor.shipped_seq));
            return Ok(Shipped::UpToDate);
        }

        let bad = |e: rempart_audit::ExportError| ServiceError::AuditLog(e.to_string());
        let mut writer =
            BatchWriter::new(Vec::new(), self.key.key_id(), cursor.shipped_seq).map_err(bad)?;
        let mut pending = checkpoints.iter().peekable();
        for record in &events {
            while let Some(cp) = pending.next_if(|cp| cp.size < record.seq) {
                writer.checkpoint(&to_checkpoint(cp)?).map_err(bad)?;
            }
            writer.event(&to_event(record)?).map_err(bad)?;
        }
        for cp in pending {
            writer.checkpoint(&to_checkpoint(cp)?).map_err(bad)?;
        }
        let through_seq = writer.last_seq();
        let body = writer.finish().map_err(bad)?;
        let to_checkpoint_number = checkpoints
            .last()
            .map_or(cursor.shipped_checkpoint, |cp| cp.number);

        self.post(body).await?;

        let moved = {
            let mut tx = store.begin().await.map_err(ServiceError::from)?;
            let moved = tx
                .advance_ship_cursor(
                    &self.sink,
                    &self.holder,
                    (cursor.shipped_seq, cursor.shipped_checkpoint),
                    (through_seq, to_checkpoint_number),
                    self.core.kernel.clock().now(),
                )
                .await
                .map_err(ServiceError::from)?;
            tx.commit().await.map_err(ServiceError::from)?;
            moved
        };
        if !moved {
            // Another replica took the lease meanwhile; it sends this batch
            // again from the cursor, and the sink keeps each seq once.
            return Ok(Shipped::NotLeader);
        }
        let shipped = u64::try_from(events.len()).unwrap_or(u64::MAX);
        metrics::counter!(SHIPPED_METRIC).increment(shipped);
        record_lag(head.seq.saturating_sub(through_seq));
        Ok(Shipped::Batch {
            events: shipped,
            checkpoints: u64::try_from(checkpoints.len()).unwrap_or(u64::MAX),
            through_seq,
        })
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), ShipError> {
        let mut request = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .body(body);
        if let Some(token) = &self.token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!(
                "Bearer {}",
                token.expose_secret()
            ))
            .map_err(|_| ShipError::Client("the token cannot be a header".to_owned()))?;
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request.send().await.map_err(|e| ShipError::Unreachable {
            sink: self.sink.clone(),
            // The error names the URL with its query; the sink id does not.
            reason: error_chain(&e.without_url()),
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(ShipError::Refused {
                sink: self.sink.clone(),
                status: status.as_u16(),
            })
        }
    }

    /// Ships for ever: drains the backlog batch by batch, then polls; backs
    /// off exponentially (up to `retry_max`) while the sink fails.
    pub async fn run(&self) {
        let mut backoff = self.options.retry_min;
        loop {
            match self.ship_once().await {
                Ok(Shipped::Batch {
                    events,
                    through_seq,
                    ..
                }) => {
                    tracing::debug!(sink = %self.sink, events, through_seq, "shipped audit events");
                    backoff = self.options.retry_min;
                }
                Ok(Shipped::UpToDate | Shipped::NotLeader) => {
                    backoff = self.options.retry_min;
                    pause(self.options.poll).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX), "audit shipping failed; the cursor did not move");
                    pause(backoff).await;
                    backoff = (backoff * 2).min(self.options.retry_max);
                }
            }
        }
    }

    /// Gives the lease up, so that another replica takes over at once.
    pub async fn release(&self) -> Result<(), ShipError> {
        let mut tx = self
            .core
            .kernel
            .store
            .begin()
            .await
            .map_err(ServiceError::from)?;
        tx.release_ship_lease(&self.sink, &self.holder)
            .await
            .map_err(ServiceError::from)?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(())
    }
}

#[allow(
    clippy::cast_precision_loss,
    reason = "a gauge: precision beyond 2^53 events does not matter"
)]
fn record_lag(lag: u64) {
    metrics::gauge!(LAG_METRIC).set(lag as f64);
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
