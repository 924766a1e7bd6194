//! Vault record writes and reads per second through the service layer
//! (gate, authorization, sealing, audit event, commit), for a record of
//! five pii fields next to the same record with all five fields public, in
//! the same run, on SQLite and PostgreSQL: the cost of encryption by class.
//! Both sides pay the same authorization and audit; the pii side also
//! seals five envelopes per write and opens five per read. The audit
//! sequencer runs as under `rempart serve`.
//!
//! Run: `cargo bench -p rempart-core --bench vault` (records per run:
//! `VAULT_BENCH_RECORDS`, default 500; rounds, alternating which side goes
//! first, medians reported: `VAULT_BENCH_ROUNDS`, default 5). Without
//! `--bench` it runs a few records once.

#![allow(
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark reads the monotonic clock, prints, and fails loudly"
)]

use std::sync::Arc;
use std::time::Instant;

use rempart_core::vault::{ReadOptions, RecordWrite};
use rempart_core::{Actor, Rempart, RequestContext, SystemClock};
use rempart_model::vault::{CollectionName, Field};
use rempart_model::{Environment, NewTenant, Region, TenantId, TenantName};
use rempart_testkit::{Engine, TestDatabase};
use serde_json::json;

fn fields(class: &str) -> Vec<Field> {
    let names = ["email", "phone", "name", "address", "birth"];
    let types = ["email", "phone", "string", "string", "date"];
    names
        .iter()
        .zip(types)
        .map(|(n, t)| {
            serde_json::from_value(json!({"name": n, "type": t, "class": class})).unwrap()
        })
        .collect()
}

fn values(i: usize) -> serde_json::Value {
    json!({
        "email": format!("customer{i}@example.com"),
        "phone": format!("+3361234{:04}", i % 10_000),
        "name": format!("Customer number {i}"),
        "address": format!("{i} rue de la Paix, 75002 Paris"),
        "birth": "1984-12-01",
    })
}

/// Writes `n` records into `collection`, then reads them back; answers
/// (writes/s, reads/s).
async fn run_side(
    core: &Rempart,
    actor: &Actor,
    tenant: TenantId,
    collection: &str,
    n: usize,
) -> (f64, f64) {
    let ctx = RequestContext::default();
    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let write = RecordWrite {
            subject: None,
            values: values(i),
        };
        ids.push(
            core.create_record(actor, &ctx, tenant, collection, write)
                .await
                .unwrap()
                .id,
        );
    }
    let writes = n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for id in ids {
        core.read_record(actor, &ctx, tenant, collection, id, ReadOptions::default())
            .await
            .unwrap();
    }
    let reads = n as f64 / t.elapsed().as_secs_f64();
    (writes, reads)
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn run(engine: Engine, n: usize, rounds: usize) {
    let Some(db) = TestDatabase::create(engine).await else {
        println!("{engine:?}: skipped (unavailable)");
        return;
    };
    let store = db.store().await;
    let core =
        Rempart::new(store, Arc::new(SystemClock)).with_keys(rempart_testkit::test_keys(db.dir()));
    let sequencer = {
        let core = core.clone();
        tokio::spawn(async move { core.run_audit_sequencer().await })
    };
    let ctx = RequestContext::default();
    let admin = rempart_testkit::fixtures::first_admin(&core, &ctx).await;
    let tenant = core
        .create_tenant(
            &admin,
            &ctx,
            NewTenant {
                name: TenantName::parse("Bench").unwrap(),
                region: Region::parse("eu-west").unwrap(),
                environment: Environment::production(),
            },
        )
        .await
        .unwrap();
    for (name, class) in [("pii", "pii"), ("public", "public")] {
        let name = CollectionName::parse(name).unwrap();
        core.create_collection(&admin, &ctx, tenant.id, name, fields(class))
            .await
            .unwrap();
    }
    let (mut pw, mut pr, mut cw, mut cr) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            ["public", "pii"]
        } else {
            ["pii", "public"]
        };
        for side in order {
            let (w, r) = run_side(&core, &admin, tenant.id, side, n).await;
            if side == "pii" {
                cw.push(w);
                cr.push(r);
            } else {
                pw.push(w);
                pr.push(r);
            }
        }
    }
    let (pw, pr, cw, cr) = (median(pw), median(pr), median(cw), median(cr));
    println!(
        "| {engine:?} | writes | {pw:.0} | {cw:.0} | {:.1} % |",
        (1.0 - cw / pw) * 100.0
    );
    println!(
        "| {engine:?} | reads | {pr:.0} | {cr:.0} | {:.1} % |",
        (1.0 - cr / pr) * 100.0
    );
    sequencer.abort();
    core.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, rounds) = if benching {
        (
            env("VAULT_BENCH_RECORDS", 500),
            env("VAULT_BENCH_ROUNDS", 5),
        )
    } else {
        (5, 1)
    };
    println!("| engine | operation | all public (/s) | five pii (/s) | cost of encryption |");
    println!("|---|---|--:|--:|--:|");
    for engine in [Engine::Sqlite, Engine::Postgres] {
        run(engine, n, rounds).await;
    }
}
