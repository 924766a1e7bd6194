//! Streaming authenticated encryption of file attachments
//! (docs/formats/stream.md).
//!
//! Tink's AES-GCM-HKDF streaming construction on aws-lc-rs. Each stream
//! draws a random salt, from which HKDF-SHA256 derives the segment key out
//! of the file key and the caller's associated data. The plaintext is cut
//! into segments of a fixed size, recorded in the header; each segment is
//! sealed with AES-256-GCM under a nonce made of a random prefix, the
//! segment's index and a flag marking the last segment, with the header as
//! associated data.
//!
//! Invariants: memory stays at about one segment whatever the length of the
//! stream; the decryptor hands back only plaintext of segments that
//! authenticated at their position, and its `finish` fails unless the last
//! segment was seen, so truncation, extension, reordering and splicing are
//! detected; the file key leaves this crate only sealed in an envelope under
//! a data key (invariant 4).

use std::fmt;

use aws_lc_rs::aead::LessSafeKey;
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use zeroize::Zeroizing;

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::envelope::DataKey;
use crate::error::{CryptoError, Result};
use crate::secret::{KEY_LEN, KeyBytes};
use crate::wire::Reader;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

/// Stream format version written by this build.
pub const STREAM_VERSION: u8 = 1;
/// Default plaintext bytes per segment (64 KiB).
pub const STREAM_SEGMENT_SIZE: u32 = 64 * 1024;
/// Smallest plaintext segment size a stream may declare.
pub const MIN_STREAM_SEGMENT_SIZE: u32 = 16;
/// Largest plaintext segment size a stream may declare (1 MiB): it bounds
/// what a reader buffers, whatever the header says.
pub const MAX_STREAM_SEGMENT_SIZE: u32 = 1024 * 1024;
/// Header length: version, header length, segment size, salt, nonce prefix.
pub const STREAM_HEADER_LEN: usize = 2 + 4 + SALT_LEN + NONCE_PREFIX_LEN;
/// Bytes each segment adds to its plaintext (the GCM tag).
pub const STREAM_SEGMENT_OVERHEAD: usize = TAG_LEN;
/// Most segments one stream holds: the segment index in the nonce is 32 bits.
pub const MAX_STREAM_SEGMENTS: u64 = 1 << 32;

const SALT_LEN: usize = 32;
const NONCE_PREFIX_LEN: usize = 7;
const HEADER_LEN_BYTE: u8 = 45;
const _: () = assert!(STREAM_HEADER_LEN == HEADER_LEN_BYTE as usize);
const KEY_INFO_LABEL: &[u8] = b"rempart/stream/v1";
const HEADER_WHAT: &str = "stream header";

fn too_long() -> CryptoError {
    CryptoError::StreamTooLong {
        max_segments: MAX_STREAM_SEGMENTS,
    }
}

/// The segment size as a length, if a stream may declare it.
fn checked_segment_size(size: u32) -> Option<usize> {
    if (MIN_STREAM_SEGMENT_SIZE..=MAX_STREAM_SEGMENT_SIZE).contains(&size) {
        usize::try_from(size).ok()
    } else {
        None
    }
}

fn invalid_segment_size(size: u32) -> CryptoError {
    CryptoError::InvalidStreamSegmentSize {
        size,
        min: MIN_STREAM_SEGMENT_SIZE,
        max: MAX_STREAM_SEGMENT_SIZE,
    }
}

/// Bytes a stream of `plaintext_len` bytes takes with the default segment
/// size, header included: what an upload's size limit is checked against.
pub fn ciphertext_len(plaintext_len: u64) -> Result<u64> {
    ciphertext_len_with_segment_size(plaintext_len, STREAM_SEGMENT_SIZE)
}

/// Bytes a stream of `plaintext_len` bytes takes with `segment_size`-byte
/// plaintext segments, header included. Fails when the stream would need
/// more than [`MAX_STREAM_SEGMENTS`] segments.
pub fn ciphertext_len_with_segment_size(plaintext_len: u64, segment_size: u32) -> Result<u64> {
    checked_segment_size(segment_size).ok_or_else(|| invalid_segment_size(segment_size))?;
    // An empty stream still has its (empty) last segment.
    let segments = plaintext_len.div_ceil(u64::from(segment_size)).max(1);
    if segments > MAX_STREAM_SEGMENTS {
        return Err(too_long());
    }
    segments
        .checked_mul(STREAM_SEGMENT_OVERHEAD as u64)
        .and_then(|tags| tags.checked_add(plaintext_len))
        .and_then(|len| len.checked_add(STREAM_HEADER_LEN as u64))
        .ok_or_else(too_long)
}

