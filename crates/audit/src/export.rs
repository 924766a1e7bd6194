//! The export file: JSON lines that an auditor verifies offline.
//!
//! Line 1 is a header naming the format version and the signing key's id;
//! then events in `seq` order, each checkpoint right after the event it
//! covers up to; last an end line counting what came before it. Every line
//! is one JSON object with a `"type"` field.
//!
//! Invariant: the reader refuses, with its line number, any line that is not
//! exactly one of these shapes (unknown fields and malformed values
//! included), an unknown version, data after the end line, and a file that
//! stops before its end line. The JSON is only a carrier: hashes are
//! recomputed from the decoded values over the binary encoding.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, Write};
use std::net::{IpAddr, Ipv4Addr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Hash;
use crate::checkpoint::{Checkpoint, KeyCertificate, KeyId, PublicKey, SIGNATURE_LEN};
use crate::event::{Event, EventRef, Outcome, from_unix_micros, unix_micros};
use crate::verify::{Anchor, Problem, Report, Verifier};

/// The `format` value of the header line.
pub const EXPORT_FORMAT: &str = "rempart-audit-export";

/// The export version this crate writes for a full export (from event 1),
/// readable by every reader of this format.
pub const EXPORT_VERSION: u32 = 1;

/// The export version of a partial export (from a later event, with an
/// anchor); this crate reads versions 1, 2 and 3.
pub const PARTIAL_EXPORT_VERSION: u32 = 2;

/// The export version of an export whose checkpoints are signed by more
/// than one key (a rotation): its header always names `start_seq`, and the
/// key lines certifying each later key follow it. Written only when the
/// signing key was rotated, so that other exports stay readable by readers
/// of versions 1 and 2.
pub const ROTATED_EXPORT_VERSION: u32 = 3;

/// Longest line accepted (a large `details` envelope fits many times over).
pub const MAX_LINE_LEN: usize = 64 * 1024 * 1024;

/// The header line's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The export version.
    pub version: u32,
    /// The id of the key that signed the checkpoints.
    pub key_id: KeyId,
    /// The first event's `seq`: 1 for a full export.
    pub start_seq: u64,
    /// For a partial export (`start_seq > 1`): the anchor and the
    /// checkpoint of `start_seq - 1` events that signs it (the lines after
    /// the header and the key lines).
    pub anchor: Option<(Anchor, Checkpoint)>,
    /// Version 3: the later signing keys, each certified by the one
    /// before it (the first by the header's key), in order.
    pub keys: Vec<KeyCertificate>,
}

/// One line after the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An event line.
    Event(Event),
    /// A checkpoint line.
    Checkpoint(Checkpoint),
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output failed.
    #[error("writing the audit export failed")]
    Io(#[from] io::Error),
    /// Events must be written in `seq` order from 1.
    #[error("event {found} written where event {expected} is due")]
    EventOutOfOrder {
        /// The event due.
        expected: u64,
        /// The event given.
        found: u64,
    },
    /// A checkpoint goes right after the last event it covers.
    #[error("the checkpoint of size {size} written after event {events}")]
    CheckpointOutOfPlace {
        /// The checkpoint's size.
        size: u64,
        /// Events written so far.
        events: u64,
    },
}

/// Why an export was refused while reading it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The input failed.
    #[error("line {line}: reading the audit export failed")]
    Io {
        /// The line being read.
        line: u64,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A line that is not one of the format's shapes.
    #[error("line {line}: {reason}")]
    Malformed {
        /// The line.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A version this reader does not know.
    #[error(
        "line {line}: export version {version} is not supported (this reader knows versions {EXPORT_VERSION}, {PARTIAL_EXPORT_VERSION} and {ROTATED_EXPORT_VERSION})"
    )]
    UnsupportedVersion {
        /// The line.
        line: u64,
        /// The version found.
        version: u64,
    },
    /// The file stops before its end line.
    #[error("line {line}: the export stops before its end line: it was truncated")]
    MissingEnd {
        /// The line after the last one.
        line: u64,
    },
    /// The end line's counts differ from the lines before it.
    #[error(
        "line {line}: the end line counts {claimed_events} events and {claimed_checkpoints} checkpoints, the export holds {events} and {checkpoints}: lines were removed or added"
    )]
    CountMismatch {
        /// The end line.
        line: u64,
        /// Events it claims.
        claimed_events: u64,
        /// Checkpoints it claims.
        claimed_checkpoints: u64,
        /// Events read.
        events: u64,
        /// Checkpoints read.
        checkpoints: u64,
    },
    /// Something follows the end line.
    #[error("line {line}: data after the end line")]
    DataAfterEnd {
        /// The line.
        line: u64,
    },
}

impl ReadError {
    /// The line the error is about.
    pub fn line(&self) -> u64 {
        match self {
            Self::Io { line, .. }
            | Self::Malformed { line, .. }
            | Self::UnsupportedVersion { line, .. }
            | Self::MissingEnd { line }
            | Self::CountMismatch { line, .. }
            | Self::DataAfterEnd { line } => *line,
        }
    }
}

/// Why an export does not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The file is not a well-formed export.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The export names another signing key than the one given.
    #[error("line 1: the export was signed by key {found}, not by the given key {expected}")]
    WrongKey {
        /// The key id in the header.
        found: KeyId,
        /// The given key's id.
        expected: KeyId,
    },
    /// The verifier was given no key.
    #[error("no public key was given to verify the export")]
    NoKey,
    /// The log was tampered with (or damaged).
    #[error("line {line}: {problem}")]
    Tampered {
        /// The line where it shows.
        line: u64,
        /// What is wrong, with the event's sequence number.
        problem: Problem,
    },
}

impl VerifyError {
    /// The line the error is about.
    pub fn line(&self) -> u64 {
        match self {
            Self::Read(e) => e.line(),
            Self::WrongKey { .. } | Self::NoKey => 1,
            Self::Tampered { line, .. } => *line,
        }
    }

    /// The log problem, when the file was well formed but tampered with.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Tampered { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

// ---- writing ----

#[derive(Serialize)]
struct HeaderOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    format: &'static str,
    version: u32,
    key_id: &'a str,
}

#[derive(Serialize)]
struct PartialHeaderOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    format: &'static str,
    version: u32,
    key_id: &'a str,
    start_seq: u64,
}

#[derive(Serialize)]
struct KeyOut {
    #[serde(rename = "type")]
    kind: &'static str,
    public_key: String,
    certified_by: String,
    certificate: String,
}

#[derive(Serialize)]
struct AnchorOut {
    #[serde(rename = "type")]
    kind: &'static str,
    size: u64,
    last_hash: String,
    frontier: Vec<String>,
}

#[derive(Serialize)]
struct EventOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u64,
    time_us: i64,
    actor: &'a str,
    action: &'a str,
    target: Option<&'a str>,
    tenant: Option<String>,
    outcome: &'static str,
    request_id: Option<&'a str>,
    source: Option<String>,
    details: Option<String>,
    /// Absent for an event of encoding version 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    prev_hash: String,
    hash: String,
}

#[derive(Serialize)]
struct CheckpointOut {
    #[serde(rename = "type")]
    kind: &'static str,
    version: u8,
    key_id: String,
    size: u64,
    root: String,
    time_us: i64,
    prev_hash: String,
    signature: String,
}

#[derive(Serialize)]
struct EndOut {
    #[serde(rename = "type")]
    kind: &'static str,
    events: u64,
    checkpoints: u64,
}

/// Writes an export. Give it the events in `seq` order from 1, and each
/// checkpoint right after the event whose `seq` is its size (a checkpoint of
/// size 0 right after creation); [`ExportWriter::finish`] writes the end
/// line.
#[derive(Debug)]
pub struct ExportWriter<W: Write> {
    /// The lines after the header; its last `seq` is the anchor's size
    /// before the first event.
    lines: LinesWriter<W>,
}

impl<W: Write> ExportWriter<W> {
    /// Writes the header line for checkpoints signed by `key_id`.
    pub fn new(out: W, key_id: KeyId) -> Result<Self, ExportError> {
        Self::start(out, key_id, &[], None)
    }

    /// Writes the header of a partial export that starts after
    /// `anchor.size` events (version 2), the anchor line and the anchoring
    /// `checkpoint` (which must cover exactly `anchor.size` events). An
    /// anchor of size 0 writes a full export (version 1) instead.
    pub fn new_partial(
        out: W,
        key_id: KeyId,
        anchor: &Anchor,
        checkpoint: &Checkpoint,
    ) -> Result<Self, ExportError> {
        Self::start(out, key_id, &[], Some((anchor, checkpoint)))
    }

    /// Writes the header for checkpoints signed first by `key_id` and then
    /// by each key of `keys` in turn (each certified by the one before it:
    /// a rotation), the key lines, and for a partial export its anchor and
    /// anchoring checkpoint. The version is the lowest that carries it: 1
    /// (full), 2 (partial), or 3 (with key lines).
    pub fn start(
        mut out: W,
        key_id: KeyId,
        keys: &[KeyCertificate],
        anchor: Option<(&Anchor, &Checkpoint)>,
    ) -> Result<Self, ExportError> {
        let anchor = anchor.filter(|(a, _)| a.size > 0);
        if let Some((anchor, checkpoint)) = anchor
            && checkpoint.size != anchor.size
        {
            return Err(ExportError::CheckpointOutOfPlace {
                size: checkpoint.size,
                events: anchor.size,
            });
        }
        let id = key_id.to_string();
        let start_seq = anchor.map_or(1, |(a, _)| a.size + 1);
        if !keys.is_empty() {
            write_line(
                &mut out,
                &PartialHeaderOut {
                    kind: "header",
                    format: EXPORT_FORMAT,
                    version: ROTATED_EXPORT_VERSION,
                    key_id: &id,
                    start_seq,
                },
            )?;
            for cert in keys {
                write_line(
                    &mut out,
                    &KeyOut {
                        kind: "key",
                        public_key: hex::encode(cert.key.as_bytes()),
                        certified_by: cert.certified_by.to_string(),
                        certificate: hex::encode(cert.signature),
                    },
                )?;
            }
        } else if anchor.is_some() {
            write_line(
                &mut out,
                &PartialHeaderOut {
                    kind: "header",
                    format: EXPORT_FORMAT,
                    version: PARTIAL_EXPORT_VERSION,
                    key_id: &id,
                    start_seq,
                },
            )?;
        } else {
            write_line(
                &mut out,
                &HeaderOut {
                    kind: "header",
                    format: EXPORT_FORMAT,
                    version: EXPORT_VERSION,
                    key_id: &id,
                },
            )?;
        }
        let Some((anchor, checkpoint)) = anchor else {
            return Ok(Self {
                lines: LinesWriter::new(out, 0, 0),
            });
        };
        write_line(
            &mut out,
            &AnchorOut {
                kind: "anchor",
                size: anchor.size,
                last_hash: hex::encode(anchor.last_hash),
                frontier: anchor.frontier.iter().map(hex::encode).collect(),
            },
        )?;
        write_checkpoint_line(&mut out, checkpoint)?;
        Ok(Self {
            lines: LinesWriter::new(out, anchor.size, 1),
        })
    }

