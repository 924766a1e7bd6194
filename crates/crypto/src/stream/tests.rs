//! Tests of the streaming construction: round trips at every size that
//! matters and at any split of the input on either side, and refusal of
//! every change an attacker can make to a stored stream (truncation,
//! extension, reordering, splicing, bit flips, a wrong key or associated
//! data), with only authenticated plaintext ever handed back.

#![allow(clippy::cast_possible_truncation)] // small test lengths and indices

use proptest::prelude::*;

use super::*;
use crate::binding::{Binding, Purpose};
use crate::envelope::DataKeyId;
use crate::environment::Environment;
use crate::usage::UsageBound;

const AD: &[u8] = b"tenant/1/attachments/42";
const SMALL: u32 = 16;
/// Sealed bytes of a full segment of `SMALL` plaintext bytes.
const SEALED: usize = SMALL as usize + TAG_LEN;

fn key(seed: u8) -> FileKey {
    FileKey(KeyBytes::from_array([seed; KEY_LEN]))
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Feeds `input` in pieces whose sizes cycle through `chunks`.
fn pieces<'a>(input: &'a [u8], chunks: &'a [usize]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = input;
    let mut sizes = chunks.iter().copied().cycle();
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (piece, tail) = rest.split_at(sizes.next().unwrap_or(1).max(1).min(rest.len()));
        rest = tail;
        Some(piece)
    })
}

fn encrypt(key: &FileKey, size: u32, plaintext: &[u8], chunks: &[usize]) -> Vec<u8> {
    let mut encryptor = StreamEncryptor::with_segment_size(key, AD, size).unwrap();
    let mut out = Vec::new();
    for piece in pieces(plaintext, chunks) {
        encryptor.update(piece, &mut out).unwrap();
    }
    encryptor.finish(&mut out).unwrap();
    out
}

/// The plaintext handed back, and how the stream ended.
fn decrypt_with(
    key: &FileKey,
    ad: &[u8],
    ciphertext: &[u8],
    chunks: &[usize],
) -> (Vec<u8>, Result<()>) {
    let mut decryptor = StreamDecryptor::new(key, ad);
    let mut out = Vec::new();
    for piece in pieces(ciphertext, chunks) {
        if let Err(e) = decryptor.update(piece, &mut out) {
            return (out, Err(e));
        }
    }
    let end = decryptor.finish(&mut out);
    (out, end)
}

fn decrypt(key: &FileKey, ciphertext: &[u8]) -> (Vec<u8>, Result<()>) {
    decrypt_with(key, AD, ciphertext, &[7, 300, 1])
}

/// Sealed segment `i` of a stream of `SMALL`-byte segments.
fn segment(ciphertext: &[u8], i: usize) -> &[u8] {
    let start = STREAM_HEADER_LEN + i * SEALED;
    &ciphertext[start..(start + SEALED).min(ciphertext.len())]
}

fn swap_segments(ciphertext: &[u8], a: usize, b: usize) -> Vec<u8> {
    let mut out = ciphertext[..STREAM_HEADER_LEN].to_vec();
    let count = (ciphertext.len() - STREAM_HEADER_LEN).div_ceil(SEALED);
    for i in 0..count {
        let j = if i == a {
            b
        } else if i == b {
            a
        } else {
            i
        };
        out.extend_from_slice(segment(ciphertext, j));
    }
    out
}

#[test]
fn round_trip_around_segment_boundaries() {
    let key = key(1);
    let s = SMALL as usize;
    for len in [
        0,
        1,
        s - 1,
        s,
        s + 1,
        2 * s - 1,
        2 * s,
        2 * s + 1,
        3 * s,
        1000,
    ] {
        let plain = plaintext(len);
        for chunks in [&[1][..], &[7], &[s], &[s + 1], &[3, 40, 1], &[usize::MAX]] {
            let sealed = encrypt(&key, SMALL, &plain, chunks);
            let expected = ciphertext_len_with_segment_size(len as u64, SMALL).unwrap();
            assert_eq!(sealed.len() as u64, expected, "length of {len} bytes");
            for dec_chunks in [&[1][..], &[SEALED], &[SEALED + 1], &[5, 33], &[usize::MAX]] {
                let (out, end) = decrypt_with(&key, AD, &sealed, dec_chunks);
                end.unwrap();
                assert_eq!(
                    out, plain,
                    "{len} bytes in {chunks:?}, read in {dec_chunks:?}"
                );
            }
        }
    }
}

