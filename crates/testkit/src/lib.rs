//! Test support: a real Rempart server on a temporary data directory, on
//! SQLite or on a fresh PostgreSQL database, on a free port.
//!
//! PostgreSQL comes from `REMPART_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each test gets its own
//! database, dropped afterwards. When PostgreSQL cannot be reached, a test
//! on it is skipped with a message, except under `CI=true`, where it fails:
//! in CI a test never passes silently.

pub mod fixtures;
pub mod http;
pub mod replica;
pub mod s3;

use std::sync::Arc;

use rempart_core::keys::{KdfParams, KeyVault, KeyringLocation, RootKeySource};
use rempart_core::{Clock as _, Config, ManualClock, Rempart, SystemClock};
use rempart_server::Server;
use rempart_store::{AuditRecord, Store};
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::Connection as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::http::Http;

pub use rempart_store::Engine;

/// Runs an async test function once per engine: `both_engines!(name);`
/// makes `name::sqlite` and `name::postgres`. `both_engines!(blocking:
/// name)` does the same for a function that is not async.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Engine::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Engine::Postgres).await;
            }
        }
    )+};
    (blocking: $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::Engine::Sqlite);
            }

            #[test]
            fn postgres() {
                super::$name($crate::Engine::Postgres);
            }
        }
    )+};
}

/// A password the default policy accepts, for test accounts.
pub const PASSWORD: &str = "violet-Harbour-lantern-93";

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("REMPART_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Says why a test did not run.
#[allow(
    clippy::print_stderr,
    reason = "a skipped test says why on the test's output"
)]
fn skip(reason: &str) {
    eprintln!("skipped: {reason}");
}

/// A database of its own for one test.
#[derive(Debug)]
pub struct TestDatabase {
    pub engine: Engine,
    pub url: String,
    dir: tempfile::TempDir,
    postgres_name: Option<String>,
}

