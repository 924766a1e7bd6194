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

/// A running `rempart serve`.
#[derive(Debug)]
pub struct Replica {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its standard output, line by line (the bootstrap credential).
    pub stdout: mpsc::Receiver<String>,
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
        }
    }

    /// The bootstrap credential the first start printed.
    ///
    /// # Panics
    ///
    /// When none is printed within 30 seconds.
    pub fn bootstrap_credential(&self) -> String {
        loop {
            let line = self
                .stdout
                .recv_timeout(Duration::from_secs(30))
                .expect("the first start prints a bootstrap credential");
            let line = line.trim();
            if line.starts_with("rmp_") {
                return line.to_owned();
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

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