#[test]
fn round_trip_with_the_default_segment_size() {
    let key = key(2);
    let s = STREAM_SEGMENT_SIZE as usize;
    for len in [0, 1, s - 1, s, s + 1, 3 * s + 5] {
        let plain = plaintext(len);
        let mut encryptor = StreamEncryptor::new(&key, AD).unwrap();
        assert_eq!(encryptor.segment_size(), s);
        let mut sealed = Vec::new();
        for piece in plain.chunks(10_000) {
            encryptor.update(piece, &mut sealed).unwrap();
        }
        encryptor.finish(&mut sealed).unwrap();
        assert_eq!(sealed.len() as u64, ciphertext_len(len as u64).unwrap());
        let (out, end) = decrypt_with(&key, AD, &sealed, &[4096, 65_553]);
        end.unwrap();
        assert_eq!(out, plain, "{len} bytes");
    }
}

#[test]
fn an_empty_plaintext_is_a_header_and_one_empty_segment() {
    let key = key(3);
    let mut sealed = Vec::new();
    StreamEncryptor::new(&key, AD)
        .unwrap()
        .finish(&mut sealed)
        .unwrap();
    assert_eq!(sealed.len(), STREAM_HEADER_LEN + TAG_LEN);
    assert_eq!(ciphertext_len(0).unwrap(), sealed.len() as u64);
    let (out, end) = decrypt(&key, &sealed);
    end.unwrap();
    assert!(out.is_empty());

    let mut encryptor = StreamEncryptor::new(&key, AD).unwrap();
    let mut again = Vec::new();
    encryptor.update(&[], &mut again).unwrap();
    assert_eq!(again.len(), STREAM_HEADER_LEN, "the header comes first");
    encryptor.finish(&mut again).unwrap();
    decrypt(&key, &again).1.unwrap();
    assert_ne!(
        sealed, again,
        "each stream draws its own salt and nonce prefix"
    );
}

#[test]
fn truncation_at_any_byte_fails_and_names_the_boundary() {
    let key = key(4);
    // Four full segments then a short one; then four full ones, the last full.
    for (len, count) in [(70, 5), (64, 4)] {
        let plain = plaintext(len);
        let sealed = encrypt(&key, SMALL, &plain, &[usize::MAX]);
        for cut in 0..sealed.len() {
            let (out, end) = decrypt(&key, &sealed[..cut]);
            let err = end.expect_err("a truncated stream must fail");
            assert!(
                plain.starts_with(&out),
                "only genuine plaintext is handed back"
            );
            if cut < STREAM_HEADER_LEN {
                assert!(
                    matches!(
                        err,
                        CryptoError::Truncated {
                            what: "stream header"
                        }
                    ),
                    "{err}"
                );
            } else if (cut - STREAM_HEADER_LEN).is_multiple_of(SEALED) {
                let segments = ((cut - STREAM_HEADER_LEN) / SEALED) as u64;
                assert!(segments < count);
                assert!(
                    matches!(err, CryptoError::StreamTruncated { segments: s } if s == segments),
                    "cut at {cut}: {err}"
                );
            } else {
                assert!(
                    matches!(
                        err,
                        CryptoError::StreamTruncated { .. }
                            | CryptoError::StreamSegmentRejected { .. }
                    ),
                    "cut at {cut}: {err}"
                );
            }
        }
    }
}

#[test]
fn bytes_after_the_last_segment_fail() {
    let key = key(5);
    for len in [40, 48] {
        let plain = plaintext(len);
        let sealed = encrypt(&key, SMALL, &plain, &[usize::MAX]);
        let last = (len as u64).div_ceil(u64::from(SMALL)) - 1;
        let other = encrypt(&key, SMALL, &plain, &[usize::MAX]);
        let extras: [&[u8]; 4] = [&[0], segment(&sealed, 0), segment(&other, 0), &sealed];
        for extra in extras {
            let mut extended = sealed.clone();
            extended.extend_from_slice(extra);
            let (out, end) = decrypt(&key, &extended);
            let err = end.expect_err("an extended stream must fail");
            assert!(plain.starts_with(&out) && out.len() < plain.len());
            if len % SMALL as usize == 0 {
                // A full last segment with bytes after it opens as the last: said so.
                assert!(
                    matches!(err, CryptoError::StreamExtended { last_segment } if last_segment == last),
                    "{err}"
                );
            } else {
                assert!(
                    matches!(err, CryptoError::StreamSegmentRejected { .. }),
                    "{err}"
                );
            }
        }
    }
}

