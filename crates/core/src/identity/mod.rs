//! Identity and access (controls AC-1, AC-2, AC-5, AC-6, DS-4,
//! CR-1): accounts, passwords, second factors, login with throttling,
//! sessions, API tokens, roles, grants and separation of duties.
//!
//! Every method here is a service-layer method (invariant 1): it checks the
//! caller's grants, acts, and appends its audit event in the same
//! transaction; refusals are recorded in a transaction of their own.
//! Secrets are generated here, shown once, and stored only as hashes
//! (random bearer secrets: SHA-256; passwords: Argon2id) or sealed by the
//! keyring (TOTP secrets).

mod access;
pub(crate) mod auth_cache;
mod authenticate;
pub mod bootstrap;
pub mod error;
pub mod password;
pub(crate) mod totp;
pub(crate) use access::{TOKEN_DEFAULT_LIFETIME, token_cut};
mod accounts;
mod administrators;
mod config;
mod credentials;
mod login;
mod login_key;
pub(crate) mod settings;
mod strength;
mod tenant_access;
pub mod webauthn;

pub use access::{NewGrant, NewRole, NewToken, RoleView};
pub use accounts::NewAccount;
pub use config::{IdentityConfig, SodRule};
pub use credentials::{RecoveryCodes, TotpEnrolment};
pub(crate) use login::SESSION_TOUCH_INTERVAL;
pub use login::{LoginStep, SessionView};
pub use login_key::{LoginKey, LoginKeyError};
pub use settings::Identity;
pub use strength::measure;
pub use tenant_access::TenantAccess;

use rempart_model::{Environment, Permission, PrincipalId, Scope};
use rempart_store::PrincipalRecord;

use crate::identity::error::IdentityError;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Cleared, Gate, Open};
use crate::kernel::liveness::Reach;
use crate::kernel::target::Target;
use crate::kernel::visibility::{Sight, account_not_found};
use crate::service::Rempart;

impl Rempart {
    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

/// The checks identity adds to the gate: a recent proof of identity, an
/// uncut credential, and the lookups of an account or tenant to act on.
impl Rempart {
    /// Sensitive actions from a session need a proof of identity within
    /// `identity.step_up_secs`; refused otherwise (`StepUpRequired`).
    pub(crate) async fn ensure_step_up<'a, M, S>(
        &self,
        gate: Gate<'a, M, S>,
    ) -> Result<Gate<'a, M, S>, ServiceError> {
        let window = self.identity.config.step_up();
        let now = gate.now();
        let recent = gate
            .caller()
            .actor()
            .is_some_and(|actor| actor.recently_authenticated(now, window));
        gate.ensure(recent, "step-up re-authentication needed", || {
            ServiceError::from(IdentityError::StepUpRequired)
        })
        .await
    }

    /// A credential cut to one tenant or to some permissions acts within
    /// that cut only (invariant 8): it changes none of its holder's
    /// sign-in factors, and no other credential of its holder, which are
    /// the holder's whole authority. Refused as `no-escalation`.
    pub(crate) async fn ensure_uncut<'a, M, S>(
        &self,
        gate: Gate<'a, M, S>,
    ) -> Result<Gate<'a, M, S>, ServiceError> {
        let cut = gate
            .caller()
            .actor()
            .is_some_and(|actor| actor.cut().narrows_what());
        if !cut {
            return Ok(gate);
        }
        Err(gate
            .refuse_rule(
                "no-escalation",
                "a credential cut to one tenant or some permissions changes neither its holder's sign-in factors nor its holder's other credentials",
            )
            .await)
    }

    /// The account `id`, once the caller sees it (out of scope, it is not
    /// found; in a crypto-shredded tenant, gone unless the change only
    /// narrows access: `reach`), may do `permission` over it and has proved
    /// identity recently: the lookup, authorization and step-up that every
    /// change of an account starts with, in the gate's transaction.
    pub(crate) async fn account_to_change<'a, M>(
        &self,
        gate: Gate<'a, M, Open>,
        id: PrincipalId,
        permission: Permission,
        reach: Reach,
    ) -> Result<(Gate<'a, M, Cleared>, PrincipalRecord), ServiceError> {
        let (gate, placed) = gate
            .account_in_sight(id, Sight::Account, reach, account_not_found(id))
            .await?;
        let gate = gate
            .authorize(permission, &placed.scope, placed.environment.as_ref())
            .await?;
        let gate = self.ensure_step_up(gate).await?;
        Ok((gate, placed.account))
    }
}

/// [`Gate::authorize`] for a call whose event names no target (a listing),
/// while its refusal names what was asked for (`users`, `roles`).
pub(crate) async fn authorize_naming<'a, M>(
    mut gate: Gate<'a, M, Open>,
    refused: Target,
    permission: Permission,
    scope: &Scope,
    environment: Option<&Environment>,
) -> Result<Gate<'a, M, Cleared>, ServiceError> {
    let now = gate.now();
    let allowed = gate
        .caller()
        .actor()
        .is_some_and(|actor| actor.may(permission, scope, environment, now));
    if !allowed {
        gate.on(refused);
    }
    gate.authorize(permission, scope, environment).await
}
