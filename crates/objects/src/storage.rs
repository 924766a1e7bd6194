//! [`ObjectStorage`]: the API the vault and backups call, the same over
//! every provider.

use std::io;
use std::pin::pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _};
use object_store::{GetOptions, GetRange, ObjectStore};

use crate::checksum::{Hasher, Sha256};
use crate::config::StorageConfig;
use crate::error::ObjectError;
use crate::key::ObjectKey;
use crate::provider::{self, Backend};
use crate::read::ObjectStream;
use crate::trailer::{TRAILER_LEN, Trailer};
use crate::upload::Upload;

/// What was stored: the content's length and SHA-256 (the caller keeps the
/// checksum in its database and passes it back on reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub sha256: Sha256,
}

/// One object a list found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: ObjectKey,
    /// The content's length (the stored object less its trailer).
    pub size: u64,
}

/// Object storage over one backend; cheap to clone.
#[derive(Debug, Clone)]
pub struct ObjectStorage {
    backend: Backend,
}

const TRAILER: u64 = TRAILER_LEN as u64;

impl ObjectStorage {
    /// Opens the backend `config` names (checking it first).
    pub fn open(config: &StorageConfig) -> Result<Self, ObjectError> {
        Ok(Self::new(provider::open(config)?))
    }

    pub fn new(backend: Backend) -> Self {
        Self { backend }
    }

    /// Any `object_store` backend, described by `name` (no credential).
    pub fn with_backend(store: Arc<dyn ObjectStore>, name: impl Into<String>) -> Self {
        Self::new(Backend::new(store, name))
    }

    /// The backend's description, for messages.
    pub fn name(&self) -> &str {
        self.backend.name()
    }

    fn store(&self) -> &Arc<dyn ObjectStore> {
        self.backend.store()
    }

    /// A read's failure: a missing object is [`ObjectError::NotFound`].
    fn failed(&self, key: &ObjectKey, error: &object_store::Error) -> ObjectError {
        match error {
            object_store::Error::NotFound { .. } => ObjectError::NotFound {
                backend: self.name().to_owned(),
                key: key.to_string(),
            },
            other => self.write_failed(key, other),
        }
    }

    /// A write's failure: "not found" there means the bucket is missing,
    /// which is the backend's failure, not the object's absence.
    fn write_failed(&self, key: &ObjectKey, error: &object_store::Error) -> ObjectError {
        ObjectError::Backend {
            backend: self.name().to_owned(),
            key: key.to_string(),
            reason: self.backend.redactions().apply(&error.to_string()),
        }
    }

    fn corrupt(&self, key: &ObjectKey, what: &'static str) -> ObjectError {
        ObjectError::Corrupt {
            backend: self.name().to_owned(),
            key: key.to_string(),
            what,
        }
    }

