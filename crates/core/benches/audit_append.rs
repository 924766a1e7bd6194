//! Audit append throughput through the real service-layer path (a
//! transaction per event that records it in `audit_pending`, while the
//! background sequencer of `rempart serve` chains pending events in
//! batches: seal, insert the events and their Merkle nodes, sign a
//! checkpoint every 1000 events, one commit a batch), next to inserting the
//! same columns with no chain (a transaction per row, same indexes) in the
//! same run, on SQLite and PostgreSQL, with 1 and 8 concurrent writers. The
//! chained time runs until every event is chained (the last drain
//! included), so the comparison counts the sequencer's work.
//!
//! Run: `cargo bench -p rempart-core --bench audit_append` (events per
//! run: `AUDIT_APPEND_EVENTS`, default 2000; runs per case, alternating
//! which side goes first, medians reported: `AUDIT_APPEND_ROUNDS`, default
//! 5). Without `--bench` (as in `cargo test --all-targets`) it runs a few
//! events once.

#![allow(
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark reads the monotonic clock, prints, and fails loudly"
)]

use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use rempart_audit::{Ed25519Signer, Signer as _};
use rempart_core::kernel::audit_chain::AuditChain;
use rempart_core::{Rempart, SystemClock};
use rempart_model::{Action, Outcome};
use rempart_testkit::{Engine, TestDatabase};

const SQLITE_PLAIN: &str = "CREATE TABLE plain_events (
    seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT, tenant_id BLOB, outcome TEXT NOT NULL, request_id TEXT, source TEXT,
    details BLOB, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
    CREATE INDEX plain_events_time ON plain_events (time);
    CREATE INDEX plain_events_tenant ON plain_events (tenant_id, seq);";
const POSTGRES_PLAIN: &str = "CREATE TABLE plain_events (
    seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT, tenant_id UUID, outcome TEXT NOT NULL, request_id TEXT, source TEXT,
    details BYTEA, prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL);
    CREATE INDEX plain_events_time ON plain_events (time);
    CREATE INDEX plain_events_tenant ON plain_events (tenant_id, seq);";
const INSERT: &str = "INSERT INTO plain_events (seq, time, actor, action, target, tenant_id, outcome, request_id, source, details, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, NULL, NULL, 'success', NULL, NULL, NULL, $5, $6)";

async fn chained(
    core: &Rempart,
    store: &dyn rempart_store::Store,
    writers: usize,
    events: usize,
) -> f64 {
    let t = Instant::now();
    let sequencer = {
        let core = core.clone();
        tokio::spawn(async move { core.run_audit_sequencer().await })
    };
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let core = core.clone();
            tokio::spawn(async move {
                for _ in 0..events / writers {
                    core.record_offline(Action::AuditVerify, Outcome::Success)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    sequencer.abort();
    // Whatever the background sequencer has not chained yet counts too.
    core.drain_audit().await.unwrap();
    let elapsed = t.elapsed().as_secs_f64();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.audit_pending(1).await.unwrap().is_empty());
    (events / writers * writers) as f64 / elapsed
}

macro_rules! plain {
    ($pool:expr, $begin:expr, $writers:expr, $events:expr, $next:expr) => {{
        let t = Instant::now();
        let tasks: Vec<_> = (0..$writers)
            .map(|_| {
                let pool = $pool.clone();
                let next = $next.clone();
                tokio::spawn(async move {
                    for _ in 0..$events / $writers {
                        let seq = next.fetch_add(1, Ordering::Relaxed);
                        let mut tx = pool.begin_with($begin).await.unwrap();
                        sqlx::query(INSERT)
                            .bind(seq)
                            .bind(seq * 1000)
                            .bind("system")
                            .bind("audit.verify")
                            .bind(vec![0u8; 32])
                            .bind(vec![1u8; 32])
                            .execute(&mut *tx)
                            .await
                            .unwrap();
                        tx.commit().await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        ($events / $writers * $writers) as f64 / t.elapsed().as_secs_f64()
    }};
}

async fn run(engine: Engine, events: usize, rounds: usize) {
    let Some(db) = TestDatabase::create(engine).await else {
        println!("{}: skipped (unavailable)", engine_name(engine));
        return;
    };
    let store = rempart_store::connect(&db.url, 10).await.unwrap();
    store.migrate().await.unwrap();
    let signer = Ed25519Signer::from_seed(&[5; 32]).unwrap();
    assert!(!signer.public_key().key_id().to_string().is_empty());
    let chain = AuditChain::new(Some(Arc::new(signer)), 1000, time::Duration::minutes(1));
    let core = Rempart::new(store.clone(), Arc::new(SystemClock)).with_audit(chain);
    let next = Arc::new(AtomicI64::new(1));
    let pools = match engine {
        Engine::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
                .unwrap()
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(std::time::Duration::from_secs(30));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(10)
                .connect_with(options)
                .await
                .unwrap();
            sqlx::raw_sql(SQLITE_PLAIN).execute(&pool).await.unwrap();
            Pools::Sqlite(pool)
        }
        Engine::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .connect(&db.url)
                .await
                .unwrap();
            sqlx::raw_sql(POSTGRES_PLAIN).execute(&pool).await.unwrap();
            Pools::Postgres(pool)
        }
    };
    for writers in [1usize, 8] {
        let mut plain_rates = Vec::new();
        let mut chain_rates = Vec::new();
        // Alternate which side runs first, so that neither always meets a
        // cold cache or the other's leftover work (WAL checkpoints, vacuum).
        for round in 0..rounds {
            let chained_first = round % 2 == 1;
            if chained_first {
                chain_rates.push(chained(&core, store.as_ref(), writers, events).await);
            }
            plain_rates.push(match &pools {
                Pools::Sqlite(pool) => plain!(pool, "BEGIN IMMEDIATE", writers, events, next),
                Pools::Postgres(pool) => plain!(pool, "BEGIN", writers, events, next),
            });
            if !chained_first {
                chain_rates.push(chained(&core, store.as_ref(), writers, events).await);
            }
        }
        let costs: Vec<f64> = plain_rates
            .iter()
            .zip(&chain_rates)
            .map(|(p, c)| (1.0 - c / p) * 100.0)
            .collect();
        let per_round: Vec<String> = costs.iter().map(|c| format!("{c:.1}")).collect();
        let median_cost = median(costs);
        let (plain_rate, chain_rate) = (median(plain_rates), median(chain_rates));
        println!(
            "| {} | {writers} | {events} × {rounds} | {plain_rate:.0} | {chain_rate:.0} | {:.1} % | {median_cost:.1} % | {} |",
            engine_name(engine),
            (1.0 - chain_rate / plain_rate) * 100.0,
            per_round.join(" / ")
        );
    }
    core.close().await;
}

enum Pools {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(f64::NAN)
}

fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "SQLite",
        Engine::Postgres => "PostgreSQL",
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let env = |name: &str, full_default: usize, test_default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if full { full_default } else { test_default })
    };
    let events = env("AUDIT_APPEND_EVENTS", 2000, 16);
    let rounds = env("AUDIT_APPEND_ROUNDS", 5, 1).max(1);
    println!(
        "| engine | writers | events × rounds | plain INSERT (events/s, median) | chained append (events/s, median) | chain cost (of the medians) | chain cost (median of the rounds) | chain cost per round (%) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    if std::env::var_os("AUDIT_APPEND_POSTGRES_ONLY").is_none() {
        run(Engine::Sqlite, events, rounds).await;
    }
    run(Engine::Postgres, events, rounds).await;
}
