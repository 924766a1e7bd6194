//! The committed test vectors (`docs/formats/vectors/audit/`) match this
//! implementation, and the committed export verifies.
//!
//! To regenerate after a deliberate format change (which also needs a new
//! version number): `REMPART_UPDATE_VECTORS=1 cargo test -p rempart-audit
//! --test vectors`.

// The whole file is test code: helpers outside `#[test]` fns panic on
// broken fixtures, as tests do.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::too_many_lines,
    reason = "test code: fixtures panic when broken; the vector lists are long"
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use rempart_audit::merkle::{empty_root, leaf_hash, node_hash};
use rempart_audit::{
    Anchor, ChainHead, Checkpoint, Ed25519Signer, Event, EventBody, ExportWriter, Frontier,
    MerkleLog, Outcome, Problem, Signer, VerifyError, consistency_proof, inclusion_proof, root,
    verify_consistency, verify_export, verify_inclusion,
};
use serde_json::json;
use time::macros::datetime;
use uuid::Uuid;

/// The test signing seed: bytes 0x00..=0x1f. Never a real key.
fn test_seed() -> [u8; 32] {
    std::array::from_fn(|i| u8::try_from(i).unwrap())
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats/vectors/audit")
}

fn bodies() -> Vec<EventBody> {
    let tenant = Uuid::parse_str("0191f1a2-7c3e-7d4a-9b2c-3d4e5f607182").unwrap();
    let principal = "principal:0191f1a2-0000-7000-8000-000000000001";
    let base = datetime!(2025-06-01 09:00:00 UTC);
    vec![
        EventBody {
            time: base,
            actor: "bootstrap".into(),
            action: "auth.bootstrap".into(),
            target: None,
            tenant: None,
            outcome: Outcome::Success,
            request_id: None,
            source: None,
            details: None,
            id: None,
        },
        EventBody {
            time: base + time::Duration::microseconds(1_500_001),
            actor: principal.into(),
            action: "tenant.create".into(),
            target: Some(format!("tenant:{tenant}")),
            tenant: Some(tenant),
            outcome: Outcome::Success,
            request_id: Some("req-0001".into()),
            source: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))),
            details: Some(vec![0x01, 0x02, 0x03, 0xfe, 0xff]),
            id: None,
        },
        EventBody {
            time: base + time::Duration::seconds(60),
            actor: "anonymous".into(),
            action: "auth.login".into(),
            target: Some("user:\"alice\" é".into()),
            tenant: Some(tenant),
            outcome: Outcome::Denied,
            request_id: Some("req-0002".into()),
            source: Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
            details: None,
            id: None,
        },
        EventBody {
            time: base + time::Duration::seconds(61),
            actor: principal.into(),
            action: "vault.record.read".into(),
            target: Some("record:42".into()),
            tenant: Some(tenant),
            outcome: Outcome::Success,
            request_id: Some(String::new()),
            source: Some(IpAddr::V6(Ipv4Addr::new(198, 51, 100, 7).to_ipv6_mapped())),
            details: Some(vec![0; 33]),
            id: Some(Uuid::parse_str("0191f1a2-7c3e-7d4a-8000-0000000000a4").unwrap()),
        },
        EventBody {
            time: base + time::Duration::seconds(120),
            actor: "system".into(),
            action: "backup.run".into(),
            target: None,
            tenant: None,
            outcome: Outcome::Failed,
            request_id: None,
            source: None,
            details: Some(Vec::new()),
            id: Some(Uuid::parse_str("0191f1a2-7c3e-7d4a-8000-0000000000a5").unwrap()),
        },
        EventBody {
            time: base + time::Duration::seconds(180),
            actor: principal.into(),
            action: "tenant.update".into(),
            target: Some(format!("tenant:{tenant}")),
            tenant: Some(tenant),
            outcome: Outcome::Success,
            request_id: Some("req-0003".into()),
            source: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            details: None,
            id: Some(Uuid::parse_str("0191f1a2-7c3e-7d4a-8000-0000000000a6").unwrap()),
        },
        EventBody {
            time: base + time::Duration::seconds(240),
            actor: "system".into(),
            action: "audit.checkpoint".into(),
            target: None,
            tenant: None,
            outcome: Outcome::Success,
            request_id: None,
            source: None,
            details: None,
            id: Some(Uuid::parse_str("0191f1a2-7c3e-7d4a-8000-0000000000a7").unwrap()),
        },
    ]
}

struct Generated {
    export: String,
    vectors: String,
    partial: String,
    rotated: String,
    cases: String,
}

