//! How the store encodes values both engines keep alike: times as
//! microseconds since the Unix epoch, counters and sequence numbers as
//! non-negative `i64`, hashes as 32 bytes.

use time::OffsetDateTime;

use crate::StoreError;

pub fn to_micros(t: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(t.unix_timestamp_nanos() / 1_000)
        .map_err(|_| StoreError::corrupt("time out of range"))
}

pub fn from_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| StoreError::corrupt("time out of range"))
}

pub fn opt_from_micros(micros: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    micros.map(from_micros).transpose()
}

pub fn opt_to_micros(t: Option<OffsetDateTime>) -> Result<Option<i64>, StoreError> {
    t.map(to_micros).transpose()
}

pub fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::corrupt("sequence number out of range"))
}

/// A sequence number or size to look up: one no row can hold (above
/// `i64::MAX`) finds nothing, rather than being an error.
pub fn lookup_i64(n: u64) -> Option<i64> {
    i64::try_from(n).ok()
}

/// A lower bound ("after this seq"): past every row a column can hold, it
/// is the largest value the column can hold.
pub fn after_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::corrupt("negative count or sequence number"))
}

pub fn hash32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::corrupt("a stored hash is not 32 bytes"))
}
