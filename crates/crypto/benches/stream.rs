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
//! Prints each round, then the medians and the ratios to OpenSSL
//! (MB = 10^6 bytes of plaintext, like openssl). Environment:
//! `STREAM_BENCH_ROUNDS` (default 5), `STREAM_BENCH_CHUNK`,
//! `STREAM_BENCH_OPENSSL=0` to skip the anchor.
#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::error::Error;
use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use rempart_crypto::{FileKey, StreamDecryptor, StreamEncryptor, ciphertext_len};

const TOTAL: usize = 64 * 1024 * 1024;
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

/// MB/s of plaintext over whole passes of `op` within the budget.
#[allow(clippy::disallowed_methods)] // a bench measures wall time by design
fn measure(mut op: impl FnMut() -> Outcome<()>) -> Outcome<f64> {
    op()?; // warm up
    let start = Instant::now();
    let mut passes = 0u32;
    while passes == 0 || start.elapsed() < BUDGET {
        op()?;
        passes += 1;
    }
    Ok(f64::from(passes) * TOTAL as f64 / start.elapsed().as_secs_f64() / 1e6)
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
    let plaintext: Vec<u8> = (0..TOTAL)
        .map(|i| u8::try_from(i % 251).unwrap_or(0))
        .collect();
    let sealed = encrypt(&key, &plaintext, chunk, true)?;
    if sealed.len() as u64 != ciphertext_len(TOTAL as u64)?
        || decrypt(&key, &sealed, chunk, true)? != plaintext
    {
        return Err("the stream does not round-trip".into());
    }
    println!("stream bench: {TOTAL} bytes, 64 KiB segments, {chunk}-byte slices, {rounds} rounds");
    let (mut enc, mut dec, mut ssl) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        enc.push(measure(|| {
            encrypt(&key, &plaintext, chunk, false).map(drop)
        })?);
        dec.push(measure(|| decrypt(&key, &sealed, chunk, false).map(drop))?);
        if anchor {
            ssl.push(openssl()?);
        }
        let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
        println!(
            "round {round}: encrypt {:.1} MB/s, decrypt {:.1} MB/s, openssl {:.1} MB/s",
            last(&enc),
            last(&dec),
            last(&ssl)
        );
    }
    let (enc, dec, ssl) = (median(&mut enc), median(&mut dec), median(&mut ssl));
    println!("median: encrypt {enc:.1} MB/s, decrypt {dec:.1} MB/s, openssl {ssl:.1} MB/s");
    println!(
        "ratio to openssl: encrypt {:.2}, decrypt {:.2}",
        enc / ssl,
        dec / ssl
    );
    Ok(())
}
