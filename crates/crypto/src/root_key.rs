//! Where the root key comes from: the provider trait and the seal header.
//!
//! A provider turns what the operator holds (a key file, a passphrase, k of
//! n shares; later an external KMS) into the 32-byte root key that opens the
//! sealed keyring body. Each provider stores its public parameters (salt,
//! Argon2id costs, split id) in the keyring header, which is bound as AEAD
//! associated data, so a tampered header fails to open like a wrong key.
//! Invariant: a provider never writes secret material into its parameters.

use std::fmt;

use crate::error::{CryptoError, Result};
use crate::passphrase::KdfParams;
use crate::secret::RootKey;

/// The kind of root-key source, stored as one byte in the keyring header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProviderKind {
    /// A 32-byte key in a file with mode 0600.
    KeyFile,
    /// A passphrase stretched by Argon2id.
    Passphrase,
    /// k-of-n Shamir shares of the root key.
    Shamir,
}

impl ProviderKind {
    /// The header code.
    pub fn code(self) -> u8 {
        match self {
            Self::KeyFile => 1,
            Self::Passphrase => 2,
            Self::Shamir => 3,
        }
    }

    /// The kind for a header code.
    pub fn from_code(code: u8) -> Result<Self> {
        match code {
            1 => Ok(Self::KeyFile),
            2 => Ok(Self::Passphrase),
            3 => Ok(Self::Shamir),
            kind => Err(CryptoError::UnknownRootKeyProvider { kind }),
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::KeyFile => "key file",
            Self::Passphrase => "passphrase",
            Self::Shamir => "set of Shamir shares",
        })
    }
}

/// A source of the root key.
///
/// Implementations must be deterministic for `unseal`: the same parameters
/// and the same operator input give the same root key.
pub trait RootKeyProvider {
    /// Which kind of provider this is.
    fn kind(&self) -> ProviderKind;

    /// Starts a new seal: returns the public parameters to store in the
    /// header and the root key to seal the body with.
    fn new_seal(&self) -> Result<(Vec<u8>, RootKey)>;

    /// Recovers the root key from the parameters stored in the header.
    fn unseal(&self, params: &[u8]) -> Result<RootKey>;
}

/// How a keyring is sealed, readable without the root key (no secrets).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealDescription {
    /// Sealed with a key file.
    KeyFile,
    /// Sealed with a passphrase; the Argon2id costs.
    Passphrase {
        /// The Argon2id costs stored in the header.
        kdf: KdfParams,
    },
    /// Sealed with Shamir shares.
    Shamir {
        /// Shares needed to unseal.
        threshold: u8,
        /// Shares handed out.
        shares: u8,
    },
}

impl SealDescription {
    pub(crate) fn from_header(kind: ProviderKind, params: &[u8]) -> Result<Self> {
        Ok(match kind {
            ProviderKind::KeyFile => Self::KeyFile,
            ProviderKind::Passphrase => Self::Passphrase {
                kdf: crate::passphrase::parse_params(params)?.0,
            },
            ProviderKind::Shamir => {
                let split = crate::shamir::parse_params(params)?;
                Self::Shamir {
                    threshold: split.threshold,
                    shares: split.shares,
                }
            }
        })
    }
}
