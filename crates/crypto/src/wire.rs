//! Big-endian wire encoding shared by the keyring, wrapped-key and envelope
//! formats.
//!
//! Invariant: reading never panics and never indexes out of bounds; input
//! that ends early gives `CryptoError::Truncated` naming the format.

use crate::error::{CryptoError, Result};

/// A cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, tail) = self
            .buf
            .split_at_checked(n)
            .ok_or(CryptoError::Truncated { what: self.what })?;
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    /// Reads a one-byte format version, refusing any but `supported`;
    /// `format` names the format in the refusal.
    pub(crate) fn version_byte(&mut self, format: &'static str, supported: u8) -> Result<()> {
        let version = self.u8()?;
        if version == supported {
            Ok(())
        } else {
            Err(CryptoError::UnsupportedVersion {
                what: format,
                version: u16::from(version),
                supported: u16::from(supported),
            })
        }
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// The bytes not read yet, consuming the reader.
    pub(crate) fn rest(self) -> &'a [u8] {
        self.buf
    }

    /// Fails when bytes remain: formats have no trailing data.
    pub(crate) fn finish(self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(CryptoError::Malformed {
                what: self.what,
                reason: "trailing bytes after the end",
            })
        }
    }
}

/// Appends `bytes` with a one-byte length prefix; callers validate the length.
pub(crate) fn put_short(out: &mut Vec<u8>, bytes: &[u8]) {
    // Callers only pass names of at most 255 bytes (validated at construction).
    out.push(u8::try_from(bytes.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(bytes);
}