#[test]
fn reordered_dropped_or_repeated_segments_fail() {
    let key = key(6);
    let plain = plaintext(70);
    let sealed = encrypt(&key, SMALL, &plain, &[usize::MAX]);
    for (a, b) in [(0, 1), (1, 2), (2, 3), (0, 3), (3, 4)] {
        let (out, end) = decrypt(&key, &swap_segments(&sealed, a, b));
        let err = end.expect_err("reordered segments must fail");
        assert!(
            matches!(err, CryptoError::StreamSegmentRejected { segment } if segment == a as u64),
            "swap {a} and {b}: {err}"
        );
        assert_eq!(
            out,
            plain[..a * SMALL as usize],
            "only the segments before the swap"
        );
    }
    let mut dropped = sealed[..STREAM_HEADER_LEN + SEALED].to_vec();
    dropped.extend_from_slice(&sealed[STREAM_HEADER_LEN + 2 * SEALED..]);
    let err = decrypt(&key, &dropped).1.unwrap_err();
    assert!(
        matches!(err, CryptoError::StreamSegmentRejected { segment: 1 }),
        "{err}"
    );
    let mut repeated = sealed[..STREAM_HEADER_LEN + SEALED].to_vec();
    repeated.extend_from_slice(&sealed[STREAM_HEADER_LEN..]);
    let err = decrypt(&key, &repeated).1.unwrap_err();
    assert!(
        matches!(err, CryptoError::StreamSegmentRejected { segment: 1 }),
        "{err}"
    );
}

#[test]
fn segments_spliced_from_another_stream_fail() {
    let key = key(7);
    let plain = plaintext(70);
    let a = encrypt(&key, SMALL, &plain, &[usize::MAX]);
    let b = encrypt(&key, SMALL, &plain, &[usize::MAX]);
    assert_ne!(a, b);
    for i in 0..5 {
        let start = STREAM_HEADER_LEN + i * SEALED;
        let end = (start + SEALED).min(a.len());
        let mut spliced = a.clone();
        spliced[start..end].copy_from_slice(&b[start..end]);
        let (out, result) = decrypt(&key, &spliced);
        let err = result.unwrap_err();
        assert!(
            matches!(err, CryptoError::StreamSegmentRejected { segment } if segment == i as u64),
            "segment {i}: {err}"
        );
        assert_eq!(out, plain[..i * SMALL as usize]);
    }
    // The other stream's header on this stream's segments.
    let mut spliced = b[..STREAM_HEADER_LEN].to_vec();
    spliced.extend_from_slice(&a[STREAM_HEADER_LEN..]);
    let err = decrypt(&key, &spliced).1.unwrap_err();
    assert!(
        matches!(err, CryptoError::StreamSegmentRejected { segment: 0 }),
        "{err}"
    );
}

#[test]
fn a_wrong_key_or_associated_data_fails_at_the_first_segment() {
    let plain = plaintext(70);
    let sealed = encrypt(&key(8), SMALL, &plain, &[usize::MAX]);
    for (k, ad) in [
        (key(9), AD),
        (key(8), b"tenant/1/attachments/43".as_slice()),
        (key(8), b""),
    ] {
        let (out, end) = decrypt_with(&k, ad, &sealed, &[usize::MAX]);
        assert!(out.is_empty());
        let err = end.unwrap_err();
        assert!(
            matches!(err, CryptoError::StreamSegmentRejected { segment: 0 }),
            "{err}"
        );
    }
}

#[test]
fn every_flipped_bit_is_detected() {
    let key = key(10);
    let plain = plaintext(40);
    let sealed = encrypt(&key, SMALL, &plain, &[usize::MAX]);
    for bit in 0..sealed.len() * 8 {
        let mut tampered = sealed.clone();
        tampered[bit / 8] ^= 1 << (bit % 8);
        let (out, end) = decrypt(&key, &tampered);
        assert!(end.is_err(), "bit {bit} flipped went unnoticed");
        let byte = bit / 8;
        let intact_segments = byte.saturating_sub(STREAM_HEADER_LEN) / SEALED;
        let intact = if byte < STREAM_HEADER_LEN {
            0
        } else {
            intact_segments * SMALL as usize
        };
        assert!(out.len() <= intact && plain.starts_with(&out), "bit {bit}");
    }
}

