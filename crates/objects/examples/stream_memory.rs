//! Streams a large object through `put_stream` and `get_stream` and reports
//! the process's peak resident memory (`VmHWM`), to show that memory stays
//! bounded whatever the object's size. Not a test: nothing is asserted.
//!
//! ```text
//! cargo run -p rempart-objects --example stream_memory -- [MiB] [local|s3]
//! ```
//!
//! The default is 1024 MiB on a local directory under the system's
//! temporary directory; `s3` starts the test S3 server (moto, as the tests
//! do), which keeps the whole object in its own memory, not ours.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "an example that reports on standard output"
)]

use bytes::Bytes;
use futures::StreamExt as _;
use rempart_objects::{ObjectKey, ObjectStorage, PART_SIZE, PARTS_IN_FLIGHT, provider};
use rempart_testkit::s3::{S3Server, Transport};

const CHUNK: usize = 64 * 1024;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args
        .next()
        .map_or(1024, |a| a.parse().expect("a size in MiB"));
    let backend = args.next().unwrap_or_else(|| "local".to_owned());
    let size = mib * 1024 * 1024;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut _server = None;
    let storage = match backend.as_str() {
        "local" => ObjectStorage::new(provider::local::open(dir.path()).unwrap()),
        "s3" => {
            let server = S3Server::start(Transport::Tls)
                .await
                .expect("the test S3 server");
            let config = rempart_objects::S3Config {
                bucket: server.bucket.clone(),
                endpoint: server.endpoint.clone(),
                region: server.region.clone(),
                access_key_id: server.access_key_id.clone(),
                secret_access_key: server.secret_access_key.clone().into(),
                allow_http: false,
                root_certificate: server.ca_file.clone(),
                max_retries: 0,
            };
            let storage = ObjectStorage::new(provider::s3::open(&config).unwrap());
            _server = Some(server);
            storage
        }
        other => panic!("unknown backend {other}: local or s3"),
    };
    println!(
        "{mib} MiB through {} (parts of {} MiB, {PARTS_IN_FLIGHT} in flight, chunks of {} KiB)",
        storage.name(),
        PART_SIZE >> 20,
        CHUNK >> 10
    );
    println!("peak RSS at start: {} MiB", peak_rss_kib() / 1024);

    let key = ObjectKey::new("memory/large").unwrap();
    // A fresh buffer per chunk, as a real source (a request body) yields.
    let data = futures::stream::iter(
        (0..size / CHUNK).map(|n| Ok(Bytes::from(vec![u8::try_from(n % 256).unwrap_or(0); CHUNK]))),
    );
    let info = storage.put_stream(&key, data).await.unwrap();
    println!(
        "put {} bytes, sha256 {}; peak RSS {} MiB",
        info.size,
        info.sha256,
        peak_rss_kib() / 1024
    );

    let mut stream = storage.get_stream(&key, Some(info.sha256)).await.unwrap();
    let mut read = 0u64;
    while let Some(chunk) = stream.next().await {
        read += chunk.unwrap().len() as u64;
    }
    println!(
        "got {read} bytes, checksum verified; peak RSS {} MiB",
        peak_rss_kib() / 1024
    );
    storage.delete(&key).await.unwrap();
}

/// `VmHWM` from /proc/self/status, in KiB (0 where there is none).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
