//! Rempart's keys and ciphertexts.
//!
//! This crate holds the sealed keyring and its root-key providers, envelope
//! encryption of data, the ciphertext and keyring formats, the audit-log
//! signing key, rotation and crypto-shredding. It upholds invariant 4 of
//! ARCHITECTURE.md ("keys stay in the keyring"): no public API returns key
//! bytes, secrets are zeroized on drop and redacted in `Debug`, errors carry
//! no key material, and every ciphertext is bound (AEAD associated data) to
//! its environment, tenant, purpose, record and key version. It does no
//! database I/O, no async work, and never reads the clock: creation times
//! are parameters.
//!
//! The hierarchy: a root key (key file, passphrase, or Shamir shares; an
//! external KMS later, through [`RootKeyProvider`]) seals the [`Keyring`];
//! the keyring holds per-environment versioned KEKs and per-tenant tenant
//! keys; these wrap [`DataKey`]s that the caller stores as
//! [`WrappedDataKey`] bytes; data keys encrypt values into envelopes.
//! File attachments are encrypted as streams of segments under a file key
//! of their own, itself sealed in an envelope ([`StreamEncryptor`]).
//! Formats: docs/formats/keyring.md, docs/formats/envelope.md and
//! docs/formats/stream.md.

mod aead;
mod atomic_file;
mod binding;
mod envelope;
mod environment;
mod error;
mod key_file;
mod keyring;
mod keyring_file;
mod passphrase;
mod root_key;
mod secret;
mod shamir;
mod signing;
mod stream;
mod usage;
#[cfg(test)]
mod vectors;
mod wire;
mod wrapped_key;

pub use atomic_file::write_atomic;
pub use binding::{Binding, Purpose};
pub use envelope::{DataKey, DataKeyId, ENVELOPE_OVERHEAD, ENVELOPE_VERSION, envelope_key_id};
pub use environment::Environment;
pub use error::{CryptoError, Result};
pub use key_file::KeyFileProvider;
pub use keyring::{EnvironmentStatus, KekStatus, Keyring, KeyringStatus};
pub use keyring_file::{KEYRING_MAGIC, KEYRING_VERSION, describe_sealed};
pub use passphrase::{KdfParams, PassphraseProvider};
pub use root_key::{ProviderKind, RootKeyProvider, SealDescription};
pub use secret::RootKey;
pub use shamir::{ShamirProvider, ShareText};
pub use signing::{AuditSigningKey, PUBLIC_KEY_LEN, SIGNATURE_LEN};
pub use stream::{
    FileKey, MAX_STREAM_SEGMENT_SIZE, MAX_STREAM_SEGMENTS, MIN_STREAM_SEGMENT_SIZE,
    STREAM_HEADER_LEN, STREAM_SEGMENT_OVERHEAD, STREAM_SEGMENT_SIZE, STREAM_VERSION,
    StreamDecryptor, StreamEncryptor, ciphertext_len, ciphertext_len_with_segment_size,
};
pub use usage::{KeyUsage, UsageBound};
pub use wrapped_key::{WRAPPED_KEY_VERSION, WrappedDataKey};
