//! Rempart's application core: a small kernel and one service per domain.
//!
//! The [`kernel`] holds what every domain shares: the store, the clock, the
//! audit chain, the keyring, and the gate ([`kernel::gate`]) through which
//! every state change passes: it opens the write transaction, authorizes
//! inside it, records a refusal the same way everywhere, runs the domain's
//! body, appends the audit event and commits (invariants 1 and 2).
//!
//! Each domain is a folder: [`tenants`], [`identity`], [`keys`], [`audit`],
//! [`controls`]. A domain uses the kernel and `rempart_model`, and another
//! domain only through that domain's service methods. [`Rempart`] is the
//! facade the server and the CLI call; it does not speak HTTP.
//! `docs/architecture.md` describes the layers and the recipe for a new
//! domain.

pub mod audit;
pub mod config;
pub mod controls;
pub mod identity;
pub mod kernel;
pub mod keys;
pub mod service;
pub mod tenants;
pub mod vault;

pub use config::Config;
pub use identity::bootstrap::{BootstrapResult, BootstrapStatus};
pub use kernel::actor::{Actor, Credential};
pub use kernel::clock::{self, Clock, ManualClock, SystemClock};
pub use kernel::context::{RequestContext, Transport};
pub use kernel::error::ServiceError;
pub use kernel::secret;
pub use service::Rempart;
