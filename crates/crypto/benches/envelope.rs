//! Envelope encryption throughput on one thread, for comparison with
//! `openssl speed -evp aes-256-gcm` (see compare-openssl.sh).
//!
//! Run: `cargo bench -p rempart-crypto --bench envelope`. Prints one line per
//! operation and size: `envelope <op> <bytes> <MB/s>` (MB = 10^6 bytes of
//! plaintext, like openssl).
#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use rempart_crypto::{Binding, Environment, KeyFileProvider, Keyring, Purpose, Result, RootKey};
use time::OffsetDateTime;

const SIZES: [usize; 3] = [64, 1024, 64 * 1024];
const BUDGET: Duration = Duration::from_secs(2);

#[allow(clippy::disallowed_methods)] // a bench measures wall time by design
fn measure(size: usize, mut op: impl FnMut() -> Result<usize>) -> Result<f64> {
    // Warm up, then run whole batches until the budget is spent.
    for _ in 0..100 {
        black_box(op()?);
    }
    let start = Instant::now();
    let mut bytes: u64 = 0;
    while start.elapsed() < BUDGET {
        for _ in 0..256 {
            black_box(op()?);
            bytes += size as u64;
        }
    }
    Ok(bytes as f64 / start.elapsed().as_secs_f64() / 1e6)
}

fn main() -> Result<()> {
    let created = OffsetDateTime::UNIX_EPOCH;
    let provider = KeyFileProvider::from_root_key(RootKey::generate()?);
    let ring = Keyring::create(&provider, &[Environment::production()], created)?;
    let binding = Binding::new(
        Environment::production(),
        Some(uuid::Uuid::from_u128(1)),
        Purpose::new("vault:customers.email")?,
    );
    let mut ring = ring;
    ring.enroll_tenant(
        &Environment::production(),
        uuid::Uuid::from_u128(1),
        created,
    )?;
    let (key, _) = ring.new_data_key(&binding)?;
    let record = b"customers/0190d5a8-3c2e-7a4b-8f00-112233445566/email";
    for size in SIZES {
        let plaintext = vec![0x5a_u8; size];
        let encrypt = measure(size, || Ok(key.encrypt(record, &plaintext)?.len()))?;
        let envelope = key.encrypt(record, &plaintext)?;
        let decrypt = measure(size, || Ok(key.decrypt(record, &envelope)?.len()))?;
        println!("envelope encrypt {size} {encrypt:.1}");
        println!("envelope decrypt {size} {decrypt:.1}");
    }
    Ok(())
}
