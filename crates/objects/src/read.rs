//! Reading an object back: its content streamed out as it arrives, its
//! trailer held back and checked once the last byte has gone by.
//!
//! The stream ends with an error, not with `None`, when the object does not
//! match its trailer or the checksum the caller expected: a consumer must
//! treat what it received as unverified until the stream has ended cleanly
//! (the vault decrypts into a temporary file and keeps it only then).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use futures::stream::BoxStream;

use crate::checksum::{Hasher, Sha256};
use crate::error::{ObjectError, Redactions};
use crate::trailer::{TRAILER_LEN, Trailer};

/// An object's content, checked at the end; see the module documentation.
pub struct ObjectStream {
    inner: BoxStream<'static, object_store::Result<Bytes>>,
    /// Content bytes not yet passed on.
    remaining: u64,
    size: u64,
    tail: Vec<u8>,
    hasher: Option<Hasher>,
    expected: Option<Sha256>,
    backend: String,
    key: String,
    redactions: Redactions,
}

impl ObjectStream {
    pub(crate) fn new(
        inner: BoxStream<'static, object_store::Result<Bytes>>,
        size: u64,
        expected: Option<Sha256>,
        backend: String,
        key: String,
        redactions: Redactions,
    ) -> Self {
        Self {
            inner,
            remaining: size,
            size,
            tail: Vec::with_capacity(TRAILER_LEN),
            hasher: Some(Hasher::new()),
            expected,
            backend,
            key,
            redactions,
        }
    }

    /// The content's length in bytes, as stored (checked at the end).
    pub fn size(&self) -> u64 {
        self.size
    }

    fn corrupt(&self, what: &'static str) -> ObjectError {
        ObjectError::Corrupt {
            backend: self.backend.clone(),
            key: self.key.clone(),
            what,
        }
    }

    /// Splits `chunk` into content (returned) and trailer (kept).
    fn take(&mut self, mut chunk: Bytes) -> Result<Bytes, ObjectError> {
        let content_len = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(chunk.len());
        let content = chunk.split_to(content_len);
        self.remaining -= content_len as u64;
        if self.tail.len() + chunk.len() > TRAILER_LEN {
            return Err(self.corrupt("it is longer than it was when the read began"));
        }
        self.tail.extend_from_slice(&chunk);
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&content);
        }
        Ok(content)
    }

    /// The check at the end of the stream.
    fn verify(&mut self) -> Result<(), ObjectError> {
        let Some(hasher) = self.hasher.take() else {
            return Ok(());
        };
        if self.remaining > 0 || self.tail.len() < TRAILER_LEN {
            return Err(self.corrupt("it ended before its length"));
        }
        let trailer = Trailer::decode(&self.tail).map_err(|p| self.corrupt(p.what()))?;
        if trailer.size != self.size {
            return Err(self.corrupt("its length differs from the length its trailer records"));
        }
        let found = hasher.finish();
        if found != trailer.sha256 {
            return Err(self.corrupt("its content does not match the SHA-256 its trailer records"));
        }
        match self.expected {
            Some(expected) if expected != found => Err(ObjectError::Unexpected {
                backend: self.backend.clone(),
                key: self.key.clone(),
                found,
            }),
            _ => Ok(()),
        }
    }
}

impl Stream for ObjectStream {
    type Item = Result<Bytes, ObjectError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.hasher.is_none() {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => match this.take(chunk) {
                    Ok(content) if content.is_empty() => {}
                    Ok(content) => return Poll::Ready(Some(Ok(content))),
                    Err(e) => {
                        this.hasher = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    this.hasher = None;
                    return Poll::Ready(Some(Err(ObjectError::Backend {
                        backend: this.backend.clone(),
                        key: this.key.clone(),
                        reason: this.redactions.apply(&e.to_string()),
                    })));
                }
                Poll::Ready(None) => return Poll::Ready(this.verify().err().map(Err)),
            }
        }
    }
}

impl std::fmt::Debug for ObjectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStream")
            .field("backend", &self.backend)
            .field("key", &self.key)
            .field("size", &self.size)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}
