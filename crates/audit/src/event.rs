//! Audit events, their canonical encoding and the hash chain.
//!
//! Invariant: an event's `hash` is
//! `SHA-256(EVENT_DOMAIN || prev_hash || encode(event))`, where `encode` is
//! the binary encoding below (version 2 for an event with an `id`, version
//! 1 for the events written before ids existed): every variable-length field is
//! length-prefixed and every optional field carries a presence tag, so two
//! different events never share an encoding. `prev_hash` is the hash of event
//! `seq - 1` (all zeros for event 1); [`ChainHead::seal`] is the only place
//! that assigns `seq`, `prev_hash` and `hash`, so a sealed event always
//! chains to the head it was sealed on.
//!
//! Times are kept at microsecond precision in UTC: sealing truncates the
//! given time, so the stored event equals what was hashed.

use std::net::IpAddr;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Hash, ZERO_HASH};

/// Domain-separation prefix of an event hash (ASCII, NUL-terminated).
pub const EVENT_DOMAIN: &[u8] = b"rempart/audit/event\0";

/// The encoding version written as the first byte of the encoding of an
/// event with an `id` (every event appended since ids exist).
pub const ENCODING_VERSION: u8 = 2;

/// The encoding version of an event without an `id` (written before
/// version 2); still verified.
pub const ENCODING_VERSION_1: u8 = 1;

/// What came of the action an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The action was authorized and done.
    Success,
    /// The action was refused by policy.
    Denied,
    /// The action was authorized but did not complete.
    Failed,
}

impl Outcome {
    /// The export and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }

    /// The byte in the binary encoding.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 1,
            Self::Denied => 2,
            Self::Failed => 3,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An outcome spelled other than `success`, `denied` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown outcome {0:?} (expected success, denied or failed)")]
pub struct UnknownOutcome(pub String);

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Self::Success),
            "denied" => Ok(Self::Denied),
            "failed" => Ok(Self::Failed),
            other => Err(UnknownOutcome(other.to_owned())),
        }
    }
}

/// Why an event cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A field is longer than its 32-bit length prefix can say.
    #[error("the {field} field is {len} bytes long; at most 4294967295 fit the format")]
    FieldTooLong {
        /// The field's name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The log is full: the next sequence number does not fit 64 bits.
    #[error("the audit log has reached the largest sequence number")]
    SequenceExhausted,
    /// A time outside the years 1 to 9999 (UTC), which the format refuses.
    #[error("the time {time_us} µs since the epoch is outside the years 1 to 9999")]
    TimeOutOfRange {
        /// The time, in microseconds since the Unix epoch.
        time_us: i64,
    },
}

/// What the caller knows about an event before it joins the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventBody {
    /// When it happened; sealing converts it to UTC and truncates it to
    /// microseconds.
    pub time: OffsetDateTime,
    /// Who did it: `principal:<uuid>`, `bootstrap`, `system`, `anonymous`.
    pub actor: String,
    /// What was done: `tenant.create`, `auth.bootstrap`.
    pub action: String,
    /// What it was done to: `tenant:<uuid>`.
    pub target: Option<String>,
    /// The tenant whose data was touched, if any.
    pub tenant: Option<Uuid>,
    /// What came of it.
    pub outcome: Outcome,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// The client address.
    pub source: Option<IpAddr>,
    /// Opaque bytes (an encrypted envelope): hashed as given, never read.
    pub details: Option<Vec<u8>>,
    /// A random identifier chosen when the event is recorded, before it has
    /// a `seq` (sealed details are bound to it); `None` only for events of
    /// encoding version 1.
    pub id: Option<Uuid>,
}

