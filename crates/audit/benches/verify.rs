//! Audit log benchmarks, hand-timed (no harness): chain sealing, export
//! verification throughput, and Merkle checkpoint and proof times on a
//! 10-million-event log.
//!
//! Run: `cargo bench -p rempart-audit` (sizes: `AUDIT_BENCH_EVENTS`,
//! default 1,000,000; `AUDIT_BENCH_MERKLE`, default 10,000,000).

// A benchmark reads the monotonic clock and prints its results.
#![allow(
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, BufWriter};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use rempart_audit::merkle::leaf_hash;
use rempart_audit::{
    ChainHead, Checkpoint, Ed25519Signer, EventBody, ExportWriter, Frontier, MerkleLog, Outcome,
    Signer, consistency_proof, inclusion_proof, root, verify_consistency, verify_export,
    verify_inclusion,
};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use uuid::Uuid;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A representative event: a principal acting on a tenant, with a 96-byte
/// encrypted details envelope.
fn body(i: u64) -> EventBody {
    EventBody {
        time: datetime!(2025-06-01 00:00 UTC) + time::Duration::microseconds(i.cast_signed()),
        actor: format!("principal:{}", Uuid::from_u128(u128::from(i % 1000))),
        action: "vault.record.read".into(),
        target: Some(format!("record:{}", Uuid::from_u128(u128::from(i)))),
        tenant: Some(Uuid::from_u128(u128::from(i % 50))),
        outcome: Outcome::Success,
        request_id: Some(format!("req-{i:016x}")),
        source: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
        details: Some(vec![0xa5; 96]),
        id: Some(Uuid::from_u128(u128::from(i) << 64 | 0x4000_8000_0000_0000)),
    }
}

fn per_sec(n: u64, secs: f64) -> String {
    format!("{:.0}", n as f64 / secs)
}