/// The key of one file: fresh and random for each attachment, zeroized on
/// drop, redacted in `Debug`. Its bytes leave this crate only sealed in an
/// envelope under a data key ([`FileKey::seal`]), which the caller stores
/// beside the encrypted file.
pub struct FileKey(KeyBytes);

impl FileKey {
    /// A fresh random key from the system generator.
    pub fn generate() -> Result<Self> {
        Ok(Self(KeyBytes::random()?))
    }

    /// The key sealed in an envelope of `data_key` (docs/formats/envelope.md)
    /// for `record`, the caller's reference to the file (for example
    /// `attachments/<id>`): the form in which it is stored.
    pub fn seal(&self, data_key: &DataKey, record: &[u8]) -> Result<Vec<u8>> {
        data_key.encrypt(record, self.0.expose())
    }

    /// Opens a key sealed by [`FileKey::seal`] under the same data key and
    /// record.
    pub fn open(data_key: &DataKey, record: &[u8], envelope: &[u8]) -> Result<Self> {
        let bytes = Zeroizing::new(data_key.decrypt(record, envelope)?);
        KeyBytes::from_slice(&bytes)
            .map(Self)
            .ok_or(CryptoError::Malformed {
                what: "sealed file key",
                reason: "the envelope does not hold a 32-byte key",
            })
    }
}

impl fmt::Debug for FileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileKey(<redacted>)")
    }
}

/// HKDF-SHA256(ikm = file key, salt, info = label || associated data).
fn segment_key(
    file_key: &KeyBytes,
    salt: &[u8; SALT_LEN],
    associated_data: &[u8],
) -> Result<KeyBytes> {
    let prk = Salt::new(HKDF_SHA256, salt).extract(file_key.expose());
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    prk.expand(&[KEY_INFO_LABEL, associated_data], HKDF_SHA256)
        .and_then(|okm| okm.fill(bytes.as_mut_slice()))
        .map_err(|_| CryptoError::Backend)?;
    Ok(KeyBytes::from_array(*bytes))
}

