//! The `rempart` binary as a user runs it: first start, second start,
//! bootstrap and tenants from the CLI, configuration errors, refusals.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt as _;
use rempart_testkit::{Engine, PASSWORD, TestDatabase, TestServer};

fn rempart() -> Command {
    let mut cmd = Command::cargo_bin("rempart").unwrap();
    // A clean environment: no stray REMPART_ variables from the caller.
    for (name, _) in std::env::vars() {
        if name.starts_with("REMPART_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `rempart serve` process and the lines it printed on standard output.
struct Serving {
    child: Child,
    stdout: mpsc::Receiver<String>,
    url: String,
}

impl Serving {
    fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let mut child = rempart()
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("REMPART_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let url = format!("http://127.0.0.1:{port}");
        let serving = Self { child, stdout, url };
        serving.wait_ready();
        serving
    }

    fn wait_ready(&self) {
        for _ in 0..1200 {
            if std::net::TcpStream::connect(self.url.trim_start_matches("http://")).is_ok() {
                return;
            }
            std::thread::park_timeout(Duration::from_millis(50));
        }
        panic!("rempart serve did not start listening");
    }

    /// What it printed so far.
    fn printed(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(300)) {
            lines.push(line);
        }
        lines
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

/// The bootstrap credential a start showed: standard output is a pipe
/// here, so it is never printed but written to a private file whose path
/// is.
fn credential_in(lines: &[String]) -> Option<String> {
    assert!(
        !lines.iter().any(|l| l.contains("rmp_boot_")),
        "the credential went to a pipe: {lines:?}"
    );
    lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with('/') && l.ends_with("/bootstrap-credential"))
        .map(|path| rempart_testkit::replica::credential_file(Path::new(path)))
}

/// What `cmd` wrote to standard error, once it has failed.
fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    stderr(&out)
}

/// `cmd` with its standard streams piped, started.
fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `rempart args` with its configuration under `home` and `stdin` as
/// its input; what it did.
fn run(home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = spawn_piped(rempart().args(args).env("XDG_CONFIG_HOME", home));
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// `rempart bootstrap` against `url`: `credential` exchanged for
/// `administrator`, whose profile is kept under `home`.
fn bootstrap(home: &Path, url: &str, administrator: &str, credential: &str) -> Output {
    let args = [
        "bootstrap",
        "--administrator",
        administrator,
        "--credential-stdin",
        "--server",
        url,
    ];
    run(home, &args, credential)
}

/// Standard error, to say why a command failed.
fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn first_start_prints_a_credential_once_and_second_start_reuses_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rempart-data");

    let first = Serving::start(&data, &[]);
    let printed = first.printed();
    let credential = credential_in(&printed).expect("a bootstrap credential on first start");
    assert!(printed.iter().any(|l| l.contains("expires at")));
    assert!(
        first.terminate().success(),
        "SIGTERM stops the server cleanly"
    );

    assert!(data.join("rempart.db").is_file());
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data directory is private");
    for file in [
        "rempart.db",
        "rempart.db-wal",
        "keyring.rmk",
        "root.key",
        "login.key",
        "bootstrap-credential",
    ] {
        let path = data.join(file);
        if path.exists() {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file} is private");
        }
    }

    let second = Serving::start(&data, &[]);
    let printed = second.printed();
    assert_eq!(
        credential_in(&printed),
        None,
        "no credential on a second start: {printed:?}"
    );

    // The first credential still works, once, through the CLI.
    let config_home = dir.path().join("config");
    let out = bootstrap(&config_home, &second.url, "admin@example.com", &credential);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Administrator admin@example.com created"),
        "{stdout}"
    );
    assert!(!stdout.contains("rmp_at_"), "the token is never printed");
    assert!(second.terminate().success());
}

#[test]
fn a_public_address_without_tls_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = refused(
        rempart()
            .args(["serve", "--listen", "0.0.0.0:8799", "--data-dir"])
            .arg(dir.path().join("d")),
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("without TLS") && stderr.contains("behind_tls_proxy"),
        "{stderr}"
    );
    assert!(!dir.path().join("d").exists(), "nothing was created");
}

#[test]
fn a_bad_audit_sink_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = refused(
        rempart()
            .args(["serve", "--data-dir"])
            .arg(dir.path().join("d"))
            .env("REMPART_AUDIT_SHIP_URL", "http://audit.example.com/ingest"),
    );
    assert!(
        stderr.contains("audit.ship_url") && stderr.contains("https"),
        "{stderr}"
    );
    assert!(!dir.path().join("d").exists(), "nothing was created");

    let stderr = refused(
        rempart()
            .args(["serve", "--data-dir"])
            .arg(dir.path().join("d"))
            .env("REMPART_AUDIT_SHIP_URL", "https://audit.example.com/ingest")
            .env(
                "REMPART_AUDIT_SHIP_AUTH_HEADER_FILE",
                dir.path().join("missing-token"),
            ),
    );
    assert!(stderr.contains("token file"), "{stderr}");
    assert!(!dir.path().join("d").exists(), "nothing was created");
}

