//! Object storage for the vault's attachments and, later, backups: a local
//! directory or an S3-compatible bucket, behind one small API.
//!
//! [`ObjectStorage`] streams an object in ([`ObjectStorage::put_stream`])
//! and out ([`ObjectStorage::get_stream`]) with constant memory whatever
//! its size, computes its SHA-256 on the way in, stores it with the object
//! and checks it on the way out: a tampered, truncated or substituted
//! object is an error, never silent. A write is atomic: an upload that
//! fails or is dropped leaves nothing under the key. Keys are validated
//! ([`ObjectKey`]) before any I/O.
//!
//! # Providers
//!
//! The backend trait is `object_store`'s [`ObjectStore`](object_store::ObjectStore):
//! everything this crate adds (keys, streaming, checksums, the stored
//! format, error redaction) sits above it, the same for every provider. A
//! provider is one file in [`provider`] that builds a store from its own
//! settings and checks them up front: [`provider::local`] and
//! [`provider::s3`] today. A test swaps in any store (an
//! `object_store::memory::InMemory`, or one that fails on purpose) with
//! [`ObjectStorage::with_backend`].
//!
//! # What is stored
//!
//! Each object is the caller's bytes followed by a 48-byte trailer holding
//! their length and SHA-256 ([`trailer`]; docs/objects.md). The checksum
//! travels inside the object because a streamed (multipart) upload fixes
//! an S3 object's metadata before the first byte is sent, and the local
//! backend keeps no metadata at all: a trailer works the same everywhere
//! and is written atomically with the data.

mod checksum;
mod config;
mod error;
mod key;
pub mod provider;
mod read;
mod storage;
pub mod trailer;
mod upload;

pub use checksum::Sha256;
pub use config::{S3Config, StorageConfig};
pub use error::ObjectError;
pub use key::ObjectKey;
pub use read::ObjectStream;
pub use storage::{ListedObject, ObjectInfo, ObjectStorage};
pub use upload::{PART_SIZE, PARTS_IN_FLIGHT};
