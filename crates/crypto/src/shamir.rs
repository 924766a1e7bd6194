//! Root key from k-of-n Shamir shares.
//!
//! The GF(256) arithmetic is the `blahaj` crate's (the maintained fork of
//! `sharks`, with the coefficient-bias fix); this module only encodes shares
//! for humans and checks them. A share reads
//! `rempart-share-1-<k>-<base64url(split_id[8] || x[1] || y[32] || check[4])>`
//! where `check` is the first 4 bytes of
//! `SHA-256("rempart-share-1-<k>-" || split_id || x || y)`. Invariant: a
//! typo'd, truncated or foreign share is reported by its position ("wrong
//! or corrupt share N") and never silently combined into a wrong key; the
//! split id in the keyring header tells shares of another split apart.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blahaj::{Share, Sharks};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{CryptoError, Result};
use crate::root_key::{ProviderKind, RootKeyProvider};
use crate::secret::{KEY_LEN, KeyBytes, RootKey};
use crate::wire::Reader;

const PREFIX: &str = "rempart-share-1-";
const SPLIT_ID_LEN: usize = 8;
const CHECK_LEN: usize = 4;
const PAYLOAD_LEN: usize = SPLIT_ID_LEN + 1 + KEY_LEN + CHECK_LEN;

/// One share as text, for an operator to copy; redacted in `Debug`.
#[derive(Clone)]
pub struct ShareText(Zeroizing<String>);

impl ShareText {
    /// The text to hand to a share holder.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ShareText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ShareText(<redacted>)")
    }
}

/// Public facts about a split, stored in the keyring header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SplitParams {
    pub(crate) split_id: [u8; SPLIT_ID_LEN],
    pub(crate) threshold: u8,
    pub(crate) shares: u8,
}

pub(crate) fn encode_params(split: SplitParams) -> Vec<u8> {
    let mut out = split.split_id.to_vec();
    out.push(split.threshold);
    out.push(split.shares);
    out
}

pub(crate) fn parse_params(bytes: &[u8]) -> Result<SplitParams> {
    let mut reader = Reader::new(bytes, "share-split parameters");
    let split = SplitParams {
        split_id: reader.array()?,
        threshold: reader.u8()?,
        shares: reader.u8()?,
    };
    reader.finish()?;
    validate_split(split.threshold, split.shares)?;
    Ok(split)
}

fn validate_split(threshold: u8, shares: u8) -> Result<()> {
    if threshold >= 2 && threshold <= shares {
        Ok(())
    } else {
        Err(CryptoError::InvalidShareSplit { threshold, shares })
    }
}

fn checksum(threshold: u8, body: &[u8]) -> [u8; CHECK_LEN] {
    let digest = Sha256::new()
        .chain_update(format!("{PREFIX}{threshold}-"))
        .chain_update(body)
        .finalize();
    let mut out = [0u8; CHECK_LEN];
    out.copy_from_slice(digest.get(..CHECK_LEN).unwrap_or(&[0; CHECK_LEN]));
    out
}

fn encode_share(split: SplitParams, x: u8, y: &[u8]) -> ShareText {
    let mut body = Zeroizing::new(Vec::with_capacity(PAYLOAD_LEN));
    body.extend_from_slice(&split.split_id);
    body.push(x);
    body.extend_from_slice(y);
    let check = checksum(split.threshold, &body);
    body.extend_from_slice(&check);
    ShareText(Zeroizing::new(format!(
        "{PREFIX}{}-{}",
        split.threshold,
        URL_SAFE_NO_PAD.encode(&*body)
    )))
}

struct ParsedShare {
    split_id: [u8; SPLIT_ID_LEN],
    threshold: u8,
    /// `x || y`, the form blahaj reads.
    point: Zeroizing<Vec<u8>>,
}