#[test]
fn bad_headers_are_refused_with_what_is_wrong() {
    let key = key(11);
    let sealed = encrypt(&key, SMALL, &plaintext(20), &[usize::MAX]);

    let mut decryptor = StreamDecryptor::new(&key, AD);
    let err = decryptor.update(&[2], &mut Vec::new()).unwrap_err();
    assert!(
        matches!(
            err,
            CryptoError::UnsupportedVersion {
                what: "stream",
                version: 2,
                supported: 1
            }
        ),
        "refused from the first byte: {err}"
    );

    let mut wrong_len = sealed.clone();
    wrong_len[1] = 44;
    let err = decrypt(&key, &wrong_len).1.unwrap_err();
    assert!(
        matches!(
            err,
            CryptoError::Malformed {
                what: "stream header",
                ..
            }
        ),
        "{err}"
    );

    for size in [
        0u32,
        MIN_STREAM_SEGMENT_SIZE - 1,
        MAX_STREAM_SEGMENT_SIZE + 1,
        u32::MAX,
    ] {
        let mut bad = sealed.clone();
        bad[2..6].copy_from_slice(&size.to_be_bytes());
        let err = decrypt(&key, &bad).1.unwrap_err();
        assert!(
            matches!(
                err,
                CryptoError::Malformed {
                    what: "stream header",
                    ..
                }
            ),
            "{size}: {err}"
        );
    }
    // Another valid size over a one-segment stream, which parses the same:
    // refused because the header is each segment's associated data.
    let mut resized = encrypt(&key, SMALL, &plaintext(10), &[usize::MAX]);
    resized[2..6].copy_from_slice(&64u32.to_be_bytes());
    let err = decrypt(&key, &resized).1.unwrap_err();
    assert!(
        matches!(err, CryptoError::StreamSegmentRejected { segment: 0 }),
        "{err}"
    );

    let err = decrypt(&key, &[]).1.unwrap_err();
    assert!(
        matches!(
            err,
            CryptoError::Truncated {
                what: "stream header"
            }
        ),
        "{err}"
    );
}

#[test]
fn segment_sizes_outside_the_range_are_refused() {
    let key = key(12);
    for size in [0, MIN_STREAM_SEGMENT_SIZE - 1, MAX_STREAM_SEGMENT_SIZE + 1] {
        let err = StreamEncryptor::with_segment_size(&key, AD, size).unwrap_err();
        assert!(matches!(err, CryptoError::InvalidStreamSegmentSize { size: s, .. } if s == size));
        assert!(ciphertext_len_with_segment_size(1, size).is_err());
    }
    for size in [MIN_STREAM_SEGMENT_SIZE, MAX_STREAM_SEGMENT_SIZE] {
        let sealed = encrypt(&key, size, &plaintext(100), &[usize::MAX]);
        assert_eq!(decrypt(&key, &sealed).0, plaintext(100));
    }
}

#[test]
fn ciphertext_len_counts_header_and_tags_up_to_the_segment_limit() {
    let s = u64::from(STREAM_SEGMENT_SIZE);
    let (h, t) = (STREAM_HEADER_LEN as u64, TAG_LEN as u64);
    assert_eq!(ciphertext_len(0).unwrap(), h + t);
    assert_eq!(ciphertext_len(s).unwrap(), h + s + t);
    assert_eq!(ciphertext_len(s + 1).unwrap(), h + s + 1 + 2 * t);
    let five_gib = 5 << 30;
    assert_eq!(
        ciphertext_len(five_gib).unwrap(),
        h + five_gib + (five_gib / s) * t
    );
    let most = MAX_STREAM_SEGMENTS * u64::from(SMALL);
    assert!(ciphertext_len_with_segment_size(most, SMALL).is_ok());
    for len in [most + 1, u64::MAX] {
        let err = ciphertext_len_with_segment_size(len, SMALL).unwrap_err();
        assert!(matches!(
            err,
            CryptoError::StreamTooLong {
                max_segments: MAX_STREAM_SEGMENTS
            }
        ));
    }
    assert!(ciphertext_len(u64::MAX).is_err());
}

