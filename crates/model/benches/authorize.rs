//! Authorization decisions with 10,000 grants: the indexed decision
//! (`GrantIndex::allows`) next to the linear rule (`is_allowed`), in the
//! same run. Run with `cargo bench -p rempart-model --bench authorize`;
//! under `cargo test` it runs a handful of decisions only.

#![allow(
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "a benchmark measures time, prints, and computes percentiles"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use rempart_model::grant_index::GrantIndex;
use rempart_model::{Environment, Grant, Permission, Role, Scope, TenantId, is_allowed};
use time::macros::datetime;
use uuid::Uuid;

const GRANTS: u128 = 10_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

fn measure(name: &str, decisions: usize, mut decide: impl FnMut(usize) -> bool) {
    let mut samples = Vec::with_capacity(decisions);
    let mut allowed = 0_usize;
    let start = Instant::now();
    for i in 0..decisions {
        let t = Instant::now();
        allowed += usize::from(black_box(decide(i)));
        samples.push(t.elapsed());
    }
    let total = start.elapsed();
    samples.sort_unstable();
    println!(
        "| {name} | {decisions} | {:.0} | {:?} | {:?} | {allowed} |",
        decisions as f64 / total.as_secs_f64(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let decisions = if full { 1_000_000 } else { 100 };
    let now = datetime!(2026-11-28 12:00 UTC);
    // One principal with 10,000 grants: an auditor of 10,000 tenants.
    let grants: Vec<Grant> = (0..GRANTS)
        .map(|n| {
            Grant::of(
                Role::Auditor,
                Scope::Tenant(TenantId(Uuid::from_u128(n))),
                None,
            )
        })
        .collect();
    let index = GrantIndex::new(&grants);
    let production = Environment::production();
    // Targets: half granted tenants, half not (2 * GRANTS distinct ids).
    let target = |i: usize| {
        Scope::Tenant(TenantId(Uuid::from_u128(
            (i as u128 * 7_919) % (2 * GRANTS),
        )))
    };
    let targets: Vec<Scope> = (0..decisions).map(target).collect();
    println!("| decision | decisions | per second | p50 | p99 | allowed |");
    println!("|---|---|---|---|---|---|");
    measure("GrantIndex::allows", decisions, |i| {
        index.allows(Permission::TenantRead, &targets[i], Some(&production), now)
    });
    measure(
        "is_allowed (linear)",
        decisions.min(if full { 20_000 } else { 100 }),
        |i| {
            is_allowed(
                &grants,
                Permission::TenantRead,
                &targets[i],
                Some(&production),
                now,
            )
        },
    );
}