/// A deterministic pseudo-random sequence (xorshift), for proof indices.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not and
    // should stay quick.
    let full = std::env::args().any(|a| a == "--bench");
    let events = env_u64("AUDIT_BENCH_EVENTS", if full { 1_000_000 } else { 10_000 });
    let merkle_n = env_u64("AUDIT_BENCH_MERKLE", if full { 10_000_000 } else { 10_000 });
    let signer = Ed25519Signer::from_seed(&[7; 32]).unwrap();
    let key = signer.public_key();

    // 1. Chain sealing (encoding + SHA-256), bodies prepared beforehand.
    let bodies: Vec<EventBody> = (1..=events).map(body).collect();
    let mut head = ChainHead::GENESIS;
    let t = Instant::now();
    let sealed: Vec<_> = bodies.into_iter().map(|b| head.seal(b).unwrap()).collect();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "chain sealing: {events} events in {secs:.3} s = {} events/s",
        per_sec(events, secs)
    );

    // 2. Export with a checkpoint every 10,000 events, then verify it from
    //    the file.
    let path =
        std::env::temp_dir().join(format!("rempart-audit-bench-{}.jsonl", std::process::id()));
    let t = Instant::now();
    {
        let out = BufWriter::new(File::create(&path).unwrap());
        let mut w = ExportWriter::new(out, key.key_id()).unwrap();
        let mut frontier = Frontier::new();
        let mut prev: Option<Checkpoint> = None;
        for e in &sealed {
            w.event(e).unwrap();
            frontier.push(&e.hash);
            if e.seq % 10_000 == 0 || e.seq == events {
                let cp = Checkpoint::create(&signer, e.seq, frontier.root(), e.time, prev.as_ref())
                    .unwrap();
                w.checkpoint(&cp).unwrap();
                prev = Some(cp);
            }
        }
        w.finish().unwrap();
    }
    let write_secs = t.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path).unwrap().len();
    drop(sealed);
    let t = Instant::now();
    let report = verify_export(
        BufReader::with_capacity(1 << 20, File::open(&path).unwrap()),
        &key,
    )
    .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(report.events, events);
    println!(
        "export: {events} events, {} checkpoints, {:.1} MB written in {write_secs:.3} s",
        report.checkpoints,
        bytes as f64 / 1e6
    );
    println!(
        "verify_export: {events} events in {secs:.3} s = {} events/s ({:.0} MB/s)",
        per_sec(events, secs),
        bytes as f64 / 1e6 / secs
    );
    std::fs::remove_file(&path).ok();

    // 2b. SHA-256 of an event-sized input (the bulk of verification), the
    //     RustCrypto sha2 crate against aws-lc-rs.
    let input = [0x5au8; 300];
    let rounds = events;
    let t = Instant::now();
    for i in 0..rounds {
        let mut h = Sha256::new();
        h.update(i.to_be_bytes());
        h.update(input);
        black_box::<[u8; 32]>(h.finalize().into());
    }
    let sha2_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for i in 0..rounds {
        let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        h.update(&i.to_be_bytes());
        h.update(&input);
        black_box(h.finish());
    }
    let awslc_secs = t.elapsed().as_secs_f64();
    println!(
        "sha256 of 308 bytes: sha2 {} /s, aws-lc-rs {} /s",
        per_sec(rounds, sha2_secs),
        per_sec(rounds, awslc_secs)
    );

    // 3. Merkle tree over `merkle_n` event hashes held in memory.
    let t = Instant::now();
    let mut tree = MerkleLog::new();
    for i in 0..merkle_n {
        let h: [u8; 32] = Sha256::digest(i.to_be_bytes()).into();
        tree.push(&h);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "merkle build: {merkle_n} leaves in {secs:.3} s = {} leaves/s",
        per_sec(merkle_n, secs)
    );

    let n = tree.size();
    let t = Instant::now();
    let r = root(&tree, n).unwrap();
    let cp = Checkpoint::create(&signer, n, r, datetime!(2025-06-02 00:00 UTC), None).unwrap();
    let cp_us = t.elapsed().as_secs_f64() * 1e6;
    black_box(&cp);
    println!("checkpoint at size {n} (root + Ed25519 signature): {cp_us:.1} µs");

    let rounds = 10_000u64;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let queries: Vec<(u64, u64)> = (0..rounds)
        .map(|_| {
            let size = n - rng.next() % (n / 10).max(1);
            (rng.next() % size, size)
        })
        .collect();
    let t = Instant::now();
    let proofs: Vec<_> = queries
        .iter()
        .map(|&(i, size)| inclusion_proof(&tree, i, size).unwrap())
        .collect();
    let gen_us = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let roots: Vec<_> = queries
        .iter()
        .map(|&(_, size)| root(&tree, size).unwrap())
        .collect();
    let t = Instant::now();
    for (((i, size), p), r) in queries.iter().zip(&proofs).zip(&roots) {
        let event_hash: [u8; 32] = Sha256::digest(i.to_be_bytes()).into();
        let leaf = leaf_hash(&event_hash);
        verify_inclusion(&leaf, *i, *size, p, r).unwrap();
    }
    let ver_us = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!(
        "inclusion proof in a tree of ~{n}: generate {gen_us:.2} µs, verify {ver_us:.2} µs (mean of {rounds}, {} hashes)",
        proofs[0].len()
    );

    let t = Instant::now();
    let cproofs: Vec<_> = queries
        .iter()
        .map(|&(i, size)| consistency_proof(&tree, i + 1, size).unwrap())
        .collect();
    let gen_us = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let old_roots: Vec<_> = queries
        .iter()
        .map(|&(i, _)| root(&tree, i + 1).unwrap())
        .collect();
    let t = Instant::now();
    for ((((i, size), p), r), old) in queries.iter().zip(&cproofs).zip(&roots).zip(&old_roots) {
        verify_consistency(i + 1, *size, old, r, p).unwrap();
    }
    let ver_us = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!(
        "consistency proof in a tree of ~{n}: generate {gen_us:.2} µs, verify {ver_us:.2} µs (mean of {rounds})"
    );
}
