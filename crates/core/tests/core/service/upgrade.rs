//! Upgrades keep data (migrations are append-only): a database built by
//! the migrations of an earlier release and holding data is migrated to
//! the current schema, on both engines; its data still reads through the
//! service layer and its audit log still verifies.
//!
//! The fixture, `tests/fixtures/schema-0009/`, is what a database of
//! commit a9868ea looked like: the checksums of its migrations 0001 to 0009
//! (the old schema is built from this tree's migrations up to version 9,
//! after checking they still hash to those values: an edited or removed
//! released migration fails this test), and one seed per engine: the
//! rows of every table after a short scenario (a tenant, accounts with
//! passwords and grants, an API token, a throttled login, a signed audit
//! checkpoint). The seeds were written by `write_the_upgrade_fixture`
//! below (ignored: run by hand) on a database built by those migrations,
//! through this commit's service layer, whose SQL that schema accepts;
//! the one row the earlier release wrote differently, a login throttle
//! counter keyed by a name in clear, is written as it wrote it. They are
//! committed: they do not change when the code does, which is the point.
//! A later fixture is made the same way, at the release it stands for.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rempart_audit::{Ed25519Signer, Signer as _};
use rempart_core::identity::NewAccount;
use rempart_core::kernel::audit_chain::AuditChain;
use rempart_core::{Actor, ManualClock, Rempart, RequestContext};
use rempart_model::{Environment, Role, Scope};
use rempart_store::{AccountKind, Store};
use rempart_testkit::{Engine, PASSWORD, TestDatabase, both_engines};
use secrecy::SecretString;
use sqlx::Connection as _;
use time::Duration;
use time::macros::datetime;

use crate::support::{account, context, new_tenant, staff};

/// The schema version the fixture was made at.
const FIXTURE_VERSION: i64 = 9;
/// The audit signing key of the fixture (a fixed seed, for tests only).
const SIGNING_SEED: [u8; 32] = [7; 32];
/// The reader's API token (`principal_with` makes it from the name).
const READER_TOKEN: &str = "rmp_at_reader-token-for-tests-only";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-0009")
}

fn engine_dir(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    }
}

fn ctx() -> RequestContext {
    context("req-upgrade", "192.0.2.9")
}

fn core_on(store: Arc<dyn Store>, db: &TestDatabase) -> Rempart {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-28 06:00 UTC)));
    let signer = Ed25519Signer::from_seed(&SIGNING_SEED).unwrap();
    let chain = AuditChain::new(Some(Arc::new(signer)), 1000, Duration::minutes(1));
    Rempart::new(store, clock)
        .with_audit(chain)
        .with_keys(rempart_testkit::test_keys(db.dir()))
        .with_identity(rempart_core::identity::Identity::for_tests(
            rempart_core::identity::IdentityConfig::default(),
            rempart_model::password_policy::PasswordPolicy::default(),
        ))
}

/// The migrations of this tree for `engine`: those up to
/// [`FIXTURE_VERSION`] are the earlier release's, unchanged (checked
/// against the fixture's checksums first).
async fn released_migrations(engine: Engine) -> sqlx::migrate::Migrator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../store/migrations")
        .join(engine_dir(engine));
    let migrator = sqlx::migrate::Migrator::new(dir).await.unwrap();
    let listed = std::fs::read_to_string(fixture_dir().join("released-migrations.sha384")).unwrap();
    let released: Vec<(i64, &str)> = listed
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            (parts.next()? == engine_dir(engine))
                .then(|| Some((parts.next()?.parse().ok()?, parts.nth(1)?)))
                .flatten()
        })
        .collect();
    assert_eq!(
        released.len(),
        9,
        "the release's nine migrations are listed"
    );
    for (version, checksum) in released {
        let current = migrator
            .iter()
            .find(|m| m.version == version)
            .unwrap_or_else(|| panic!("released migration {version} was removed"));
        assert_eq!(
            current.checksum.iter().fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            }),
            checksum,
            "released migration {version} was edited: migrations are append-only"
        );
    }
    migrator
}