/// A stream's header: its bytes (each segment's associated data) and what
/// they say.
struct Header {
    bytes: [u8; STREAM_HEADER_LEN],
    segment_size: usize,
    salt: [u8; SALT_LEN],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl Header {
    fn new(
        segment_size: u32,
        salt: [u8; SALT_LEN],
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
    ) -> Result<Self> {
        let size =
            checked_segment_size(segment_size).ok_or_else(|| invalid_segment_size(segment_size))?;
        let mut bytes = Vec::with_capacity(STREAM_HEADER_LEN);
        bytes.push(STREAM_VERSION);
        bytes.push(HEADER_LEN_BYTE);
        bytes.extend_from_slice(&segment_size.to_be_bytes());
        bytes.extend_from_slice(&salt);
        bytes.extend_from_slice(&nonce_prefix);
        Ok(Self {
            bytes: bytes.try_into().map_err(|_| CryptoError::Backend)?,
            segment_size: size,
            salt,
            nonce_prefix,
        })
    }

    /// Checks the header bytes received so far, so that a stream of another
    /// version or layout is refused from its first bytes.
    fn check_start(received: &[u8]) -> Result<()> {
        let mut reader = Reader::new(received, HEADER_WHAT);
        if received.is_empty() {
            return Ok(());
        }
        reader.version_byte("stream", STREAM_VERSION)?;
        match reader.u8() {
            Ok(len) if len != HEADER_LEN_BYTE => Err(CryptoError::Malformed {
                what: HEADER_WHAT,
                reason: "the header length is not 45 bytes",
            }),
            _ => Ok(()),
        }
    }

    fn parse(received: &[u8]) -> Result<Self> {
        Self::check_start(received)?;
        let mut reader = Reader::new(received, HEADER_WHAT);
        reader.take(2)?;
        let segment_size = reader.u32()?;
        let salt = reader.array()?;
        let nonce_prefix = reader.array()?;
        reader.finish()?;
        if checked_segment_size(segment_size).is_none() {
            return Err(CryptoError::Malformed {
                what: HEADER_WHAT,
                reason: "the segment size is outside 16 bytes to 1 MiB",
            });
        }
        Self::new(segment_size, salt, nonce_prefix)
    }

    /// Bytes of one sealed segment but the last, which may be shorter.
    fn sealed_len(&self) -> usize {
        self.segment_size + TAG_LEN
    }

    /// nonce prefix || BE32(index) || last-segment flag.
    fn nonce(&self, index: u64, last: bool) -> Result<[u8; NONCE_LEN]> {
        let index = u32::try_from(index).map_err(|_| too_long())?.to_be_bytes();
        let flag = [u8::from(last)];
        let mut nonce = [0u8; NONCE_LEN];
        let parts = self.nonce_prefix.iter().chain(&index).chain(&flag);
        for (slot, byte) in nonce.iter_mut().zip(parts) {
            *slot = *byte;
        }
        Ok(nonce)
    }
}

/// Seals segment `index`; a segment but the last needs room for one more
/// index after it.
fn seal_segment(
    cipher: &LessSafeKey,
    header: &Header,
    index: u64,
    last: bool,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    if !last && index + 1 >= MAX_STREAM_SEGMENTS {
        return Err(too_long());
    }
    aead::seal_append(
        cipher,
        header.nonce(index, last)?,
        &header.bytes,
        plaintext,
        out,
    )
}

/// Opens segment `index`, which more bytes follow. When it fails, says
/// whether it was the last segment (data was appended) or does not belong.
fn open_inner(
    cipher: &LessSafeKey,
    header: &Header,
    index: u64,
    sealed: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    if index + 1 >= MAX_STREAM_SEGMENTS {
        return Err(too_long());
    }
    if aead::open_append(
        cipher,
        header.nonce(index, false)?,
        &header.bytes,
        sealed,
        out,
    )
    .is_ok()
    {
        return Ok(());
    }
    let mut probe = Zeroizing::new(Vec::new());
    if aead::open_append(
        cipher,
        header.nonce(index, true)?,
        &header.bytes,
        sealed,
        &mut probe,
    )
    .is_ok()
    {
        Err(CryptoError::StreamExtended {
            last_segment: index,
        })
    } else {
        Err(CryptoError::StreamSegmentRejected { segment: index })
    }
}

/// Opens the last segment. When it fails, says whether it was a complete
/// inner segment (the stream was cut right after it) or does not belong.
fn open_last(
    cipher: &LessSafeKey,
    header: &Header,
    index: u64,
    sealed: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    if aead::open_append(
        cipher,
        header.nonce(index, true)?,
        &header.bytes,
        sealed,
        out,
    )
    .is_ok()
    {
        return Ok(());
    }
    let mut probe = Zeroizing::new(Vec::new());
    if sealed.len() == header.sealed_len()
        && index + 1 < MAX_STREAM_SEGMENTS
        && aead::open_append(
            cipher,
            header.nonce(index, false)?,
            &header.bytes,
            sealed,
            &mut probe,
        )
        .is_ok()
    {
        Err(CryptoError::StreamTruncated {
            segments: index + 1,
        })
    } else {
        Err(CryptoError::StreamSegmentRejected { segment: index })
    }
}

/// Encrypts one file as a stream of segments, with memory for one segment.
///
/// Feed the plaintext to [`update`](Self::update) in slices of any size; it
/// appends to `out` the header and every segment known not to be the last.
/// [`finish`](Self::finish) appends the last segment (which holds the end of
/// the plaintext, possibly nothing). Write `out` away and clear it between
/// calls to keep memory constant.
///
/// ```
/// # use rempart_crypto::{FileKey, StreamDecryptor, StreamEncryptor};
/// # fn main() -> rempart_crypto::Result<()> {
/// let key = FileKey::generate()?;
/// let mut stored = Vec::new();
/// let mut encryptor = StreamEncryptor::new(&key, b"attachments/42")?;
/// encryptor.update(b"hello, ", &mut stored)?;
/// encryptor.update(b"world", &mut stored)?;
/// encryptor.finish(&mut stored)?;
///
/// let mut plain = Vec::new();
/// let mut decryptor = StreamDecryptor::new(&key, b"attachments/42");
/// decryptor.update(&stored, &mut plain)?;
/// decryptor.finish(&mut plain)?;
/// assert_eq!(plain, b"hello, world");
/// # Ok(())
/// # }
/// ```
pub struct StreamEncryptor {
    cipher: LessSafeKey,
    header: Header,
    header_written: bool,
    next_segment: u64,
    /// Plaintext not sealed yet: at most one segment.
    pending: Zeroizing<Vec<u8>>,
    failed: bool,
}

impl fmt::Debug for StreamEncryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamEncryptor")
            .field("segment_size", &self.header.segment_size)
            .field("segments_sealed", &self.next_segment)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl StreamEncryptor {
    /// A stream of [`STREAM_SEGMENT_SIZE`]-byte segments bound to
    /// `associated_data` (for example the attachment's record reference):
    /// the decryptor must be given the same bytes.
    pub fn new(file_key: &FileKey, associated_data: &[u8]) -> Result<Self> {
        Self::with_segment_size(file_key, associated_data, STREAM_SEGMENT_SIZE)
    }

    /// A stream of `segment_size`-byte plaintext segments (from
    /// [`MIN_STREAM_SEGMENT_SIZE`] to [`MAX_STREAM_SEGMENT_SIZE`]); the size
    /// is recorded in the header, so readers need no configuration.
    pub fn with_segment_size(
        file_key: &FileKey,
        associated_data: &[u8],
        segment_size: u32,
    ) -> Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| CryptoError::RandomUnavailable)?;
        aws_lc_rs::rand::fill(&mut nonce_prefix).map_err(|_| CryptoError::RandomUnavailable)?;
        Self::with_salt_and_prefix(file_key, associated_data, segment_size, salt, nonce_prefix)
    }

    /// Fixed salt and nonce prefix, for test vectors: reusing them under one
    /// file key and associated data would repeat nonces, so this is never
    /// public.
    pub(crate) fn with_salt_and_prefix(
        file_key: &FileKey,
        associated_data: &[u8],
        segment_size: u32,
        salt: [u8; SALT_LEN],
        nonce_prefix: [u8; NONCE_PREFIX_LEN],
    ) -> Result<Self> {
        let header = Header::new(segment_size, salt, nonce_prefix)?;
        let cipher = aead::cipher(&segment_key(&file_key.0, &salt, associated_data)?)?;
        let pending = Zeroizing::new(Vec::with_capacity(header.segment_size));
        Ok(Self {
            cipher,
            header,
            header_written: false,
            next_segment: 0,
            pending,
            failed: false,
        })
    }

    /// Plaintext bytes per segment.
    pub fn segment_size(&self) -> usize {
        self.header.segment_size
    }

    /// Takes more plaintext; appends to `out` the header (on the first
    /// call) and the segments this completes.
    pub fn update(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if self.failed {
            return Err(CryptoError::StreamAborted);
        }
        let result = self.push(plaintext, out);
        self.failed = result.is_err();
        result
    }

    /// Appends the last segment (and the header if nothing was written yet).
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        if self.failed {
            return Err(CryptoError::StreamAborted);
        }
        self.write_header(out);
        seal_segment(
            &self.cipher,
            &self.header,
            self.next_segment,
            true,
            &self.pending,
            out,
        )
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        if !self.header_written {
            out.extend_from_slice(&self.header.bytes);
            self.header_written = true;
        }
    }

    fn push(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.write_header(out);
        let size = self.header.segment_size;
        if !self.pending.is_empty() {
            let room = size.saturating_sub(self.pending.len());
            let (head, tail) = plaintext.split_at(room.min(plaintext.len()));
            self.pending.extend_from_slice(head);
            plaintext = tail;
            if plaintext.is_empty() {
                return Ok(());
            }
            // More plaintext follows, so the full pending segment is not the last.
            seal_segment(
                &self.cipher,
                &self.header,
                self.next_segment,
                false,
                &self.pending,
                out,
            )?;
            self.next_segment += 1;
            self.pending.clear();
        }
        while plaintext.len() > size {
            let (segment, rest) = plaintext.split_at(size);
            seal_segment(
                &self.cipher,
                &self.header,
                self.next_segment,
                false,
                segment,
                out,
            )?;
            self.next_segment += 1;
            plaintext = rest;
        }
        self.pending.extend_from_slice(plaintext);
        Ok(())
    }
}