/// The second test signing seed (after a rotation): bytes 0x20..=0x3f.
fn second_seed() -> [u8; 32] {
    std::array::from_fn(|i| u8::try_from(i + 32).unwrap())
}

/// A small export of `bodies`, one checkpoint after the last event.
fn small_export(bodies: Vec<EventBody>) -> String {
    let signer = Ed25519Signer::from_seed(&test_seed()).unwrap();
    let mut head = ChainHead::GENESIS;
    let mut tree = MerkleLog::new();
    let mut writer = ExportWriter::new(Vec::new(), signer.public_key().key_id()).unwrap();
    for body in bodies {
        let e = head.seal(body).unwrap();
        tree.push(&e.hash);
        writer.event(&e).unwrap();
    }
    let cp = Checkpoint::create(
        &signer,
        tree.size(),
        tree.root(),
        datetime!(2025-06-01 10:00 UTC),
        None,
    )
    .unwrap();
    writer.checkpoint(&cp).unwrap();
    String::from_utf8(writer.finish().unwrap()).unwrap()
}

/// Replaces the first `from` on line `line` (1-based) of `text`.
fn edit(text: &str, line: usize, from: &str, to: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines[line - 1].contains(from), "{from} not on line {line}");
    lines[line - 1] = lines[line - 1].replacen(from, to, 1);
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The reader's decisions where the format could be read two ways: each
/// case is an export and whether it verifies (or on which line it is
/// refused), docs/formats/audit.md section 4.6.
fn cases(export: &str) -> serde_json::Value {
    let bodies = bodies();
    let mut bounds = vec![bodies[3].clone(), bodies[4].clone()];
    bounds[0].time = datetime!(0001-01-01 00:00 UTC);
    bounds[1].time = datetime!(9999-12-31 23:59:59.999_999 UTC);
    let mut downgrade = vec![bodies[3].clone(), bodies[0].clone()];
    downgrade[1].time = downgrade[0].time;
    let case = |name: &str, rule: &str, text: String, refused_at: Option<u64>| {
        json!({
            "name": name,
            "rule": rule,
            "expect": if refused_at.is_some() { "refused" } else { "verifies" },
            "line": refused_at,
            "export": text,
        })
    };
    let first_time = "\"time_us\":1748768400000000,";
    let id4 = "\"id\":\"0191f1a2-7c3e-7d4a-8000-0000000000a4\"";
    json!([
        case(
            "time-first-microsecond-of-year-1",
            "time is within the years 1 to 9999 UTC, bounds included",
            small_export(bounds),
            None
        ),
        case(
            "time-in-year-0",
            "time before 0001-01-01T00:00:00Z is malformed",
            edit(export, 2, first_time, "\"time_us\":-62135596800000001,"),
            Some(2)
        ),
        case(
            "time-in-year-10000",
            "time after 9999-12-31T23:59:59.999999Z is malformed",
            edit(export, 2, first_time, "\"time_us\":253402300800000000,"),
            Some(2)
        ),
        case(
            "encoding-1-after-encoding-2",
            "encoding versions may come in any order: the version byte is hashed",
            small_export(downgrade),
            None
        ),
        case(
            "id-null",
            "\"id\":null is malformed: an event of encoding version 1 omits the field",
            edit(export, 6, id4, "\"id\":null"),
            Some(6)
        ),
        case(
            "id-removed",
            "removing the id changes the encoding (version 1): the event no longer matches its hash",
            edit(export, 6, &format!(",{id4}"), ""),
            Some(6)
        ),
        case(
            "optional-field-missing",
            "a missing optional field (other than id) is absent, as null is",
            edit(export, 2, "\"target\":null,", ""),
            None
        ),
        case(
            "white-space-between-tokens",
            "spaces and tabs between JSON tokens are allowed",
            edit(export, 3, "\"seq\":2,", " \"seq\" :\t2 , "),
            None
        ),
        case(
            "end-line-without-newline",
            "every line ends with a line feed, the end line included",
            export.trim_end_matches('\n').to_owned(),
            Some(11)
        ),
        case(
            "crlf",
            "a carriage return anywhere is malformed (no CRLF)",
            export.replace('\n', "\r\n"),
            Some(1)
        ),
        case(
            "byte-order-mark",
            "a byte-order mark is malformed",
            format!("\u{feff}{export}"),
            Some(1)
        ),
        case(
            "upper-case-hex",
            "hashes, key ids and signatures are lowercase hexadecimal",
            edit(export, 2, "\"hash\":\"5676675e", "\"hash\":\"5676675E"),
            Some(2)
        ),
        case(
            "upper-case-uuid",
            "UUIDs are lowercase and hyphenated",
            edit(
                export,
                3,
                "\"tenant\":\"0191f1a2-7c3e-7d4a-9b2c-3d4e5f607182\"",
                "\"tenant\":\"0191F1A2-7C3E-7D4A-9B2C-3D4E5F607182\""
            ),
            Some(3)
        ),
        case(
            "uuid-without-hyphens",
            "UUIDs are lowercase and hyphenated",
            edit(
                export,
                3,
                "\"tenant\":\"0191f1a2-7c3e-7d4a-9b2c-3d4e5f607182\"",
                "\"tenant\":\"0191f1a27c3e7d4a9b2c3d4e5f607182\""
            ),
            Some(3)
        ),
        case(
            "ipv4-leading-zero",
            "an IPv4 source is a canonical dotted quad",
            edit(
                export,
                3,
                "\"source\":\"192.0.2.10\"",
                "\"source\":\"192.0.2.010\""
            ),
            Some(3)
        ),
        case(
            "ipv6-not-rfc5952",
            "an IPv6 source is in RFC 5952 form",
            edit(
                export,
                4,
                "\"source\":\"2001:db8::1\"",
                "\"source\":\"2001:0DB8:0:0:0:0:0:1\""
            ),
            Some(4)
        ),
        case(
            "ipv4-mapped-written-as-ipv4",
            "an IPv4-mapped IPv6 source stays IPv6: as IPv4 it encodes differently",
            edit(
                export,
                6,
                "\"source\":\"::ffff:198.51.100.7\"",
                "\"source\":\"198.51.100.7\""
            ),
            Some(6)
        ),
        case(
            "unknown-export-version",
            "an unknown export version is refused",
            edit(export, 1, "\"version\":1", "\"version\":4"),
            Some(1)
        ),
        case(
            "line-after-end",
            "nothing follows the end line",
            format!("{export}\n"),
            Some(12)
        ),
    ])
}

