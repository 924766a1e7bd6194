//! The stored format: an object is the caller's bytes followed by a
//! 48-byte trailer (docs/objects.md, "What is stored").
//!
//! ```text
//! offset  size  field
//! 0       8     magic "RMPTOBJ1" (format version 1)
//! 8       8     length of the content, unsigned big-endian
//! 16      32    SHA-256 of the content
//! ```
//!
//! The trailer is written after the content, in the same upload, so it is
//! published atomically with it; a reader streams the content out, holds
//! back the last 48 bytes and checks them at the end.

use crate::checksum::Sha256;

/// The trailer's length in bytes.
pub const TRAILER_LEN: usize = 48;

/// The first eight bytes of a version-1 trailer.
pub const MAGIC: [u8; 8] = *b"RMPTOBJ1";

/// What the trailer records about the content before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub size: u64,
    pub sha256: Sha256,
}

/// Why bytes are not a trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailerProblem {
    /// Fewer (or more) than [`TRAILER_LEN`] bytes.
    Length,
    /// The magic is not [`MAGIC`]: not Rempart's object, or a later format.
    Magic,
}

impl TrailerProblem {
    /// What this says about the object, for an error message.
    pub fn what(self) -> &'static str {
        match self {
            Self::Length => "it is shorter than its 48-byte trailer",
            Self::Magic => "it does not end with Rempart's trailer",
        }
    }
}

impl Trailer {
    pub fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut out = [0; TRAILER_LEN];
        let (magic, rest) = out.split_at_mut(8);
        let (size, sha256) = rest.split_at_mut(8);
        magic.copy_from_slice(&MAGIC);
        size.copy_from_slice(&self.size.to_be_bytes());
        sha256.copy_from_slice(self.sha256.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, TrailerProblem> {
        let bytes: &[u8; TRAILER_LEN] = bytes.try_into().map_err(|_| TrailerProblem::Length)?;
        let (magic, rest) = bytes.split_at(8);
        let (size, sha256) = rest.split_at(8);
        if magic != MAGIC {
            return Err(TrailerProblem::Magic);
        }
        let size = u64::from_be_bytes(size.try_into().map_err(|_| TrailerProblem::Length)?);
        let sha256 = Sha256::from_bytes(sha256.try_into().map_err(|_| TrailerProblem::Length)?);
        Ok(Self { size, sha256 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The format's test vector: the trailer of the content "hello".
    #[test]
    fn vector_hello() {
        let trailer = Trailer {
            size: 5,
            sha256: Sha256::of(b"hello"),
        };
        let expected = "524d50544f424a31\
                        0000000000000005\
                        2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(hex::encode(trailer.encode()), expected);
        assert_eq!(Trailer::decode(&trailer.encode()), Ok(trailer));
    }

    #[test]
    fn wrong_length_or_magic_is_refused() {
        let good = Trailer {
            size: 0,
            sha256: Sha256::of(b""),
        }
        .encode();
        assert_eq!(Trailer::decode(&good[1..]), Err(TrailerProblem::Length));
        assert_eq!(
            Trailer::decode(&[good.as_slice(), b"x"].concat()),
            Err(TrailerProblem::Length)
        );
        let mut other = good;
        other[7] = b'2';
        assert_eq!(Trailer::decode(&other), Err(TrailerProblem::Magic));
    }
}