    /// Writes the next event.
    pub fn event(&mut self, e: &Event) -> Result<(), ExportError> {
        self.lines.event(e)
    }

    /// Writes a checkpoint covering the events written so far.
    pub fn checkpoint(&mut self, cp: &Checkpoint) -> Result<(), ExportError> {
        self.lines.checkpoint(cp)
    }

    /// Writes the end line and flushes; returns the output.
    pub fn finish(self) -> Result<W, ExportError> {
        self.lines.finish()
    }
}

/// The lines after a header, as an export and a shipping batch both write
/// them: events in `seq` order with no gap, each checkpoint right after the
/// event whose `seq` is its size, then an end line that counts them.
#[derive(Debug)]
pub(crate) struct LinesWriter<W: Write> {
    out: W,
    /// The last event's `seq` (before the first, the one the lines follow).
    last_seq: u64,
    /// Event lines written.
    events: u64,
    /// Checkpoint lines written (an export's anchoring one included).
    checkpoints: u64,
}

impl<W: Write> LinesWriter<W> {
    /// Lines that follow event `last_seq`, after `checkpoints` checkpoint
    /// lines already written.
    pub(crate) fn new(out: W, last_seq: u64, checkpoints: u64) -> Self {
        Self {
            out,
            last_seq,
            events: 0,
            checkpoints,
        }
    }

    /// Writes the next event, refusing any but the one after the last.
    pub(crate) fn event(&mut self, e: &Event) -> Result<(), ExportError> {
        let expected = self.last_seq + 1;
        if e.seq != expected {
            return Err(ExportError::EventOutOfOrder {
                expected,
                found: e.seq,
            });
        }
        write_event_line(&mut self.out, e)?;
        self.last_seq = expected;
        self.events += 1;
        Ok(())
    }

    /// Writes a checkpoint, refusing it anywhere but right after the event
    /// its size names.
    pub(crate) fn checkpoint(&mut self, cp: &Checkpoint) -> Result<(), ExportError> {
        if cp.size != self.last_seq {
            return Err(ExportError::CheckpointOutOfPlace {
                size: cp.size,
                events: self.last_seq,
            });
        }
        write_checkpoint_line(&mut self.out, cp)?;
        self.checkpoints += 1;
        Ok(())
    }

    /// The `seq` of the last event written (the one the lines follow if
    /// none).
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Writes the end line (section 4.4) and flushes; returns the output.
    pub(crate) fn finish(mut self) -> Result<W, ExportError> {
        write_line(
            &mut self.out,
            &EndOut {
                kind: "end",
                events: self.events,
                checkpoints: self.checkpoints,
            },
        )?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes one event line (section 4.2), as an export and a shipping batch
/// both carry it.
fn write_event_line<W: Write>(out: &mut W, e: &Event) -> Result<(), ExportError> {
    write_line(
        out,
        &EventOut {
            kind: "event",
            seq: e.seq,
            time_us: unix_micros(e.time),
            actor: &e.actor,
            action: &e.action,
            target: e.target.as_deref(),
            tenant: e.tenant.map(|t| t.hyphenated().to_string()),
            outcome: e.outcome.as_str(),
            request_id: e.request_id.as_deref(),
            source: e.source.map(|s| s.to_string()),
            details: e.details.as_ref().map(|d| BASE64.encode(d)),
            id: e.id.map(|id| id.hyphenated().to_string()),
            prev_hash: hex::encode(e.prev_hash),
            hash: hex::encode(e.hash),
        },
    )?;
    Ok(())
}

/// Writes one checkpoint line (section 4.3).
fn write_checkpoint_line<W: Write>(out: &mut W, cp: &Checkpoint) -> Result<(), ExportError> {
    write_line(
        out,
        &CheckpointOut {
            kind: "checkpoint",
            version: crate::checkpoint::CHECKPOINT_VERSION,
            key_id: cp.key_id.to_string(),
            size: cp.size,
            root: hex::encode(cp.root),
            time_us: unix_micros(cp.time),
            prev_hash: hex::encode(cp.prev_hash),
            signature: hex::encode(cp.signature),
        },
    )?;
    Ok(())
}

fn write_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

// ---- reading ----

/// A JSON string, borrowed from the line when it has no escapes.
#[derive(Debug)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Every field any line may carry; which ones a line must or may carry
/// depends on its `type` and is checked after parsing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    format: Option<Text<'a>>,
    version: Option<u64>,
    #[serde(borrow)]
    key_id: Option<Text<'a>>,
    seq: Option<u64>,
    time_us: Option<i64>,
    #[serde(borrow)]
    actor: Option<Text<'a>>,
    #[serde(borrow)]
    action: Option<Text<'a>>,
    #[serde(borrow)]
    target: Option<Text<'a>>,
    #[serde(borrow)]
    tenant: Option<Text<'a>>,
    #[serde(borrow)]
    outcome: Option<Text<'a>>,
    #[serde(borrow)]
    request_id: Option<Text<'a>>,
    #[serde(borrow)]
    source: Option<Text<'a>>,
    #[serde(borrow)]
    details: Option<Text<'a>>,
    /// `Some(None)` for `"id":null`, which is malformed (an event of
    /// encoding version 1 omits the field).
    #[allow(
        clippy::option_option,
        reason = "absent, null and a value are three different readings"
    )]
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<Option<Text<'a>>>,
    #[serde(borrow)]
    prev_hash: Option<Text<'a>>,
    #[serde(borrow)]
    hash: Option<Text<'a>>,
    size: Option<u64>,
    #[serde(borrow)]
    root: Option<Text<'a>>,
    #[serde(borrow)]
    signature: Option<Text<'a>>,
    events: Option<u64>,
    checkpoints: Option<u64>,
    start_seq: Option<u64>,
    #[serde(borrow)]
    last_hash: Option<Text<'a>>,
    #[serde(borrow)]
    frontier: Option<Vec<Text<'a>>>,
    #[serde(borrow)]
    public_key: Option<Text<'a>>,
    #[serde(borrow)]
    certified_by: Option<Text<'a>>,
    #[serde(borrow)]
    certificate: Option<Text<'a>>,
}

/// A field that is present, even as `null` (`Some(None)`), for the one
/// field where `null` and absent differ.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The names of the fields a line may carry besides `type`, in the order of
/// [`Line::present`]'s bits.
const FIELD_NAMES: [&str; 27] = [
    "format",
    "version",
    "key_id",
    "seq",
    "time_us",
    "actor",
    "action",
    "target",
    "tenant",
    "outcome",
    "request_id",
    "source",
    "details",
    "prev_hash",
    "hash",
    "size",
    "root",
    "signature",
    "events",
    "checkpoints",
    "start_seq",
    "last_hash",
    "frontier",
    "id",
    "public_key",
    "certified_by",
    "certificate",
];

/// The bits of `names` in [`FIELD_NAMES`], for `const` blocks (computed at
/// compile time). Every index is bounded by its loop's condition.
#[allow(clippy::indexing_slicing)]
const fn field_mask(names: &[&str]) -> u32 {
    let mut mask = 0u32;
    let mut n = 0;
    while n < names.len() {
        let mut field = 0;
        while field < FIELD_NAMES.len() {
            if const_str_eq(names[n], FIELD_NAMES[field]) {
                mask |= 1 << field;
            }
            field += 1;
        }
        n += 1;
    }
    mask
}

/// `left == right` in a `const` context; the index is bounded by the loop.
#[allow(clippy::indexing_slicing)]
const fn const_str_eq(left: &str, right: &str) -> bool {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    if left.len() != right.len() {
        return false;
    }
    let mut k = 0;
    while k < left.len() {
        if left[k] != right[k] {
            return false;
        }
        k += 1;
    }
    true
}

impl Line<'_> {
    /// The fields present, other than `type`, as bits in the order of
    /// [`FIELD_NAMES`].
    fn present(&self) -> u32 {
        let flags = [
            self.format.is_some(),
            self.version.is_some(),
            self.key_id.is_some(),
            self.seq.is_some(),
            self.time_us.is_some(),
            self.actor.is_some(),
            self.action.is_some(),
            self.target.is_some(),
            self.tenant.is_some(),
            self.outcome.is_some(),
            self.request_id.is_some(),
            self.source.is_some(),
            self.details.is_some(),
            self.prev_hash.is_some(),
            self.hash.is_some(),
            self.size.is_some(),
            self.root.is_some(),
            self.signature.is_some(),
            self.events.is_some(),
            self.checkpoints.is_some(),
            self.start_seq.is_some(),
            self.last_hash.is_some(),
            self.frontier.is_some(),
            self.id.is_some(),
            self.public_key.is_some(),
            self.certified_by.is_some(),
            self.certificate.is_some(),
        ];
        flags
            .iter()
            .rev()
            .fold(0u32, |mask, &p| (mask << 1) | u32::from(p))
    }
}

const TIME_RANGE: &str =
    "time_us is outside the years 1 to 9999 (-62135596800000000 to 253402300799999999)";

struct LineCtx {
    line: u64,
}

impl LineCtx {
    fn bad(&self, reason: impl Into<String>) -> ReadError {
        ReadError::Malformed {
            line: self.line,
            reason: reason.into(),
        }
    }

    /// Refuses a field outside `allowed` (a [`field_mask`]), naming the
    /// first one.
    fn only(&self, line: &Line<'_>, kind: &str, allowed: u32) -> Result<(), ReadError> {
        let extra = line.present() & !allowed;
        if extra == 0 {
            return Ok(());
        }
        let name = usize::try_from(extra.trailing_zeros())
            .ok()
            .and_then(|i| FIELD_NAMES.get(i))
            .copied()
            .unwrap_or("?");
        Err(self.bad(format!("a {kind} line has no field {name:?}")))
    }

    fn req<T>(&self, v: Option<T>, kind: &str, field: &str) -> Result<T, ReadError> {
        v.ok_or_else(|| self.bad(format!("a {kind} line needs the field {field:?}")))
    }

