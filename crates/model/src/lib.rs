//! Rempart's domain: the types and rules every other layer shares.
//!
//! This crate is pure. It does no I/O, no async, and never reads the clock:
//! a rule that depends on "now" takes the time as an argument (invariant 6),
//! so that expiry and deadlines are tested without waiting.

pub mod allow_list;
pub mod audit;
pub mod authority;
pub mod bootstrap;
pub mod control;
pub mod environment;
pub mod grant_index;
mod newtype;
pub mod password_policy;
pub mod permission;
pub mod principal;
mod redaction;
pub mod role;
pub mod tenant;
pub mod vault;

pub use allow_list::{AllowList, AllowListError};
pub use audit::{Action, Outcome};
pub use authority::{Cut, Excess, Uncovered};
pub use environment::{Environment, EnvironmentError};
pub use permission::{Permission, PermissionSet};
pub use principal::{PrincipalId, PrincipalName, PrincipalNameError};
pub use role::{Grant, Role, RoleName, RoleNameError, Scope, is_allowed};
pub use tenant::{NewTenant, Region, RegionError, Tenant, TenantId, TenantName, TenantNameError};
