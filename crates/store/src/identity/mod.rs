//! Identity storage: accounts, grants and custom roles, API tokens, the
//! bootstrap credential, sessions, password hashes and history, TOTP
//! credentials (sealed by the keyring before they arrive here) and
//! recovery codes, login throttling, tenants' own access settings, and
//! WebAuthn credentials and ceremonies. One file per feature, each with
//! its records, its read and write traits, its SQL and its row mapping.
//!
//! [`IdentityReadTx`] gathers the reads and is a supertrait of
//! [`ReadTx`](crate::ReadTx); [`IdentityTx`] gathers the writes and is a
//! supertrait of [`Tx`](crate::Tx): the same transaction carries identity
//! changes and their audit event. The changes that end or narrow what a
//! cached authentication holds mark their statements, and the commit moves
//! the auth epoch ([`engine`](crate::engine) documents the one place).

mod accounts;
mod bootstrap;
mod grants;
mod passwords;
mod sessions;
mod tenant_access;
mod throttle;
mod tokens;
mod totp;
mod webauthn;

pub use accounts::{
    AccountFilter, AccountKind, AccountReadTx, AccountTx, PrincipalRecord, PrincipalState,
};
pub use bootstrap::{BootstrapReadTx, BootstrapRecord, BootstrapTx};
pub use grants::{GrantReadTx, GrantRecord, GrantTx, RoleRecord};
pub use passwords::{PasswordReadTx, PasswordRecord, PasswordTx};
pub use sessions::{SessionReadTx, SessionRecord, SessionStage, SessionTx};
pub use tenant_access::{TenantAccessReadTx, TenantAccessRecord, TenantAccessTx};
pub use throttle::{ThrottleReadTx, ThrottleRecord, ThrottleTx};
pub use tokens::{TokenReadTx, TokenRecord, TokenTx};
pub use totp::{TotpReadTx, TotpRecord, TotpTx};
pub use webauthn::{
    CeremonyKind, WebauthnCeremonyRecord, WebauthnCredentialRecord, WebauthnReadTx, WebauthnTx,
};

use crate::engine::{Db, EngineTx};

/// The identity reads of a transaction (see [`crate::ReadTx`]).
pub trait IdentityReadTx:
    AccountReadTx
    + BootstrapReadTx
    + GrantReadTx
    + PasswordReadTx
    + SessionReadTx
    + TenantAccessReadTx
    + ThrottleReadTx
    + TokenReadTx
    + TotpReadTx
    + WebauthnReadTx
{
}

/// The identity writes of a write transaction (see [`crate::Tx`]).
pub trait IdentityTx:
    IdentityReadTx
    + AccountTx
    + BootstrapTx
    + GrantTx
    + PasswordTx
    + SessionTx
    + TenantAccessTx
    + ThrottleTx
    + TokenTx
    + TotpTx
    + WebauthnTx
{
}

impl<D: Db> IdentityReadTx for EngineTx<D> {}
impl<D: Db> IdentityTx for EngineTx<D> {}
