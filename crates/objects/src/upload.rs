//! One atomic write, streamed in parts of a fixed size.
//!
//! Bytes are gathered into a part of [`PART_SIZE`]; a full part is sent as
//! a part of a multipart upload, with at most [`PARTS_IN_FLIGHT`] parts
//! being sent at once (the next part waits: back-pressure on the caller's
//! stream). Memory per upload is therefore bounded by
//! `(PARTS_IN_FLIGHT + 1) × PART_SIZE` (24 MiB), plus the one chunk the
//! caller's stream last yielded. An object that ends before its first part
//! is full is written with one plain `PUT` instead.
//!
//! Nothing is visible under the key until [`Upload::finish`] completes the
//! upload: a multipart upload is published by its completion, the local
//! backend renames its temporary file into place. On error the upload is
//! aborted; an [`Upload`] dropped unfinished (the caller's future was
//! cancelled) aborts in a task of its own.
//!
//! Only the `ObjectStore` trait's own methods are called (not the
//! `ObjectStoreExt` shorthands, whose futures are not `Send`), so that an
//! upload can run in any task.

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{
    MultipartUpload, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutPayloadMut,
};
use tokio::task::JoinSet;

/// The size of every part but the last: above S3's 5 MiB minimum, and
/// 10,000 parts (S3's maximum) of it make 78 GiB, the largest object.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts sent at the same time, at most.
pub const PARTS_IN_FLIGHT: usize = 2;

/// A write in progress; see the module's documentation.
pub(crate) struct Upload {
    store: Arc<dyn ObjectStore>,
    path: Path,
    part: PutPayloadMut,
    /// Started when the first part is full.
    multipart: Option<Box<dyn MultipartUpload>>,
    in_flight: JoinSet<object_store::Result<()>>,
}

impl Upload {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, path: Path) -> Self {
        Self {
            store,
            path,
            part: PutPayloadMut::new(),
            multipart: None,
            in_flight: JoinSet::new(),
        }
    }

    /// Adds `bytes` to the object, sending each part as it fills.
    pub(crate) async fn write(&mut self, mut bytes: Bytes) -> object_store::Result<()> {
        while !bytes.is_empty() {
            let room = PART_SIZE.saturating_sub(self.part.content_length());
            if bytes.len() < room {
                self.part.push(bytes);
                return Ok(());
            }
            self.part.push(bytes.split_to(room));
            self.send_part().await?;
        }
        Ok(())
    }

    async fn send_part(&mut self) -> object_store::Result<()> {
        let payload: PutPayload = std::mem::take(&mut self.part).into();
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.wait_one().await?;
        }
        let multipart = match &mut self.multipart {
            Some(multipart) => multipart,
            None => self.multipart.insert(
                self.store
                    .put_multipart_opts(&self.path, PutMultipartOptions::default())
                    .await?,
            ),
        };
        self.in_flight.spawn(multipart.put_part(payload));
        Ok(())
    }

    async fn wait_one(&mut self) -> object_store::Result<()> {
        match self.in_flight.join_next().await {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(e)) => Err(object_store::Error::JoinError { source: e }),
        }
    }

    /// Sends what is left and publishes the object; on failure, aborts.
    pub(crate) async fn finish(mut self) -> object_store::Result<()> {
        let result = self.publish().await;
        if result.is_err() {
            self.abort().await;
        }
        result
    }

    async fn publish(&mut self) -> object_store::Result<()> {
        if self.multipart.is_none() {
            let payload: PutPayload = std::mem::take(&mut self.part).into();
            self.store
                .put_opts(&self.path, payload, PutOptions::default())
                .await?;
            return Ok(());
        }
        if self.part.content_length() > 0 {
            self.send_part().await?;
        }
        while !self.in_flight.is_empty() {
            self.wait_one().await?;
        }
        if let Some(multipart) = &mut self.multipart {
            multipart.complete().await?;
        }
        // Completed: nothing left to abort.
        self.multipart = None;
        Ok(())
    }

    /// Stops sending and discards what was sent; the key is untouched.
    /// Best effort: a server that cannot be told keeps the parts until
    /// its lifecycle rule removes them (docs/objects.md).
    pub(crate) async fn abort(mut self) {
        self.in_flight.shutdown().await;
        if let Some(mut multipart) = self.multipart.take() {
            let _ = multipart.abort().await;
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let Some(mut multipart) = self.multipart.take() else {
            return;
        };
        self.in_flight.abort_all();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn(async move {
                let _ = multipart.abort().await;
            }));
        }
    }
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("path", &self.path)
            .field("multipart", &self.multipart.is_some())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}