    fn hex_fixed<const N: usize>(&self, t: &Text<'_>, field: &str) -> Result<[u8; N], ReadError> {
        decode_lower_hex(t.0.as_bytes()).ok_or_else(|| {
            self.bad(format!(
                "{field} must be {} lowercase hexadecimal digits",
                N * 2
            ))
        })
    }

    fn time(&self, micros: i64) -> Result<time::OffsetDateTime, ReadError> {
        from_unix_micros(micros).ok_or_else(|| self.bad(TIME_RANGE))
    }
}

/// The value of each byte as a lowercase hexadecimal digit, 0xff for
/// anything else. Built at compile time: an index out of range would fail
/// the build, not panic at run time.
#[allow(clippy::indexing_slicing)]
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0u8;
    while i < 10 {
        t[(b'0' + i) as usize] = i;
        i += 1;
    }
    let mut i = 0u8;
    while i < 6 {
        t[(b'a' + i) as usize] = 10 + i;
        i += 1;
    }
    t
};

/// Exactly `2 * N` lowercase hexadecimal digits (the hot path of reading an
/// export: three or four per line), by table look-up.
fn decode_lower_hex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    let mut invalid = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        let hi = HEX_VALUE.get(usize::from(*hi)).copied().unwrap_or(0xff);
        let lo = HEX_VALUE.get(usize::from(*lo)).copied().unwrap_or(0xff);
        invalid |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    // Every valid digit is below 16; 0xff marks an invalid one.
    (invalid < 16).then_some(out)
}

/// Reads an export line by line. [`ExportReader::next_record`] returns the
/// records after the header with their line numbers, and `None` once the end
/// line has been read and checked.
#[derive(Debug)]
pub struct ExportReader<R: BufRead> {
    input: R,
    line: u64,
    buf: Vec<u8>,
    details: Vec<u8>,
    header: Header,
    events: u64,
    checkpoints: u64,
    ended: bool,
    /// `buf` holds a line read ahead and not yet consumed.
    unread: bool,
}

impl<R: BufRead> ExportReader<R> {
    /// Reads and checks the header line.
    pub fn new(input: R) -> Result<Self, ReadError> {
        let mut reader = Self {
            input,
            line: 0,
            buf: Vec::with_capacity(1024),
            details: Vec::with_capacity(256),
            header: Header {
                version: EXPORT_VERSION,
                key_id: KeyId([0; 8]),
                start_seq: 1,
                anchor: None,
                keys: Vec::new(),
            },
            events: 0,
            checkpoints: 0,
            ended: false,
            unread: false,
        };
        if !reader.read_line()? {
            return Err(ReadError::Malformed {
                line: 1,
                reason: "the export is empty: it needs a header line".into(),
            });
        }
        let ctx = LineCtx { line: 1 };
        let line = parse(&ctx, &reader.buf)?;
        if line.kind.0 != "header" {
            return Err(ctx.bad("the first line must be the header"));
        }
        let format = ctx.req(line.format.as_ref(), "header", "format")?;
        if format.0 != EXPORT_FORMAT {
            return Err(ctx.bad(format!("this is not a {EXPORT_FORMAT} file")));
        }
        let version = ctx.req(line.version, "header", "version")?;
        if version == u64::from(EXPORT_VERSION) {
            ctx.only(
                &line,
                "header",
                const { field_mask(&["format", "version", "key_id"]) },
            )?;
        } else if version == u64::from(PARTIAL_EXPORT_VERSION)
            || version == u64::from(ROTATED_EXPORT_VERSION)
        {
            ctx.only(
                &line,
                "header",
                const { field_mask(&["format", "version", "key_id", "start_seq"]) },
            )?;
        } else {
            return Err(ReadError::UnsupportedVersion { line: 1, version });
        }
        let key_id = ctx.req(line.key_id.as_ref(), "header", "key_id")?;
        reader.header.key_id = KeyId(ctx.hex_fixed(key_id, "key_id")?);
        let start_seq = if version == u64::from(EXPORT_VERSION) {
            1
        } else {
            reader.header.version = u32::try_from(version).unwrap_or(PARTIAL_EXPORT_VERSION);
            ctx.req(line.start_seq, "header", "start_seq")?
        };
        if start_seq == 0 {
            return Err(ctx.bad("start_seq must be at least 1"));
        }
        reader.header.start_seq = start_seq;
        if reader.header.version == ROTATED_EXPORT_VERSION {
            reader.read_keys()?;
        }
        if start_seq > 1 {
            reader.header.anchor = Some(reader.read_anchor(start_seq - 1)?);
        }
        Ok(reader)
    }

    /// Reads the key lines after a version 3 header, leaving the first
    /// other line unread.
    fn read_keys(&mut self) -> Result<(), ReadError> {
        const K: &str = "key";
        loop {
            if !self.read_line()? {
                return Err(ReadError::MissingEnd { line: self.line });
            }
            let ctx = LineCtx { line: self.line };
            let line = parse(&ctx, &self.buf)?;
            if line.kind.0 != K {
                self.unread = true;
                return Ok(());
            }
            ctx.only(
                &line,
                K,
                const { field_mask(&["public_key", "certified_by", "certificate"]) },
            )?;
            let key: [u8; 32] =
                ctx.hex_fixed(&ctx.req(line.public_key, K, "public_key")?, "public_key")?;
            let certified_by = KeyId(ctx.hex_fixed(
                &ctx.req(line.certified_by, K, "certified_by")?,
                "certified_by",
            )?);
            let signature: [u8; SIGNATURE_LEN] =
                ctx.hex_fixed(&ctx.req(line.certificate, K, "certificate")?, "certificate")?;
            self.header.keys.push(KeyCertificate {
                key: PublicKey::from_bytes(key),
                certified_by,
                signature,
            });
        }
    }

    /// Reads the two lines of a partial export after its header (and key
    /// lines): the anchor of `size` events and its checkpoint.
    fn read_anchor(&mut self, size: u64) -> Result<(Anchor, Checkpoint), ReadError> {
        const K: &str = "anchor";
        if !self.read_line()? {
            return Err(ReadError::MissingEnd { line: self.line });
        }
        let ctx = LineCtx { line: self.line };
        let line = parse(&ctx, &self.buf)?;
        if line.kind.0 != K {
            return Err(ctx.bad(
                "the line after the header (and key lines) of a partial export must be its anchor",
            ));
        }
        ctx.only(
            &line,
            K,
            const { field_mask(&["size", "last_hash", "frontier"]) },
        )?;
        let claimed = ctx.req(line.size, K, "size")?;
        if claimed != size {
            return Err(ctx.bad(format!(
                "the anchor's size {claimed} is not start_seq - 1 = {size}"
            )));
        }
        let last_hash = ctx.hex_fixed(&ctx.req(line.last_hash, K, "last_hash")?, "last_hash")?;
        let texts = ctx.req(line.frontier, K, "frontier")?;
        if u64::try_from(texts.len()).ok() != Some(u64::from(size.count_ones())) {
            return Err(ctx.bad(format!(
                "the frontier of {size} events holds {} hashes, one per set bit of the size, not {}",
                size.count_ones(),
                texts.len()
            )));
        }
        let frontier = texts
            .iter()
            .map(|t| ctx.hex_fixed(t, "a frontier hash"))
            .collect::<Result<Vec<Hash>, _>>()?;
        if !self.read_line()? {
            return Err(ReadError::MissingEnd { line: self.line });
        }
        let ctx = LineCtx { line: self.line };
        let line = parse(&ctx, &self.buf)?;
        if line.kind.0 != "checkpoint" {
            return Err(ctx.bad("the line after a partial export's anchor must be its checkpoint"));
        }
        let checkpoint = checkpoint_from(&ctx, line)?;
        self.checkpoints += 1;
        Ok((
            Anchor {
                size,
                last_hash,
                frontier,
            },
            checkpoint,
        ))
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Reads the next line into `buf` without its newline; `false` at the
    /// end of the input.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        if self.unread {
            self.unread = false;
            return Ok(true);
        }
        read_line_into(&mut self.input, &mut self.line, &mut self.buf)
    }

    /// The next event or checkpoint with its line number; `None` after the
    /// end line.
    pub fn next_record(&mut self) -> Result<Option<(u64, Record)>, ReadError> {
        let Some((line, record)) = self.next_record_ref()? else {
            return Ok(None);
        };
        let record = match record {
            RecordRef::Event(e) => {
                let view = e.view();
                // The reader checked the time's range already.
                let event = view.to_event().ok_or_else(|| ReadError::Malformed {
                    line,
                    reason: TIME_RANGE.into(),
                })?;
                Record::Event(event)
            }
            RecordRef::Checkpoint(c) => Record::Checkpoint(c),
        };
        Ok(Some((line, record)))
    }

    /// [`ExportReader::next_record`] without copying an event's fields out
    /// of the line: what verification uses.
    fn next_record_ref(&mut self) -> Result<Option<(u64, RecordRef<'_>)>, ReadError> {
        if self.ended {
            return Ok(None);
        }
        if !self.read_line()? {
            return Err(ReadError::MissingEnd { line: self.line });
        }
        let ctx = LineCtx { line: self.line };
        let line = parse(&ctx, &self.buf)?;
        let record = match &*line.kind.0 {
            "event" => RecordRef::Event(event_from(&ctx, line, &mut self.details)?),
            "checkpoint" => RecordRef::Checkpoint(checkpoint_from(&ctx, line)?),
            "end" => {
                ctx.only(
                    &line,
                    "end",
                    const { field_mask(&["events", "checkpoints"]) },
                )?;
                let events = ctx.req(line.events, "end", "events")?;
                let checkpoints = ctx.req(line.checkpoints, "end", "checkpoints")?;
                if self.header.anchor.is_some() && self.events == 0 {
                    return Err(ctx.bad("a partial export holds at least one event"));
                }
                if events != self.events || checkpoints != self.checkpoints {
                    return Err(ReadError::CountMismatch {
                        line: ctx.line,
                        claimed_events: events,
                        claimed_checkpoints: checkpoints,
                        events: self.events,
                        checkpoints: self.checkpoints,
                    });
                }
                self.ended = true;
                // `buf` still holds this line: read what follows elsewhere.
                if read_line_into(&mut self.input, &mut self.line, &mut self.details)? {
                    return Err(ReadError::DataAfterEnd { line: self.line });
                }
                return Ok(None);
            }
            "header" => return Err(ctx.bad("a second header line")),
            "key" => {
                return Err(
                    ctx.bad("a key line belongs right after the header of a version 3 export")
                );
            }
            "anchor" => return Err(ctx.bad("an anchor line belongs right after the header")),
            other => return Err(ctx.bad(format!("unknown line type {other:?}"))),
        };
        match record {
            RecordRef::Event(_) => self.events += 1,
            RecordRef::Checkpoint(_) => self.checkpoints += 1,
        }
        Ok(Some((ctx.line, record)))
    }
}

