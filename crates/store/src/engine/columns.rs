//! Reading a row's columns by name, engine-neutral: what every domain's row
//! mapping is written against.
//!
//! The required methods decode with sqlx's own types (so a value reads the
//! same as before on each engine); the provided ones convert the store's
//! encodings: times as microseconds since the Unix epoch, counters as
//! non-negative `i64`, hashes as 32 bytes.

use time::OffsetDateTime;
use uuid::Uuid;

use super::values::{from_micros, hash32, opt_from_micros, to_u64};
use crate::StoreError;

/// A row of a result, read by column name.
pub trait Columns {
    fn bool(&self, name: &str) -> Result<bool, StoreError>;
    fn i32(&self, name: &str) -> Result<i32, StoreError>;
    fn i64(&self, name: &str) -> Result<i64, StoreError>;
    fn opt_i64(&self, name: &str) -> Result<Option<i64>, StoreError>;
    fn text(&self, name: &str) -> Result<String, StoreError>;
    fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn bytes(&self, name: &str) -> Result<Vec<u8>, StoreError>;
    fn opt_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn uuid(&self, name: &str) -> Result<Uuid, StoreError>;
    fn opt_uuid(&self, name: &str) -> Result<Option<Uuid>, StoreError>;

    /// A count or sequence number.
    fn u64(&self, name: &str) -> Result<u64, StoreError> {
        to_u64(self.i64(name)?)
    }

    /// A `u32` stored as `i64` (a version, a counter); `what` names it in
    /// the error.
    fn u32(&self, name: &str, what: &str) -> Result<u32, StoreError> {
        u32::try_from(self.i64(name)?)
            .map_err(|_| StoreError::corrupt(format!("{what} out of range")))
    }

    fn time(&self, name: &str) -> Result<OffsetDateTime, StoreError> {
        from_micros(self.i64(name)?)
    }

    fn opt_time(&self, name: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        opt_from_micros(self.opt_i64(name)?)
    }

    /// A SHA-256 hash (or any 32-byte value: a public key, a Merkle root).
    fn hash(&self, name: &str) -> Result<[u8; 32], StoreError> {
        hash32(&self.bytes(name)?)
    }

    /// An audit signing key's 8-byte id.
    fn key_id(&self, name: &str) -> Result<[u8; 8], StoreError> {
        <[u8; 8]>::try_from(self.bytes(name)?.as_slice())
            .map_err(|_| StoreError::corrupt("a stored key id is not 8 bytes"))
    }
}

/// Every sqlx row whose engine decodes the types the store uses.
impl<R> Columns for R
where
    R: sqlx::Row,
    for<'n> &'n str: sqlx::ColumnIndex<R>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Uuid: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn bool(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.try_get(name)?)
    }

    fn i32(&self, name: &str) -> Result<i32, StoreError> {
        Ok(self.try_get(name)?)
    }

    fn i64(&self, name: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(name)?)
    }

    fn opt_i64(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(name)?)
    }

    fn text(&self, name: &str) -> Result<String, StoreError> {
        Ok(self.try_get(name)?)
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(name)?)
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.try_get(name)?)
    }

    fn opt_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.try_get(name)?)
    }

    fn uuid(&self, name: &str) -> Result<Uuid, StoreError> {
        Ok(self.try_get(name)?)
    }

    fn opt_uuid(&self, name: &str) -> Result<Option<Uuid>, StoreError> {
        Ok(self.try_get(name)?)
    }
}