fn h(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(bytes)
}

fn generate() -> Generated {
    let signer = Ed25519Signer::from_seed(&test_seed()).unwrap();
    let key = signer.public_key();
    let mut head = ChainHead::GENESIS;
    let mut tree = MerkleLog::new();
    let mut writer = ExportWriter::new(Vec::new(), key.key_id()).unwrap();
    let mut events: Vec<Event> = Vec::new();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    for body in bodies() {
        let e = head.seal(body).unwrap();
        tree.push(&e.hash);
        writer.event(&e).unwrap();
        if e.seq == 3 || e.seq == 7 {
            let cp = Checkpoint::create(
                &signer,
                e.seq,
                tree.root(),
                e.time + time::Duration::seconds(1),
                checkpoints.last(),
            )
            .unwrap();
            writer.checkpoint(&cp).unwrap();
            checkpoints.push(cp);
        }
        events.push(e);
    }
    let export = String::from_utf8(writer.finish().unwrap()).unwrap();

    // The partial export from event 4: anchored on the checkpoint of 3.
    let anchor = Anchor {
        size: 3,
        last_hash: events[2].hash,
        frontier: Frontier::from_source(&tree, 3).unwrap().peaks().to_vec(),
    };
    let mut partial =
        ExportWriter::new_partial(Vec::new(), key.key_id(), &anchor, &checkpoints[0]).unwrap();
    for e in &events[3..] {
        partial.event(e).unwrap();
    }
    partial.checkpoint(&checkpoints[1]).unwrap();
    let partial = String::from_utf8(partial.finish().unwrap()).unwrap();

    // The same log with the signing key rotated between its checkpoints:
    // the checkpoint of 7 is signed by a second key the first certified.
    let second = Ed25519Signer::from_seed(&second_seed()).unwrap();
    let certificate = rempart_audit::KeyCertificate::create(&signer, second.public_key()).unwrap();
    let mut rotated = ExportWriter::start(
        Vec::new(),
        key.key_id(),
        std::slice::from_ref(&certificate),
        None,
    )
    .unwrap();
    let rotated_cp = Checkpoint::create(
        &second,
        7,
        checkpoints[1].root,
        checkpoints[1].time,
        Some(&checkpoints[0]),
    )
    .unwrap();
    for e in &events {
        rotated.event(e).unwrap();
        if e.seq == 3 {
            rotated.checkpoint(&checkpoints[0]).unwrap();
        }
    }
    rotated.checkpoint(&rotated_cp).unwrap();
    let rotated = String::from_utf8(rotated.finish().unwrap()).unwrap();

    let n = tree.size();
    let inclusion = inclusion_proof(&tree, 2, n).unwrap();
    let consistency = consistency_proof(&tree, 3, n).unwrap();
    let vectors = json!({
        "description": "Rempart audit log format test vectors (docs/formats/audit.md): events 1 to 3 of encoding version 1 (no id), 4 to 7 of encoding version 2 (with an id). The signing seed is a test key, never a real one.",
        "signing_seed": h(test_seed()),
        "public_key": key.to_string(),
        "public_key_hex": h(key.as_bytes()),
        "key_id": key.key_id().to_string(),
        "events": events.iter().map(|e| json!({
            "seq": e.seq,
            "encoding": h(e.encode().unwrap()),
            "prev_hash": h(e.prev_hash),
            "hash": h(e.hash),
            "leaf_hash": h(leaf_hash(&e.hash)),
        })).collect::<Vec<_>>(),
        "roots": (0..=n).map(|s| json!({"size": s, "root": h(root(&tree, s).unwrap())})).collect::<Vec<_>>(),
        "checkpoints": checkpoints.iter().map(|c| json!({
            "size": c.size,
            "encoding": h(c.encode()),
            "signed_message": h(c.signed_message()),
            "hash": h(c.hash()),
            "signature": h(c.signature),
        })).collect::<Vec<_>>(),
        "inclusion_proof": {
            "leaf_index": 2,
            "tree_size": n,
            "leaf_hash": h(leaf_hash(&events[2].hash)),
            "root": h(tree.root()),
            "proof": inclusion.iter().map(h).collect::<Vec<_>>(),
        },
        "rotation": {
            "signing_seed": h(second_seed()),
            "public_key": second.public_key().to_string(),
            "public_key_hex": h(second.public_key().as_bytes()),
            "key_id": second.public_key().key_id().to_string(),
            "certificate_signed_message": h(certificate.signed_message()),
            "certificate": h(certificate.signature),
            "checkpoint": {
                "size": rotated_cp.size,
                "encoding": h(rotated_cp.encode()),
                "hash": h(rotated_cp.hash()),
                "signature": h(rotated_cp.signature),
            },
        },
        "consistency_proof": {
            "old_size": 3,
            "new_size": n,
            "old_root": h(root(&tree, 3).unwrap()),
            "new_root": h(tree.root()),
            "proof": consistency.iter().map(h).collect::<Vec<_>>(),
        },
    });
    let mut vectors = serde_json::to_string_pretty(&vectors).unwrap();
    vectors.push('\n');
    let mut cases = serde_json::to_string_pretty(&cases(&export)).unwrap();
    cases.push('\n');
    Generated {
        export,
        vectors,
        partial,
        rotated,
        cases,
    }
}

