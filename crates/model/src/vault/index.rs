//! The size of a blind index (docs/vault.md, "Search on ciphertext").
//!
//! A searchable field is found through a keyed hash of its value, cut to a
//! few bits so that many values share each index entry: the database then
//! cannot tell which records hold the same value, only which share a
//! bucket. With `X` expected distinct values, the index keeps `N` bits
//! where `√X < 2^N < X/2` (the AWS Database Encryption SDK's beacon rule,
//! CipherSweet's `2 ≤ coincidences < √R`). Rempart takes
//! `N = ⌊log₂ X⌋ − 2`, the upper end of that range: about four distinct
//! values share a bucket, so a lookup decrypts a handful of candidates
//! while an equal bucket still does not prove an equal value. Fewer than
//! 32 expected values leave no such `N`: the field is refused as
//! searchable (a boolean or a tiny enumeration cannot be hidden this way).

use serde::{Deserialize, Serialize};

/// How many bits of the keyed hash an index keeps, 3 to 61.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IndexBits(u8);

/// Why an index cannot be sized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexBitsError {
    #[error(
        "searchable needs at least {min} expected distinct values (got {got}): fewer cannot be \
         hidden by a blind index"
    )]
    TooFewValues { got: u64, min: u64 },
    #[error("an index keeps 1 to 63 bits (got {0})")]
    OutOfRange(u32),
}

impl IndexBits {
    /// The fewest expected distinct values a searchable field may declare.
    pub const MIN_DISTINCT: u64 = 32;

    /// The index size for `distinct` expected distinct values.
    pub fn for_distinct(distinct: u64) -> Result<Self, IndexBitsError> {
        if distinct < Self::MIN_DISTINCT {
            return Err(IndexBitsError::TooFewValues {
                got: distinct,
                min: Self::MIN_DISTINCT,
            });
        }
        // ⌊log₂ X⌋ ≥ 5 here, so the subtraction stays positive; 2^N ≤ X/4
        // and, for X ≥ 32, 2^N > √X.
        let bits = distinct.ilog2() - 2;
        Self::from_stored(bits)
    }

    /// A size read back from storage.
    pub fn from_stored(bits: u32) -> Result<Self, IndexBitsError> {
        match u8::try_from(bits) {
            Ok(b @ 1..=63) => Ok(Self(b)),
            _ => Err(IndexBitsError::OutOfRange(bits)),
        }
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// The index entry of a keyed hash: the right-most bits of its first
    /// eight bytes, read big-endian.
    pub fn cut(self, hash: &[u8]) -> u64 {
        let mut first = [0_u8; 8];
        for (slot, byte) in first.iter_mut().zip(hash) {
            *slot = *byte;
        }
        u64::from_be_bytes(first) & ((1_u64 << self.0) - 1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn small_domains_are_refused() {
        assert!(IndexBits::for_distinct(31).is_err());
        assert_eq!(IndexBits::for_distinct(32).unwrap().get(), 3);
        // A ZIP-code-sized domain: 100,000 values, 14 bits (the AWS notes
        // give 9 to 16).
        assert_eq!(IndexBits::for_distinct(100_000).unwrap().get(), 14);
    }

    #[test]
    fn cut_keeps_the_right_most_bits_of_the_first_eight_bytes() {
        let bits = IndexBits::from_stored(12).unwrap();
        let hash = [0xff, 0xff, 0, 0, 0, 0, 0x0a, 0xbc, 0xff];
        assert_eq!(bits.cut(&hash), 0xabc);
    }

    proptest! {
        #[test]
        fn the_size_is_within_the_beacon_range(distinct in 32_u64..u64::MAX) {
            let n = IndexBits::for_distinct(distinct).unwrap().get();
            let buckets = 2_f64.powi(i32::try_from(n).unwrap());
            #[allow(clippy::cast_precision_loss)]
            let x = distinct as f64;
            prop_assert!(buckets > x.sqrt());
            prop_assert!(buckets <= x / 2.0);
        }
    }
}
