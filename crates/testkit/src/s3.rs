//! A real S3-compatible server for tests: moto's server (`moto_server`,
//! from PyPI's `moto`), started on a free loopback port with a bucket of
//! its own, over HTTPS with a certificate from a CA the test makes (or
//! plain HTTP), and killed when dropped.
//!
//! The executable is `REMPART_TEST_MOTO_SERVER`, else `moto_server` on the
//! `PATH` (`.ci/run` installs a pinned one and sets the variable). When it
//! cannot be started, a test that needs it is skipped with a message,
//! except under `CI=true`, where it fails: in CI a test never passes
//! silently. Moto checks no signature: any credentials are accepted, and
//! the raw helpers here speak to it unsigned.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::{in_ci, skip};

const MOTO_ENV: &str = "REMPART_TEST_MOTO_SERVER";
/// Attempts with a new port when the server exits at start (a port taken
/// between the probe and the server's bind).
const STARTS: usize = 3;
/// How long a start may take: polls of [`POLL`], at most.
const POLLS: usize = 300;
const POLL: Duration = Duration::from_millis(100);

/// How the test server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS, with a certificate for `127.0.0.1` issued by a CA the test
    /// made ([`S3Server::ca_file`]).
    Tls,
    /// Plain HTTP (clients must allow it).
    Http,
}

/// A running S3-compatible server with one empty bucket.
#[derive(Debug)]
pub struct S3Server {
    /// `https://127.0.0.1:PORT` (or `http://…`).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The PEM file of the CA the server's certificate chains to (TLS).
    pub ca_file: Option<PathBuf>,
    client: reqwest::Client,
    child: Child,
    log: PathBuf,
    /// The certificates and the log; kept while the server runs.
    dir: Option<tempfile::TempDir>,
}

impl S3Server {
    /// Starts a server; `None` (the test is skipped, with a message) when
    /// it cannot start outside CI.
    ///
    /// # Panics
    ///
    /// When it cannot start under `CI=true`.
    #[allow(
        clippy::panic,
        reason = "test support: under CI a missing server fails the test"
    )]
    pub async fn start(transport: Transport) -> Option<Self> {
        match Self::try_start(transport).await {
            Ok(server) => Some(server),
            Err(reason) if in_ci() => {
                panic!("the S3 test server cannot start under CI=true: {reason}")
            }
            Err(reason) => {
                skip(&format!(
                    "the S3 test server cannot start ({reason}); install moto (`.ci/run` does) or set {MOTO_ENV}, or set CI=true to make this a failure"
                ));
                None
            }
        }
    }

    async fn try_start(transport: Transport) -> Result<Self, String> {
        let executable = std::env::var(MOTO_ENV).unwrap_or_else(|_| "moto_server".to_owned());
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        let mut client = reqwest::Client::builder();
        let tls = match transport {
            Transport::Tls => {
                let files = make_certificates(dir.path())?;
                let ca_pem = std::fs::read(&files.ca).map_err(|e| e.to_string())?;
                let ca = reqwest::Certificate::from_pem(&ca_pem).map_err(|e| e.to_string())?;
                client = client.tls_certs_only([ca]);
                Some(files)
            }
            Transport::Http => None,
        };
        let client = client.build().map_err(|e| e.to_string())?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let log = dir.path().join("moto.log");
        let mut last = String::new();
        for _ in 0..STARTS {
            let port = free_port()?;
            let mut command = Command::new(&executable);
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            if let Some(files) = &tls {
                command.arg("-c").arg(&files.cert).arg("-k").arg(&files.key);
            }
            let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
            let err_file = log_file.try_clone().map_err(|e| e.to_string())?;
            let child = command
                .stdin(Stdio::null())
                .stdout(log_file)
                .stderr(err_file)
                .spawn()
                .map_err(|e| format!("{executable} cannot be run: {e}"))?;
            let mut server = Self {
                endpoint: format!("{scheme}://127.0.0.1:{port}"),
                bucket: "rempart-test".to_owned(),
                region: "us-east-1".to_owned(),
                access_key_id: "rempart-test-access-key".to_owned(),
                secret_access_key: format!("rempart-test-secret-{}", uuid::Uuid::new_v4().simple()),
                ca_file: tls.as_ref().map(|files| files.ca.clone()),
                client: client.clone(),
                child,
                log: log.clone(),
                dir: None,
            };
            // A server that does not come up is killed (dropped) here.
            match server.wait_ready().await {
                Ok(()) => {
                    server.create_bucket().await?;
                    server.dir = Some(dir);
                    return Ok(server);
                }
                Err(reason) => last = reason,
            }
        }
        Err(last)
    }

    /// Polls until the server answers, or says why it never will.
    async fn wait_ready(&mut self) -> Result<(), String> {
        for _ in 0..POLLS {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the server exited ({status}): {}", self.log_tail()));
            }
            let probe = self
                .client
                .get(format!("{}/moto-api/", self.endpoint))
                .send()
                .await;
            if probe.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            rempart_core::clock::pause(POLL).await;
        }
        Err(format!(
            "the server did not answer in time: {}",
            self.log_tail()
        ))
    }

    async fn create_bucket(&self) -> Result<(), String> {
        let response = self
            .client
            .put(self.bucket_url())
            .send()
            .await
            .map_err(|e| format!("creating the bucket: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("creating the bucket: HTTP {}", response.status()))
        }
    }

    fn bucket_url(&self) -> String {
        format!("{}/{}", self.endpoint, self.bucket)
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    /// The multipart uploads started in the bucket and neither completed
    /// nor aborted (`ListMultipartUploads`).
    ///
    /// # Panics
    ///
    /// When the server does not answer.
    #[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
    pub async fn pending_uploads(&self) -> usize {
        let body = self
            .client
            .get(format!("{}?uploads", self.bucket_url()))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("ListMultipartUploads")
            .text()
            .await
            .expect("ListMultipartUploads body");
        body.matches("<Upload>").count()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PEM files of a test CA and of the server's certificate it issued.
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A CA, and a certificate for `127.0.0.1` and `localhost` it issued.
fn make_certificates(dir: &std::path::Path) -> Result<TlsFiles, String> {
    let fail = |e: rcgen::Error| format!("making the test certificates: {e}");
    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Rempart test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(fail)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(fail)?;
    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(fail)?;
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(fail)?;

    let files = TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
    };
    let write = |path: &PathBuf, pem: String| {
        std::fs::write(path, pem).map_err(|e| format!("writing {}: {e}", path.display()))
    };
    write(&files.ca, ca_cert.pem())?;
    write(&files.cert, server_cert.pem())?;
    write(&files.key, server_key.serialize_pem())?;
    Ok(files)
}

/// A port nothing listens on right now.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("no free port: {e}"))
}