#[test]
fn the_segment_index_cannot_wrap() {
    let key = key(13);
    let last = MAX_STREAM_SEGMENTS - 1;
    let plain = plaintext(SMALL as usize);

    // The last index a stream may use holds its last segment, and opens.
    let mut encryptor = StreamEncryptor::with_segment_size(&key, AD, SMALL).unwrap();
    encryptor.next_segment = last;
    let mut sealed = Vec::new();
    encryptor.update(&plain, &mut sealed).unwrap();
    encryptor.finish(&mut sealed).unwrap();
    let mut decryptor = StreamDecryptor::new(&key, AD);
    decryptor.next_segment = last;
    let mut out = Vec::new();
    decryptor.update(&sealed, &mut out).unwrap();
    decryptor.finish(&mut out).unwrap();
    assert_eq!(out, plain);

    // A segment after it cannot be numbered: refused on both sides.
    let mut encryptor = StreamEncryptor::with_segment_size(&key, AD, SMALL).unwrap();
    encryptor.next_segment = last;
    let err = encryptor
        .update(&plaintext(SMALL as usize + 1), &mut Vec::new())
        .unwrap_err();
    assert!(matches!(err, CryptoError::StreamTooLong { .. }), "{err}");
    let two = encrypt(&key, SMALL, &plaintext(20), &[usize::MAX]);
    let mut decryptor = StreamDecryptor::new(&key, AD);
    decryptor.next_segment = last;
    let err = decryptor.update(&two, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, CryptoError::StreamTooLong { .. }), "{err}");
}

#[test]
fn a_failed_stream_stays_failed() {
    let key = key(14);
    let mut encryptor = StreamEncryptor::with_segment_size(&key, AD, SMALL).unwrap();
    encryptor.next_segment = MAX_STREAM_SEGMENTS - 1;
    assert!(encryptor.update(&plaintext(40), &mut Vec::new()).is_err());
    assert!(matches!(
        encryptor.update(b"x", &mut Vec::new()),
        Err(CryptoError::StreamAborted)
    ));
    assert!(matches!(
        encryptor.finish(&mut Vec::new()),
        Err(CryptoError::StreamAborted)
    ));

    let sealed = encrypt(&key, SMALL, &plaintext(70), &[usize::MAX]);
    let mut decryptor = StreamDecryptor::new(&key, b"another record");
    let mut out = Vec::new();
    assert!(decryptor.update(&sealed[..100], &mut out).is_err());
    assert!(matches!(
        decryptor.update(&sealed[100..], &mut out),
        Err(CryptoError::StreamAborted)
    ));
    assert!(matches!(
        decryptor.finish(&mut out),
        Err(CryptoError::StreamAborted)
    ));
    assert!(out.is_empty());
}

#[test]
fn buffers_hold_at_most_one_segment() {
    let key = key(15);
    let plain = plaintext(10 * SMALL as usize + 3);
    let mut encryptor = StreamEncryptor::with_segment_size(&key, AD, SMALL).unwrap();
    let mut sealed = Vec::new();
    encryptor.update(&plain, &mut sealed).unwrap();
    assert!(encryptor.pending.len() <= SMALL as usize);
    assert!(encryptor.pending.capacity() <= SMALL as usize);
    encryptor.finish(&mut sealed).unwrap();

    let mut decryptor = StreamDecryptor::new(&key, AD);
    let mut out = Vec::new();
    for piece in sealed.chunks(5) {
        decryptor.update(piece, &mut out).unwrap();
        assert!(decryptor.pending.len() <= STREAM_HEADER_LEN.max(SEALED));
        assert!(decryptor.pending.capacity() <= STREAM_HEADER_LEN.max(SEALED));
    }
    decryptor.update(&[], &mut out).unwrap();
    assert_eq!(decryptor.segment_size(), Some(SMALL as usize));
    decryptor.finish(&mut out).unwrap();
    assert_eq!(out, plain);
}

fn make_data_key(seed: u8) -> DataKey {
    let binding = Binding::new(
        Environment::production(),
        Some(uuid::Uuid::from_u128(1)),
        Purpose::new("vault:attachments").unwrap(),
    );
    DataKey::new(
        DataKeyId::from_bytes([seed; DataKeyId::LEN]),
        binding,
        &KeyBytes::from_array([seed; KEY_LEN]),
        0,
        UsageBound::default(),
    )
    .unwrap()
}

