//! Identity storage: accounts, grants and custom roles, API tokens, the
//! bootstrap credential, sessions, password hashes and history, TOTP
//! credentials (sealed by the keyring before they arrive here) and
//! recovery codes, login throttling, tenants' own access settings, and
//! WebAuthn credentials and ceremonies. The records are in `records.rs`;
//! each feature's SQL text, row mapping, and read and write traits are in
//! `tx.rs`, one section per feature.
//!
//! [`IdentityReadTx`] gathers the reads and is a supertrait of
//! [`ReadTx`](crate::ReadTx); [`IdentityTx`] gathers the writes and is a
//! supertrait of [`Tx`](crate::Tx): the same transaction carries identity
//! changes and their audit event. The changes that end or narrow what a
//! cached authentication holds mark their statements, and the commit moves
//! the auth epoch (the private `engine` module documents the one place).

mod records;
mod tx;

pub use records::{
    AccountFilter, AccountKind, BootstrapRecord, CeremonyKind, GrantRecord, PasswordRecord,
    PrincipalRecord, PrincipalState, RoleRecord, SessionRecord, SessionStage, TenantAccessRecord,
    ThrottleRecord, TokenRecord, TotpRecord, WebauthnCeremonyRecord, WebauthnCredentialRecord,
};
pub use tx::{
    AccountReadTx, AccountTx, BootstrapReadTx, BootstrapTx, GrantReadTx, GrantTx, PasswordReadTx,
    PasswordTx, SessionReadTx, SessionTx, TenantAccessReadTx, TenantAccessTx, ThrottleReadTx,
    ThrottleTx, TokenReadTx, TokenTx, TotpReadTx, TotpTx, WebauthnReadTx, WebauthnTx,
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