#[test]
fn configuration_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rempart.toml");
    std::fs::write(&file, "[server]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let out = rempart()
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown field `lisen`"), "{stderr}");

    std::fs::write(
        &file,
        "[database]\nurl = \"postgres://rempart:hunter2@db.internal/rempart\"\n",
    )
    .unwrap();
    let out = rempart()
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = rempart()
        .args(["config", "show", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("listen = \"127.0.0.1:8700\""), "{shown}");

    let stderr = refused(
        rempart()
            .args(["config", "check"])
            .env("REMPART_SERVER_LISTN", "127.0.0.1:1"),
    );
    assert!(
        stderr.contains(
            "REMPART_SERVER_LISTN is not a known variable; did you mean REMPART_SERVER_LISTEN?"
        ),
        "{stderr}"
    );

    // A variable of the user's own (not a near miss of any key) is only
    // warned about.
    let out = rempart()
        .args(["config", "check"])
        .env("REMPART_BIN", "/usr/local/bin/rempart")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: ignoring REMPART_BIN: not a Rempart variable"),
        "{stderr}"
    );
}

fn a_missing_data_dir_is_created_first_whatever_the_database(engine: Engine) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(TestDatabase::create(engine)) else {
        return;
    };
    let data = db.dir().join("missing").join("rempart-data");
    let serving = Serving::start(&data, &["--database-url", &db.url]);
    let credential = credential_in(&serving.printed());
    assert!(serving.terminate().success());
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data directory is private");
    assert!(data.join("keyring.rmk").is_file());
    assert!(data.join("login.key").is_file());
    assert!(credential.is_some(), "a credential on first start");
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    let stderr = refused(rempart().args([
        "migrate",
        "--database-url",
        "postgres://rempart:hunter2@127.0.0.1:1/rempart",
    ]));
    assert!(stderr.contains("cannot reach the database"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

fn schema_newer_than_the_binary_is_refused(engine: Engine) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = runtime.block_on(TestDatabase::create(engine)) else {
        return;
    };
    let out = rempart()
        .args(["migrate", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrated the schema from version 0"));
    let out = rempart()
        .args(["migrate", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));

    // A later binary applied a migration this one does not know.
    runtime.block_on(async {
        let store = rempart_store::connect(&db.url, 1).await.unwrap();
        let before = store.schema_version().await.unwrap();
        drop(store);
        let sql = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                   VALUES (99990101000000, 'from the future', TRUE, X'00', 0)";
        let sql = if engine == Engine::Postgres { sql.replace("X'00'", "'\\x00'::bytea") } else { sql.to_owned() };
        match engine {
            Engine::Sqlite => {
                use sqlx::Connection as _;
                let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
            }
            Engine::Postgres => {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
            }
        }
        assert!(before.found > 0);
    });
    let stderr = refused(rempart().args(["migrate", "--database-url", &db.url]));
    assert!(stderr.contains("newer than this binary"), "{stderr}");
    drop(runtime);
}

rempart_testkit::both_engines!(blocking: schema_newer_than_the_binary_is_refused);

async fn cli_administration(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let credential = server.bootstrap_secret();
    let url = server.url.clone();
    let cli = |args: &[&str]| tokio::task::block_in_place(|| run(home.path(), args, ""));
    let profile = home.path().join("rempart/profiles.toml");

    let out = tokio::task::block_in_place(|| {
        bootstrap(home.path(), &url, "admin@example.com", &credential)
    });
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&profile).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let out = cli(&["tenant", "create", "--name", "Acme", "--region", "us"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("Acme") && table.contains("production"),
        "{table}"
    );

    let out = cli(&["tenant", "list", "--json"]);
    assert!(out.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["name"], "Acme");

    // Errors are one line, non-zero, and say why.
    let out = cli(&["tenant", "create", "--name", "ACME", "--region", "us"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("already exists"), "{err}");
    let out =
        tokio::task::block_in_place(|| bootstrap(home.path(), &url, "b@example.com", &credential));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already used"));

    // The controls: one line per control with its evidence; the first
    // administrator has no second factor yet, so AC-1 fails, by name, and
    // the command says so with a non-zero exit.
    let out = cli(&["controls", "check", "--control", "DV-4"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("CONTROL"), "{table}");
    assert!(table.contains("DV-4") && table.contains("PASS"), "{table}");
    let out = cli(&["controls", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("AC-1") && table.contains("FAIL") && table.contains("admin@example.com"),
        "{table}"
    );
    let err = stderr(&out);
    assert!(err.contains("do not pass") && err.contains("AC-1"), "{err}");
    let out = cli(&["controls", "check", "--control", "HR-1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no automated check"));

    // A profile other users can read is refused.
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = cli(&["tenant", "list"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("chmod 600"));
    server.stop().await;
}

rempart_testkit::both_engines!(cli_administration);

/// The end-to-end identity path, from the CLI only: bootstrap, a staff
/// administrator with a password and TOTP, login, a tenant user given a
/// role, and a separation-of-duty rule refusing a conflicting grant. No
/// secret typed in is ever printed.
async fn identity_from_the_cli(engine: Engine) {
    let Some(server) = TestServer::start(engine).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let url = server.url.clone();
    // Whether it succeeded, and what it printed, which never holds the
    // password.
    let checked = |out: Output| {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = stderr(&out);
        assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
        (out.status.success(), stdout, stderr)
    };
    let cli = |args: &[&str], stdin: &str| {
        checked(tokio::task::block_in_place(|| {
            run(home.path(), args, stdin)
        }))
    };
    let as_alice = |args: &[&str]| cli(&[args, &["--profile", "alice"]].concat(), "");
    let credential = server.bootstrap_secret();
    let (ok, _, err) = checked(tokio::task::block_in_place(|| {
        bootstrap(home.path(), &url, "admin@example.com", &credential)
    }));
    assert!(ok, "{err}");
    let (ok, out, err) = cli(
        &[
            "user",
            "create",
            "alice@example.com",
            "--password",
            "--permanent",
            "--stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(ok && out.contains("alice@example.com"), "{out}{err}");
    let (ok, _, err) = cli(&["grant", "add", "alice@example.com", "security-admin"], "");
    assert!(ok, "{err}");

    // Alice logs in: password, TOTP enrolment (the URI is read from the
    // CLI's output, the code computed like an authenticator app would).
    let mut login = spawn_piped(
        rempart()
            .args([
                "login",
                "--user",
                "alice@example.com",
                "--stdin",
                "--profile",
                "alice",
                "--server",
                &url,
            ])
            .env("XDG_CONFIG_HOME", home.path()),
    );
    let mut stdin = login.stdin.take().unwrap();
    writeln!(stdin, "{PASSWORD}").unwrap();
    let mut lines = BufReader::new(login.stdout.take().unwrap()).lines();
    let uri = tokio::task::block_in_place(|| {
        lines
            .by_ref()
            .map(Result::unwrap)
            .find(|l| l.starts_with("otpauth://totp/"))
            .unwrap()
    });
    let now = u64::try_from(server.core.clock().now().unix_timestamp()).unwrap();
    let code = totp_rs::Totp::from_url(&uri)
        .unwrap()
        .generate(now)
        .to_string();
    writeln!(stdin, "{code}").unwrap();
    drop(stdin);
    let recovery: Vec<String> = lines.map(Result::unwrap).collect();
    let status = tokio::task::block_in_place(|| login.wait()).unwrap();
    assert!(status.success());
    assert_eq!(recovery.len(), 10, "{recovery:?}");

    // As Alice: a tenant, a tenant user, a role for them.
    let (ok, out, err) = as_alice(&[
        "tenant", "create", "--name", "Acme", "--region", "eu", "--json",
    ]);
    assert!(ok, "{err}");
    let tenant: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tenant_id = tenant[0]["id"].as_str().unwrap().to_owned();
    let (ok, _, err) = as_alice(&[
        "user",
        "create",
        "bob@acme.test",
        "--kind",
        "tenant-user",
        "--tenant",
        &tenant_id,
    ]);
    assert!(ok, "{err}");
    // The tenant's own access settings, from a policy file.
    let policy = home.path().join("acme-policy.toml");
    std::fs::write(&policy, "min_length = 16\nhistory = 10\n").unwrap();
    let (ok, _, err) = as_alice(&[
        "tenant",
        "set-access",
        &tenant_id,
        "--require-mfa",
        "--allow",
        "10.0.0.0/8",
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = as_alice(&["tenant", "access", &tenant_id]);
    assert!(ok, "{err}");
    let access: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(access["require_mfa"], true);
    assert_eq!(access["allow_list"][0], "10.0.0.0/8");
    assert_eq!(access["password_policy"]["min_length"], 16);
    let scope = format!("tenant:{tenant_id}");
    let (ok, out, err) = as_alice(&[
        "grant",
        "add",
        "bob@acme.test",
        "tenant-member",
        "--scope",
        &scope,
    ]);
    assert!(ok && out.contains("tenant-member"), "{out}{err}");

    // Separation of duties: the auditor role is refused to Alice, and the
    // refusal names the rule.
    let (ok, _, err) = cli(&["grant", "add", "alice@example.com", "auditor"], "");
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("separation-of-duties"), "{err}");

    // Security keys: the administrator has none; removing an unknown one
    // is a one-line error.
    let (ok, out, err) = cli(&["mfa", "keys", "--json"], "");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "[]");
    let (ok, _, err) = cli(
        &["mfa", "remove-key", "00000000-0000-0000-0000-000000000001"],
        "",
    );
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not found"), "{err}");
    server.stop().await;
}

rempart_testkit::both_engines!(identity_from_the_cli);

rempart_testkit::both_engines!(blocking: a_missing_data_dir_is_created_first_whatever_the_database);