#[test]
fn committed_vectors_match_the_implementation() {
    let generated = generate();
    let (export_path, vectors_path) = (dir().join("export.jsonl"), dir().join("vectors.json"));
    let partial_path = dir().join("export-partial.jsonl");
    let rotated_path = dir().join("export-rotated.jsonl");
    let cases_path = dir().join("reader-cases.json");
    if std::env::var_os("REMPART_UPDATE_VECTORS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&export_path, &generated.export).unwrap();
        std::fs::write(&vectors_path, &generated.vectors).unwrap();
        std::fs::write(&partial_path, &generated.partial).unwrap();
        std::fs::write(&rotated_path, &generated.rotated).unwrap();
        std::fs::write(&cases_path, &generated.cases).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&rotated_path).unwrap(),
        generated.rotated,
        "export-rotated.jsonl differs from the implementation"
    );
    assert_eq!(
        std::fs::read_to_string(&cases_path).unwrap(),
        generated.cases,
        "reader-cases.json differs from the implementation"
    );
    assert_eq!(
        std::fs::read_to_string(&partial_path).unwrap(),
        generated.partial,
        "export-partial.jsonl differs from the implementation"
    );
    let export = std::fs::read_to_string(&export_path).unwrap();
    let vectors = std::fs::read_to_string(&vectors_path).unwrap();
    assert_eq!(
        export, generated.export,
        "export.jsonl differs from the implementation"
    );
    assert_eq!(
        vectors, generated.vectors,
        "vectors.json differs from the implementation"
    );
}

