//! Never lock the organisation out (control AC-2): a change that
//! would leave no active account administering access for good — holding
//! `grant.manage` and `user.update` staff-wide through grants without an
//! expiry ([`rempart_model::authority::administrators`]) — is refused with
//! the rule `last-administrator`.
//!
//! The check runs inside the write transaction that would make the
//! change, after locking every administrator's account row, so that two
//! concurrent removals of the last two administrators cannot both pass.

use rempart_model::PrincipalId;
use rempart_model::authority::administrators;
use rempart_store::{PrincipalState, Tx};
use uuid::Uuid;

use crate::kernel::error::ServiceError;
use crate::service::Rempart;

/// What a change takes away.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Removal {
    /// One grant (revoked).
    Grant(Uuid),
    /// A whole account (suspended or terminated).
    Account(PrincipalId),
}

impl Rempart {
    /// Whether `removal` would take away the last administrator, read in
    /// `tx` (a write transaction) once the administrators' rows are locked.
    pub(crate) async fn removes_last_administrator(
        &self,
        tx: &mut dyn Tx,
        removal: Removal,
    ) -> Result<bool, ServiceError> {
        // Lock first (in one order: no deadlock between two removals), then
        // read again: a removal that committed meanwhile is seen.
        let candidates = administrators(
            tx.global_grant_records()
                .await?
                .iter()
                .map(|g| (g.principal, &g.grant)),
        );
        for principal in &candidates {
            tx.lock_principal(*principal).await?;
        }
        let grants = tx.global_grant_records().await?;
        let before = administrators(grants.iter().map(|g| (g.principal, &g.grant)));
        let after = administrators(
            grants
                .iter()
                .filter(|g| match removal {
                    Removal::Grant(id) => g.id != id,
                    Removal::Account(principal) => g.principal != principal,
                })
                .map(|g| (g.principal, &g.grant)),
        );
        let mut active_before = 0_usize;
        let mut active_after = 0_usize;
        for principal in &before {
            let active = tx
                .principal(*principal)
                .await?
                .is_some_and(|p| p.state == PrincipalState::Active);
            if active {
                active_before += 1;
                if after.contains(principal) {
                    active_after += 1;
                }
            }
        }
        // Only a change that removes an administrator is refused: with none
        // left already, other changes still go through.
        Ok(active_before > 0 && active_after == 0)
    }
}
