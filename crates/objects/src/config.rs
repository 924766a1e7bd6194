//! Where objects are kept, as the operator configures it (a TOML section,
//! docs/objects.md). The S3 secret access key is a [`SecretString`]: it is
//! never shown by `Debug`, never serialised back, and never in an error.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

/// The object storage backend.
///
/// ```toml
/// provider = "local"
/// dir = "/var/lib/rempart/objects"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase", deny_unknown_fields)]
pub enum StorageConfig {
    /// A directory on a local (or mounted) file system; it must exist.
    Local { dir: PathBuf },
    /// A bucket on an S3-compatible server.
    S3(S3Config),
}

/// A bucket on an S3-compatible server, reached over HTTPS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// `https://host[:port]`; requests are path-style
    /// (`https://host/bucket/key`).
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    /// Never logged, never in `Debug`, never in an error.
    pub secret_access_key: SecretString,
    /// Accept an `http://` endpoint (a test server on loopback); off by
    /// default.
    #[serde(default)]
    pub allow_http: bool,
    /// A PEM file with the CA certificate(s) the endpoint's certificate
    /// must chain to, for a private CA; when set, these are the only roots
    /// trusted (not the system's).
    #[serde(default)]
    pub root_certificate: Option<PathBuf>,
    /// How many times a failed request is retried (with back-off, for at
    /// most three minutes); default 10.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
}

fn default_max_retries() -> u32 {
    10
}