fn parse_share(text: &str, number: usize) -> Result<ParsedShare> {
    let corrupt = || CryptoError::CorruptShare { number };
    let rest = text.trim().strip_prefix(PREFIX).ok_or_else(corrupt)?;
    let (k, encoded) = rest.split_once('-').ok_or_else(corrupt)?;
    let threshold: u8 = k.parse().map_err(|_| corrupt())?;
    let payload = Zeroizing::new(URL_SAFE_NO_PAD.decode(encoded).map_err(|_| corrupt())?);
    if payload.len() != PAYLOAD_LEN {
        return Err(corrupt());
    }
    let (body, check) = payload.split_at(PAYLOAD_LEN - CHECK_LEN);
    let expected = checksum(threshold, body);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(check, expected.as_slice())) {
        return Err(corrupt());
    }
    let (split_id, point) = body.split_at(SPLIT_ID_LEN);
    let mut id = [0u8; SPLIT_ID_LEN];
    id.copy_from_slice(split_id);
    if threshold < 2 || point.first() == Some(&0) {
        return Err(corrupt());
    }
    Ok(ParsedShare {
        split_id: id,
        threshold,
        point: Zeroizing::new(point.to_vec()),
    })
}

/// A root key split into (or recombined from) Shamir shares.
#[derive(Debug)]
pub struct ShamirProvider {
    key: RootKey,
    split: SplitParams,
}

impl ShamirProvider {
    /// Splits a new random root key into `shares` shares, any `threshold`
    /// of which recover it. Seal (or reseal) a keyring with the provider,
    /// then hand out the texts.
    pub fn split(threshold: u8, shares: u8) -> Result<(Self, Vec<ShareText>)> {
        Self::split_key(RootKey::generate()?, threshold, shares)
    }

    pub(crate) fn split_key(
        key: RootKey,
        threshold: u8,
        shares: u8,
    ) -> Result<(Self, Vec<ShareText>)> {
        validate_split(threshold, shares)?;
        let mut split_id = [0u8; SPLIT_ID_LEN];
        aws_lc_rs::rand::fill(&mut split_id).map_err(|_| CryptoError::RandomUnavailable)?;
        let split = SplitParams {
            split_id,
            threshold,
            shares,
        };
        let texts = Sharks(threshold)
            .dealer(key.0.expose())
            .take(usize::from(shares))
            .map(|share| {
                let point = Zeroizing::new(Vec::<u8>::from(&share));
                let (x, y) = point.split_first().unwrap_or((&0, &[]));
                encode_share(split, *x, y)
            })
            .collect();
        Ok((Self { key, split }, texts))
    }

    /// Recombines shares typed by operators. Errors name the share by its
    /// 1-based position in `shares`.
    pub fn combine<S: AsRef<str>>(shares: &[S]) -> Result<Self> {
        let mut parsed: Vec<ParsedShare> = Vec::with_capacity(shares.len());
        for (index, text) in shares.iter().enumerate() {
            let number = index + 1;
            let share = parse_share(text.as_ref(), number)?;
            if let Some(first) = parsed.first()
                && (first.split_id != share.split_id || first.threshold != share.threshold)
            {
                return Err(CryptoError::MixedShareSplits { number });
            }
            if parsed
                .iter()
                .any(|p| p.point.first() == share.point.first())
            {
                return Err(CryptoError::DuplicateShare { number });
            }
            parsed.push(share);
        }
        let Some(first) = parsed.first() else {
            return Err(CryptoError::NotEnoughShares {
                given: 0,
                threshold: 2,
            });
        };
        let (split_id, threshold) = (first.split_id, first.threshold);
        if parsed.len() < usize::from(threshold) {
            return Err(CryptoError::NotEnoughShares {
                given: parsed.len(),
                threshold,
            });
        }
        let points = parsed
            .iter()
            .map(|p| Share::try_from(p.point.as_slice()))
            .collect::<Result<Vec<Share>, _>>()
            .map_err(|_| CryptoError::CorruptShare { number: 1 })?;
        let secret = Zeroizing::new(Sharks(threshold).recover(&points).map_err(|_| {
            CryptoError::NotEnoughShares {
                given: parsed.len(),
                threshold,
            }
        })?);
        let key = KeyBytes::from_slice(&secret).ok_or(CryptoError::Malformed {
            what: "share",
            reason: "recovered secret is not 32 bytes",
        })?;
        Ok(Self {
            key: RootKey(key),
            split: SplitParams {
                split_id,
                threshold,
                // Unknown from the shares alone; the header keeps the real count.
                shares: threshold,
            },
        })
    }