impl TestDatabase {
    /// A fresh, empty database; `None` (the test is skipped) when
    /// PostgreSQL is unreachable outside CI.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is unreachable under `CI=true`, or the temporary
    /// directory cannot be made.
    #[allow(
        clippy::panic,
        clippy::expect_used,
        reason = "test support: a failure fails the test"
    )]
    pub async fn create(engine: Engine) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        match engine {
            Engine::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("rempart.db").display());
                Some(Self {
                    engine,
                    url,
                    dir,
                    postgres_name: None,
                })
            }
            Engine::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = match sqlx::PgConnection::connect(&admin).await {
                    Ok(conn) => conn,
                    Err(e) if in_ci() => {
                        panic!("PostgreSQL is unreachable at {admin} under CI=true: {e}")
                    }
                    Err(e) => {
                        skip(&format!(
                            "PostgreSQL is unreachable at {admin} ({e}); set CI=true to make this a failure"
                        ));
                        return None;
                    }
                };
                let name = format!("rempart_t_{}", uuid::Uuid::new_v4().simple());
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("CREATE DATABASE");
                let _ = conn.close().await;
                let url = match admin.rsplit_once('/') {
                    Some((base, _)) => format!("{base}/{name}"),
                    None => panic!("REMPART_TEST_POSTGRES_URL has no database part: {admin}"),
                };
                Some(Self {
                    engine,
                    url,
                    dir,
                    postgres_name: Some(name),
                })
            }
        }
    }

    /// A temporary directory that lives as long as the database.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Runs `statements` (SQL, one after the other) on this database,
    /// behind the store's back: to tamper with it, or to stand in for
    /// another release.
    ///
    /// # Panics
    ///
    /// When the database cannot be reached or a statement fails.
    #[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
    pub async fn execute(&self, statements: &[&str]) {
        let sql = |s: &str| sqlx::raw_sql(sqlx::AssertSqlSafe(s.to_owned()));
        match self.engine {
            Engine::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.url).await.expect("connect");
                for statement in statements {
                    sql(statement).execute(&pool).await.expect("the statement");
                }
                pool.close().await;
            }
            Engine::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await.expect("connect");
                for statement in statements {
                    sql(statement).execute(&pool).await.expect("the statement");
                }
                pool.close().await;
            }
        }
    }

    /// Everything the database holds at rest, as an attacker with the disk
    /// or a dump would see it: the bytes of every file of an SQLite
    /// database (with its write-ahead log), or `pg_dump`'s output.
    ///
    /// # Panics
    ///
    /// When the files cannot be read or `pg_dump` fails.
    #[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
    pub fn dump(&self) -> Vec<u8> {
        match self.engine {
            Engine::Sqlite => {
                let mut bytes = Vec::new();
                for entry in std::fs::read_dir(self.dir()).expect("the database directory") {
                    let path = entry.expect("a directory entry").path();
                    let is_db = path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("rempart.db"));
                    if is_db {
                        bytes.extend(std::fs::read(&path).expect("a database file"));
                    }
                }
                bytes
            }
            Engine::Postgres => {
                let out = std::process::Command::new("pg_dump")
                    .arg("--data-only")
                    .arg(&self.url)
                    .output()
                    .expect("pg_dump runs");
                assert!(
                    out.status.success(),
                    "pg_dump failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        }
    }

    /// Opens and migrates a store on this database.
    ///
    /// # Panics
    ///
    /// When the database cannot be opened or migrated.
    #[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
    pub async fn store(&self) -> Arc<dyn Store> {
        let store = rempart_store::connect(&self.url, 5).await.expect("connect");
        store.migrate().await.expect("migrate");
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let admin = postgres_admin_url();
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}

/// Where a keyring in `dir` is kept: `keyring.rmk`, with `root.key` for a
/// root key from a key file.
pub fn keyring_location(dir: &std::path::Path) -> KeyringLocation {
    KeyringLocation {
        path: dir.join("keyring.rmk"),
        key_file: dir.join("root.key"),
    }
}

/// A root key derived from `passphrase`, cheaply (for tests only).
///
/// # Panics
///
/// Never: the parameters are valid.
#[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
pub fn passphrase_source(passphrase: &str) -> RootKeySource {
    RootKeySource::Passphrase {
        passphrase: SecretString::from(passphrase.to_owned()),
        kdf: KdfParams::new(8, 1, 1).expect("valid parameters"),
    }
}

/// A new keyring with a key file in `dir`, open, for tests that build a
/// [`Rempart`] themselves: `Rempart::new(…).with_keys(test_keys(dir))`.
///
/// # Panics
///
/// When the keyring cannot be created.
#[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
pub fn test_keys(dir: &std::path::Path) -> Arc<KeyVault> {
    let (vault, _) = KeyVault::init(
        keyring_location(dir),
        &RootKeySource::KeyFile,
        SystemClock.now(),
    )
    .expect("the test keyring");
    Arc::new(vault)
}

/// The audit trail of `core` on `store`: every event, pending ones
/// chained first (as readers do).
///
/// # Panics
///
/// When the log cannot be chained or read.
#[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
pub async fn audit_trail(core: &Rempart, store: &dyn Store) -> Vec<AuditRecord> {
    core.drain_audit().await.expect("chain the pending events");
    let mut tx = store.begin().await.expect("begin");
    tx.audit_events(0, 1_000_000)
        .await
        .expect("the audit events")
}

/// Every row of the audit log as stored, pending events included: what a
/// test compares to show that something read the log and wrote nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRows {
    pub pending: Vec<rempart_store::PendingAuditRecord>,
    pub events: Vec<AuditRecord>,
    pub checkpoints: Vec<rempart_store::CheckpointRecord>,
}

/// The audit log's rows in `store`, without chaining anything.
///
/// # Panics
///
/// When the log cannot be read.
#[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
pub async fn audit_rows(store: &dyn Store) -> AuditRows {
    let mut tx = store.begin().await.expect("begin");
    AuditRows {
        pending: tx.audit_pending(10_000).await.expect("the pending events"),
        events: tx.audit_events(0, 10_000).await.expect("the audit events"),
        checkpoints: tx
            .audit_checkpoints(0, 10_000)
            .await
            .expect("the checkpoints"),
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, in files.
#[derive(Debug)]
pub struct TestCertificate {
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
    /// The certificate, PEM-encoded, for a client to trust.
    pub pem: String,
}

/// Makes a [`TestCertificate`] in `dir` (`cert.pem`, `key.pem`).
///
/// # Panics
///
/// When it cannot be made or written.
#[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
pub fn self_signed_certificate(dir: &std::path::Path) -> TestCertificate {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let cert = rcgen::generate_simple_self_signed(names).expect("a certificate");
    let pem = cert.cert.pem();
    let cert_file = dir.join("cert.pem");
    let key_file = dir.join("key.pem");
    std::fs::write(&cert_file, &pem).expect("write the certificate");
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).expect("write the key");
    TestCertificate {
        cert_file,
        key_file,
        pem,
    }
}

/// A running server and what a test needs to talk to it.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT` (or `https://…` with TLS configured).
    pub url: String,
    pub client: reqwest::Client,
    pub core: Rempart,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub config: Config,
    /// The credential printed at first start.
    pub bootstrap_credential: Option<SecretString>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    pub database: TestDatabase,
}

impl TestServer {
    /// Starts a server on `engine`; `None` if the engine is unavailable
    /// (see [`TestDatabase::create`]).
    pub async fn start(engine: Engine) -> Option<Self> {
        Self::start_with(engine, |_| {}).await
    }

    /// Starts a server after `configure` has adjusted its configuration.
    ///
    /// # Panics
    ///
    /// When the server cannot start.
    #[allow(
        clippy::expect_used,
        clippy::panic,
        reason = "test support: a failure fails the test"
    )]
    pub async fn start_with(engine: Engine, configure: impl FnOnce(&mut Config)) -> Option<Self> {
        Self::start_hashing(engine, configure, false).await
    }

    /// Like [`TestServer::start_with`]; with `real_hashing`, passwords are
    /// hashed with the configured Argon2id parameters (benchmarks) instead
    /// of cheap test ones.
    #[allow(
        clippy::expect_used,
        clippy::panic,
        reason = "test support: a failure fails the test"
    )]
    pub async fn start_hashing(
        engine: Engine,
        configure: impl FnOnce(&mut Config),
        real_hashing: bool,
    ) -> Option<Self> {
        let database = TestDatabase::create(engine).await?;
        let mut config = Config {
            data_dir: database.dir().to_path_buf(),
            ..Config::default()
        };
        config.database.url.clone_from(&database.url);
        config.server.listen = "127.0.0.1:0".parse().expect("address");
        config.server.shutdown_grace_secs = 5;
        configure(&mut config);
        config.validate().expect("a valid test configuration");

        let store = database.store().await;
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let (keys, _) = KeyVault::open_or_create(
            config.keyring_location(),
            &config.keyring,
            None,
            clock.now(),
        )
        .expect("the test keyring");
        let core = Rempart::new(store.clone(), clock.clone())
            .with_keys(Arc::new(keys))
            .with_identity(
                if real_hashing {
                    rempart_core::identity::Identity::new(
                        config.identity.clone(),
                        config.password.clone(),
                    )
                    .expect("valid hashing parameters")
                } else {
                    rempart_core::identity::Identity::for_tests(
                        config.identity.clone(),
                        config.password.clone(),
                    )
                }
                .with_admin_sources(config.access.admin_sources().cloned()),
            )
            .with_deployment(config.deployment());
        let bootstrap_credential = match core.ensure_bootstrap().await.expect("bootstrap") {
            rempart_core::BootstrapStatus::Issued { credential, .. } => Some(credential),
            _ => None,
        };
        let server = Server::bind(&config, core.clone()).await.expect("bind");
        let scheme = if server.is_tls() { "https" } else { "http" };
        let url = format!("{scheme}://{}", server.local_addr());
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = signal.await;
        }));
        Some(Self {
            url,
            client: reqwest::Client::new(),
            core,
            store,
            clock,
            config,
            bootstrap_credential,
            shutdown: Some(shutdown),
            task: Some(task),
            database,
        })
    }

    /// An absolute URL for `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The bootstrap credential printed at first start.
    ///
    /// # Panics
    ///
    /// When there was none (the database was not fresh).
    #[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
    pub fn bootstrap_secret(&self) -> String {
        self.bootstrap_credential
            .as_ref()
            .expect("a fresh server has a bootstrap credential")
            .expose_secret()
            .to_owned()
    }

    /// Exchanges the bootstrap credential over HTTP and returns the first
    /// administrator's token.
    ///
    /// # Panics
    ///
    /// When the exchange fails.
    #[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
    pub async fn admin_token(&self) -> String {
        let body = self.bootstrap(&self.bootstrap_secret()).await.expect(201);
        body.get("token")
            .and_then(serde_json::Value::as_str)
            .expect("a token")
            .to_owned()
    }

    /// The audit trail: every event, pending ones chained first.
    pub async fn audit_events(&self) -> Vec<AuditRecord> {
        audit_trail(&self.core, self.store.as_ref()).await
    }

    /// Asks the server to shut down and waits until it has.
    ///
    /// # Panics
    ///
    /// When the server task failed.
    #[allow(clippy::expect_used, reason = "test support: a failure fails the test")]
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server run");
        }
        self.store.close().await;
    }

    /// Sends the shutdown signal without waiting.
    pub fn signal_shutdown(&mut self) -> Option<JoinHandle<std::io::Result<()>>> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.task.take()
    }
}

impl Http for TestServer {
    fn client(&self) -> &reqwest::Client {
        &self.client
    }

    fn base(&self) -> &str {
        &self.url
    }
}