/// A sealed event: a body with its place in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// 1-based position in the log; contiguous.
    pub seq: u64,
    /// UTC, microsecond precision.
    pub time: OffsetDateTime,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// The tenant whose data was touched.
    pub tenant: Option<Uuid>,
    /// What came of it.
    pub outcome: Outcome,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// The client address.
    pub source: Option<IpAddr>,
    /// Opaque bytes; the hash covers these bytes, never plaintext.
    pub details: Option<Vec<u8>>,
    /// The random identifier given when the event was recorded (encoding
    /// version 2); `None` for an event of encoding version 1.
    pub id: Option<Uuid>,
    /// Hash of event `seq - 1`; all zeros for event 1.
    pub prev_hash: Hash,
    /// `SHA-256(EVENT_DOMAIN || prev_hash || encoding)`.
    pub hash: Hash,
}

/// The earliest `time` the format allows: 0001-01-01T00:00:00Z, in
/// microseconds since the Unix epoch.
pub const MIN_TIME_US: i64 = -62_135_596_800_000_000;

/// The latest `time` the format allows: 9999-12-31T23:59:59.999999Z, in
/// microseconds since the Unix epoch.
pub const MAX_TIME_US: i64 = 253_402_300_799_999_999;

/// Whether `micros` is within the years 1 to 9999 (UTC), the range of
/// `time` in events and checkpoints.
pub fn time_in_range(micros: i64) -> bool {
    (MIN_TIME_US..=MAX_TIME_US).contains(&micros)
}

