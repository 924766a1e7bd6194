//! The identity benchmarks, measured in one run on one machine:
//!
//! 1. password logins per second over HTTP at the default Argon2id
//!    parameters, next to the raw Argon2id rate of the same parameters
//!    with the same parallelism (goal: at least 90 %);
//! 2. peak memory while 1,000 login attempts arrive at once, for two
//!    hashing concurrencies (goal: bounded by the concurrency, not by the
//!    number of attempts);
//! 3. authenticated requests per second (`GET /api/v1/auth/whoami` with an
//!    API token) against a request that needs no authentication (`GET
//!    /healthz`) on the same server (goal: at least 80 %).
//!
//! Authorization decisions are measured by `cargo bench -p rempart-model
//! --bench authorize`.
//!
//! Run: `cargo bench -p rempart-server --bench identity` (SQLite; set
//! `CI=true` to add PostgreSQL). Without `--bench` (as `cargo test` runs
//! it) it does a smoke run. `IDENTITY_BENCH=logins,requests,memory` picks
//! parts (all by default), for example to profile one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::too_many_lines,
    clippy::disallowed_methods,
    clippy::indexing_slicing,
    reason = "a benchmark: it reads the clock and prints"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use rempart_testkit::{Engine, TestServer};
use serde_json::json;

const PASSWORD: &str = "violet-Harbour-lantern-93";

/// Peak resident memory of this process so far, in MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn current_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU time this process has used so far (user and system, every
/// thread), in seconds, from `/proc/self/stat` (ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the
    // first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// How the raw baseline gets Argon2's working memory.
#[derive(Clone, Copy)]
enum Memory {
    /// A fresh allocation per hash: the argon2 crate's own API
    /// (`hash_password`), what a server calls by default.
    Fresh,
    /// Allocated once per thread and reused, as the server's arena does:
    /// the floor (no page faults), the strictest baseline.
    Reused,
}

