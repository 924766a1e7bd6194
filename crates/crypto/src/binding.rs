//! What a data key and its ciphertexts are bound to: environment, tenant and
//! purpose.
//!
//! Invariant 4: the binding is encoded into the AEAD associated data of every
//! wrapped data key and every envelope, so a ciphertext moved to another
//! environment, tenant, purpose or record no longer decrypts. The encoding is
//! length-prefixed, hence injective: two different bindings never encode to
//! the same bytes.

use uuid::Uuid;

use crate::environment::Environment;
use crate::error::{CryptoError, Result};
use crate::wire::{Reader, put_short};

/// A purpose label such as `vault:customers.email`: 1 to 255 visible ASCII
/// characters (0x21 to 0x7e).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Purpose(String);

impl Purpose {
    /// Validates a purpose label.
    pub fn new(purpose: &str) -> Result<Self> {
        let valid =
            (1..=255).contains(&purpose.len()) && purpose.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(purpose.to_owned()))
        } else {
            Err(CryptoError::InvalidPurpose {
                purpose: purpose.chars().take(64).collect(),
            })
        }
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a data key belongs: environment, tenant (or none for platform data)
/// and purpose.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Binding {
    /// The environment whose key-encryption keys wrap the data key.
    pub environment: Environment,
    /// The tenant owning the data, or `None` for platform-wide data.
    pub tenant: Option<Uuid>,
    /// What the key encrypts.
    pub purpose: Purpose,
}

impl Binding {
    /// A binding.
    pub fn new(environment: Environment, tenant: Option<Uuid>, purpose: Purpose) -> Self {
        Self {
            environment,
            tenant,
            purpose,
        }
    }

    /// Appends the canonical encoding (see docs/formats/envelope.md).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_short(out, self.environment.as_str().as_bytes());
        match self.tenant {
            None => out.push(0),
            Some(tenant) => {
                out.push(1);
                out.extend_from_slice(tenant.as_bytes());
            }
        }
        put_short(out, self.purpose.as_str().as_bytes());
    }

    pub(crate) fn decode(reader: &mut Reader<'_>) -> Result<Self> {
        let malformed = |reason| CryptoError::Malformed {
            what: "binding",
            reason,
        };
        let len = usize::from(reader.u8()?);
        let environment = std::str::from_utf8(reader.take(len)?)
            .ok()
            .and_then(|name| Environment::new(name).ok())
            .ok_or(malformed("invalid environment name"))?;
        let tenant = match reader.u8()? {
            0 => None,
            1 => Some(Uuid::from_bytes(reader.array()?)),
            _ => return Err(malformed("invalid tenant tag")),
        };
        let len = usize::from(reader.u8()?);
        let purpose = std::str::from_utf8(reader.take(len)?)
            .ok()
            .and_then(|p| Purpose::new(p).ok())
            .ok_or(malformed("invalid purpose"))?;
        Ok(Self {
            environment,
            tenant,
            purpose,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        for tenant in [None, Some(Uuid::from_u128(7))] {
            let binding = Binding::new(
                Environment::production(),
                tenant,
                Purpose::new("vault:customers.email").unwrap(),
            );
            let mut bytes = Vec::new();
            binding.encode(&mut bytes);
            let mut reader = Reader::new(&bytes, "binding");
            assert_eq!(Binding::decode(&mut reader).unwrap(), binding);
            reader.finish().unwrap();
        }
    }

    #[test]
    fn purpose_is_validated() {
        assert!(Purpose::new("").is_err());
        assert!(Purpose::new("a b").is_err());
        assert!(Purpose::new(&"p".repeat(256)).is_err());
        assert!(Purpose::new(&"p".repeat(255)).is_ok());
    }
}
