//! Streaming file encryption throughput on one thread, measured in the same
//! run as its anchor, `openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3`.
//!
//! Run (release profile): `cargo bench -p rempart-crypto --bench stream`.
//! Each round encrypts a 64 MiB buffer through `StreamEncryptor` (64 KiB
//! segments) and decrypts it through `StreamDecryptor`, as many times as
//! fit in the round's budget, then runs the OpenSSL anchor; rounds
//! interleave so that load on a shared machine hits all three alike. The
//! input is fed in slices of `STREAM_BENCH_CHUNK` bytes (default 65536) and
//! the output is dropped after each slice, as a writer to storage would.
//! `openssl speed` divides by the CPU time it used, not by elapsed time,
//! so on a shared machine its rate would not be comparable with a wall-clock
//! one: the rates here are also per second of this thread's CPU time (from
//! /proc/thread-self/schedstat), and the ratios use those; the wall-clock
//! rates are printed beside them. Prints each round, then the medians and
//! the ratios to OpenSSL (MB = 10^6 bytes of plaintext, like openssl).
//! Environment:
//! `STREAM_BENCH_ROUNDS` (default 5), `STREAM_BENCH_CHUNK`,
//! `STREAM_BENCH_OPENSSL=0` to skip the anchor, `STREAM_BENCH_BYTES` for
//! another buffer size (to tell memory traffic from the cipher's cost).
#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::error::Error;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use rempart_crypto::{FileKey, StreamDecryptor, StreamEncryptor, ciphertext_len};

const DEFAULT_TOTAL: usize = 64 * 1024 * 1024;
const BUDGET: Duration = Duration::from_secs(2);
const AD: &[u8] = b"tenant/0190d5a8-3c2e-7a4b-8f00-112233445566/attachments/1/v1";

type Outcome<T> = Result<T, Box<dyn Error>>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

fn encrypt(key: &FileKey, plaintext: &[u8], chunk: usize, keep: bool) -> Outcome<Vec<u8>> {
    let mut encryptor = StreamEncryptor::new(key, AD)?;
    let mut out = Vec::with_capacity(if keep {
        plaintext.len() + 4096
    } else {
        2 * chunk + 4096
    });
    let mut kept = Vec::new();
    for piece in plaintext.chunks(chunk) {
        encryptor.update(piece, &mut out)?;
        if keep {
            kept.extend_from_slice(&out);
        }
        black_box(out.len());
        out.clear();
    }
    encryptor.finish(&mut out)?;
    kept.extend_from_slice(&out);
    Ok(kept)
}

fn decrypt(key: &FileKey, sealed: &[u8], chunk: usize, keep: bool) -> Outcome<Vec<u8>> {
    let mut decryptor = StreamDecryptor::new(key, AD);
    let mut out = Vec::with_capacity(2 * chunk + 4096);
    let mut kept = Vec::new();
    for piece in sealed.chunks(chunk) {
        decryptor.update(piece, &mut out)?;
        if keep {
            kept.extend_from_slice(&out);
        }
        black_box(out.len());
        out.clear();
    }
    decryptor.finish(&mut out)?;
    kept.extend_from_slice(&out);
    Ok(kept)
}

/// This thread's CPU time in seconds (Linux), if it can be read.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}

/// Plaintext MB per second of CPU time and per second of wall time, over
/// whole passes of `op` within the budget.
#[allow(clippy::disallowed_methods)] // a bench measures wall time by design
fn measure(total: usize, mut op: impl FnMut() -> Outcome<()>) -> Outcome<(f64, f64)> {
    op()?; // warm up
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let mut passes = 0u32;
    while passes == 0 || start.elapsed() < BUDGET {
        op()?;
        passes += 1;
    }
    let wall = start.elapsed().as_secs_f64();
    let megabytes = f64::from(passes) * total as f64 / 1e6;
    let cpu = match (cpu_start, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall,
    };
    Ok((megabytes / cpu, megabytes / wall))
}

/// The anchor's rate in MB/s, from the last line of `openssl speed` (1000s
/// of bytes per second).
fn openssl() -> Outcome<f64> {
    let output = Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "aes-256-gcm",
            "-bytes",
            "16384",
            "-seconds",
            "3",
        ])
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let rate = text
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("aes-256-gcm"))
        .filter_map(|l| l.split_whitespace().next_back())
        .filter_map(|v| v.trim_end_matches('k').parse::<f64>().ok())
        .next_back()
        .ok_or("no aes-256-gcm line in the output of openssl speed")?;
    Ok(rate / 1000.0)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Outcome<()> {
    let rounds = env_usize("STREAM_BENCH_ROUNDS", 5);
    let chunk = env_usize("STREAM_BENCH_CHUNK", 64 * 1024);
    let anchor = std::env::var("STREAM_BENCH_OPENSSL").as_deref() != Ok("0");
    let key = FileKey::generate()?;
    let total = env_usize("STREAM_BENCH_BYTES", DEFAULT_TOTAL);
    let plaintext: Vec<u8> = (0..total)
        .map(|i| u8::try_from(i % 251).unwrap_or(0))
        .collect();
    let sealed = encrypt(&key, &plaintext, chunk, true)?;
    if sealed.len() as u64 != ciphertext_len(total as u64)?
        || decrypt(&key, &sealed, chunk, true)? != plaintext
    {
        return Err("the stream does not round-trip".into());
    }
    println!(
        "stream bench: {total} bytes, 64 KiB segments, {chunk}-byte slices, {rounds} rounds; \
         MB/s per CPU second (per wall second)"
    );
    let (mut enc, mut dec, mut ssl) = (Vec::new(), Vec::new(), Vec::new());
    let (mut enc_wall, mut dec_wall) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (cpu, wall) = measure(total, || encrypt(&key, &plaintext, chunk, false).map(drop))?;
        enc.push(cpu);
        enc_wall.push(wall);
        let (cpu, wall) = measure(total, || decrypt(&key, &sealed, chunk, false).map(drop))?;
        dec.push(cpu);
        dec_wall.push(wall);
        if anchor {
            ssl.push(openssl()?);
        }
        let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
        println!(
            "round {round}: encrypt {:.1} ({:.1}), decrypt {:.1} ({:.1}), openssl {:.1}",
            last(&enc),
            last(&enc_wall),
            last(&dec),
            last(&dec_wall),
            last(&ssl)
        );
    }
    let (enc, dec, ssl) = (median(&mut enc), median(&mut dec), median(&mut ssl));
    let (enc_wall, dec_wall) = (median(&mut enc_wall), median(&mut dec_wall));
    println!(
        "median: encrypt {enc:.1} ({enc_wall:.1}), decrypt {dec:.1} ({dec_wall:.1}), openssl {ssl:.1}"
    );
    println!(
        "ratio to openssl (CPU time): encrypt {:.2}, decrypt {:.2}",
        enc / ssl,
        dec / ssl
    );
    Ok(())
}