#[test]
fn committed_partial_export_verifies_like_the_full_one() {
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("vectors.json")).unwrap())
            .unwrap();
    let key = vectors["public_key"].as_str().unwrap().parse().unwrap();
    let partial = std::fs::read(dir().join("export-partial.jsonl")).unwrap();
    let report = verify_export(partial.as_slice(), &key).unwrap();
    assert_eq!(
        (
            report.first_seq,
            report.events,
            report.checkpoints,
            report.checkpointed
        ),
        (4, 7, 2, 7)
    );
    assert_eq!(
        h(report.root),
        vectors["inclusion_proof"]["root"].as_str().unwrap()
    );
    // The anchor's frontier of 3 events: node(leaf 0, leaf 1), leaf 2.
    let anchor_line: serde_json::Value = serde_json::from_str(
        std::str::from_utf8(&partial)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap(),
    )
    .unwrap();
    let leaves = &vectors["events"];
    let leaf = |i: usize| {
        let mut out = [0u8; 32];
        hex::decode_to_slice(leaves[i]["leaf_hash"].as_str().unwrap(), &mut out).unwrap();
        out
    };
    assert_eq!(
        anchor_line["frontier"],
        serde_json::json!([h(node_hash(&leaf(0), &leaf(1))), h(leaf(2))])
    );
}

#[test]
fn committed_export_verifies_and_its_proofs_check() {
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("vectors.json")).unwrap())
            .unwrap();
    let key = vectors["public_key"].as_str().unwrap().parse().unwrap();
    let export = std::fs::read(dir().join("export.jsonl")).unwrap();
    let report = verify_export(export.as_slice(), &key).unwrap();
    assert_eq!(
        (report.events, report.checkpoints, report.checkpointed),
        (7, 2, 7)
    );
    assert_eq!(
        h(report.root),
        vectors["inclusion_proof"]["root"].as_str().unwrap()
    );

    let hash = |v: &serde_json::Value| -> [u8; 32] {
        let mut out = [0; 32];
        hex::decode_to_slice(v.as_str().unwrap(), &mut out).unwrap();
        out
    };
    let hashes = |v: &serde_json::Value| -> Vec<[u8; 32]> {
        v.as_array().unwrap().iter().map(hash).collect()
    };
    let inc = &vectors["inclusion_proof"];
    verify_inclusion(
        &hash(&inc["leaf_hash"]),
        inc["leaf_index"].as_u64().unwrap(),
        inc["tree_size"].as_u64().unwrap(),
        &hashes(&inc["proof"]),
        &hash(&inc["root"]),
    )
    .unwrap();
    let con = &vectors["consistency_proof"];
    verify_consistency(
        con["old_size"].as_u64().unwrap(),
        con["new_size"].as_u64().unwrap(),
        &hash(&con["old_root"]),
        &hash(&con["new_root"]),
        &hashes(&con["proof"]),
    )
    .unwrap();
    assert_eq!(h(root(&MerkleLog::new(), 0).unwrap()), h(empty_root()));

    // One edited byte in the committed file is caught at its event.
    let text = String::from_utf8(export).unwrap();
    let edited = text.replacen(
        "\"action\":\"tenant.create\"",
        "\"action\":\"tenant.delete\"",
        1,
    );
    match verify_export(edited.as_bytes(), &key) {
        Err(VerifyError::Tampered {
            line: 3,
            problem: Problem::EventEdited { seq: 2 },
        }) => {}
        other => panic!("expected event 2 edited on line 3, got {other:?}"),
    }
}

#[test]
fn committed_rotated_export_verifies_with_the_first_key() {
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("vectors.json")).unwrap())
            .unwrap();
    let first: rempart_audit::PublicKey = vectors["public_key"].as_str().unwrap().parse().unwrap();
    let second: rempart_audit::PublicKey = vectors["rotation"]["public_key"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let rotated = std::fs::read(dir().join("export-rotated.jsonl")).unwrap();
    let report = verify_export(rotated.as_slice(), &first).unwrap();
    assert_eq!(
        (report.events, report.checkpointed, report.keys.len()),
        (7, 7, 2)
    );
    assert_eq!(report.key_id, second.key_id());
    assert_eq!(
        h(report.root),
        vectors["inclusion_proof"]["root"].as_str().unwrap()
    );
    assert!(verify_export(rotated.as_slice(), &second).is_err());
}

#[test]
fn committed_reader_cases_are_decided_as_stated() {
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("vectors.json")).unwrap())
            .unwrap();
    let key: rempart_audit::PublicKey = vectors["public_key"].as_str().unwrap().parse().unwrap();
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("reader-cases.json")).unwrap())
            .unwrap();
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let text = case["export"].as_str().unwrap();
        let result = verify_export(text.as_bytes(), &key);
        match case["expect"].as_str().unwrap() {
            "verifies" => assert!(result.is_ok(), "{name}: {result:?}"),
            "refused" => {
                let err = result.expect_err(name);
                assert_eq!(Some(err.line()), case["line"].as_u64(), "{name}: {err}");
            }
            other => panic!("{name}: unknown expectation {other}"),
        }
    }
}
