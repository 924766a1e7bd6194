//! Root key from a passphrase, stretched with Argon2id.
//!
//! The root key is `Argon2id(passphrase, salt, m, t, p)` with a 32-byte
//! output (Argon2 version 0x13). The salt (16 random bytes, new at each
//! `new_seal`) and the costs are stored in the keyring header. Defaults are
//! 64 MiB, t = 3, p = 1; tests pass smaller costs. Invariant: the header
//! costs are capped on read so a tampered header cannot make unsealing
//! exhaust memory or time.

use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{CryptoError, Result};
use crate::root_key::{ProviderKind, RootKeyProvider};
use crate::secret::{KEY_LEN, KeyBytes, RootKey};
use crate::wire::Reader;

const SALT_LEN: usize = 16;
const ARGON2_VERSION: u8 = 0x13;
/// Highest memory cost accepted from a header: 4 GiB.
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
/// Highest time cost accepted from a header.
const MAX_T_COST: u32 = 64;
/// Highest parallelism accepted from a header.
const MAX_P_COST: u32 = 64;

/// Argon2id costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// Validates costs (any the argon2 crate accepts, within the read caps).
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self> {
        let params = Self {
            m_cost_kib,
            t_cost,
            p_cost,
        };
        params.argon2()?;
        if m_cost_kib > MAX_M_COST_KIB || t_cost > MAX_T_COST || p_cost > MAX_P_COST {
            return Err(CryptoError::InvalidKdfParameters {
                reason: format!(
                    "costs above the caps (m <= {MAX_M_COST_KIB} KiB, t <= {MAX_T_COST}, p <= {MAX_P_COST})"
                ),
            });
        }
        Ok(params)
    }

    fn argon2(self) -> Result<Argon2<'static>> {
        let params = Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(KEY_LEN))
            .map_err(|e| CryptoError::InvalidKdfParameters {
                reason: e.to_string(),
            })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for KdfParams {
    /// 64 MiB, t = 3, p = 1.
    fn default() -> Self {
        Self {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

/// A root key derived from a passphrase.
#[derive(Debug)]
pub struct PassphraseProvider {
    passphrase: SecretString,
    params: KdfParams,
}

impl PassphraseProvider {
    /// `params` apply to new seals; unsealing uses the header's.
    pub fn new(passphrase: SecretString, params: KdfParams) -> Self {
        Self { passphrase, params }
    }

    fn derive(&self, params: KdfParams, salt: &[u8]) -> Result<RootKey> {
        let mut bytes = zeroize::Zeroizing::new([0u8; KEY_LEN]);
        params
            .argon2()?
            .hash_password_into(
                self.passphrase.expose_secret().as_bytes(),
                salt,
                bytes.as_mut_slice(),
            )
            .map_err(|e| CryptoError::InvalidKdfParameters {
                reason: e.to_string(),
            })?;
        Ok(RootKey(KeyBytes::from_array(*bytes)))
    }
}

/// Encodes the header parameters.
pub(crate) fn encode_params(params: KdfParams, salt: &[u8; SALT_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(13 + SALT_LEN + 1);
    out.push(ARGON2_VERSION);
    out.extend_from_slice(&params.m_cost_kib.to_be_bytes());
    out.extend_from_slice(&params.t_cost.to_be_bytes());
    out.extend_from_slice(&params.p_cost.to_be_bytes());
    out.push(u8::try_from(SALT_LEN).unwrap_or(u8::MAX));
    out.extend_from_slice(salt);
    out
}

/// Decodes and validates the header parameters.
pub(crate) fn parse_params(bytes: &[u8]) -> Result<(KdfParams, Vec<u8>)> {
    let mut reader = Reader::new(bytes, "passphrase parameters");
    reader.version_byte("Argon2", ARGON2_VERSION)?;
    let (m, t, p) = (reader.u32()?, reader.u32()?, reader.u32()?);
    let params = KdfParams::new(m, t, p)?;
    let salt_len = usize::from(reader.u8()?);
    if !(8..=64).contains(&salt_len) {
        return Err(CryptoError::Malformed {
            what: "passphrase parameters",
            reason: "salt length outside 8..=64",
        });
    }
    let salt = reader.take(salt_len)?.to_vec();
    reader.finish()?;
    Ok((params, salt))
}

impl RootKeyProvider for PassphraseProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Passphrase
    }

    fn new_seal(&self) -> Result<(Vec<u8>, RootKey)> {
        let mut salt = [0u8; SALT_LEN];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| CryptoError::RandomUnavailable)?;
        let key = self.derive(self.params, &salt)?;
        Ok((encode_params(self.params, &salt), key))
    }

    fn unseal(&self, params: &[u8]) -> Result<RootKey> {
        let (kdf, salt) = parse_params(params)?;
        self.derive(kdf, &salt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fast() -> KdfParams {
        KdfParams::new(64, 1, 1).unwrap()
    }

    #[test]
    fn same_passphrase_and_params_give_same_key() {
        let provider = PassphraseProvider::new("correct horse".into(), fast());
        let (params, key) = provider.new_seal().unwrap();
        let again = provider.unseal(&params).unwrap();
        assert_eq!(key.0.expose(), again.0.expose());
        let other = PassphraseProvider::new("wrong horse".into(), fast());
        assert_ne!(other.unseal(&params).unwrap().0.expose(), key.0.expose());
    }

    #[test]
    fn params_round_trip_and_caps() {
        let bytes = encode_params(KdfParams::default(), &[9; SALT_LEN]);
        let (params, salt) = parse_params(&bytes).unwrap();
        assert_eq!(params, KdfParams::default());
        assert_eq!(salt, [9; SALT_LEN]);
        let huge = encode_params(
            KdfParams {
                m_cost_kib: u32::MAX,
                t_cost: 3,
                p_cost: 1,
            },
            &[9; SALT_LEN],
        );
        assert!(matches!(
            parse_params(&huge),
            Err(CryptoError::InvalidKdfParameters { .. })
        ));
        assert!(parse_params(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn default_is_64_mib_t3() {
        let d = KdfParams::default();
        assert_eq!((d.m_cost_kib, d.t_cost, d.p_cost), (65536, 3, 1));
    }
}