/// Raw Argon2id hashes per second with `threads` threads.
fn raw_argon2(hashes: usize, threads: usize, memory: Memory) -> f64 {
    use argon2::password_hash::PasswordHasher as _;
    let defaults = rempart_core::identity::password::HashParams::default();
    let params = Params::new(
        defaults.memory_kib,
        defaults.iterations,
        defaults.parallelism,
        None,
    )
    .unwrap();
    let start = Instant::now();
    let per_thread = hashes / threads;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let params = params.clone();
            std::thread::spawn(move || {
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
                let mut blocks = vec![Block::new(); params.block_count()];
                let mut output = [0_u8; 32];
                for i in 0..per_thread {
                    let salt = [u8::try_from((t * 31 + i) % 251).unwrap(); 16];
                    match memory {
                        Memory::Fresh => {
                            std::hint::black_box(
                                argon2
                                    .hash_password_with_salt(PASSWORD.as_bytes(), &salt)
                                    .unwrap(),
                            );
                        }
                        Memory::Reused => {
                            argon2
                                .hash_password_into_with_memory(
                                    PASSWORD.as_bytes(),
                                    &salt,
                                    &mut output,
                                    &mut blocks,
                                )
                                .unwrap();
                            std::hint::black_box(&output);
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    (per_thread * threads) as f64 / start.elapsed().as_secs_f64()
}

async fn server(engine: Engine, concurrency: usize) -> Option<TestServer> {
    TestServer::start_hashing(
        engine,
        |c| {
            c.identity.hash_concurrency = concurrency;
            // The flood below comes from one address: no lockout.
            c.identity.lockout_attempts = u32::MAX;
            c.identity.source_attempts = u32::MAX;
            c.database.max_connections = 16;
        },
        true,
    )
    .await
}

async fn create_user(server: &TestServer, admin: &str, name: &str) {
    let created = server
        .client
        .post(server.at("/api/v1/users"))
        .bearer_auth(admin)
        .json(&json!({"name": name, "kind": "staff", "password": PASSWORD, "temporary_password": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// Logins per second with `clients` clients at once.
async fn logins(server: &TestServer, total: usize, clients: usize) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = server.client.clone();
        let url = server.at("/api/v1/auth/login");
        tasks.push(tokio::spawn(async move {
            for _ in 0..total / clients {
                let response = client
                    .post(&url)
                    .json(&json!({"name": "bench", "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (total / clients * clients) as f64 / start.elapsed().as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        f64::midpoint(values[n / 2 - 1], values[n / 2])
    }
}

/// Requests per second to `path` for `duration`, `clients` at once.
async fn rate(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    duration: Duration,
    clients: usize,
) -> f64 {
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = server.client.clone();
        let url = server.at(path);
        let token = token.map(str::to_owned);
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let mut request = client.get(&url);
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 200);
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(std::sync::atomic::Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Whether `IDENTITY_BENCH` (a comma-separated list; unset: all) asks for
/// `part`.
fn wanted(part: &str) -> bool {
    std::env::var("IDENTITY_BENCH").map_or(true, |parts| parts.split(',').any(|p| p.trim() == part))
}

async fn run(engine: Engine, full: bool) {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let (per_round, flood) = if full { (40, 1000) } else { (4, 20) };
    let Some(server) = server(engine, cores).await else {
        println!("{}: skipped (no database)", engine.as_str());
        return;
    };
    let admin = server.admin_token().await;
    create_user(&server, &admin, "bench").await;

    if wanted("logins") {
        // 1. Logins against raw hashing, same parallelism, interleaved in
        //    rounds (the order rotated every round); medians.
        let rounds = if full { 10 } else { 1 };
        let (mut fresh, mut reused, mut http) = (Vec::new(), Vec::new(), Vec::new());
        let (mut vs_fresh, mut vs_reused) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            let (mut f, mut r, mut h) = (0.0, 0.0, 0.0);
            for turn in 0..3 {
                match (turn + i) % 3 {
                    0 => f = raw_argon2(per_round, cores, Memory::Fresh),
                    1 => r = raw_argon2(per_round, cores, Memory::Reused),
                    _ => h = logins(&server, per_round, cores * 2).await,
                }
            }
            fresh.push(f);
            reused.push(r);
            http.push(h);
            vs_fresh.push(h / f);
            vs_reused.push(h / r);
        }
        println!(
            "{}: logins/s {:.1}; raw Argon2id (m=19456,t=2,p=1) hashes/s with {cores} threads: fresh memory {:.1}, reused memory {:.1} (medians of {rounds} interleaved rounds); logins / fresh {:.2}, logins / reused {:.2}",
            engine.as_str(),
            median(&mut http),
            median(&mut fresh),
            median(&mut reused),
            median(&mut vs_fresh),
            median(&mut vs_reused),
        );
    }

    if wanted("requests") {
        // 3. Authenticated against unauthenticated requests, interleaved:
        //    short rounds of each in turn (the order swapped every round),
        //    so that the machine's drift and its neighbours' load fall on
        //    both alike; each round gives a ratio, the median is reported.
        let rounds = if full { 12 } else { 2 };
        let round = Duration::from_millis(if full { 500 } else { 100 });
        let clients = 16;
        // The answers' sizes, for the record.
        let size = |path: &'static str, token: Option<String>| {
            let mut request = server.client.get(server.at(path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            async move { request.send().await.unwrap().bytes().await.unwrap().len() }
        };
        println!(
            "{}: answer bodies: /healthz {} bytes, /api/v1/auth/whoami {} bytes",
            engine.as_str(),
            size("/healthz", None).await,
            size("/api/v1/auth/whoami", Some(admin.clone())).await,
        );
        // Warm both paths.
        rate(&server, "/healthz", None, round, clients).await;
        rate(&server, "/api/v1/auth/whoami", Some(&admin), round, clients).await;
        let (mut open, mut authed, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        // CPU seconds and requests of each kind, over all rounds.
        let (mut open_cpu, mut authed_cpu) = ((0.0, 0.0), (0.0, 0.0));
        for i in 0..rounds {
            let mut o = 0.0;
            let mut a = 0.0;
            for turn in 0..2 {
                let authenticated = (turn + i) % 2 == 1;
                let cpu = cpu_seconds();
                if authenticated {
                    a = rate(&server, "/api/v1/auth/whoami", Some(&admin), round, clients).await;
                    authed_cpu.0 += cpu_seconds() - cpu;
                    authed_cpu.1 += a * round.as_secs_f64();
                } else {
                    o = rate(&server, "/healthz", None, round, clients).await;
                    open_cpu.0 += cpu_seconds() - cpu;
                    open_cpu.1 += o * round.as_secs_f64();
                }
            }
            open.push(o);
            authed.push(a);
            ratios.push(a / o);
        }
        let (open, authed) = (median(&mut open), median(&mut authed));
        let (low, high) = (
            ratios.iter().copied().fold(f64::INFINITY, f64::min),
            ratios.iter().copied().fold(0.0, f64::max),
        );
        // Client and server share this process: CPU per request covers
        // both, and is what throughput on a quiet machine would follow.
        let open_us = open_cpu.0 / open_cpu.1 * 1e6;
        let authed_us = authed_cpu.0 / authed_cpu.1 * 1e6;
        println!(
            "{}: GET /healthz {open:.0} req/s; GET /api/v1/auth/whoami with a token {authed:.0} req/s (medians of {rounds} interleaved rounds); ratio {:.2} (rounds {low:.2} to {high:.2}); CPU per request (client and server) {open_us:.1} µs and {authed_us:.1} µs, ratio {:.2}",
            engine.as_str(),
            median(&mut ratios),
            open_us / authed_us,
        );
    }
    server.stop().await;

    // 2. Memory under a flood of concurrent attempts: each concurrency in
    //    a fresh process (this binary again), so that one run's allocations
    //    do not count in the next.
    for concurrency in [1, 4] {
        if !wanted("memory") {
            break;
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--memory-child",
                engine.as_str(),
                &concurrency.to_string(),
                &flood.to_string(),
            ])
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
}

/// One flood of `flood` concurrent wrong-password logins for unknown names
/// (each runs the dummy hash), in this process; prints its peak memory.
async fn memory_child(engine: Engine, concurrency: usize, flood: usize) {
    let Some(server) = server(engine, concurrency).await else {
        return;
    };
    let before = current_rss_mib();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..flood {
        let client = server.client.clone();
        let url = server.at("/api/v1/auth/login");
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(&url)
                .json(&json!({"name": format!("nobody-{i}"), "password": "wrong-password-1"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "{}: {flood} concurrent login attempts, hash_concurrency {concurrency}: peak RSS {:.0} MiB, {:.0} MiB above the idle server (Argon2 working memory {} MiB), {:.1} s",
        engine.as_str(),
        peak_rss_mib(),
        peak_rss_mib() - before,
        concurrency * 19,
        start.elapsed().as_secs_f64()
    );
    server.stop().await;
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory-child") {
        let engine = if args[i + 1] == "postgres" {
            Engine::Postgres
        } else {
            Engine::Sqlite
        };
        let concurrency = args[i + 2].parse().unwrap();
        let flood = args[i + 3].parse().unwrap();
        runtime.block_on(memory_child(engine, concurrency, flood));
        return;
    }
    runtime.block_on(async {
        run(Engine::Sqlite, full).await;
        run(Engine::Postgres, full).await;
    });
}