enum Phase {
    /// Reading the header: the key waits for the salt.
    Header {
        file_key: KeyBytes,
        associated_data: Vec<u8>,
    },
    Segments {
        cipher: LessSafeKey,
        header: Header,
    },
}

/// Decrypts a stream made by [`StreamEncryptor`], with memory for one
/// segment.
///
/// Feed the ciphertext to [`update`](Self::update) in slices of any size; it
/// appends to `out` the plaintext of each segment that authenticated at its
/// position and is known not to be the last. [`finish`](Self::finish)
/// appends the last segment's plaintext, and fails if the stream was
/// truncated. Plaintext handed back before `finish` succeeds is genuine but
/// may be only the start of the file: treat the file as whole only then
/// (write to a temporary file and move it into place, or abort the
/// response). After an error every call fails with `StreamAborted`.
pub struct StreamDecryptor {
    phase: Phase,
    /// Header bytes, then ciphertext not opened yet: at most one segment.
    pending: Vec<u8>,
    next_segment: u64,
    failed: bool,
}

impl fmt::Debug for StreamDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamDecryptor")
            .field("segment_size", &self.segment_size())
            .field("segments_opened", &self.next_segment)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl StreamDecryptor {
    /// A decryptor for a stream made under `file_key` with
    /// `associated_data`.
    pub fn new(file_key: &FileKey, associated_data: &[u8]) -> Self {
        Self {
            phase: Phase::Header {
                file_key: file_key.0.clone(),
                associated_data: associated_data.to_vec(),
            },
            pending: Vec::with_capacity(STREAM_HEADER_LEN),
            next_segment: 0,
            failed: false,
        }
    }

    /// Plaintext bytes per segment, once the header has been read.
    pub fn segment_size(&self) -> Option<usize> {
        match &self.phase {
            Phase::Header { .. } => None,
            Phase::Segments { header, .. } => Some(header.segment_size),
        }
    }

    /// Takes more ciphertext; appends to `out` the plaintext of the
    /// segments this completes, once authenticated.
    pub fn update(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if self.failed {
            return Err(CryptoError::StreamAborted);
        }
        let result = self.push(ciphertext, out);
        self.failed = result.is_err();
        result
    }

    /// Opens the last segment, appending its plaintext to `out`. Fails if
    /// the stream ends before its last segment.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<()> {
        if self.failed {
            return Err(CryptoError::StreamAborted);
        }
        let Phase::Segments { cipher, header } = &self.phase else {
            return Err(CryptoError::Truncated { what: HEADER_WHAT });
        };
        if self.pending.len() < TAG_LEN {
            return Err(CryptoError::StreamTruncated {
                segments: self.next_segment,
            });
        }
        open_last(cipher, header, self.next_segment, &self.pending, out)
    }

    /// Reads header bytes from the start of `ciphertext`; returns the rest.
    fn read_header<'a>(&mut self, ciphertext: &'a [u8]) -> Result<&'a [u8]> {
        let Phase::Header {
            file_key,
            associated_data,
        } = &self.phase
        else {
            return Ok(ciphertext);
        };
        let need = STREAM_HEADER_LEN.saturating_sub(self.pending.len());
        let (head, rest) = ciphertext.split_at(need.min(ciphertext.len()));
        self.pending.extend_from_slice(head);
        Header::check_start(&self.pending)?;
        if self.pending.len() < STREAM_HEADER_LEN {
            return Ok(rest);
        }
        let header = Header::parse(&self.pending)?;
        let cipher = aead::cipher(&segment_key(file_key, &header.salt, associated_data)?)?;
        self.pending.clear();
        self.pending.reserve_exact(header.sealed_len());
        self.phase = Phase::Segments { cipher, header };
        Ok(rest)
    }

    fn push(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let mut ciphertext = self.read_header(ciphertext)?;
        let Phase::Segments { cipher, header } = &self.phase else {
            return Ok(());
        };
        let sealed_len = header.sealed_len();
        if !self.pending.is_empty() {
            let room = sealed_len.saturating_sub(self.pending.len());
            let (head, tail) = ciphertext.split_at(room.min(ciphertext.len()));
            self.pending.extend_from_slice(head);
            ciphertext = tail;
            if ciphertext.is_empty() {
                return Ok(());
            }
            // More bytes follow, so the full pending segment is not the last.
            open_inner(cipher, header, self.next_segment, &self.pending, out)?;
            self.next_segment += 1;
            self.pending.clear();
        }
        while ciphertext.len() > sealed_len {
            let (segment, rest) = ciphertext.split_at(sealed_len);
            open_inner(cipher, header, self.next_segment, segment, out)?;
            self.next_segment += 1;
            ciphertext = rest;
        }
        self.pending.extend_from_slice(ciphertext);
        Ok(())
    }
}