    /// Shares needed to unseal.
    pub fn threshold(&self) -> u8 {
        self.split.threshold
    }
}

impl RootKeyProvider for ShamirProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Shamir
    }

    fn new_seal(&self) -> Result<(Vec<u8>, RootKey)> {
        Ok((encode_params(self.split), self.key.clone()))
    }

    fn unseal(&self, params: &[u8]) -> Result<RootKey> {
        let split = parse_params(params)?;
        if split.split_id != self.split.split_id || split.threshold != self.split.threshold {
            return Err(CryptoError::SharesForAnotherKeyring);
        }
        Ok(self.key.clone())
    }
}

#[cfg(test)]
impl ShamirProvider {
    pub(crate) fn key_bytes_for_tests(&self) -> [u8; KEY_LEN] {
        *self.key.0.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(shares: &[ShareText]) -> Vec<String> {
        shares.iter().map(|s| s.expose().to_owned()).collect()
    }

    #[test]
    fn any_k_shares_recover_the_key() {
        let (provider, shares) = ShamirProvider::split(3, 5).unwrap();
        let shares = texts(&shares);
        assert!(shares[0].starts_with("rempart-share-1-3-"));
        for combo in [[0, 1, 2], [0, 2, 4], [4, 3, 1]] {
            let picked: Vec<&String> = combo.iter().map(|&i| &shares[i]).collect();
            let back = ShamirProvider::combine(&picked).unwrap();
            assert_eq!(back.key.0.expose(), provider.key.0.expose());
            assert_eq!(back.split.split_id, provider.split.split_id);
        }
    }

    #[test]
    fn typo_is_reported_with_share_number() {
        let (_, shares) = ShamirProvider::split(2, 3).unwrap();
        let mut shares = texts(&shares);
        let mut chars: Vec<char> = shares[1].chars().collect();
        let pos = chars.len() - 10;
        chars[pos] = if chars[pos] == 'A' { 'B' } else { 'A' };
        shares[1] = chars.into_iter().collect();
        let err = ShamirProvider::combine(&shares[..2]).unwrap_err();
        assert!(matches!(err, CryptoError::CorruptShare { number: 2 }));
        assert_eq!(err.to_string(), "wrong or corrupt share 2");
    }

    #[test]
    fn too_few_duplicate_and_mixed_shares_are_refused() {
        let (_, a) = ShamirProvider::split(3, 5).unwrap();
        let (_, b) = ShamirProvider::split(3, 5).unwrap();
        let (a, b) = (texts(&a), texts(&b));
        assert!(matches!(
            ShamirProvider::combine(&a[..2]),
            Err(CryptoError::NotEnoughShares {
                given: 2,
                threshold: 3
            })
        ));
        assert!(matches!(
            ShamirProvider::combine(&[&a[0], &a[1], &a[1]]),
            Err(CryptoError::DuplicateShare { number: 3 })
        ));
        assert!(matches!(
            ShamirProvider::combine(&[&a[0], &a[1], &b[2]]),
            Err(CryptoError::MixedShareSplits { number: 3 })
        ));
    }

    #[test]
    fn shares_of_another_split_do_not_unseal() {
        let (a, _) = ShamirProvider::split(2, 3).unwrap();
        let (b, _) = ShamirProvider::split(2, 3).unwrap();
        let (params, _) = a.new_seal().unwrap();
        assert!(matches!(
            b.unseal(&params),
            Err(CryptoError::SharesForAnotherKeyring)
        ));
    }

    #[test]
    fn invalid_splits_are_refused() {
        assert!(ShamirProvider::split(1, 3).is_err());
        assert!(ShamirProvider::split(4, 3).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let (provider, shares) = ShamirProvider::split(2, 2).unwrap();
        let shown = format!("{provider:?}{shares:?}");
        assert!(!shown.contains("rempart-share"));
    }
}
