//! [`Rempart`]: the facade the server, the CLI and the scheduler call.
//!
//! It holds the [`Kernel`] and each domain's own state; the methods live
//! in the domains' folders (`tenants/`, `identity/`, `keys/`, `audit/`,
//! `controls/`), each an `impl Rempart` block that reaches the database
//! only through the kernel's gate. Each method authorizes, acts, and
//! appends its audit event in the same transaction. A refused attempt
//! changes nothing and is recorded as a refusal in its own transaction; a
//! failed one (bad input, a conflict) rolls back and leaves neither change
//! nor event. None of the callers touches the store directly.

use std::sync::Arc;

use rempart_store::{Store, StoreError};

use crate::kernel::Kernel;
use crate::kernel::clock::Clock;

/// Rempart's services, over one store and one clock.
#[derive(Debug, Clone)]
pub struct Rempart {
    /// The store, clock, audit chain and keyring, behind the gate.
    pub(crate) kernel: Kernel,
    /// Identity settings and the password hasher.
    pub(crate) identity: Arc<crate::identity::settings::Identity>,
    /// Authentication results of this replica, valid while the database's
    /// auth epoch does not move.
    pub(crate) auth_cache: Arc<crate::identity::auth_cache::AuthCache>,
    /// How this replica is deployed, for the control checks.
    pub(crate) deployment: Arc<crate::controls::deployment::Deployment>,
}

impl Rempart {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            kernel: Kernel::new(store, clock),
            identity: Arc::new(crate::identity::settings::Identity::default()),
            auth_cache: Arc::default(),
            deployment: Arc::default(),
        }
    }

    /// Tells the control checks how this replica is deployed.
    #[must_use]
    pub fn with_deployment(mut self, deployment: crate::controls::deployment::Deployment) -> Self {
        self.deployment = Arc::new(deployment);
        self
    }

    /// Uses these identity settings (the configuration's, or cheap hashing
    /// in tests).
    #[must_use]
    pub fn with_identity(mut self, identity: crate::identity::settings::Identity) -> Self {
        self.identity = Arc::new(identity);
        self
    }

    pub fn clock(&self) -> &dyn Clock {
        self.kernel.clock()
    }

    /// Whether the database answers (readiness).
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.kernel.ping().await
    }

    /// Chains the pending audit events, then closes the store; in-flight
    /// transactions finish first.
    pub async fn close(&self) {
        if let Err(e) = self.drain_audit().await {
            tracing::warn!(error = %e, "pending audit events not chained; the next start chains them");
        }
        self.kernel.close(false).await;
    }
}
