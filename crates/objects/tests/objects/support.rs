//! The backends the suite runs on (a temporary local directory; a real
//! S3-compatible server over TLS), with what a test needs underneath the
//! API: the bytes as stored, a way to change them, and what an upload left
//! behind.

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutOptions, PutPayload};
use rempart_objects::provider::{self, Backend};
use rempart_objects::{ObjectError, ObjectKey, ObjectStorage, S3Config, StorageConfig};
use rempart_testkit::s3::{S3Server, Transport};
use secrecy::SecretString;

/// Runs an async test once per backend: `both_backends!(name);` makes
/// `name::local` and `name::s3`.
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() {
                let backend = $crate::support::TestBackend::local();
                super::$name(&backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3() {
                if let Some(backend) = $crate::support::TestBackend::s3().await {
                    super::$name(&backend).await;
                }
            }
        }
    )+};
}
pub(crate) use both_backends;

/// Where the test's objects live.
pub enum Place {
    Local(tempfile::TempDir),
    S3(Box<S3Server>),
}

/// A backend under test.
pub struct TestBackend {
    pub storage: ObjectStorage,
    /// The same store, underneath the stored format.
    pub raw: Arc<dyn ObjectStore>,
    pub place: Place,
}

impl TestBackend {
    pub fn local() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backend = provider::local::open(dir.path()).unwrap();
        Self::from(backend, Place::Local(dir))
    }

    /// `None` when the S3 server cannot start outside CI (skipped).
    pub async fn s3() -> Option<Self> {
        let server = S3Server::start(Transport::Tls).await?;
        let backend = provider::s3::open(&s3_config(&server)).unwrap();
        Some(Self::from(backend, Place::S3(Box::new(server))))
    }

    fn from(backend: Backend, place: Place) -> Self {
        Self {
            raw: backend.store().clone(),
            storage: ObjectStorage::new(backend),
            place,
        }
    }

    /// The object under `key` as stored (content and trailer).
    pub async fn stored(&self, key: &str) -> Vec<u8> {
        match &self.place {
            Place::Local(dir) => std::fs::read(dir.path().join(key)).unwrap(),
            Place::S3(_) => self
                .raw
                .get_opts(&Path::from(key), GetOptions::default())
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec(),
        }
    }

    /// Replaces the stored bytes under `key` behind the API's back: a file
    /// written in the directory, or a `PutObject` through the raw S3 API.
    pub async fn overwrite(&self, key: &str, bytes: Vec<u8>) {
        match &self.place {
            Place::Local(dir) => {
                let path = dir.path().join(key);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            Place::S3(_) => {
                self.raw
                    .put_opts(
                        &Path::from(key),
                        PutPayload::from(bytes),
                        PutOptions::default(),
                    )
                    .await
                    .unwrap();
            }
        }
    }

    /// Everything stored: every file in the directory (temporary ones
    /// included), or every object and unfinished multipart upload in the
    /// bucket.
    pub async fn everything(&self) -> Vec<String> {
        match &self.place {
            Place::Local(dir) => files_under(dir.path()),
            Place::S3(server) => {
                let mut all: Vec<String> = self
                    .raw
                    .list(None)
                    .map_ok(|meta| meta.location.to_string())
                    .try_collect()
                    .await
                    .unwrap();
                for n in 0..server.pending_uploads().await {
                    all.push(format!("(unfinished multipart upload {n})"));
                }
                all
            }
        }
    }
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path.display().to_string());
        }
    }
    files
}

/// The configuration a test S3 server asks for.
pub fn s3_config(server: &S3Server) -> S3Config {
    let config = toml::from_str::<StorageConfig>(&format!(
        r#"
            provider = "s3"
            bucket = "{}"
            endpoint = "{}"
            region = "{}"
            access_key_id = "{}"
            secret_access_key = "{}"
            allow_http = {}
        "#,
        server.bucket,
        server.endpoint,
        server.region,
        server.access_key_id,
        server.secret_access_key,
        server.ca_file.is_none(),
    ))
    .unwrap();
    let StorageConfig::S3(mut config) = config else {
        panic!("not S3");
    };
    config.root_certificate.clone_from(&server.ca_file);
    config
}

/// A secret as a config holds it.
pub fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

pub fn key(s: &str) -> ObjectKey {
    ObjectKey::new(s).unwrap()
}

/// `data` as a stream of `chunk`-byte pieces.
pub fn chunks(
    data: &[u8],
    chunk: usize,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let pieces: Vec<std::io::Result<Bytes>> = data
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(pieces)
}

/// `len` bytes that are not all alike (a small xorshift), generated as
/// they are read, in 64 KiB chunks.
pub fn generated(len: usize, seed: u64) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    const CHUNK: usize = 64 * 1024;
    let mut state = seed | 1;
    let mut left = len;
    futures::stream::iter(std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let n = left.min(CHUNK);
        left -= n;
        let mut chunk = Vec::with_capacity(n);
        while chunk.len() < n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.extend_from_slice(&state.to_le_bytes());
        }
        chunk.truncate(n);
        Some(Ok(Bytes::from(chunk)))
    }))
}

/// Reads the object under `key` to its end: the bytes received, and the
/// stream's error if it ended with one.
pub async fn read_all(
    storage: &ObjectStorage,
    key: &ObjectKey,
    expected: Option<rempart_objects::Sha256>,
) -> (Vec<u8>, Option<ObjectError>) {
    let mut stream = storage.get_stream(key, expected).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(e) => {
                assert!(stream.next().await.is_none(), "an item after the error");
                return (bytes, Some(e));
            }
        }
    }
    (bytes, None)
}

/// Reads the object under `key` to its end, which must be clean.
pub async fn read_ok(
    storage: &ObjectStorage,
    key: &ObjectKey,
    expected: Option<rempart_objects::Sha256>,
) -> Vec<u8> {
    let (bytes, error) = read_all(storage, key, expected).await;
    assert!(error.is_none(), "the read ended with {error:?}");
    bytes
}
