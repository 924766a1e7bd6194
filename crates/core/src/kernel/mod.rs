//! The kernel every domain shares: the store, the clock, the audit chain,
//! the keyring, and the gate.
//!
//! A domain reaches the database in two ways only. A write goes through
//! [`Kernel::write`] (or the read twin [`Kernel::audited_read`] for reads
//! that must leave an audit event): the [`Gate`] opens the transaction,
//! authorizes inside it, records a refusal, and appends the audit event
//! when it commits. Reads that need no audit event (authentication, the
//! checks' own lookups) take [`Kernel::read`], whose type has no write
//! method. The store itself is private to this module: a domain cannot
//! open a write transaction without passing the gate.

pub mod actor;
pub mod audit_chain;
pub mod bookkeeping;
pub mod clock;
pub mod context;
pub mod details;
pub mod envelopes;
pub mod error;
pub mod gate;
pub mod keyring;
pub(crate) mod liveness;
pub mod secret;
pub mod signing_key;
pub mod target;
pub(crate) mod visibility;

use std::sync::Arc;

use rempart_store::{ReadTx, Store, StoreError};

pub use gate::{Caller, Cleared, Gate, Open, Read, Write};
pub use target::Target;

use self::audit_chain::AuditChain;
use self::clock::Clock;
use self::error::ServiceError;
use self::keyring::KeyVault;

/// The shared services under every domain.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// Private to the kernel: a domain reaches it through the gate, a read
    /// transaction or the named bookkeeping writes only.
    store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<AuditChain>,
    /// The keyring; unconfigured (sealed) until set.
    pub(crate) keys: Arc<KeyVault>,
}

impl Kernel {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            audit: Arc::new(AuditChain::default()),
            keys: Arc::new(KeyVault::unconfigured()),
        }
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn keys(&self) -> &KeyVault {
        &self.keys
    }

    pub fn audit_chain(&self) -> &AuditChain {
        &self.audit
    }

    /// A transaction that only reads, for lookups that leave no audit
    /// event (authentication, the checks' evidence, a refusal's answer).
    pub async fn read(&self) -> Result<Box<dyn ReadTx>, ServiceError> {
        Ok(self.store.begin_read().await?)
    }

    /// The auth epoch: what a cached authentication is trusted under
    /// (see the store's `auth_epoch`).
    pub async fn auth_epoch(&self) -> Result<u64, ServiceError> {
        Ok(self.store.auth_epoch().await?)
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }
}