/// Microseconds since the Unix epoch, rounded toward the past.
pub fn unix_micros(time: OffsetDateTime) -> i64 {
    let micros = time.unix_timestamp_nanos().div_euclid(1000);
    // OffsetDateTime spans at most ±999,999 years: about 3.2e19 µs would be
    // needed to overflow, and its range stays below 3.2e16.
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

/// The time `micros` microseconds after the Unix epoch, in UTC; `None` when
/// it is outside the years 1 to 9999 ([`MIN_TIME_US`], [`MAX_TIME_US`]).
pub fn from_unix_micros(micros: i64) -> Option<OffsetDateTime> {
    if !time_in_range(micros) {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()
}

/// `time` in UTC, truncated to microseconds (what the encoding keeps).
pub fn truncate_to_micros(time: OffsetDateTime) -> Option<OffsetDateTime> {
    from_unix_micros(unix_micros(time))
}

/// An event's fields borrowed from wherever they were read (an export line),
/// so that verification hashes them without building an owned [`Event`].
/// [`Event::encode_into`] goes through it: there is one encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// 1-based position in the log.
    pub seq: u64,
    /// Microseconds since the Unix epoch (the encoded time).
    pub time_us: i64,
    /// Who did it.
    pub actor: &'a str,
    /// What was done.
    pub action: &'a str,
    /// What it was done to.
    pub target: Option<&'a str>,
    /// The tenant whose data was touched.
    pub tenant: Option<Uuid>,
    /// What came of it.
    pub outcome: Outcome,
    /// The request that caused it.
    pub request_id: Option<&'a str>,
    /// The client address.
    pub source: Option<IpAddr>,
    /// Opaque bytes.
    pub details: Option<&'a [u8]>,
    /// The event's identifier (version 2), `None` for version 1.
    pub id: Option<Uuid>,
    /// Hash of event `seq - 1`.
    pub prev_hash: Hash,
    /// The hash the event carries.
    pub hash: Hash,
}

impl EventRef<'_> {
    /// Appends the encoding of this event (everything but `prev_hash` and
    /// `hash`) to `out`: version 2 with its `id`, version 1 without.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if !time_in_range(self.time_us) {
            return Err(EncodeError::TimeOutOfRange {
                time_us: self.time_us,
            });
        }
        out.push(if self.id.is_some() {
            ENCODING_VERSION
        } else {
            ENCODING_VERSION_1
        });
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time_us.to_be_bytes());
        put_bytes(out, "actor", self.actor.as_bytes())?;
        put_bytes(out, "action", self.action.as_bytes())?;
        put_opt_bytes(out, "target", self.target.map(str::as_bytes))?;
        match self.tenant {
            None => out.push(0),
            Some(t) => {
                out.push(1);
                out.extend_from_slice(t.as_bytes());
            }
        }
        out.push(self.outcome.code());
        put_opt_bytes(out, "request_id", self.request_id.map(str::as_bytes))?;
        match self.source {
            None => out.push(0),
            Some(IpAddr::V4(a)) => {
                out.push(4);
                out.extend_from_slice(&a.octets());
            }
            Some(IpAddr::V6(a)) => {
                out.push(6);
                out.extend_from_slice(&a.octets());
            }
        }
        put_opt_bytes(out, "details", self.details)?;
        if let Some(id) = self.id {
            out.extend_from_slice(id.as_bytes());
        }
        Ok(())
    }

    /// The hash this event should carry, from its contents and `prev_hash`,
    /// reusing `buf` as scratch space (cleared first).
    pub fn compute_hash_with(&self, buf: &mut Vec<u8>) -> Result<Hash, EncodeError> {
        buf.clear();
        self.encode_into(buf)?;
        Ok(event_hash(&self.prev_hash, buf))
    }

    /// The owned event; `None` when `time_us` is outside the years 1 to
    /// 9999.
    pub fn to_event(&self) -> Option<Event> {
        Some(Event {
            seq: self.seq,
            time: from_unix_micros(self.time_us)?,
            actor: self.actor.to_owned(),
            action: self.action.to_owned(),
            target: self.target.map(str::to_owned),
            tenant: self.tenant,
            outcome: self.outcome,
            request_id: self.request_id.map(str::to_owned),
            source: self.source,
            details: self.details.map(<[u8]>::to_vec),
            id: self.id,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

impl Event {
    /// The borrowed view of this event.
    pub fn borrowed(&self) -> EventRef<'_> {
        EventRef {
            seq: self.seq,
            time_us: unix_micros(self.time),
            actor: &self.actor,
            action: &self.action,
            target: self.target.as_deref(),
            tenant: self.tenant,
            outcome: self.outcome,
            request_id: self.request_id.as_deref(),
            source: self.source,
            details: self.details.as_deref(),
            id: self.id,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }

    /// Appends the encoding of this event (everything but `prev_hash` and
    /// `hash`) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.borrowed().encode_into(out)
    }

    /// The encoding of this event.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// The hash this event should carry, from its contents and `prev_hash`.
    pub fn compute_hash(&self) -> Result<Hash, EncodeError> {
        let mut buf = Vec::with_capacity(self.encoded_len_hint());
        self.compute_hash_with(&mut buf)
    }

    /// [`Event::compute_hash`] reusing `buf` as scratch space (cleared
    /// first), for loops over many events.
    pub fn compute_hash_with(&self, buf: &mut Vec<u8>) -> Result<Hash, EncodeError> {
        self.borrowed().compute_hash_with(buf)
    }

    /// Whether `hash` matches the contents (an unencodable event does not).
    pub fn hash_is_valid(&self) -> bool {
        self.compute_hash().is_ok_and(|h| h == self.hash)
    }

    fn encoded_len_hint(&self) -> usize {
        80 + self.actor.len()
            + self.action.len()
            + self.target.as_ref().map_or(0, String::len)
            + self.request_id.as_ref().map_or(0, String::len)
            + self.details.as_ref().map_or(0, Vec::len)
    }
}

/// `SHA-256(EVENT_DOMAIN || prev_hash || encoding)`.
pub fn event_hash(prev_hash: &Hash, encoding: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(EVENT_DOMAIN);
    h.update(prev_hash);
    h.update(encoding);
    h.finalize().into()
}

fn put_bytes(out: &mut Vec<u8>, field: &'static str, bytes: &[u8]) -> Result<(), EncodeError> {
    let len = u32::try_from(bytes.len()).map_err(|_| EncodeError::FieldTooLong {
        field,
        len: bytes.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_opt_bytes(
    out: &mut Vec<u8>,
    field: &'static str,
    bytes: Option<&[u8]>,
) -> Result<(), EncodeError> {
    match bytes {
        None => {
            out.push(0);
            Ok(())
        }
        Some(b) => {
            out.push(1);
            put_bytes(out, field, b)
        }
    }
}

/// The end of the chain: the last event's `seq` and `hash`, from which the
/// next event is sealed. The store keeps it in the same transaction as the
/// events it appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// `seq` of the last event, 0 for an empty log.
    pub seq: u64,
    /// `hash` of the last event, all zeros for an empty log.
    pub hash: Hash,
}

impl ChainHead {
    /// The head of an empty log.
    pub const GENESIS: Self = Self {
        seq: 0,
        hash: ZERO_HASH,
    };

    /// The head after `last`.
    pub fn after(last: &Event) -> Self {
        Self {
            seq: last.seq,
            hash: last.hash,
        }
    }

    /// Seals `body` as the next event and advances the head past it.
    pub fn seal(&mut self, body: EventBody) -> Result<Event, EncodeError> {
        let seq = self
            .seq
            .checked_add(1)
            .ok_or(EncodeError::SequenceExhausted)?;
        // Truncation cannot leave the representable range except at its very
        // edge; keep the original there rather than fail.
        let time = truncate_to_micros(body.time).unwrap_or(body.time);
        let mut event = Event {
            seq,
            time,
            actor: body.actor,
            action: body.action,
            target: body.target,
            tenant: body.tenant,
            outcome: body.outcome,
            request_id: body.request_id,
            source: body.source,
            details: body.details,
            id: body.id,
            prev_hash: self.hash,
            hash: ZERO_HASH,
        };
        event.hash = event.compute_hash()?;
        *self = Self::after(&event);
        Ok(event)
    }
}

/// Event bodies the other modules' unit tests log.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{EventBody, Outcome};
    use time::OffsetDateTime;
    use uuid::Uuid;

    /// A successful `system` action with no target, tenant, request, source
    /// or details.
    pub(crate) fn system_event(time: OffsetDateTime, action: &str, id: Option<Uuid>) -> EventBody {
        EventBody {
            time,
            actor: "system".into(),
            action: action.into(),
            target: None,
            tenant: None,
            outcome: Outcome::Success,
            request_id: None,
            source: None,
            details: None,
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use time::macros::datetime;

    pub(crate) fn body(i: u64) -> EventBody {
        EventBody {
            time: datetime!(2025-01-02 03:04:05.123_456_789 UTC),
            actor: format!("principal:{i}"),
            action: "tenant.create".into(),
            target: Some("tenant:x".into()),
            tenant: Some(Uuid::from_u128(u128::from(i))),
            outcome: Outcome::Success,
            request_id: None,
            source: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            details: Some(vec![1, 2, 3]),
            id: Some(Uuid::from_u128(0xfeed_u128 + u128::from(i))),
        }
    }

    #[test]
    fn sealing_chains_and_truncates_time() {
        let mut head = ChainHead::GENESIS;
        let e1 = head.seal(body(1)).unwrap();
        let e2 = head.seal(body(2)).unwrap();
        assert_eq!(e1.seq, 1);
        assert_eq!(e1.prev_hash, ZERO_HASH);
        assert_eq!(e2.prev_hash, e1.hash);
        assert_eq!(head, ChainHead::after(&e2));
        assert_eq!(e1.time, datetime!(2025-01-02 03:04:05.123_456 UTC));
        assert!(e1.hash_is_valid() && e2.hash_is_valid());
    }

    #[test]
    fn encoding_layout_is_the_specified_one() {
        let e = Event {
            seq: 1,
            time: datetime!(1970-01-01 00:00:00.000_001 UTC),
            actor: "a".into(),
            action: "b".into(),
            target: None,
            tenant: None,
            outcome: Outcome::Denied,
            request_id: Some(String::new()),
            source: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            details: None,
            id: None,
            prev_hash: ZERO_HASH,
            hash: ZERO_HASH,
        };
        let mut want = vec![1u8];
        want.extend_from_slice(&1u64.to_be_bytes());
        want.extend_from_slice(&1i64.to_be_bytes());
        want.extend_from_slice(&[
            0, 0, 0, 1, b'a', 0, 0, 0, 1, b'b', 0, 0, 2, 1, 0, 0, 0, 0, 6,
        ]);
        want.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        want.push(0);
        assert_eq!(e.encode().unwrap(), want);
        // Version 2: the same fields, then the 16 bytes of the id.
        let id = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let v2 = Event { id: Some(id), ..e };
        want[0] = 2;
        want.extend_from_slice(id.as_bytes());
        assert_eq!(v2.encode().unwrap(), want);
    }

    #[test]
    fn times_before_the_epoch_round_down() {
        let t = datetime!(1969-12-31 23:59:59.999_999_5 UTC);
        assert_eq!(unix_micros(t), -1);
        assert_eq!(
            from_unix_micros(-1).unwrap(),
            datetime!(1969-12-31 23:59:59.999_999 UTC)
        );
    }

    #[test]
    fn time_is_within_the_years_1_to_9999() {
        assert_eq!(
            from_unix_micros(MIN_TIME_US).unwrap(),
            datetime!(0001-01-01 00:00 UTC)
        );
        assert_eq!(
            from_unix_micros(MAX_TIME_US).unwrap(),
            datetime!(9999-12-31 23:59:59.999_999 UTC)
        );
        // Year 0 and year 10000 are outside, though the time crate has them.
        assert_eq!(from_unix_micros(MIN_TIME_US - 1), None);
        assert_eq!(from_unix_micros(MAX_TIME_US + 1), None);
        assert_eq!(from_unix_micros(i64::MIN), None);
        let mut head = ChainHead::GENESIS;
        let mut b = body(1);
        b.time = datetime!(0000-12-31 23:59 UTC);
        assert!(matches!(
            head.seal(b),
            Err(EncodeError::TimeOutOfRange { .. })
        ));
        let mut b = body(1);
        b.time = datetime!(0001-01-01 00:00 UTC);
        assert!(head.seal(b).is_ok());
    }

    #[test]
    fn every_field_changes_the_hash() {
        let mut head = ChainHead::GENESIS;
        let base = head.seal(body(1)).unwrap();
        let mut variants = Vec::new();
        let mut v = base.clone();
        v.seq = 2;
        variants.push(v);
        let mut v = base.clone();
        v.time += time::Duration::microseconds(1);
        variants.push(v);
        let mut v = base.clone();
        v.actor.push('x');
        variants.push(v);
        let mut v = base.clone();
        v.action = "tenant.delete".into();
        variants.push(v);
        let mut v = base.clone();
        v.target = None;
        variants.push(v);
        let mut v = base.clone();
        v.tenant = None;
        variants.push(v);
        let mut v = base.clone();
        v.outcome = Outcome::Failed;
        variants.push(v);
        let mut v = base.clone();
        v.request_id = Some(String::new());
        variants.push(v);
        let mut v = base.clone();
        v.source = Some(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()));
        variants.push(v);
        let mut v = base.clone();
        v.details = Some(vec![1, 2, 4]);
        variants.push(v);
        let mut v = base.clone();
        v.id = Some(Uuid::from_u128(7));
        variants.push(v);
        let mut v = base.clone();
        v.id = None;
        variants.push(v);
        let mut v = base.clone();
        v.prev_hash[0] ^= 1;
        variants.push(v);
        for v in variants {
            assert_ne!(v.compute_hash().unwrap(), base.hash, "{v:?}");
        }
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        // "ab" + "c" and "a" + "bc" must not collide.
        let mut head = ChainHead::GENESIS;
        let mut b1 = body(1);
        b1.actor = "ab".into();
        b1.action = "c".into();
        let mut b2 = body(1);
        b2.actor = "a".into();
        b2.action = "bc".into();
        let e1 = head.seal(b1).unwrap();
        let e2 = {
            let mut h = ChainHead::GENESIS;
            h.seal(b2).unwrap()
        };
        assert_ne!(e1.hash, e2.hash);
    }

    #[test]
    fn outcome_spellings_round_trip() {
        for o in [Outcome::Success, Outcome::Denied, Outcome::Failed] {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
        }
        assert!("Success".parse::<Outcome>().is_err());
    }
}
