//! Rempart's application core: services that authorize, act and audit.
//!
//! [`Rempart`] is the service layer of invariant 1: every state change goes
//! through one of its methods, which checks the caller's grants (invariant
//! 2), performs the change and appends the audit event in one transaction.
//! It does not speak HTTP; the server and the CLI call it.

pub mod actor;
pub mod audit_details;
pub mod audit_key;
pub mod audit_log;
pub mod audit_service;
pub mod audit_ship;
mod auth_cache;
pub mod clock;
pub mod config;
pub mod context;
pub mod controls;
pub mod error;
pub mod identity;
pub mod keys;
pub mod password;
pub mod secret;
pub mod service;
pub mod totp;
mod visibility;

pub use actor::{Actor, Credential};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use context::{RequestContext, Transport};
pub use error::ServiceError;
pub use service::{BootstrapResult, BootstrapStatus, Rempart};
