//! Committed test vectors of the stream format, kept in
//! docs/formats/stream.md between the vector markers. Invariant: the bytes
//! this build writes for a fixed file key, salt and nonce prefix are exactly
//! the committed ones, and the committed ones decrypt. The fixed-salt path
//! used here is test-only.
//!
//! Regenerate after a deliberate format change (a new version, never an
//! edit of v1): `REMPART_WRITE_VECTORS=1 cargo test -p rempart-crypto stream::vectors`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::*;

const BEGIN: &str = "<!-- stream vectors: begin -->";
const END: &str = "<!-- stream vectors: end -->";

struct Case {
    name: &'static str,
    file_key: [u8; KEY_LEN],
    associated_data: &'static [u8],
    segment_size: u32,
    salt: [u8; SALT_LEN],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
    plaintext: &'static [u8],
}

fn arr<const N: usize>(seed: u8) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = seed.wrapping_add(u8::try_from(i).unwrap());
    }
    out
}

fn cases() -> [Case; 3] {
    [
        Case {
            name: "empty plaintext, default segment size",
            file_key: arr(0x00),
            associated_data: b"tenant/0190d5a8-3c2e-7a4b-8f00-112233445566/attachments/1",
            segment_size: STREAM_SEGMENT_SIZE,
            salt: arr(0x40),
            nonce_prefix: arr(0x80),
            plaintext: b"",
        },
        Case {
            name: "three segments, the last one short",
            file_key: arr(0x10),
            associated_data: b"attachments/2",
            segment_size: 16,
            salt: arr(0x50),
            nonce_prefix: arr(0x90),
            plaintext: b"Rempart seals attachments segment by segment.",
        },
        Case {
            name: "two segments, the last one full, no associated data",
            file_key: arr(0x20),
            associated_data: b"",
            segment_size: 16,
            salt: arr(0x60),
            nonce_prefix: arr(0xA0),
            plaintext: b"exactly thirty-two bytes of text",
        },
    ]
}

fn line(out: &mut String, name: &str, value: &str) {
    let text = format!("{:<17}{value}", format!("{name}:"));
    writeln!(out, "{}", text.trim_end()).unwrap();
}

/// One case as the fenced block the format page shows.
fn render(case: &Case) -> String {
    let file_key = FileKey(KeyBytes::from_array(case.file_key));
    let mut encryptor = StreamEncryptor::with_salt_and_prefix(
        &file_key,
        case.associated_data,
        case.segment_size,
        case.salt,
        case.nonce_prefix,
    )
    .unwrap();
    let mut sealed = Vec::new();
    encryptor.update(case.plaintext, &mut sealed).unwrap();
    let header = Header::new(case.segment_size, case.salt, case.nonce_prefix).unwrap();
    encryptor.finish(&mut sealed).unwrap();
    let segment_key = segment_key(&file_key.0, &case.salt, case.associated_data).unwrap();

    let mut out = String::from("```text\n");
    line(&mut out, "case", case.name);
    line(&mut out, "file_key", &hex::encode(case.file_key));
    line(
        &mut out,
        "associated_data",
        &hex::encode(case.associated_data),
    );
    line(&mut out, "segment_size", &case.segment_size.to_string());
    line(&mut out, "salt", &hex::encode(case.salt));
    line(&mut out, "nonce_prefix", &hex::encode(case.nonce_prefix));
    line(&mut out, "plaintext", &hex::encode(case.plaintext));
    line(&mut out, "segment_key", &hex::encode(segment_key.expose()));
    let (head, segments) = sealed.split_at(STREAM_HEADER_LEN);
    line(&mut out, "header", &hex::encode(head));
    let count = segments.len().div_ceil(header.sealed_len());
    for (i, segment) in segments.chunks(header.sealed_len()).enumerate() {
        let nonce = header.nonce(i as u64, i + 1 == count).unwrap();
        line(&mut out, &format!("nonce {i}"), &hex::encode(nonce));
        line(&mut out, &format!("segment {i}"), &hex::encode(segment));
    }
    line(&mut out, "stream_length", &sealed.len().to_string());
    out.push_str("```\n");
    out
}

fn page() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats/stream.md")
}

/// The committed text between the markers (rewritten first from `fresh`
/// when `REMPART_WRITE_VECTORS` is set).
fn committed_section(fresh: &str) -> String {
    let path = page();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (before, rest) = text.split_once(BEGIN).expect("begin marker");
    let (section, after) = rest.split_once(END).expect("end marker");
    if std::env::var_os("REMPART_WRITE_VECTORS").is_some() {
        std::fs::write(&path, format!("{before}{BEGIN}\n{fresh}{END}{after}")).unwrap();
        return fresh.to_owned();
    }
    section.trim_start_matches('\n').to_owned()
}

/// Each fenced block's `name: value` lines.
fn parse(section: &str) -> Vec<BTreeMap<String, String>> {
    section
        .split("```text\n")
        .skip(1)
        .map(|block| {
            block
                .lines()
                .take_while(|l| !l.starts_with("```"))
                .map(|l| {
                    let (name, value) = l.split_once(':').unwrap();
                    (name.trim().to_owned(), value.trim().to_owned())
                })
                .collect()
        })
        .collect()
}

#[test]
fn stream_vectors_match_the_format_page() {
    let fresh: String = cases().iter().map(|c| render(c) + "\n").collect();
    let committed = committed_section(&fresh);
    assert_eq!(
        committed, fresh,
        "stream bytes changed: that is a new format version"
    );

    let blocks = parse(&committed);
    assert_eq!(blocks.len(), cases().len());
    for block in blocks {
        let h = |name: &str| hex::decode(&block[name]).unwrap();
        let file_key = FileKey(KeyBytes::from_slice(&h("file_key")).unwrap());
        let mut sealed = h("header");
        for i in 0.. {
            match block.get(&format!("segment {i}")) {
                Some(segment) => sealed.extend(hex::decode(segment).unwrap()),
                None => break,
            }
        }
        assert_eq!(sealed.len().to_string(), block["stream_length"]);
        let mut decryptor = StreamDecryptor::new(&file_key, &h("associated_data"));
        let mut plain = Vec::new();
        decryptor.update(&sealed, &mut plain).unwrap();
        assert_eq!(
            decryptor.segment_size().unwrap().to_string(),
            block["segment_size"]
        );
        decryptor.finish(&mut plain).unwrap();
        assert_eq!(plain, h("plaintext"), "{}", block["case"]);
    }
}