/// Reads the next line into `buf` (cleared first) without its newline,
/// counting it in `line`; `false` at the end of the input.
fn read_line_into<R: BufRead>(
    input: &mut R,
    line: &mut u64,
    buf: &mut Vec<u8>,
) -> Result<bool, ReadError> {
    buf.clear();
    *line += 1;
    let limit = u64::try_from(MAX_LINE_LEN).unwrap_or(u64::MAX) + 1;
    let n = <&mut R as io::Read>::take(input, limit)
        .read_until(b'\n', buf)
        .map_err(|source| ReadError::Io {
            line: *line,
            source,
        })?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE_LEN {
        return Err(ReadError::Malformed {
            line: *line,
            reason: format!("the line is longer than {MAX_LINE_LEN} bytes"),
        });
    } else {
        // Every line ends with a newline, the end line included: a file
        // that stops without one was cut.
        return Err(ReadError::Malformed {
            line: *line,
            reason: "the line does not end with a newline: the export was cut".into(),
        });
    }
    Ok(true)
}

/// An event line's fields, borrowed from the line (strings with escapes are
/// unescaped into their own buffer) and the reader's details buffer.
#[derive(Debug)]
struct ParsedEvent<'a> {
    seq: u64,
    time_us: i64,
    actor: Cow<'a, str>,
    action: Cow<'a, str>,
    target: Option<Cow<'a, str>>,
    tenant: Option<Uuid>,
    outcome: Outcome,
    request_id: Option<Cow<'a, str>>,
    source: Option<IpAddr>,
    details: Option<&'a [u8]>,
    id: Option<Uuid>,
    prev_hash: Hash,
    hash: Hash,
}

impl ParsedEvent<'_> {
    fn view(&self) -> EventRef<'_> {
        EventRef {
            seq: self.seq,
            time_us: self.time_us,
            actor: &self.actor,
            action: &self.action,
            target: self.target.as_deref(),
            tenant: self.tenant,
            outcome: self.outcome,
            request_id: self.request_id.as_deref(),
            source: self.source,
            details: self.details,
            id: self.id,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

/// One line after the header, borrowed.
#[derive(Debug)]
enum RecordRef<'a> {
    Event(ParsedEvent<'a>),
    Checkpoint(Checkpoint),
}

/// Whether `text` is the canonical spelling of `ip` (formatted on the stack).
fn is_canonical(ip: &IpAddr, text: &str) -> bool {
    let mut buf = [0u8; 64];
    let mut cursor = io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{ip}").is_err() {
        return false;
    }
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    buf.get(..len) == Some(text.as_bytes())
}

fn parse<'a>(ctx: &LineCtx, buf: &'a [u8]) -> Result<Line<'a>, ReadError> {
    // Validating the whole line once is cheaper than string by string.
    let text = std::str::from_utf8(buf).map_err(|e| {
        ctx.bad(format!(
            "not a valid export line: invalid UTF-8 at byte {}",
            e.valid_up_to()
        ))
    })?;
    if let Some(line) = fast_event_line(text) {
        return Ok(line);
    }
    // JSON white space between tokens (space, tab) is allowed; a carriage
    // return is not (CRLF line ends are malformed), nor a byte-order mark.
    // JSON forbids both inside strings, so a byte search finds them.
    if text.starts_with('\u{feff}') {
        return Err(ctx.bad("a byte-order mark: an export is UTF-8 without one"));
    }
    if text.as_bytes().contains(&b'\r') {
        return Err(ctx.bad(
            "a carriage return: lines end with a line feed alone (no CRLF), and white space between tokens is spaces and tabs",
        ));
    }
    serde_json::from_str(text).map_err(|e| ctx.bad(format!("not a valid export line: {e}")))
}

/// An event line exactly as [`ExportWriter`] spells it: its fields in the
/// writer's order, no white space, no escapes, integers without leading
/// zeros. It yields the same [`Line`] as the JSON parser would, from a
/// language that is a strict subset of what the JSON parser accepts; any
/// other line (including every malformed one) returns `None` and goes
/// through the JSON parser, which gives the errors.
fn fast_event_line(text: &str) -> Option<Line<'_>> {
    let mut c = Scan { rest: text };
    c.lit("{\"type\":\"event\",\"seq\":")?;
    let seq = c.uint()?;
    c.lit(",\"time_us\":")?;
    let time_us = c.int()?;
    c.lit(",\"actor\":")?;
    let actor = c.string()?;
    c.lit(",\"action\":")?;
    let action = c.string()?;
    c.lit(",\"target\":")?;
    let target = c.opt_string()?;
    c.lit(",\"tenant\":")?;
    let tenant = c.opt_string()?;
    c.lit(",\"outcome\":")?;
    let outcome = c.string()?;
    c.lit(",\"request_id\":")?;
    let request_id = c.opt_string()?;
    c.lit(",\"source\":")?;
    let source = c.opt_string()?;
    c.lit(",\"details\":")?;
    let details = c.opt_string()?;
    let id = if c.lit(",\"id\":").is_some() {
        Some(c.string()?)
    } else {
        None
    };
    c.lit(",\"prev_hash\":")?;
    let prev_hash = c.string()?;
    c.lit(",\"hash\":")?;
    let hash = c.string()?;
    c.lit("}")?;
    if !c.rest.is_empty() {
        return None;
    }
    Some(Line {
        kind: Text(Cow::Borrowed("event")),
        format: None,
        version: None,
        key_id: None,
        seq: Some(seq),
        time_us: Some(time_us),
        actor: Some(t(actor)),
        action: Some(t(action)),
        target: target.map(t),
        tenant: tenant.map(t),
        outcome: Some(t(outcome)),
        request_id: request_id.map(t),
        source: source.map(t),
        details: details.map(t),
        id: id.map(|id| Some(t(id))),
        prev_hash: Some(t(prev_hash)),
        hash: Some(t(hash)),
        size: None,
        root: None,
        signature: None,
        events: None,
        checkpoints: None,
        start_seq: None,
        last_hash: None,
        frontier: None,
        public_key: None,
        certified_by: None,
        certificate: None,
    })
}

fn t(s: &str) -> Text<'_> {
    Text(Cow::Borrowed(s))
}

/// The index of the first `"`, `\\` or control character in `bytes`:
/// eight bytes at a time while none is in sight, byte by byte once one is.
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether some byte of `x` is zero, or below `n` (n <= 0x80); exact as
    // to whether one exists, which is all that is asked here.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES.wrapping_mul(n)) & !x & HIGHS != 0;
    let mut start = 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word);
        if below(x ^ ONES.wrapping_mul(u64::from(b'"')), 1)
            || below(x ^ ONES.wrapping_mul(u64::from(b'\\')), 1)
            || below(x, 0x20)
        {
            break;
        }
        start += 8;
    }
    let tail = bytes.get(start..)?;
    let i = tail
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(start + i)
}

/// A cursor over a line for [`fast_event_line`]; every method returns
/// `None` for anything outside the writer's spelling.
struct Scan<'a> {
    rest: &'a str,
}

impl<'a> Scan<'a> {
    fn lit(&mut self, expected: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(expected)?;
        Some(())
    }

    /// A string without escapes or control characters (JSON forbids raw
    /// control characters; escaped strings take the JSON parser's path).
    fn string(&mut self) -> Option<&'a str> {
        let body = self.rest.strip_prefix('"')?;
        let end = string_end(body.as_bytes())?;
        if body.as_bytes().get(end) != Some(&b'"') {
            return None;
        }
        let value = body.get(..end)?;
        self.rest = body.get(end + 1..)?;
        Some(value)
    }

    /// Outer `None`: not the writer's spelling; inner `None`: JSON `null`.
    #[allow(clippy::option_option)]
    fn opt_string(&mut self) -> Option<Option<&'a str>> {
        if self.lit("null").is_some() {
            return Some(None);
        }
        self.string().map(Some)
    }

    /// Decimal digits without a leading zero (but `0`), within `u64`.
    fn uint(&mut self) -> Option<u64> {
        let len = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        let digits = self.rest.get(..len)?;
        if digits.is_empty() || (len > 1 && digits.starts_with('0')) {
            return None;
        }
        let mut v = 0u64;
        for d in digits.bytes() {
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.rest = self.rest.get(len..)?;
        Some(v)
    }

    /// [`Scan::uint`] with an optional minus sign, within `i64` (`-0` is
    /// left to the JSON parser).
    fn int(&mut self) -> Option<i64> {
        match self.rest.strip_prefix('-') {
            None => i64::try_from(self.uint()?).ok(),
            Some(after) => {
                let mut inner = Scan { rest: after };
                let magnitude = inner.uint()?;
                if magnitude == 0 {
                    return None;
                }
                let v = 0i64.checked_sub_unsigned(magnitude)?;
                self.rest = inner.rest;
                Some(v)
            }
        }
    }
}

const EVENT_FIELDS: &[&str] = &[
    "seq",
    "time_us",
    "actor",
    "action",
    "target",
    "tenant",
    "outcome",
    "request_id",
    "source",
    "details",
    "id",
    "prev_hash",
    "hash",
];

