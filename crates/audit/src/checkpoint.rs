//! Signed checkpoints: a log size, the Merkle root over that many events,
//! a time and the hash of the previous checkpoint, signed with Ed25519.
//!
//! Invariant: the signature covers `CHECKPOINT_DOMAIN || encoding` (the
//! version-1 binary encoding below, which also names the signing key), and a
//! checkpoint's hash is SHA-256 of those same bytes, so the next checkpoint
//! chains to exactly what was signed. Verifying needs only the 32-byte
//! public key; the private key stays behind the [`Signer`] trait, which the
//! keyring implements.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::event::{truncate_to_micros, unix_micros};
use crate::{Hash, ZERO_HASH};

/// Domain-separation prefix of the signed message and checkpoint hash.
pub const CHECKPOINT_DOMAIN: &[u8] = b"rempart/audit/checkpoint\0";

/// The checkpoint encoding version.
pub const CHECKPOINT_VERSION: u8 = 1;

/// Domain-separation prefix of a key certificate's signed message.
pub const KEY_CERTIFICATE_DOMAIN: &[u8] = b"rempart/audit/key\0";

/// The key certificate encoding version.
pub const KEY_CERTIFICATE_VERSION: u8 = 1;

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Prefix of the public key's text form.
pub const PUBLIC_KEY_PREFIX: &str = "rempart-audit-ed25519:";

/// Length of the encoding: version, key id, size, root, time, previous hash.
pub const CHECKPOINT_ENCODING_LEN: usize = 1 + 8 + 8 + 32 + 8 + 32;

/// The first 8 bytes of SHA-256 of a public key: names the key that signed a
/// checkpoint, so a verifier holding several keys knows which to use.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A key id that is not 16 lowercase hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a key id is 16 lowercase hexadecimal digits")]
pub struct KeyIdParseError;

impl FromStr for KeyId {
    type Err = KeyIdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 8];
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(KeyIdParseError);
        }
        hex::decode_to_slice(s, &mut out).map_err(|_| KeyIdParseError)?;
        Ok(Self(out))
    }
}

/// An Ed25519 public key that verifies checkpoints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key's id: the first 8 bytes of SHA-256 of the raw key.
    pub fn key_id(&self) -> KeyId {
        let digest: [u8; 32] = Sha256::digest(self.0).into();
        let mut id = [0u8; 8];
        id.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
        KeyId(id)
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .is_ok()
    }
}

/// The text form, `rempart-audit-ed25519:<base64 of the 32 bytes>`, printed
/// by `rempart audit public-key` and parsed back by [`FromStr`].
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_KEY_PREFIX}{}", BASE64.encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self}, id {})", self.key_id())
    }
}

/// Why a public key's text form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyParseError {
    /// The text does not start with `rempart-audit-ed25519:`.
    #[error("an audit public key starts with {PUBLIC_KEY_PREFIX:?}")]
    MissingPrefix,
    /// The rest is not padded standard base64 of 32 bytes.
    #[error("an audit public key is the base64 of 32 bytes after its prefix")]
    BadEncoding,
}

impl FromStr for PublicKey {
    type Err = PublicKeyParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b64 = s
            .trim()
            .strip_prefix(PUBLIC_KEY_PREFIX)
            .ok_or(PublicKeyParseError::MissingPrefix)?;
        let bytes = BASE64
            .decode(b64)
            .map_err(|_| PublicKeyParseError::BadEncoding)?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| PublicKeyParseError::BadEncoding)?;
        Ok(Self(key))
    }
}

/// A signer that could not sign (the keyring is sealed, the KMS is down).
#[derive(Debug, thiserror::Error)]
#[error("the audit signing key could not sign: {reason}")]
pub struct SignerError {
    /// What went wrong, without key material.
    pub reason: String,
}

/// Holds the audit signing key. The keyring (crypto crate) implements it;
/// [`Ed25519Signer`] is a local implementation for tests and tools.
pub trait Signer {
    /// The public half of the signing key.
    fn public_key(&self) -> PublicKey;

    /// The Ed25519 signature of `message`.
    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], SignerError>;
}

/// An Ed25519 key pair held in memory (aws-lc-rs zeroizes it on drop).
pub struct Ed25519Signer {
    pair: Ed25519KeyPair,
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Signer({:?})", self.public_key().key_id())
    }
}

impl Ed25519Signer {
    /// The key pair derived from a 32-byte RFC 8032 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, SignerError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|e| SignerError {
            reason: e.to_string(),
        })?;
        Ok(Self { pair })
    }

    /// A fresh random key pair.
    pub fn generate() -> Result<Self, SignerError> {
        let pair = Ed25519KeyPair::generate().map_err(|_| SignerError {
            reason: "key generation failed".into(),
        })?;
        Ok(Self { pair })
    }
}

