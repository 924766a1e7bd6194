//! Rempart's tamper-evident audit log, as a library with no I/O of its own.
//!
//! The log is a sequence of [`Event`]s numbered from 1. Each event carries the
//! hash of the one before it ([`event`]), the hashes are the leaves of an
//! RFC 6962 Merkle tree ([`merkle`]), and signed [`Checkpoint`]s commit to the
//! tree's root at a given size ([`checkpoint`]). A [`Verifier`] walks events
//! and checkpoints in order and reports the first thing that is wrong
//! ([`verify`]); [`export`] writes and reads the JSON-lines export that an
//! auditor verifies offline with nothing but the public key.
//!
//! The format is specified in `docs/formats/audit.md`; the committed vectors
//! under `docs/formats/vectors/audit/` are checked by this crate's tests.
//!
//! Invariants this crate upholds:
//! - a hash covers a canonical, versioned binary encoding, never JSON text;
//! - the `details` bytes are hashed as given (ciphertext), never decrypted;
//! - verification never answers "verified" without saying how many events
//!   at the end no checkpoint signed with a trusted key vouches for (the
//!   unsigned tail), and a strict verifier refuses any.

// The unit tests build their fixtures from small loop counters (a byte, a
// port, a signed offset): the casts cannot lose anything there.
#![cfg_attr(
    test,
    allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        reason = "unit-test fixtures cast small loop counters"
    )
)]

pub mod batch;
pub mod checkpoint;
pub mod event;
pub mod export;
pub mod merkle;
pub mod verify;

pub use batch::BatchWriter;
pub use checkpoint::{
    Checkpoint, CheckpointError, Ed25519Signer, KeyCertificate, KeyId, PublicKey,
    PublicKeyParseError, SIGNATURE_LEN, Signer, SignerError,
};
pub use event::{ChainHead, EncodeError, Event, EventBody, Outcome};
pub use export::{
    ExportError, ExportReader, ExportWriter, Header, ReadError, Record, VerifyError, verify_export,
    verify_export_with,
};
pub use merkle::{
    Frontier, MerkleError, MerkleLog, NodeSource, ProofError, consistency_proof, inclusion_proof,
    root, verify_consistency, verify_inclusion,
};
pub use verify::{Anchor, Problem, Report, Verifier};

/// A SHA-256 output: event hashes, Merkle nodes and roots, checkpoint hashes.
pub type Hash = [u8; 32];

/// The all-zero hash: the `prev_hash` of event 1 and of the first checkpoint.
pub const ZERO_HASH: Hash = [0; 32];