#[test]
fn the_file_key_leaves_only_sealed_under_a_data_key() {
    let file_key = FileKey::generate().unwrap();
    let shown = format!("{file_key:?}");
    assert_eq!(shown, "FileKey(<redacted>)");

    let data_key = make_data_key(1);
    let sealed_key = file_key.seal(&data_key, b"attachments/42").unwrap();
    assert!(
        !sealed_key
            .windows(KEY_LEN)
            .any(|w| w == file_key.0.expose())
    );
    let stream = encrypt(&file_key, SMALL, b"contract.pdf", &[usize::MAX]);

    let reopened = FileKey::open(&data_key, b"attachments/42", &sealed_key).unwrap();
    assert_eq!(decrypt(&reopened, &stream).0, b"contract.pdf");

    let err = FileKey::open(&data_key, b"attachments/43", &sealed_key).unwrap_err();
    assert!(matches!(err, CryptoError::DecryptionFailed));
    let err = FileKey::open(&make_data_key(2), b"attachments/42", &sealed_key).unwrap_err();
    assert!(matches!(err, CryptoError::DecryptionFailed));
    let short = data_key
        .encrypt(b"attachments/42", &[7; KEY_LEN - 1])
        .unwrap();
    let err = FileKey::open(&data_key, b"attachments/42", &short).unwrap_err();
    assert!(matches!(
        err,
        CryptoError::Malformed {
            what: "sealed file key",
            ..
        }
    ));
    assert_ne!(FileKey::generate().unwrap().0.expose(), file_key.0.expose());
}

#[test]
fn debug_output_shows_no_plaintext_or_key() {
    let key = key(0xAB);
    let mut encryptor = StreamEncryptor::with_segment_size(&key, AD, SMALL).unwrap();
    encryptor
        .update(b"secret-plaintext", &mut Vec::new())
        .unwrap();
    let shown = format!("{encryptor:?} {:?}", StreamDecryptor::new(&key, AD));
    assert!(!shown.contains("secret") && !shown.contains("171"));
    assert!(shown.contains("segment_size"));
}

proptest! {
    #[test]
    fn round_trips_at_any_split(
        plain in proptest::collection::vec(any::<u8>(), 0..600),
        size in MIN_STREAM_SEGMENT_SIZE..80,
        enc_chunks in proptest::collection::vec(1usize..120, 1..6),
        dec_chunks in proptest::collection::vec(1usize..120, 1..6),
    ) {
        let key = key(20);
        let sealed = encrypt(&key, size, &plain, &enc_chunks);
        let expected = ciphertext_len_with_segment_size(plain.len() as u64, size).unwrap();
        prop_assert_eq!(sealed.len() as u64, expected);
        let (out, end) = decrypt_with(&key, AD, &sealed, &dec_chunks);
        prop_assert!(end.is_ok());
        prop_assert_eq!(out, plain);
    }

    #[test]
    fn truncated_streams_never_open(
        plain in proptest::collection::vec(any::<u8>(), 0..300),
        cut in any::<proptest::sample::Index>(),
        dec_chunks in proptest::collection::vec(1usize..80, 1..4),
    ) {
        let key = key(21);
        let sealed = encrypt(&key, SMALL, &plain, &[usize::MAX]);
        let cut = cut.index(sealed.len());
        let (out, end) = decrypt_with(&key, AD, &sealed[..cut], &dec_chunks);
        prop_assert!(end.is_err());
        prop_assert!(plain.starts_with(&out));
    }

    #[test]
    fn altered_streams_never_open(
        plain in proptest::collection::vec(any::<u8>(), 0..300),
        at in any::<proptest::sample::Index>(),
        mask in 1u8..=255,
        dec_chunks in proptest::collection::vec(1usize..80, 1..4),
    ) {
        let key = key(22);
        let mut sealed = encrypt(&key, SMALL, &plain, &[usize::MAX]);
        let at = at.index(sealed.len());
        sealed[at] ^= mask;
        let (out, end) = decrypt_with(&key, AD, &sealed, &dec_chunks);
        prop_assert!(end.is_err());
        prop_assert!(plain.starts_with(&out));
    }

    #[test]
    fn arbitrary_bytes_are_refused_without_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        valid_header in any::<bool>(),
        dec_chunks in proptest::collection::vec(1usize..80, 1..4),
    ) {
        let key = key(23);
        let mut input = Vec::new();
        if valid_header {
            input.extend_from_slice(&encrypt(&key, SMALL, b"", &[1])[..STREAM_HEADER_LEN]);
        }
        input.extend_from_slice(&bytes);
        let (out, end) = decrypt_with(&key, AD, &input, &dec_chunks);
        prop_assert!(end.is_err());
        prop_assert!(out.is_empty());
    }
}