impl Signer for Ed25519Signer {
    fn public_key(&self) -> PublicKey {
        let mut key = [0u8; 32];
        let raw = self.pair.public_key().as_ref();
        if raw.len() == key.len() {
            key.copy_from_slice(raw);
        }
        PublicKey(key)
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], SignerError> {
        let sig = self.pair.sign(message);
        sig.as_ref().try_into().map_err(|_| SignerError {
            reason: "the signature is not 64 bytes".into(),
        })
    }
}

/// Why a checkpoint is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Signed by another key than the one given to verify it.
    #[error("the checkpoint names signing key {found}, not the expected key {expected}")]
    WrongKey {
        /// The key id the checkpoint names.
        found: KeyId,
        /// The id of the key given to verify it.
        expected: KeyId,
    },
    /// The signature does not verify: forged, or altered after signing.
    #[error("the checkpoint's signature does not verify")]
    BadSignature,
}

/// A signed statement that the log's first `size` events have Merkle root
/// `root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The id of the key that signed it.
    pub key_id: KeyId,
    /// The number of events covered (events 1 to `size`).
    pub size: u64,
    /// The RFC 6962 root over those events' hashes.
    pub root: Hash,
    /// When it was made; UTC, microsecond precision.
    pub time: OffsetDateTime,
    /// The previous checkpoint's hash; all zeros for the first one.
    pub prev_hash: Hash,
    /// Ed25519 signature of `CHECKPOINT_DOMAIN || encoding`.
    pub signature: [u8; SIGNATURE_LEN],
}

impl Checkpoint {
    /// Makes and signs the checkpoint following `prev` (`None` for the
    /// first). The caller computes `root` over the first `size` events
    /// (`merkle::root`), and passes the time from its clock.
    pub fn create(
        signer: &dyn Signer,
        size: u64,
        root: Hash,
        time: OffsetDateTime,
        prev: Option<&Checkpoint>,
    ) -> Result<Self, SignerError> {
        let mut cp = Self {
            key_id: signer.public_key().key_id(),
            size,
            root,
            time: truncate_to_micros(time).unwrap_or(time),
            prev_hash: prev.map_or(ZERO_HASH, Checkpoint::hash),
            signature: [0; SIGNATURE_LEN],
        };
        cp.signature = signer.sign(&cp.signed_message())?;
        Ok(cp)
    }

    /// The version-1 encoding: version, key id, size, root, time (unix
    /// microseconds), previous hash; integers big-endian.
    pub fn encode(&self) -> [u8; CHECKPOINT_ENCODING_LEN] {
        let mut out = [0u8; CHECKPOINT_ENCODING_LEN];
        let parts: [&[u8]; 6] = [
            &[CHECKPOINT_VERSION],
            &self.key_id.0,
            &self.size.to_be_bytes(),
            &self.root,
            &unix_micros(self.time).to_be_bytes(),
            &self.prev_hash,
        ];
        let mut pos = 0;
        for part in parts {
            if let Some(dst) = out.get_mut(pos..pos + part.len()) {
                dst.copy_from_slice(part);
            }
            pos += part.len();
        }
        out
    }

    /// What the signature covers: `CHECKPOINT_DOMAIN || encoding`.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut msg = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + CHECKPOINT_ENCODING_LEN);
        msg.extend_from_slice(CHECKPOINT_DOMAIN);
        msg.extend_from_slice(&self.encode());
        msg
    }

    /// `SHA-256(CHECKPOINT_DOMAIN || encoding)`: what the next checkpoint's
    /// `prev_hash` holds.
    pub fn hash(&self) -> Hash {
        Sha256::digest(self.signed_message()).into()
    }

    /// Checks the key id and the signature against `key`.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), CheckpointError> {
        verify_signed(key, self.key_id, &self.signed_message(), &self.signature)
    }
}

/// A successor audit signing key, certified by its predecessor: the
/// predecessor's signature over `KEY_CERTIFICATE_DOMAIN || u8 1 ||
/// certified_by || key`. A verifier that trusts the first key follows the
/// certificates to every later one (a rotation of the signing key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCertificate {
    /// The successor key.
    pub key: PublicKey,
    /// The id of the predecessor key, which signed the certificate.
    pub certified_by: KeyId,
    /// The predecessor's Ed25519 signature of [`KeyCertificate::signed_message`].
    pub signature: [u8; SIGNATURE_LEN],
}

impl KeyCertificate {
    /// Certifies `successor` with the predecessor `signer`.
    pub fn create(signer: &dyn Signer, successor: PublicKey) -> Result<Self, SignerError> {
        let mut cert = Self {
            key: successor,
            certified_by: signer.public_key().key_id(),
            signature: [0; SIGNATURE_LEN],
        };
        cert.signature = signer.sign(&cert.signed_message())?;
        Ok(cert)
    }