fn event_from<'a>(
    ctx: &LineCtx,
    line: Line<'a>,
    details_buf: &'a mut Vec<u8>,
) -> Result<ParsedEvent<'a>, ReadError> {
    const K: &str = "event";
    ctx.only(&line, K, const { field_mask(EVENT_FIELDS) })?;
    let seq = ctx.req(line.seq, K, "seq")?;
    let time_us = ctx.req(line.time_us, K, "time_us")?;
    ctx.time(time_us)?;
    let outcome_text = ctx.req(line.outcome, K, "outcome")?;
    let outcome: Outcome = outcome_text
        .0
        .parse()
        .map_err(|e| ctx.bad(format!("{e}")))?;
    let uuid = |t: &Text<'_>, field: &str| {
        let mut canonical = [0u8; uuid::fmt::Hyphenated::LENGTH];
        Uuid::try_parse(&t.0)
            .ok()
            .filter(|u| *u.hyphenated().encode_lower(&mut canonical) == *t.0)
            .ok_or_else(|| ctx.bad(format!("{field} must be a lowercase hyphenated UUID")))
    };
    let tenant = line
        .tenant
        .as_ref()
        .map(|t| uuid(t, "tenant"))
        .transpose()?;
    let id = match &line.id {
        None => None,
        Some(None) => {
            return Err(ctx.bad(
                "id is null: an event of encoding version 1 omits the field, never writes null",
            ));
        }
        Some(Some(t)) => Some(uuid(t, "id")?),
    };
    let source = match line.source {
        None => None,
        Some(s) => {
            // The IPv4 parser accepts only the canonical dotted quad (no
            // leading zeros, no other radix): no need to print it back.
            let ip: IpAddr =
                s.0.parse::<Ipv4Addr>()
                    .map(IpAddr::V4)
                    .ok()
                    .or_else(|| {
                        s.0.parse()
                            .ok()
                            .filter(|ip: &IpAddr| is_canonical(ip, &s.0))
                    })
                    .ok_or_else(|| ctx.bad("source must be an IP address in its canonical form"))?;
            Some(ip)
        }
    };
    let details = match line.details {
        None => None,
        Some(d) => {
            details_buf.clear();
            BASE64
                .decode_vec(d.0.as_bytes(), details_buf)
                .map_err(|_| ctx.bad("details must be padded standard base64"))?;
            Some(&details_buf[..])
        }
    };
    let prev_hash: Hash = ctx.hex_fixed(&ctx.req(line.prev_hash, K, "prev_hash")?, "prev_hash")?;
    let hash: Hash = ctx.hex_fixed(&ctx.req(line.hash, K, "hash")?, "hash")?;
    Ok(ParsedEvent {
        seq,
        time_us,
        actor: ctx.req(line.actor, K, "actor")?.0,
        action: ctx.req(line.action, K, "action")?.0,
        target: line.target.map(|t| t.0),
        tenant,
        outcome,
        request_id: line.request_id.map(|t| t.0),
        source,
        details,
        id,
        prev_hash,
        hash,
    })
}

fn checkpoint_from(ctx: &LineCtx, line: Line<'_>) -> Result<Checkpoint, ReadError> {
    const K: &str = "checkpoint";
    ctx.only(
        &line,
        K,
        const {
            field_mask(&[
                "version",
                "key_id",
                "size",
                "root",
                "time_us",
                "prev_hash",
                "signature",
            ])
        },
    )?;
    let version = ctx.req(line.version, K, "version")?;
    if version != u64::from(crate::checkpoint::CHECKPOINT_VERSION) {
        return Err(ReadError::UnsupportedVersion {
            line: ctx.line,
            version,
        });
    }
    let signature: [u8; SIGNATURE_LEN] =
        ctx.hex_fixed(&ctx.req(line.signature, K, "signature")?, "signature")?;
    Ok(Checkpoint {
        key_id: KeyId(ctx.hex_fixed(&ctx.req(line.key_id, K, "key_id")?, "key_id")?),
        size: ctx.req(line.size, K, "size")?,
        root: ctx.hex_fixed(&ctx.req(line.root, K, "root")?, "root")?,
        time: ctx.time(ctx.req(line.time_us, K, "time_us")?)?,
        prev_hash: ctx.hex_fixed(&ctx.req(line.prev_hash, K, "prev_hash")?, "prev_hash")?,
        signature,
    })
}

/// Verifies an export offline with the public key that signs its
/// checkpoints. Reports the first problem with its line number and, for a
/// tampered log, the event's sequence number.
pub fn verify_export<R: BufRead>(input: R, key: &PublicKey) -> Result<Report, VerifyError> {
    verify_export_with(input, Verifier::new(*key))
}

/// [`verify_export`] with a prepared verifier (e.g. one that also trusts a
/// checkpoint seen before: [`Verifier::trusting`]).
pub fn verify_export_with<R: BufRead>(
    input: R,
    mut verifier: Verifier,
) -> Result<Report, VerifyError> {
    let mut reader = ExportReader::new(input)?;
    let found = reader.header().key_id;
    match verifier.start_with_key(found) {
        Ok(()) => {}
        Err(Some(expected)) => return Err(VerifyError::WrongKey { found, expected }),
        Err(None) => return Err(VerifyError::NoKey),
    }
    let mut last_line = 1;
    for cert in &reader.header().keys {
        last_line += 1;
        verifier
            .push_key(cert)
            .map_err(|problem| VerifyError::Tampered {
                line: last_line,
                problem,
            })?;
    }
    if let Some((anchor, checkpoint)) = &reader.header().anchor {
        let anchor_line = last_line + 1;
        last_line += 2;
        verifier
            .push_anchor(anchor, checkpoint)
            .map_err(|problem| VerifyError::Tampered {
                // The checkpoint's own faults show on its line, the
                // anchor's on the line before.
                line: if matches!(problem, Problem::AnchorUnsigned { .. }) {
                    anchor_line
                } else {
                    last_line
                },
                problem,
            })?;
    }
    loop {
        let (line, result) = match reader.next_record_ref()? {
            None => break,
            Some((line, RecordRef::Event(e))) => (line, verifier.push_event_ref(&e.view())),
            Some((line, RecordRef::Checkpoint(c))) => (line, verifier.push_checkpoint(&c)),
        };
        last_line = line;
        if let Err(problem) = result {
            return Err(VerifyError::Tampered {
                line,
                problem: classify_gap(&mut reader, problem),
            });
        }
    }
    verifier.finish().map_err(|problem| VerifyError::Tampered {
        line: last_line + 1,
        problem,
    })
}

