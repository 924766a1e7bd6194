//! The SHA-256 of an object's content: what the caller keeps in its
//! database and hands back to [`ObjectStorage::get_stream`](crate::ObjectStorage::get_stream)
//! so that a substituted object is caught.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::digest;

use crate::error::ObjectError;

/// A SHA-256 digest, shown and parsed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// The digest's length in bytes.
    pub const LEN: usize = 32;

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The SHA-256 of `data`, in one go.
    pub fn of(data: &[u8]) -> Self {
        let mut hasher = Hasher::new();
        hasher.update(data);
        hasher.finish()
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl FromStr for Sha256 {
    type Err = ObjectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0; 32];
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ObjectError::InvalidChecksum);
        }
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ObjectError::InvalidChecksum)?;
        Ok(Self(bytes))
    }
}

/// SHA-256 computed as the bytes go by.
pub(crate) struct Hasher(digest::Context);

impl Hasher {
    pub(crate) fn new() -> Self {
        Self(digest::Context::new(&digest::SHA256))
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub(crate) fn finish(self) -> Sha256 {
        let mut bytes = [0; 32];
        bytes.copy_from_slice(self.0.finish().as_ref());
        Sha256(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_and_hex_round_trip() {
        let empty = Sha256::of(b"");
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(empty.to_string(), hex);
        assert_eq!(hex.parse::<Sha256>().unwrap(), empty);
    }

    #[test]
    fn bad_hex_is_refused() {
        for bad in [
            "",
            "e3b0",
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "zzb0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85500",
        ] {
            assert!(
                matches!(bad.parse::<Sha256>(), Err(ObjectError::InvalidChecksum)),
                "{bad:?} was accepted"
            );
        }
    }
}