    /// Stores `data` under `key`, replacing any object there, and returns
    /// its length and SHA-256.
    ///
    /// Streamed in parts of [`PART_SIZE`](crate::PART_SIZE): memory stays
    /// under `(PARTS_IN_FLIGHT + 1) × PART_SIZE` (24 MiB) plus the chunk
    /// `data` last yielded, whatever the object's size. Atomic: when `data`
    /// fails, the backend fails, or this future is dropped, nothing is
    /// published and the object previously under `key` (if any) stays.
    pub async fn put_stream<S>(&self, key: &ObjectKey, data: S) -> Result<ObjectInfo, ObjectError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        let mut data = pin!(data);
        let mut upload = Upload::new(self.store().clone(), key.path());
        let mut hasher = Hasher::new();
        let mut size: u64 = 0;
        while let Some(chunk) = data.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    upload.abort().await;
                    return Err(ObjectError::Source {
                        key: key.to_string(),
                        reason: e.to_string(),
                    });
                }
            };
            hasher.update(&chunk);
            size += chunk.len() as u64;
            if let Err(e) = upload.write(chunk).await {
                upload.abort().await;
                return Err(self.write_failed(key, &e));
            }
        }
        let info = ObjectInfo {
            size,
            sha256: hasher.finish(),
        };
        let trailer = Trailer {
            size,
            sha256: info.sha256,
        };
        if let Err(e) = upload
            .write(Bytes::copy_from_slice(&trailer.encode()))
            .await
        {
            upload.abort().await;
            return Err(self.write_failed(key, &e));
        }
        upload
            .finish()
            .await
            .map_err(|e| self.write_failed(key, &e))?;
        Ok(info)
    }

    /// Streams the content under `key`. The stream's last item is an error
    /// if the object does not match its trailer, or `expected` when given
    /// (see [`ObjectStream`]): pass the checksum kept at write time, so
    /// that an intact but substituted object is caught too.
    pub async fn get_stream(
        &self,
        key: &ObjectKey,
        expected: Option<Sha256>,
    ) -> Result<ObjectStream, ObjectError> {
        let result = self
            .store()
            .get_opts(&key.path(), GetOptions::default())
            .await
            .map_err(|e| self.failed(key, &e))?;
        let size = result
            .meta
            .size
            .checked_sub(TRAILER)
            .ok_or_else(|| self.corrupt(key, "it is shorter than its 48-byte trailer"))?;
        Ok(ObjectStream::new(
            result.into_stream(),
            size,
            expected,
            self.name().to_owned(),
            key.to_string(),
            self.backend.redactions().clone(),
        ))
    }

    /// The length and SHA-256 the object under `key` records, read from its
    /// trailer (one ranged read; the content is not checked: read it for
    /// that).
    pub async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, ObjectError> {
        let options = GetOptions::new().with_range(Some(GetRange::Suffix(TRAILER)));
        let result = self
            .store()
            .get_opts(&key.path(), options)
            .await
            .map_err(|e| self.failed(key, &e))?;
        let stored = result.meta.size;
        let tail = result.bytes().await.map_err(|e| self.failed(key, &e))?;
        let size = stored
            .checked_sub(TRAILER)
            .ok_or_else(|| self.corrupt(key, "it is shorter than its 48-byte trailer"))?;
        let trailer = Trailer::decode(&tail).map_err(|p| self.corrupt(key, p.what()))?;
        if trailer.size != size {
            return Err(self.corrupt(
                key,
                "its length differs from the length its trailer records",
            ));
        }
        Ok(ObjectInfo {
            size,
            sha256: trailer.sha256,
        })
    }

    /// Deletes the object under `key`; deleting a missing object is not an
    /// error.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), ObjectError> {
        let paths = futures::stream::iter([Ok(key.path())]).boxed();
        let mut deleted = self.store().delete_stream(paths);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.failed(key, &e)),
            }
        }
        Ok(())
    }

    /// The objects whose key starts with the segments of `prefix` (all of
    /// them for `None`): `a/b` lists `a/b/c`, not `a/bc`. In no particular
    /// order; an object that is not Rempart's (a key outside [`ObjectKey`]'s
    /// rules, or shorter than a trailer) is an error item, and the list
    /// goes on.
    pub fn list(
        &self,
        prefix: Option<&ObjectKey>,
    ) -> BoxStream<'static, Result<ListedObject, ObjectError>> {
        let storage = self.clone();
        let prefix = prefix.map(ObjectKey::path);
        self.store()
            .list(prefix.as_ref())
            .map(move |meta| {
                let meta = meta.map_err(|e| storage.listing_failed(&e))?;
                let key = ObjectKey::from_path(&meta.location)?;
                let size = meta.size.checked_sub(TRAILER).ok_or_else(|| {
                    storage.corrupt(&key, "it is shorter than its 48-byte trailer")
                })?;
                Ok(ListedObject { key, size })
            })
            .boxed()
    }

    fn listing_failed(&self, error: &object_store::Error) -> ObjectError {
        ObjectError::Backend {
            backend: self.name().to_owned(),
            key: "(list)".to_owned(),
            reason: self.backend.redactions().apply(&error.to_string()),
        }
    }
}
