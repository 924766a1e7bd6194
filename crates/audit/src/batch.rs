//! Shipping batches: a slice of the log, as the shipper posts it to a sink
//! (docs/formats/audit.md section 8).
//!
//! A batch is JSON lines: a batch header naming the key and the `seq` the
//! batch continues from, then event and checkpoint lines exactly as an
//! export writes them, then an end line. A sink that appends the lines
//! between header and end, batch after batch, holds an export body: with an
//! export header and an end line it verifies with [`crate::verify_export`].
//!
//! Invariant: a batch is contiguous. Its events follow `after_seq` with no
//! gap, and each checkpoint comes right after the event it covers up to.

use std::io::Write;

use serde::Serialize;

use crate::checkpoint::{Checkpoint, KeyId};
use crate::event::Event;
use crate::export::{EXPORT_FORMAT, EXPORT_VERSION, ExportError, LinesWriter};

/// The `type` of a batch's first line.
pub const BATCH_TYPE: &str = "batch";

#[derive(Serialize)]
struct BatchHeaderOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    format: &'static str,
    version: u32,
    key_id: &'a str,
    after_seq: u64,
}

/// Writes one batch: events after `after_seq` in order, checkpoints in
/// place; [`BatchWriter::finish`] writes the end line.
#[derive(Debug)]
pub struct BatchWriter<W: Write> {
    /// The lines after the header; its last `seq` is `after_seq` before the
    /// first event.
    lines: LinesWriter<W>,
}

impl<W: Write> BatchWriter<W> {
    /// Writes the batch header for a batch continuing after event
    /// `after_seq`, with checkpoints signed by `key_id`.
    pub fn new(mut out: W, key_id: KeyId, after_seq: u64) -> Result<Self, ExportError> {
        let id = key_id.to_string();
        serde_json::to_writer(
            &mut out,
            &BatchHeaderOut {
                kind: BATCH_TYPE,
                format: EXPORT_FORMAT,
                version: EXPORT_VERSION,
                key_id: &id,
                after_seq,
            },
        )
        .map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        Ok(Self {
            lines: LinesWriter::new(out, after_seq, 0),
        })
    }

    /// Writes the next event.
    pub fn event(&mut self, e: &Event) -> Result<(), ExportError> {
        self.lines.event(e)
    }

    /// Writes a checkpoint covering the events up to the last one written.
    pub fn checkpoint(&mut self, cp: &Checkpoint) -> Result<(), ExportError> {
        self.lines.checkpoint(cp)
    }

    /// The `seq` of the last event written (`after_seq` if none).
    pub fn last_seq(&self) -> u64 {
        self.lines.last_seq()
    }

    /// Writes the end line (the counts of this batch) and returns the output.
    pub fn finish(self) -> Result<W, ExportError> {
        self.lines.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Ed25519Signer, Signer as _};
    use crate::event::fixtures::system_event;
    use crate::event::{ChainHead, EventBody};
    use crate::export::verify_export;
    use crate::merkle::Frontier;
    use std::fmt::Write as _;
    use time::macros::datetime;

    fn body(i: u64) -> EventBody {
        system_event(
            datetime!(2026-01-01 00:00 UTC) + time::Duration::seconds(i.cast_signed()),
            "tenant.create",
            Some(uuid::Uuid::from_u128(u128::from(i))),
        )
    }

    /// Batches cut anywhere, their inner lines concatenated under an export
    /// header and an end line, verify as an export.
    #[test]
    fn concatenated_batches_verify_as_an_export() {
        let signer = Ed25519Signer::from_seed(&[3; 32]).unwrap();
        let key = signer.public_key();
        let mut head = ChainHead::GENESIS;
        let mut frontier = Frontier::new();
        let mut prev: Option<Checkpoint> = None;
        let mut items = Vec::new();
        for i in 1..=10 {
            let e = head.seal(body(i)).unwrap();
            frontier.push(&e.hash);
            items.push((e.clone(), None));
            if i % 3 == 0 || i == 10 {
                let cp =
                    Checkpoint::create(&signer, i, frontier.root(), e.time, prev.as_ref()).unwrap();
                items.last_mut().unwrap().1 = Some(cp.clone());
                prev = Some(cp);
            }
        }
        let mut lines = Vec::new();
        let (mut events, mut cps) = (0, 0);
        for chunk in items.chunks(4) {
            let after = chunk[0].0.seq - 1;
            let mut w = BatchWriter::new(Vec::new(), key.key_id(), after).unwrap();
            for (e, cp) in chunk {
                w.event(e).unwrap();
                events += 1;
                if let Some(cp) = cp {
                    w.checkpoint(cp).unwrap();
                    cps += 1;
                }
            }
            assert!(w.event(&chunk[0].0).is_err(), "out of order is refused");
            let text = String::from_utf8(w.finish().unwrap()).unwrap();
            let body: Vec<&str> = text.lines().collect();
            assert!(body[0].contains(&format!("\"after_seq\":{after}")));
            assert!(body.last().unwrap().starts_with("{\"type\":\"end\""));
            lines.extend(body[1..body.len() - 1].iter().map(|l| (*l).to_owned()));
        }
        let mut export = format!(
            "{{\"type\":\"header\",\"format\":\"rempart-audit-export\",\"version\":1,\"key_id\":\"{}\"}}\n",
            key.key_id()
        );
        for l in &lines {
            export.push_str(l);
            export.push('\n');
        }
        let _ = writeln!(
            export,
            "{{\"type\":\"end\",\"events\":{events},\"checkpoints\":{cps}}}"
        );
        let report = verify_export(export.as_bytes(), &key).unwrap();
        assert_eq!(report.events, 10);
        assert_eq!(report.checkpoints, 4);
    }

    #[test]
    fn a_misplaced_checkpoint_is_refused() {
        let signer = Ed25519Signer::from_seed(&[3; 32]).unwrap();
        let cp =
            Checkpoint::create(&signer, 2, [0; 32], datetime!(2026-01-01 0:00 UTC), None).unwrap();
        let mut w = BatchWriter::new(Vec::new(), signer.public_key().key_id(), 5).unwrap();
        assert!(w.checkpoint(&cp).is_err());
    }
}
