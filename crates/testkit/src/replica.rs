//! `rempart serve` as a separate process, for tests of several replicas on
//! one database (invariant 7: what one replica changes, the next request
//! on any other sees).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support: a failure fails the test"
)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::TestDatabase;
use crate::http::Http;

/// A running `rempart serve`.
#[derive(Debug)]
pub struct Replica {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its standard output, line by line (the bootstrap credential).
    pub stdout: mpsc::Receiver<String>,
    /// A client for its API.
    pub client: reqwest::Client,
}

impl Replica {
    /// Starts `bin serve` on `db` (its data directory and database) on a
    /// free loopback port, with JSON logs and the extra variables `env`,
    /// and waits until it serves.
    ///
    /// # Panics
    ///
    /// When it does not start within a minute.
    pub fn serve(bin: &Path, db: &TestDatabase, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(bin);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(db.dir())
            .args(["--database-url", &db.url])
            .env("REMPART_LOG_FORMAT", "json");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rempart serve starts");
        let (out_tx, out_rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_tx.send(line);
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let address = loop {
            let line = err_rx
                .recv_timeout(Duration::from_mins(1))
                .expect("the server logs that it serves");
            let Ok(log) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if log.get("message").and_then(|m| m.as_str()) == Some("serving") {
                break log
                    .get("address")
                    .and_then(|a| a.as_str())
                    .expect("an address")
                    .to_owned();
            }
        };
        // Keep draining standard error so the server never blocks on it.
        std::thread::spawn(move || while err_rx.recv().is_ok() {});
        Self {
            child,
            url: format!("http://{address}"),
            stdout: out_rx,
            client: reqwest::Client::new(),
        }
    }

    /// The bootstrap credential of the first start: standard output is a
    /// pipe here, so it is in the file (mode 0600) whose path was printed.
    ///
    /// # Panics
    ///
    /// When no such path is printed within 30 seconds, or the credential
    /// itself is printed.
    pub fn bootstrap_credential(&self) -> String {
        loop {
            let line = self
                .stdout
                .recv_timeout(Duration::from_secs(30))
                .expect("the first start names a bootstrap credential file");
            let line = line.trim();
            assert!(!line.starts_with("rmp_"), "the credential went to a pipe");
            if line.starts_with('/') && line.ends_with("/bootstrap-credential") {
                return credential_file(Path::new(line));
            }
        }
    }

    /// Stops it gracefully (SIGTERM) and waits.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The credential in a bootstrap credential file, which must be private.
///
/// # Panics
///
/// When the file is missing, readable by others, or holds no credential.
pub fn credential_file(path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)
        .expect("the credential file exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the credential file is private");
    let text = std::fs::read_to_string(path).expect("the credential file reads");
    let credential = text.trim();
    assert!(credential.starts_with("rmp_boot_"), "{credential}");
    credential.to_owned()
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Http for Replica {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn base(&self) -> &str {
        &self.url
    }
}
