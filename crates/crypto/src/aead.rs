//! AES-256-GCM through aws-lc-rs, the project's single crypto provider.
//!
//! Nonce strategy: every encryption draws a fresh random 96-bit nonce from
//! the operating system generator (aws-lc-rs `rand::fill`). Callers count
//! invocations per key (see `usage`) so that no key exceeds the NIST
//! SP 800-38D bound of 2^32 random-nonce encryptions. The explicit-nonce
//! functions here are crate-private: only test-vector code passes a fixed
//! nonce.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::error::{CryptoError, Result};
use crate::secret::KeyBytes;

/// Nonce length (96 bits).
pub(crate) const NONCE_LEN: usize = 12;
/// Authentication tag length (128 bits).
pub(crate) const TAG_LEN: usize = 16;

/// Builds an AES-256-GCM key; aws-lc cleanses its key schedule when dropped.
pub(crate) fn cipher(key: &KeyBytes) -> Result<LessSafeKey> {
    let unbound = UnboundKey::new(&AES_256_GCM, key.expose()).map_err(|_| CryptoError::Backend)?;
    Ok(LessSafeKey::new(unbound))
}

/// A fresh random nonce.
pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CryptoError::RandomUnavailable)?;
    Ok(nonce)
}

/// Appends `ciphertext || tag` of `plaintext` to `out`, encrypting straight
/// from `plaintext` into `out` (one pass: a large stream segment is not
/// copied first). The plaintext never lands in `out`.
pub(crate) fn seal_append(
    key: &LessSafeKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let start = out.len();
    out.resize(start + plaintext.len() + TAG_LEN, 0);
    let target = out.get_mut(start..).ok_or(CryptoError::Backend)?;
    let (ciphertext, tag) = target.split_at_mut(plaintext.len());
    let sealed = key.seal_out_of_place_scatter(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        plaintext,
        ciphertext,
        &[],
        tag,
    );
    if sealed.is_err() {
        out.truncate(start);
        return Err(CryptoError::Backend);
    }
    Ok(())
}

/// Decrypts `ciphertext || tag` held in `buf` in place; on success `buf`
/// holds the plaintext. On failure `buf` is cleared.
pub(crate) fn open_in_place(
    key: &LessSafeKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<()> {
    let opened = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            buf.as_mut_slice(),
        )
        .map(|plain| plain.len());
    if let Ok(len) = opened {
        buf.truncate(len);
        Ok(())
    } else {
        buf.clear();
        Err(CryptoError::DecryptionFailed)
    }
}

/// Authenticates `ciphertext || tag` in `sealed` and appends its plaintext
/// to `out`, leaving `sealed` untouched (so a caller may try another nonce).
/// On failure `out` is left as it was: bytes written into it are wiped.
pub(crate) fn open_append(
    key: &LessSafeKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let split = sealed
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(CryptoError::DecryptionFailed)?;
    let (ciphertext, tag) = sealed.split_at(split);
    let start = out.len();
    out.resize(start + ciphertext.len(), 0);
    let target = out.get_mut(start..).ok_or(CryptoError::Backend)?;
    let opened = key.open_separate_gather(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        ciphertext,
        tag,
        target,
    );
    if opened.is_err() {
        target.fill(0);
        out.truncate(start);
        return Err(CryptoError::DecryptionFailed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = cipher(&KeyBytes::from_array([7; 32])).unwrap();
        let mut buf = Vec::new();
        seal_append(&key, [1; NONCE_LEN], b"aad", b"hello", &mut buf).unwrap();
        assert_eq!(buf.len(), 5 + TAG_LEN);
        let mut copy = buf.clone();
        open_in_place(&key, [1; NONCE_LEN], b"aad", &mut copy).unwrap();
        assert_eq!(copy, b"hello");
        let mut copy = buf.clone();
        assert!(open_in_place(&key, [1; NONCE_LEN], b"aaD", &mut copy).is_err());
        assert!(copy.is_empty());
    }

    #[test]
    fn open_append_keeps_input_and_restores_output_on_failure() {
        let key = cipher(&KeyBytes::from_array([7; 32])).unwrap();
        let mut sealed = Vec::new();
        seal_append(&key, [2; NONCE_LEN], b"aad", b"segment", &mut sealed).unwrap();
        let mut out = b"before".to_vec();
        open_append(&key, [2; NONCE_LEN], b"aad", &sealed, &mut out).unwrap();
        assert_eq!(out, b"beforesegment");
        let mut out = b"before".to_vec();
        assert!(open_append(&key, [3; NONCE_LEN], b"aad", &sealed, &mut out).is_err());
        assert_eq!(out, b"before");
        assert!(
            open_append(
                &key,
                [2; NONCE_LEN],
                b"aad",
                &sealed[..TAG_LEN - 1],
                &mut out
            )
            .is_err()
        );
        assert_eq!(out, b"before");
    }

    #[test]
    fn random_nonces_differ() {
        assert_ne!(random_nonce().unwrap(), random_nonce().unwrap());
    }
}