/// A gap whose missing event comes right after is a reordering, not a
/// deletion: look one record ahead to tell them apart.
fn classify_gap<R: BufRead>(reader: &mut ExportReader<R>, problem: Problem) -> Problem {
    if let Problem::EventMissing { seq, found } = problem
        && let Ok(Some((_, Record::Event(next)))) = reader.next_record()
        && next.seq == seq
    {
        return Problem::EventReordered { seq, found };
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Ed25519Signer, Signer};
    use crate::event::{ChainHead, EventBody};
    use crate::merkle::MerkleLog;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use time::macros::datetime;

    fn signer() -> Ed25519Signer {
        Ed25519Signer::from_seed(&[5; 32]).unwrap()
    }

    fn body(i: u64) -> EventBody {
        EventBody {
            time: datetime!(2025-03-01 12:00 UTC) + time::Duration::milliseconds(i as i64),
            actor: format!("principal:{}", Uuid::from_u128(u128::from(i))),
            action: if i.is_multiple_of(2) {
                "tenant.create"
            } else {
                "auth \"quoted\" \u{e9}"
            }
            .into(),
            target: i.is_multiple_of(3).then(|| format!("tenant:{i}")),
            tenant: i
                .is_multiple_of(2)
                .then(|| Uuid::from_u128(u128::from(i) << 64)),
            outcome: [Outcome::Success, Outcome::Denied, Outcome::Failed][(i % 3) as usize],
            request_id: i.is_multiple_of(4).then(|| format!("req-{i}")),
            source: match i % 3 {
                0 => None,
                1 => Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, i as u8))),
                _ => Some(IpAddr::V6(Ipv6Addr::new(
                    0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16,
                ))),
            },
            details: (i % 2 == 1).then(|| vec![i as u8; (i % 7) as usize]),
            // Encoding versions 1 and 2 mixed in one log.
            id: (!i.is_multiple_of(5)).then(|| Uuid::from_u128(u128::from(i) << 8 | 0xa)),
        }
    }

    /// An export of `n` events with a checkpoint every `every` events.
    fn export(n: u64, every: u64) -> String {
        let s = signer();
        let mut w = ExportWriter::new(Vec::new(), s.public_key().key_id()).unwrap();
        let mut head = ChainHead::GENESIS;
        let mut tree = MerkleLog::new();
        let mut prev: Option<Checkpoint> = None;
        for i in 1..=n {
            let e = head.seal(body(i)).unwrap();
            tree.push(&e.hash);
            w.event(&e).unwrap();
            if i % every == 0 {
                let cp = Checkpoint::create(
                    &s,
                    i,
                    tree.root(),
                    datetime!(2025-03-02 0:00 UTC),
                    prev.as_ref(),
                )
                .unwrap();
                w.checkpoint(&cp).unwrap();
                prev = Some(cp);
            }
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    fn verify(text: &str) -> Result<Report, VerifyError> {
        verify_export(text.as_bytes(), &signer().public_key())
    }

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    fn join(lines: &[String]) -> String {
        let mut s = lines.join("\n");
        s.push('\n');
        s
    }

    /// The line index (0-based) of event `seq`.
    fn event_line(lines: &[String], seq: u64) -> usize {
        let needle = format!("\"type\":\"event\",\"seq\":{seq},");
        lines.iter().position(|l| l.contains(&needle)).unwrap()
    }

    fn tampered(r: Result<Report, VerifyError>) -> (u64, Problem) {
        match r {
            Err(VerifyError::Tampered { line, problem }) => (line, problem),
            other => panic!("expected tampering, got {other:?}"),
        }
    }

    #[test]
    fn an_intact_export_verifies_and_round_trips() {
        let text = export(23, 5);
        let r = verify(&text).unwrap();
        assert_eq!((r.events, r.checkpoints, r.checkpointed), (23, 4, 20));
        // Re-writing what was read gives the same bytes.
        let mut reader = ExportReader::new(text.as_bytes()).unwrap();
        let mut w = ExportWriter::new(Vec::new(), reader.header().key_id).unwrap();
        while let Some((_, rec)) = reader.next_record().unwrap() {
            match rec {
                Record::Event(e) => w.event(&e).unwrap(),
                Record::Checkpoint(c) => w.checkpoint(&c).unwrap(),
            }
        }
        assert_eq!(String::from_utf8(w.finish().unwrap()).unwrap(), text);
    }

    #[test]
    fn edit_is_found_at_its_event() {
        let mut l = lines(&export(12, 5));
        let i = event_line(&l, 7);
        l[i] = l[i].replacen("\"outcome\":\"denied\"", "\"outcome\":\"success\"", 1);
        let (line, p) = tampered(verify(&join(&l)));
        assert_eq!((line, p), (i as u64 + 1, Problem::EventEdited { seq: 7 }));
    }

    #[test]
    fn delete_is_found_at_the_missing_event() {
        let mut l = lines(&export(12, 5));
        let i = event_line(&l, 7);
        l.remove(i);
        let (line, p) = tampered(verify(&join(&l)));
        assert_eq!(
            (line, p),
            (i as u64 + 1, Problem::EventMissing { seq: 7, found: 8 })
        );
    }

    #[test]
    fn reorder_is_found() {
        let mut l = lines(&export(12, 5));
        let i = event_line(&l, 7);
        l.swap(i, i + 1);
        let (line, p) = tampered(verify(&join(&l)));
        assert_eq!(
            (line, p),
            (i as u64 + 1, Problem::EventReordered { seq: 7, found: 8 })
        );
    }

    #[test]
    fn insert_is_found() {
        // A copy of an event.
        let mut l = lines(&export(12, 5));
        let i = event_line(&l, 3);
        let copy = l[i].clone();
        l.insert(i + 1, copy);
        let (line, p) = tampered(verify(&join(&l)));
        assert_eq!(
            (line, p),
            (i as u64 + 2, Problem::EventInserted { seq: 3, after: 3 })
        );

        // A new event sealed onto the chain, renumbering nothing: the events
        // after it no longer chain.
        let text = export(12, 5);
        let mut reader = ExportReader::new(text.as_bytes()).unwrap();
        let mut e3 = None;
        while let Some((_, r)) = reader.next_record().unwrap() {
            if let Record::Event(e) = r
                && e.seq == 3
            {
                e3 = Some(e);
            }
        }
        let mut head = ChainHead::after(&e3.unwrap());
        let forged = head.seal(body(99)).unwrap();
        let mut w = ExportWriter::new(Vec::new(), KeyId([0; 8])).unwrap();
        w.lines.last_seq = 3;
        w.event(&forged).unwrap();
        let forged_line = String::from_utf8(w.lines.out)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_owned();
        let mut l = lines(&text);
        let i = event_line(&l, 4);
        l[i] = forged_line;
        let (line, p) = tampered(verify(&join(&l)));
        assert_eq!((line, p), (i as u64 + 2, Problem::ChainBroken { seq: 5 }));
    }

    #[test]
    fn truncation_is_found() {
        // Cut mid-file: no end line.
        let l = lines(&export(12, 5));
        let err = verify(&join(&l[..8])).unwrap_err();
        assert!(
            matches!(err, VerifyError::Read(ReadError::MissingEnd { line: 9 })),
            "{err}"
        );

        // Events after the last checkpoint's coverage removed, checkpoint kept
        // and the end line fixed up.
        let mut l = lines(&export(10, 5));
        let i = event_line(&l, 9);
        l.drain(i..i + 2);
        let last = l.len() - 1;
        l[last] = "{\"type\":\"end\",\"events\":8,\"checkpoints\":2}".into();
        let (line, p) = tampered(verify(&join(&l)));
        assert_eq!(
            (line, p.clone()),
            (
                i as u64 + 1,
                Problem::Truncated {
                    covered: 10,
                    present: 8
                }
            )
        );
        assert_eq!(p.seq(), 9);

        // Cut after a checkpoint with a consistent end line: only a trusted
        // checkpoint reveals it.
        let full = export(10, 5);
        let report = verify(&full).unwrap();
        let mut l = lines(&full);
        let i = event_line(&l, 6);
        l.truncate(i);
        l.push("{\"type\":\"end\",\"events\":5,\"checkpoints\":1}".into());
        let cut = join(&l);
        assert_eq!(verify(&cut).unwrap().events, 5);
        let v = Verifier::new(signer().public_key()).trusting(report.events, report.root);
        let (_, p) = tampered(verify_export_with(cut.as_bytes(), v));
        assert_eq!(
            p,
            Problem::Truncated {
                covered: 10,
                present: 5
            }
        );

        // A checkpoint line removed: the end line's counts disagree.
        let mut l = lines(&export(10, 5));
        let last_cp = l.len() - 2;
        l.remove(last_cp);
        let err = verify(&join(&l)).unwrap_err();
        assert!(
            matches!(err, VerifyError::Read(ReadError::CountMismatch { .. })),
            "{err}"
        );
    }

    #[test]
    fn forged_checkpoint_and_wrong_key_are_found() {
        let mut l = lines(&export(10, 5));
        let i = event_line(&l, 5) + 1;
        assert!(l[i].contains("\"checkpoint\""));
        let mut v: serde_json::Value = serde_json::from_str(&l[i]).unwrap();
        v["size"] = 4.into();
        l[i] = v.to_string();
        let (line, p) = tampered(verify(&join(&l)));
        assert_eq!(
            (line, p),
            (i as u64 + 1, Problem::CheckpointForged { size: 4 })
        );

        let other = Ed25519Signer::from_seed(&[6; 32]).unwrap().public_key();
        let err = verify_export(export(10, 5).as_bytes(), &other).unwrap_err();
        assert!(matches!(err, VerifyError::WrongKey { .. }));
        assert_eq!(err.line(), 1);
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let good = lines(&export(6, 5));
        let cases: Vec<(usize, &str)> = vec![
            (
                0,
                "{\"type\":\"header\",\"format\":\"rempart-audit-export\",\"version\":2,\"key_id\":\"0000000000000000\"}",
            ),
            (0, "not json"),
            (0, "{\"type\":\"event\"}"),
            (2, ""),
            (2, "{\"type\":\"event\",\"seq\":2}"),
            (2, "{\"type\":\"mystery\"}"),
            (2, "[1,2,3]"),
        ];
        for (i, replacement) in cases {
            let mut l = good.clone();
            l[i] = replacement.into();
            let err = verify(&join(&l)).unwrap_err();
            assert!(matches!(err, VerifyError::Read(_)), "{replacement}: {err}");
            assert_eq!(err.line(), i as u64 + 1, "{replacement}: {err}");
        }

        // Field-level damage on event 2 (line 3).
        let edits: [(&str, &str); 9] = [
            ("\"seq\":2,", "\"seq\":2,\"extra\":1,"),
            ("\"seq\":2,", "\"seq\":2,\"signature\":\"00\","),
            ("\"seq\":2,", "\"seq\":\"2\","),
            ("\"outcome\":\"failed\"", "\"outcome\":\"FAILED\""),
            ("\"hash\":\"", "\"hash\":\"zz"),
            ("\"source\":\"2001:db8::2\"", "\"source\":\"2001:0db8::2\""),
            ("\"tenant\":\"", "\"tenant\":\"{"),
            ("\"seq\":2,", "\"seq\":2,\"seq\":2,"),
            ("\"time_us\":", "\"time_us\":999999999999999999"),
        ];
        for (from, to) in edits {
            let mut l = good.clone();
            assert!(l[2].contains(from), "{from} not in {}", l[2]);
            l[2] = l[2].replacen(from, to, 1);
            let err = verify(&join(&l)).unwrap_err();
            assert!(
                matches!(err, VerifyError::Read(ReadError::Malformed { line: 3, .. })),
                "{to}: {err}"
            );
        }

        let mut l = good.clone();
        l.push("{}".into());
        let err = verify(&join(&l)).unwrap_err();
        assert!(
            matches!(err, VerifyError::Read(ReadError::DataAfterEnd { .. })),
            "{err}"
        );

        assert!(verify("").is_err());
    }

    /// The event a line decodes to through the JSON parser alone.
    fn via_json(text: &str) -> Result<Event, ReadError> {
        let ctx = LineCtx { line: 1 };
        let line: Line<'_> = serde_json::from_str(text).map_err(|e| ctx.bad(format!("{e}")))?;
        let mut buf = Vec::new();
        let parsed = event_from(&ctx, line, &mut buf)?;
        parsed.view().to_event().ok_or_else(|| ctx.bad("time"))
    }

    fn via_fast(text: &str) -> Option<Result<Event, ReadError>> {
        let ctx = LineCtx { line: 1 };
        let line = fast_event_line(text)?;
        let mut buf = Vec::new();
        Some(
            event_from(&ctx, line, &mut buf)
                .and_then(|p| p.view().to_event().ok_or_else(|| ctx.bad("time"))),
        )
    }

    #[test]
    fn the_fast_path_reads_what_the_json_parser_reads() {
        let text = export(40, 7);
        let mut fast = 0;
        for l in text.lines().filter(|l| l.contains("\"type\":\"event\"")) {
            let json = via_json(l).unwrap();
            match via_fast(l) {
                Some(r) => {
                    fast += 1;
                    assert_eq!(r.unwrap(), json, "{l}");
                }
                // Escaped strings take the JSON parser's path.
                None => assert!(l.contains('\\'), "{l}"),
            }
        }
        assert!(fast >= 20, "{fast}");

        // Spellings outside the writer's go through the JSON parser: the
        // same values, or its errors.
        let line = text
            .lines()
            .find(|l| l.contains("\"seq\":2,"))
            .unwrap()
            .to_owned();
        assert!(via_fast(&line).is_some());
        for (from, to, ok) in [
            ("\"seq\":2,", "\"seq\": 2,", true),
            ("\"seq\":2,", "\"seq\":02,", false),
            ("\"seq\":2,", "\"seq\":2.0,", false),
            ("\"seq\":2,", "\"seq\":-2,", false),
            ("\"seq\":2,", "\"seq\":99999999999999999999,", false),
            ("\"actor\":\"", "\"actor\":\"\\u0041", true),
            ("\"actor\":\"", "\"actor\":\"\t", false),
            ("\"target\":null", "\"target\":nul", false),
            ("}", " }", true),
            ("}", "} ", true),
            ("}", "}x", false),
        ] {
            assert!(line.contains(from), "{from}");
            let edited = line.replacen(from, to, 1);
            assert!(via_fast(&edited).is_none(), "{to}");
            assert_eq!(via_json(&edited).is_ok(), ok, "{to}");
            let ctx = LineCtx { line: 1 };
            assert_eq!(parse(&ctx, edited.as_bytes()).is_ok(), ok, "{to}");
        }

        let int = |s: &str| Scan { rest: s }.int();
        assert_eq!(int("-5"), Some(-5));
        assert_eq!(int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(int("9223372036854775807"), Some(i64::MAX));
        assert_eq!(int("9223372036854775808"), None);
        assert_eq!(int("-9223372036854775809"), None);
        assert_eq!(int("-0"), None);
        assert_eq!(int("-"), None);
        assert_eq!(int("0"), Some(0));
    }

    #[test]
    fn string_end_finds_the_first_stop_byte() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let mut rng = 0x1234_5678_u64;
        for len in 0..40 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        // Mostly plain text, sometimes a stop byte or a
                        // high byte.
                        match rng % 16 {
                            0 => b'"',
                            1 => b'\\',
                            2 => (rng >> 8) as u8 % 0x20,
                            3 => 0x80 | (rng >> 8) as u8,
                            _ => b' ' + ((rng >> 8) as u8 % 90),
                        }
                    })
                    .collect();
                assert_eq!(string_end(&bytes), naive(&bytes), "{bytes:?}");
            }
        }
    }

    #[test]
    fn only_canonical_ipv4_sources_are_read() {
        let text = export(4, 5);
        let line = text
            .lines()
            .find(|l| l.contains("\"source\":\"203.0.113.4\""))
            .unwrap()
            .to_owned();
        assert!(via_fast(&line).unwrap().is_ok());
        for bad in [
            "203.0.113.04",
            "203.000.113.4",
            "0203.0.113.4",
            "203.0.113",
            "203.0.113.4.5",
            " 203.0.113.4",
        ] {
            let edited = line.replacen("203.0.113.4", bad, 1);
            let r = via_fast(&edited).unwrap();
            assert!(
                matches!(r, Err(ReadError::Malformed { .. })),
                "{bad}: {r:?}"
            );
        }
    }

    /// A partial export of `n` events (checkpoint every `every`) starting
    /// after the checkpoint of `from` events.
    fn partial_export(n: u64, every: u64, from: u64) -> String {
        let full = export(n, every);
        let mut reader = ExportReader::new(full.as_bytes()).unwrap();
        let mut tree = MerkleLog::new();
        let mut records = Vec::new();
        while let Some((_, r)) = reader.next_record().unwrap() {
            if let Record::Event(e) = &r {
                tree.push(&e.hash);
            }
            records.push(r);
        }
        let last_hash = records
            .iter()
            .find_map(|r| match r {
                Record::Event(e) if e.seq == from => Some(e.hash),
                _ => None,
            })
            .unwrap();
        let anchor_cp = records
            .iter()
            .find_map(|r| match r {
                Record::Checkpoint(c) if c.size == from => Some(c.clone()),
                _ => None,
            })
            .unwrap();
        let anchor = Anchor {
            size: from,
            last_hash,
            frontier: crate::Frontier::from_source(&tree, from)
                .unwrap()
                .peaks()
                .to_vec(),
        };
        let mut w = ExportWriter::new_partial(
            Vec::new(),
            signer().public_key().key_id(),
            &anchor,
            &anchor_cp,
        )
        .unwrap();
        for r in records {
            match r {
                Record::Event(e) if e.seq > from => w.event(&e).unwrap(),
                Record::Checkpoint(c) if c.size > from => w.checkpoint(&c).unwrap(),
                _ => {}
            }
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn a_partial_export_verifies_and_tampering_with_it_is_named() {
        let text = partial_export(23, 5, 10);
        assert!(text.starts_with(
            "{\"type\":\"header\",\"format\":\"rempart-audit-export\",\"version\":2,"
        ));
        let r = verify(&text).unwrap();
        assert_eq!(
            (r.first_seq, r.events, r.checkpoints, r.checkpointed),
            (11, 23, 3, 20)
        );
        // The same events and root as the full export.
        let full = verify(&export(23, 5)).unwrap();
        assert_eq!((r.root, r.last_hash), (full.root, full.last_hash));
        // The reader hands the anchor over and the events from 11.
        let mut reader = ExportReader::new(text.as_bytes()).unwrap();
        assert_eq!(reader.header().start_seq, 11);
        assert_eq!(reader.header().anchor.as_ref().unwrap().0.frontier.len(), 2);
        let Some((4, Record::Event(first))) = reader.next_record().unwrap() else {
            panic!("event 11 on line 4")
        };
        assert_eq!(first.seq, 11);

        // The anchor's frontier altered.
        let mut l = lines(&text);
        let mut v: serde_json::Value = serde_json::from_str(&l[1]).unwrap();
        v["frontier"][0] = hex::encode([7u8; 32]).into();
        l[1] = v.to_string();
        assert_eq!(
            tampered(verify(&join(&l))),
            (2, Problem::AnchorUnsigned { size: 10 })
        );
        // Its size (and start) moved: the checkpoint no longer matches.
        let l2: Vec<String> = lines(&text)
            .into_iter()
            .map(|x| x.replacen("\"start_seq\":11", "\"start_seq\":12", 1))
            .collect();
        assert!(verify(&join(&l2)).is_err());
        // The anchor's last_hash altered.
        let mut l = lines(&text);
        let mut v: serde_json::Value = serde_json::from_str(&l[1]).unwrap();
        v["last_hash"] = hex::encode([7u8; 32]).into();
        l[1] = v.to_string();
        assert_eq!(
            tampered(verify(&join(&l))),
            (4, Problem::AnchorChainBroken { seq: 11 })
        );
        // The anchoring checkpoint forged.
        let mut l = lines(&text);
        let mut v: serde_json::Value = serde_json::from_str(&l[2]).unwrap();
        v["root"] = hex::encode([7u8; 32]).into();
        l[2] = v.to_string();
        assert_eq!(
            tampered(verify(&join(&l))),
            (3, Problem::CheckpointForged { size: 10 })
        );
        // An event edited, removed.
        let mut l = lines(&text);
        let i = event_line(&l, 13);
        assert!(l[i].contains("\"outcome\":\"denied\""), "{}", l[i]);
        l[i] = l[i].replacen("\"outcome\":\"denied\"", "\"outcome\":\"failed\"", 1);
        assert_eq!(
            tampered(verify(&join(&l))),
            (i as u64 + 1, Problem::EventEdited { seq: 13 })
        );
        let mut l = lines(&text);
        let i = event_line(&l, 11);
        l.remove(i);
        let last = l.len() - 1;
        l[last] = "{\"type\":\"end\",\"events\":12,\"checkpoints\":3}".into();
        assert_eq!(
            tampered(verify(&join(&l))),
            (i as u64 + 1, Problem::EventMissing { seq: 11, found: 12 })
        );
        // Another log's anchor (a different full log) does not fit.
        let other = {
            let mut l = lines(&text);
            let foreign = lines(&partial_export(23, 5, 15));
            l[1].clone_from(&foreign[1]);
            join(&l)
        };
        assert!(verify(&other).is_err());

        // A trusted checkpoint: at the anchor, later, or before the start.
        let v = Verifier::new(signer().public_key()).trusting(23, full.root);
        assert!(verify_export_with(text.as_bytes(), v).is_ok());
        let v = Verifier::new(signer().public_key()).trusting(5, full.root);
        assert_eq!(
            tampered(verify_export_with(text.as_bytes(), v)).1,
            Problem::TrustedBeforeStart { size: 5, start: 11 }
        );
    }

    #[test]
    fn partial_headers_and_anchors_are_checked() {
        let text = partial_export(12, 5, 5);
        let good = lines(&text);
        let cases: [(usize, &str, &str); 7] = [
            (0, "\"start_seq\":6", "\"start_seq\":0"),
            (0, "\"version\":2", "\"version\":4"),
            (0, "\"start_seq\":6", "\"start_seq\":6,\"extra\":1"),
            (1, "\"size\":5", "\"size\":4"),
            (1, "\"type\":\"anchor\"", "\"type\":\"checkpoint\""),
            (1, "\"frontier\":[", "\"frontier\":[\"00\","),
            (2, "\"type\":\"checkpoint\"", "\"type\":\"anchor\""),
        ];
        for (i, from, to) in cases {
            let mut l = good.clone();
            assert!(l[i].contains(from), "{from}");
            l[i] = l[i].replacen(from, to, 1);
            let err = verify(&join(&l)).unwrap_err();
            assert!(matches!(err, VerifyError::Read(_)), "{to}: {err}");
            assert_eq!(err.line(), i as u64 + 1, "{to}: {err}");
        }
        // A version 1 header refuses start_seq; a version 2 header from
        // event 1 is a full export.
        let mut l = good.clone();
        l[0] = l[0].replacen("\"version\":2", "\"version\":1", 1);
        assert!(verify(&join(&l)).is_err());
        let full = export(12, 5);
        let mut l = lines(&full);
        l[0] = l[0].replacen("\"version\":1", "\"version\":2", 1).replacen(
            '}',
            ",\"start_seq\":1}",
            1,
        );
        assert_eq!(verify(&join(&l)).unwrap().events, 12);
        // No events after the anchor.
        let mut l = good[..3].to_vec();
        l.push("{\"type\":\"end\",\"events\":0,\"checkpoints\":1}".into());
        let err = verify(&join(&l)).unwrap_err();
        assert!(
            matches!(err, VerifyError::Read(ReadError::Malformed { line: 4, .. })),
            "{err}"
        );
        // Cut after the anchor.
        let err = verify(&join(&good[..2])).unwrap_err();
        assert!(
            matches!(err, VerifyError::Read(ReadError::MissingEnd { line: 3 })),
            "{err}"
        );
    }

    #[test]
    fn field_masks_name_each_field() {
        assert_eq!(field_mask(&FIELD_NAMES), (1 << 27) - 1);
        for (i, name) in FIELD_NAMES.iter().enumerate() {
            assert_eq!(field_mask(&[name]), 1 << i, "{name}");
        }
        assert_eq!(field_mask(&["nothing"]), 0);
        let mut l = lines(&export(3, 5));
        l[2] = l[2].replacen("\"seq\":2,", "\"seq\":2,\"signature\":\"00\",", 1);
        let err = verify(&join(&l)).unwrap_err();
        assert!(
            err.to_string()
                .contains("a event line has no field \"signature\""),
            "{err}"
        );
    }

    #[test]
    fn hex_fields_are_exactly_lowercase_digits() {
        assert_eq!(decode_lower_hex::<2>(b"00ff"), Some([0, 0xff]));
        assert_eq!(decode_lower_hex::<2>(b"00FF"), None);
        assert_eq!(decode_lower_hex::<2>(b"00f"), None);
        assert_eq!(decode_lower_hex::<2>(b"00fff0"), None);
        assert_eq!(decode_lower_hex::<1>(b"g0"), None);
        assert!(is_canonical(&"::1".parse().unwrap(), "::1"));
        assert!(!is_canonical(&"::1".parse().unwrap(), "0::1"));
    }

    #[test]
    fn the_writer_refuses_misplaced_records() {
        let s = signer();
        let mut w = ExportWriter::new(Vec::new(), s.public_key().key_id()).unwrap();
        let e = {
            let mut h = ChainHead::GENESIS;
            h.seal(body(1)).unwrap()
        };
        let mut e2 = e.clone();
        e2.seq = 2;
        assert!(matches!(
            w.event(&e2),
            Err(ExportError::EventOutOfOrder {
                expected: 1,
                found: 2
            })
        ));
        w.event(&e).unwrap();
        let cp = Checkpoint::create(&s, 2, [0; 32], datetime!(2025-01-01 0:00 UTC), None).unwrap();
        assert!(matches!(
            w.checkpoint(&cp),
            Err(ExportError::CheckpointOutOfPlace { .. })
        ));
    }

    /// What a forger without the signing key can write: the log of `n`
    /// events with `edit` applied to their bodies, rehashed and rechained,
    /// keeping only the genuine checkpoints of at most `keep` events.
    fn forged(n: u64, every: u64, keep: u64, edit: impl Fn(u64, &mut EventBody)) -> String {
        let key = signer();
        let mut w = ExportWriter::new(Vec::new(), key.public_key().key_id()).unwrap();
        let mut head = ChainHead::GENESIS;
        let mut tree = MerkleLog::new();
        let mut prev: Option<Checkpoint> = None;
        for i in 1..=n {
            let mut fields = body(i);
            edit(i, &mut fields);
            let e = head.seal(fields).unwrap();
            tree.push(&e.hash);
            w.event(&e).unwrap();
            if i % every == 0 && i <= keep {
                let cp = Checkpoint::create(
                    &key,
                    i,
                    tree.root(),
                    datetime!(2025-03-02 0:00 UTC),
                    prev.as_ref(),
                )
                .unwrap();
                w.checkpoint(&cp).unwrap();
                prev = Some(cp);
            }
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    fn verify_with(text: &str, v: Verifier) -> Result<Report, VerifyError> {
        verify_export_with(text.as_bytes(), v)
    }

    #[test]
    fn the_unsigned_tail_is_refused_by_strict_mode_and_by_a_trusted_checkpoint() {
        let key = signer().public_key();
        let genuine = export(23, 5);
        let report = verify(&genuine).unwrap();
        assert_eq!((report.checkpointed, report.unsigned_tail()), (20, 3));
        let root20 = report.checkpoint_root.unwrap();
        assert_eq!(
            tampered(verify_with(&genuine, Verifier::new(key).strict())).1,
            Problem::UnsignedTail {
                first: 21,
                last: 23
            }
        );

        // The last checkpoint line deleted and the end count fixed: its
        // events become an unsigned tail.
        let mut l = lines(&genuine);
        let i = l
            .iter()
            .position(|x| x.contains("\"type\":\"checkpoint\"") && x.contains("\"size\":20,"))
            .unwrap();
        l.remove(i);
        let last = l.len() - 1;
        l[last] = "{\"type\":\"end\",\"events\":23,\"checkpoints\":3}".into();
        let cut = join(&l);
        assert_eq!(verify(&cut).unwrap().unsigned_tail(), 8);
        assert_eq!(
            tampered(verify_with(&cut, Verifier::new(key).strict())).1,
            Problem::UnsignedTail {
                first: 16,
                last: 23
            }
        );
        // Then an event it signed edited and the chain rehashed: the
        // checkpoint trusted from an earlier export catches it.
        let edited = forged(23, 5, 15, |i, b| {
            if i == 18 {
                b.actor = "principal:someone-else".into();
            }
        });
        assert_eq!(verify(&edited).unwrap().unsigned_tail(), 8);
        assert_eq!(
            tampered(verify_with(
                &edited,
                Verifier::new(key).trusting(20, root20)
            ))
            .1,
            Problem::TrustedRootMismatch { size: 20 }
        );
        assert!(verify_with(&edited, Verifier::new(key).strict()).is_err());
        // Deleting alone changes no event: the trusted checkpoint still
        // matches (the log is intact up to it), strict mode refuses.
        assert!(verify_with(&cut, Verifier::new(key).trusting(20, root20)).is_ok());

        // An event of the tail edited and rehashed.
        let tail_edit = forged(23, 5, 20, |i, b| {
            if i == 22 {
                b.outcome = Outcome::Success;
                b.action = "tenant.read".into();
            }
        });
        assert_eq!(verify(&tail_edit).unwrap().unsigned_tail(), 3);
        assert_eq!(
            tampered(verify_with(&tail_edit, Verifier::new(key).strict())).1,
            Problem::UnsignedTail {
                first: 21,
                last: 23
            }
        );
        assert_eq!(
            tampered(verify_with(
                &tail_edit,
                Verifier::new(key).trusting(23, report.root)
            ))
            .1,
            Problem::TrustedRootMismatch { size: 23 }
        );

        // Forged events appended after the last checkpoint.
        let appended = forged(26, 5, 20, |_, _| {});
        assert_eq!(verify(&appended).unwrap().unsigned_tail(), 6);
        assert_eq!(
            tampered(verify_with(&appended, Verifier::new(key).strict())).1,
            Problem::UnsignedTail {
                first: 21,
                last: 26
            }
        );
    }

    /// An export of `n` events, a checkpoint every `every`, the first
    /// `rotate` checkpoints signed by `signer()` and the others by a second
    /// key it certified; partial from the checkpoint of `from` events.
    fn rotated_export(n: u64, every: u64, rotate: u64, from: u64) -> (String, PublicKey) {
        let (k1, k2) = (signer(), Ed25519Signer::from_seed(&[6; 32]).unwrap());
        let cert = KeyCertificate::create(&k1, k2.public_key()).unwrap();
        let mut head = ChainHead::GENESIS;
        let mut tree = MerkleLog::new();
        let mut prev: Option<Checkpoint> = None;
        let mut records = Vec::new();
        let mut anchor = None;
        for i in 1..=n {
            let e = head.seal(body(i)).unwrap();
            tree.push(&e.hash);
            let last_hash = e.hash;
            records.push(Record::Event(e));
            if i % every == 0 {
                let by: &Ed25519Signer = if i / every <= rotate { &k1 } else { &k2 };
                let cp = Checkpoint::create(
                    by,
                    i,
                    tree.root(),
                    datetime!(2025-03-02 0:00 UTC),
                    prev.as_ref(),
                )
                .unwrap();
                if i == from {
                    anchor = Some((
                        Anchor {
                            size: i,
                            last_hash,
                            frontier: tree_peaks(&tree, i),
                        },
                        cp.clone(),
                    ));
                }
                prev = Some(cp.clone());
                records.push(Record::Checkpoint(cp));
            }
        }
        let mut w = ExportWriter::start(
            Vec::new(),
            k1.public_key().key_id(),
            &[cert],
            anchor.as_ref().map(|(a, c)| (a, c)),
        )
        .unwrap();
        for r in records {
            match r {
                Record::Event(e) if e.seq > from => w.event(&e).unwrap(),
                Record::Checkpoint(c) if c.size > from => w.checkpoint(&c).unwrap(),
                _ => {}
            }
        }
        (
            String::from_utf8(w.finish().unwrap()).unwrap(),
            k2.public_key(),
        )
    }

    fn tree_peaks(tree: &MerkleLog, size: u64) -> Vec<Hash> {
        crate::Frontier::from_source(tree, size)
            .unwrap()
            .peaks()
            .to_vec()
    }

    #[test]
    fn an_export_verifies_across_a_rotation_of_the_signing_key() {
        let (text, second) = rotated_export(23, 5, 2, 0);
        assert!(text.starts_with(
            "{\"type\":\"header\",\"format\":\"rempart-audit-export\",\"version\":3,"
        ));
        assert!(lines(&text)[1].starts_with("{\"type\":\"key\","));
        let r = verify(&text).unwrap();
        assert_eq!((r.checkpoints, r.checkpointed, r.keys.len()), (4, 20, 2));
        assert_eq!(r.key_id, second.key_id());
        // The second key alone is not the export's first key.
        assert!(matches!(
            verify_export(text.as_bytes(), &second),
            Err(VerifyError::WrongKey { .. })
        ));
        // Either of several trusted keys.
        let v = Verifier::with_trusted_keys(vec![second, signer().public_key()]);
        assert!(verify_with(&text, v).is_ok());
        // The key line removed: the later checkpoints name an unknown key.
        let mut l = lines(&text);
        l.remove(1);
        assert!(matches!(
            tampered(verify(&join(&l))),
            (_, Problem::CheckpointWrongKey { size: 15, .. })
        ));
        // A key certified by someone else.
        let mut l = lines(&text);
        let mut v: serde_json::Value = serde_json::from_str(&l[1]).unwrap();
        v["public_key"] = hex::encode([9u8; 32]).into();
        l[1] = v.to_string();
        assert!(matches!(
            tampered(verify(&join(&l))),
            (2, Problem::KeyNotCertified { .. })
        ));
        // A key line anywhere else is malformed.
        let mut l = lines(&text);
        let key_line = l.remove(1);
        l.insert(4, key_line);
        assert!(matches!(
            verify(&join(&l)),
            Err(VerifyError::Read(ReadError::Malformed { line: 5, .. }))
        ));

        // A partial export anchored on a checkpoint of the second key.
        let (partial, _) = rotated_export(23, 5, 2, 15);
        let r = verify(&partial).unwrap();
        assert_eq!((r.first_seq, r.events, r.checkpointed), (16, 23, 20));
        let l = lines(&partial);
        assert!(l[2].starts_with("{\"type\":\"anchor\","), "{}", l[2]);
    }

    #[test]
    fn spellings_outside_the_format_are_malformed() {
        let text = export(6, 5);
        let good = lines(&text);
        let refused = |t: String| match verify(&t) {
            Err(VerifyError::Read(ReadError::Malformed { line, reason })) => (line, reason),
            other => panic!("expected a malformed line, got {other:?}"),
        };
        // "id": null is not an absent id.
        let i = good.iter().position(|l| l.contains("\"id\":\"")).unwrap();
        let mut l = good.clone();
        let start = l[i].find(",\"id\":\"").unwrap();
        let end = start + ",\"id\":\"".len() + 36 + 1;
        l[i].replace_range(start..end, ",\"id\":null");
        let (line, reason) = refused(join(&l));
        assert_eq!(line, i as u64 + 1);
        assert!(reason.contains("id is null"), "{reason}");
        // CRLF, a byte-order mark, no final newline.
        let (line, reason) = refused(text.replace('\n', "\r\n"));
        assert_eq!(line, 1);
        assert!(reason.contains("carriage return"), "{reason}");
        let (line, reason) = refused(format!("\u{feff}{text}"));
        assert_eq!(line, 1);
        assert!(reason.contains("byte-order mark"), "{reason}");
        let (line, reason) = refused(text.trim_end_matches('\n').to_owned());
        assert_eq!(line, good.len() as u64);
        assert!(reason.contains("newline"), "{reason}");
        // Spaces and tabs between tokens are JSON white space: accepted.
        let mut l = good.clone();
        l[1] = l[1].replacen("\"seq\":1,", "\t\"seq\" : 1 ,", 1);
        assert!(verify(&join(&l)).is_ok());
        // Year 0.
        let mut l = good.clone();
        let t = serde_json::from_str::<serde_json::Value>(&l[1]).unwrap()["time_us"]
            .as_i64()
            .unwrap();
        l[1] = l[1].replacen(
            &format!("\"time_us\":{t},"),
            &format!("\"time_us\":{},", crate::event::MIN_TIME_US - 1),
            1,
        );
        let (line, reason) = refused(join(&l));
        assert_eq!(line, 2);
        assert!(reason.contains("years 1 to 9999"), "{reason}");
    }
}
