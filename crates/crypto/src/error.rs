//! The one error type of the crypto crate.
//!
//! Rules (invariant 4, "keys stay in the keyring"): a variant names what went
//! wrong in the domain's words and carries only names, versions, counts and
//! positions. No variant ever holds key bytes, plaintext, passphrases or share
//! text. An AEAD failure never says which byte or field was wrong: the caller
//! learns only that the ciphertext does not belong where it was presented.

use std::path::PathBuf;

use uuid::Uuid;

use crate::root_key::ProviderKind;

/// Everything that can go wrong in the keyring, its root-key providers and
/// envelope encryption.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// An environment name outside `[a-z0-9-]{1,32}`.
    #[error("invalid environment name {name:?}: use 1 to 32 characters among a-z, 0-9 and '-'")]
    InvalidEnvironmentName { name: String },
    /// A purpose label that is empty, too long or has characters outside visible ASCII.
    #[error("invalid purpose {purpose:?}: use 1 to 255 visible ASCII characters")]
    InvalidPurpose { purpose: String },
    /// The environment is not in the keyring.
    #[error("environment {environment} is not in the keyring")]
    UnknownEnvironment { environment: String },
    /// The environment is already in the keyring.
    #[error("environment {environment} is already in the keyring")]
    EnvironmentExists { environment: String },
    /// No key-encryption key of that version (never created, or purged).
    #[error(
        "key-encryption key version {version} of environment {environment} is not in the keyring"
    )]
    UnknownKekVersion { environment: String, version: u32 },
    /// The key-encryption key version is below the minimum decryption version.
    #[error(
        "key-encryption key version {version} of environment {environment} is retired \
         (minimum decryption version is {min_decryption_version})"
    )]
    KekVersionRetired {
        environment: String,
        version: u32,
        min_decryption_version: u32,
    },
    /// A minimum decryption version that would lower the minimum or retire the encryption version.
    #[error(
        "cannot set the minimum decryption version of {environment} to {requested}: \
         it must be between the current minimum {current} and the encryption version {encryption_version}"
    )]
    InvalidMinDecryptionVersion {
        environment: String,
        requested: u32,
        current: u32,
        encryption_version: u32,
    },
    /// The key reached its usage bound: rotate it before encrypting again.
    #[error("the key reached its usage bound of {limit} encryptions: rotation needed")]
    RotationRequired { limit: u64 },
    /// The tenant has no tenant key in this environment.
    #[error("tenant {tenant} is not enrolled in environment {environment}")]
    TenantNotEnrolled { environment: String, tenant: Uuid },
    /// The tenant already has a tenant key in this environment.
    #[error("tenant {tenant} is already enrolled in environment {environment}")]
    TenantAlreadyEnrolled { environment: String, tenant: Uuid },
    /// The tenant's key was destroyed: its data is gone for good.
    #[error("the keys of tenant {tenant} in environment {environment} were shredded")]
    TenantShredded { environment: String, tenant: Uuid },
    /// A wrapped data key presented for another environment, tenant or purpose.
    #[error("the wrapped data key is bound to another environment, tenant or purpose")]
    BindingMismatch,
    /// AEAD authentication failed.
    #[error(
        "decryption failed: the ciphertext was altered or belongs to another key, record, \
         tenant or environment"
    )]
    DecryptionFailed,
    /// The input ends before the format says it should.
    #[error("the {what} is truncated")]
    Truncated { what: &'static str },
    /// The input does not follow its format.
    #[error("malformed {what}: {reason}")]
    Malformed {
        what: &'static str,
        reason: &'static str,
    },
    /// A format version this build cannot read.
    #[error("unsupported {what} version {version}: this build reads version {supported}")]
    UnsupportedVersion {
        what: &'static str,
        version: u16,
        supported: u16,
    },
    /// An encrypted stream that ends before its last segment.
    #[error(
        "the encrypted stream is truncated: it ends after {segments} complete segments, \
         without its last segment"
    )]
    StreamTruncated { segments: u64 },
    /// A segment of an encrypted stream that does not authenticate at its position.
    #[error(
        "segment {segment} of the encrypted stream failed authentication: it was altered, \
         cut short, moved or taken from another stream, or the key or associated data is wrong"
    )]
    StreamSegmentRejected { segment: u64 },
    /// Bytes after the segment that closes an encrypted stream.
    #[error("the encrypted stream goes on after its last segment (segment {last_segment})")]
    StreamExtended { last_segment: u64 },
    /// More segments than a stream's nonce can number.
    #[error("the stream is too long: at most {max_segments} segments")]
    StreamTooLong { max_segments: u64 },
    /// A plaintext segment size outside the range a stream may declare.
    #[error("invalid stream segment size {size}: use {min} to {max} bytes")]
    InvalidStreamSegmentSize { size: u32, min: u32, max: u32 },
    /// A stream encryptor or decryptor used again after it failed.
    #[error("the stream already failed: start again from its beginning")]
    StreamAborted,
    /// The file does not start with the keyring magic.
    #[error("not a Rempart keyring file (bad magic bytes)")]
    NotAKeyring,
    /// The keyring header names a root-key provider this build does not know.
    #[error("unknown root-key provider {kind} in the keyring header")]
    UnknownRootKeyProvider { kind: u8 },
    /// The keyring is sealed with another kind of root key than the one offered.
    #[error("the keyring is sealed with a {sealed_with} but a {offered} was offered")]
    RootKeyProviderMismatch {
        sealed_with: ProviderKind,
        offered: ProviderKind,
    },
    /// The root key does not open the keyring body.
    #[error(
        "the root key does not open this keyring: wrong key file, passphrase or shares, \
         or the keyring body is corrupt"
    )]
    RootKeyRejected,
    /// A share whose checksum or encoding is wrong (1-based position as given).
    #[error("wrong or corrupt share {number}")]
    CorruptShare { number: usize },
    /// The same share was given twice.
    #[error("share {number} duplicates an earlier share")]
    DuplicateShare { number: usize },
    /// Shares from different splits were mixed.
    #[error("share {number} comes from a different split than share 1")]
    MixedShareSplits { number: usize },
    /// Fewer shares than the threshold.
    #[error("not enough shares: {given} given, {threshold} needed")]
    NotEnoughShares { given: usize, threshold: u8 },
    /// The shares are consistent but belong to another keyring's split.
    #[error("these shares belong to a different split than the one that sealed this keyring")]
    SharesForAnotherKeyring,
    /// An impossible k-of-n split.
    #[error("invalid share split {threshold}-of-{shares}: need 2 <= threshold <= shares")]
    InvalidShareSplit { threshold: u8, shares: u8 },
    /// Argon2id parameters out of range.
    #[error("invalid Argon2id parameters: {reason}")]
    InvalidKdfParameters { reason: String },
    /// The key file does not hold a root key in the expected encoding.
    #[error("key file {path} is malformed")]
    MalformedKeyFile { path: PathBuf },
    /// The key file may be read by other users.
    #[error("key file {path} is readable by group or others (mode {mode:o}): chmod 600 it")]
    KeyFileTooOpen { path: PathBuf, mode: u32 },
    /// A file-system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The operating system random generator failed.
    #[error("the system random number generator failed")]
    RandomUnavailable,
    /// The cryptographic library refused an operation on well-formed input.
    #[error("the cryptographic library refused the operation")]
    Backend,
}

impl CryptoError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = CryptoError> = std::result::Result<T, E>;
