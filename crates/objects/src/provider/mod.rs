//! The providers: each file builds an `object_store` backend from its own
//! settings and checks them up front, so that a bad configuration fails at
//! start, not at the first upload. A new provider (GCS, Azure …) is one
//! more file here and one more [`StorageConfig`] variant.

pub mod local;
pub mod s3;

use std::sync::Arc;

use object_store::ObjectStore;
use secrecy::SecretString;

use crate::config::StorageConfig;
use crate::error::{ObjectError, Redactions};

/// A backend a provider built: the store, a description for messages and
/// the secrets its messages must never show.
#[derive(Clone)]
pub struct Backend {
    store: Arc<dyn ObjectStore>,
    name: String,
    redactions: Redactions,
}

impl Backend {
    /// Any store, described by `name` (never a credential): tests use it
    /// to swap in an in-memory store or one that fails.
    pub fn new(store: Arc<dyn ObjectStore>, name: impl Into<String>) -> Self {
        Self {
            store,
            name: name.into(),
            redactions: Redactions::default(),
        }
    }

    /// Replaces `secrets` by `[redacted]` in the backend's messages.
    #[must_use]
    pub fn redacting(mut self, secrets: Vec<SecretString>) -> Self {
        self.redactions = Redactions::new(secrets);
        self
    }

    /// The raw store, underneath the stored format: for tools and tests
    /// that must see or change an object's bytes as stored.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn redactions(&self) -> &Redactions {
        &self.redactions
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Builds the backend `config` names.
pub fn open(config: &StorageConfig) -> Result<Backend, ObjectError> {
    match config {
        StorageConfig::Local { dir } => local::open(dir),
        StorageConfig::S3(s3) => s3::open(s3),
    }
}