/// Builds the earlier release's schema (migrations up to
/// [`FIXTURE_VERSION`]) in `db`.
async fn old_schema(db: &TestDatabase) {
    let migrator = released_migrations(db.engine).await;
    match db.engine {
        Engine::Sqlite => {
            let options = db
                .url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            migrator.run_to(FIXTURE_VERSION, &mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            migrator.run_to(FIXTURE_VERSION, &mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
    }
}

/// Runs a SQL script on `db` (foreign keys unchecked while it loads: the
/// rows are a consistent copy, in no particular order).
async fn run_script(db: &TestDatabase, script: &str) {
    let unchecked = match db.engine {
        Engine::Sqlite => "PRAGMA foreign_keys = OFF;",
        Engine::Postgres => "SET session_replication_role = replica;",
    };
    let sql = sqlx::AssertSqlSafe(format!("{unchecked}\n{script}"));
    match db.engine {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
    }
}

async fn upgrades_keep_data_and_the_audit_log(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    old_schema(&db).await;
    let seed =
        std::fs::read_to_string(fixture_dir().join(format!("seed-{}.sql", engine_dir(engine))))
            .unwrap();
    run_script(&db, &seed).await;

    let store = rempart_store::connect(&db.url, 5).await.unwrap();
    let migrated = store.migrate().await.unwrap();
    assert_eq!(migrated.before, FIXTURE_VERSION);
    assert!(migrated.after > FIXTURE_VERSION);
    store
        .schema_version()
        .await
        .unwrap()
        .check_current()
        .unwrap();
    let core = core_on(store.clone(), &db);

    // The data reads: the reader's token, its grants, the tenant.
    let reader = core
        .authenticate(&ctx(), &SecretString::from(READER_TOKEN))
        .await
        .unwrap();
    let tenants = core.list_tenants(&reader, &ctx()).await.unwrap();
    assert_eq!(
        tenants.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["acme"]
    );
    // Carol's password still logs her in.
    core.login(&ctx(), "carol@example.com", SecretString::from(PASSWORD))
        .await
        .unwrap();

    // The throttle counters keyed by names in clear are gone.
    let mut tx = store.begin_read().await.unwrap();
    assert!(
        tx.throttle("account:typed-into-the-name-field-42")
            .await
            .unwrap()
            .is_none()
    );
    drop(tx);

    // The log verifies, from its first event, under the fixture's key, and
    // goes on growing after the upgrade.
    let key = Ed25519Signer::from_seed(&SIGNING_SEED)
        .unwrap()
        .public_key();
    let before = core.verify_audit_log(&key).await.unwrap().unwrap();
    assert!(before.events > 5, "{before:?}");
    assert!(before.checkpoints >= 1, "{before:?}");
    core.login(&ctx(), "carol@example.com", SecretString::from(PASSWORD))
        .await
        .unwrap();
    core.checkpoint_audit_if_due(true).await.unwrap();
    let after = core.verify_audit_log(&key).await.unwrap().unwrap();
    assert!(after.events > before.events, "{after:?}");
    assert!(after.checkpoints > before.checkpoints, "{after:?}");
}

both_engines!(upgrades_keep_data_and_the_audit_log);

/// Writes `seed-<engine>.sql` from a database built by the fixture's
/// migrations and a short scenario through the service layer. Ignored:
/// run it by hand (`cargo test -p rempart-core --test core --
/// --ignored write_the_upgrade_fixture`, PostgreSQL reachable) only when
/// making a new fixture, at the release the fixture stands for.
async fn write_the_upgrade_fixture(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    old_schema(&db).await;
    let store = rempart_store::connect(&db.url, 5).await.unwrap();
    let core = core_on(store.clone(), &db);
    scenario(&core, store.as_ref()).await;
    core.checkpoint_audit_if_due(true).await.unwrap();
    store.close().await;
    let dump = dump(&db).await;
    std::fs::write(
        fixture_dir().join(format!("seed-{}.sql", engine_dir(engine))),
        dump,
    )
    .unwrap();
}

mod write_the_upgrade_fixture {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "writes the committed fixture; run by hand"]
    async fn sqlite() {
        super::write_the_upgrade_fixture(rempart_testkit::Engine::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "writes the committed fixture; run by hand"]
    async fn postgres() {
        super::write_the_upgrade_fixture(rempart_testkit::Engine::Postgres).await;
    }
}

async fn scenario(core: &Rempart, store: &dyn Store) {
    let clock = core.clock();
    let admin: Actor = rempart_testkit::fixtures::principal_with(
        core,
        store,
        clock,
        &ctx(),
        "reader",
        &[(Role::SecurityAdmin, Scope::Global)],
    )
    .await;
    let acme = new_tenant("acme", "eu", Environment::production());
    let acme = core.create_tenant(&admin, &ctx(), acme).await.unwrap();
    let carol = NewAccount {
        display_name: Some("Carol".to_owned()),
        ..staff("carol@example.com", Some(PASSWORD))
    };
    core.create_account(&admin, &ctx(), carol).await.unwrap();
    let dave = account(
        "dave@acme.example",
        AccountKind::TenantUser,
        Some(acme.id),
        Some(PASSWORD),
    );
    core.create_account(&admin, &ctx(), dave).await.unwrap();
    // A failed login leaves a throttle row, keyed as the earlier release
    // keyed it: by the typed name in clear (the upgrade drops such rows).
    let mut tx = store.begin().await.unwrap();
    tx.count_login_failure(
        "account:typed-into-the-name-field-42",
        clock.now(),
        clock.now() - Duration::minutes(15),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    core.login(&ctx(), "carol@example.com", SecretString::from(PASSWORD))
        .await
        .unwrap();
}

/// Appends the `rows` of `table`, as INSERT statements, to `out`; rows the
/// migrations seed (singletons) give way to the copy.
fn copy_rows(out: &mut String, table: &str, rows: Vec<String>) {
    if !rows.is_empty() {
        let _ = writeln!(out, "DELETE FROM \"{table}\";");
    }
    for row in rows {
        out.push_str(&row);
        out.push('\n');
    }
}

/// Every row of every table but the migrations' own, as INSERT statements
/// for the same engine, tables in creation order, each table emptied first
/// (the migrations seed some singleton rows).
async fn dump(db: &TestDatabase) -> String {
    let mut out = String::from(
        "-- Rows of a database at schema version 9 (commit a9868ea), written by\n\
         -- write_the_upgrade_fixture in crates/core/tests/core/service/upgrade.rs.\n",
    );
    match db.engine {
        Engine::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY rowid",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
                )))
                .fetch_all(&mut conn)
                .await
                .unwrap();
                let names = columns
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                let values = columns
                    .iter()
                    .map(|c| format!("quote(\"{c}\")"))
                    .collect::<Vec<_>>()
                    .join(" || ', ' || ");
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT 'INSERT INTO \"{table}\" ({}) VALUES (' || {values} || ');' FROM \"{table}\" ORDER BY rowid",
                    names.replace('\'', "''")
                )))
                .fetch_all(&mut conn)
                .await
                .unwrap();
                copy_rows(&mut out, &table, rows);
            }
        }
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> '_sqlx_migrations' \
                 ORDER BY c.oid",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for table in tables {
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT format('INSERT INTO %I SELECT * FROM json_populate_record(NULL::%I, %L);', \
                     '{table}', '{table}', row_to_json(r)::text) FROM \"{table}\" AS r"
                )))
                .fetch_all(&mut conn)
                .await
                .unwrap();
                copy_rows(&mut out, &table, rows);
            }
        }
    }
    out
}