    /// What the signature covers: `KEY_CERTIFICATE_DOMAIN || u8 1 ||
    /// certified_by (8 bytes) || key (32 bytes)`.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut msg = Vec::with_capacity(KEY_CERTIFICATE_DOMAIN.len() + 1 + 8 + 32);
        msg.extend_from_slice(KEY_CERTIFICATE_DOMAIN);
        msg.push(KEY_CERTIFICATE_VERSION);
        msg.extend_from_slice(&self.certified_by.0);
        msg.extend_from_slice(self.key.as_bytes());
        msg
    }

    /// Checks that `predecessor` signed this certificate.
    pub fn verify(&self, predecessor: &PublicKey) -> Result<(), CheckpointError> {
        verify_signed(
            predecessor,
            self.certified_by,
            &self.signed_message(),
            &self.signature,
        )
    }
}

/// Checks that `key` is the one the record names (`named`) and that its
/// `signature` over `message` holds: how a checkpoint and a key certificate
/// are both verified.
fn verify_signed(
    key: &PublicKey,
    named: KeyId,
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> Result<(), CheckpointError> {
    let expected = key.key_id();
    if named != expected {
        return Err(CheckpointError::WrongKey {
            found: named,
            expected,
        });
    }
    if !key.verify(message, signature) {
        return Err(CheckpointError::BadSignature);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn signer(byte: u8) -> Ed25519Signer {
        Ed25519Signer::from_seed(&[byte; 32]).unwrap()
    }

    #[test]
    fn rfc8032_test_1_key_and_signature() {
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let s = Ed25519Signer::from_seed(&seed).unwrap();
        assert_eq!(
            hex::encode(s.public_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = s.sign(b"").unwrap();
        assert_eq!(
            hex::encode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn checkpoints_sign_verify_and_chain() {
        let s = signer(7);
        let key = s.public_key();
        let t = datetime!(2025-01-01 00:00:00.000_000_9 UTC);
        let c1 = Checkpoint::create(&s, 3, [1; 32], t, None).unwrap();
        let c2 = Checkpoint::create(&s, 5, [2; 32], t, Some(&c1)).unwrap();
        assert_eq!(c1.prev_hash, ZERO_HASH);
        assert_eq!(c2.prev_hash, c1.hash());
        assert_eq!(c1.time, datetime!(2025-01-01 00:00:00 UTC));
        c1.verify_signature(&key).unwrap();
        c2.verify_signature(&key).unwrap();

        let mut forged = c2.clone();
        forged.size = 6;
        assert_eq!(
            forged.verify_signature(&key),
            Err(CheckpointError::BadSignature)
        );
        let mut forged = c2.clone();
        forged.signature[0] ^= 1;
        assert_eq!(
            forged.verify_signature(&key),
            Err(CheckpointError::BadSignature)
        );

        let other = signer(8).public_key();
        assert!(matches!(
            c1.verify_signature(&other),
            Err(CheckpointError::WrongKey { .. })
        ));
    }

    #[test]
    fn key_certificates_chain_a_rotation() {
        let (first, second) = (signer(1), signer(2));
        let cert = KeyCertificate::create(&first, second.public_key()).unwrap();
        cert.verify(&first.public_key()).unwrap();
        assert!(matches!(
            cert.verify(&second.public_key()),
            Err(CheckpointError::WrongKey { .. })
        ));
        let mut forged = cert.clone();
        forged.key = signer(3).public_key();
        assert_eq!(
            forged.verify(&first.public_key()),
            Err(CheckpointError::BadSignature)
        );
        let msg = cert.signed_message();
        assert_eq!(&msg[..18], KEY_CERTIFICATE_DOMAIN);
        assert_eq!(msg.len(), 18 + 1 + 8 + 32);
    }

    #[test]
    fn encoding_layout() {
        let s = signer(1);
        let cp = Checkpoint::create(&s, 0x0102, [9; 32], OffsetDateTime::UNIX_EPOCH, None).unwrap();
        let enc = cp.encode();
        assert_eq!(enc[0], 1);
        assert_eq!(&enc[1..9], &s.public_key().key_id().0);
        assert_eq!(&enc[9..17], &0x0102u64.to_be_bytes());
        assert_eq!(&enc[17..49], &[9; 32]);
        assert_eq!(&enc[49..57], &[0; 8]);
        assert_eq!(&enc[57..89], &[0; 32]);
    }

    #[test]
    fn public_key_text_round_trips_and_refuses_junk() {
        let key = signer(3).public_key();
        let text = key.to_string();
        assert!(text.starts_with(PUBLIC_KEY_PREFIX));
        assert_eq!(text.parse::<PublicKey>().unwrap(), key);
        assert_eq!(
            text.trim_start_matches(PUBLIC_KEY_PREFIX)
                .parse::<PublicKey>(),
            Err(PublicKeyParseError::MissingPrefix)
        );
        assert_eq!(
            format!("{PUBLIC_KEY_PREFIX}AAAA").parse::<PublicKey>(),
            Err(PublicKeyParseError::BadEncoding)
        );
        assert_eq!(key.key_id().to_string().len(), 16);
        assert_eq!(
            key.key_id().to_string().parse::<KeyId>().unwrap(),
            key.key_id()
        );
        assert!("ABCDEF0123456789".parse::<KeyId>().is_err());
    }
}
