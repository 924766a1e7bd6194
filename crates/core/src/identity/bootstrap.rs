//! The first administrator: the bootstrap credential issued at first start
//! and exchanged once for the first administrator and its API token.

use rempart_model::bootstrap::{BOOTSTRAP_TTL, BootstrapCredential, BootstrapRefusal};
use rempart_model::{Action, Grant, PrincipalId, PrincipalName, Role, Scope};
use rempart_store::{BootstrapRecord, PrincipalRecord, TokenRecord};
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::identity::error::IdentityError;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Caller, Clearance, Cleared, Gate, Write};
use crate::kernel::secret::{self, SecretKind};
use crate::kernel::target::Target;
use crate::service::Rempart;

/// What first start found or did about the first administrator.
#[derive(Debug)]
pub enum BootstrapStatus {
    /// An administrator exists; nothing to do.
    AdministratorExists,
    /// A credential was issued now; show it once.
    Issued {
        credential: SecretString,
        expires_at: OffsetDateTime,
    },
    /// A credential issued earlier is still valid (it is not shown again).
    Pending { expires_at: OffsetDateTime },
    /// The credential expired unused; `rempart bootstrap --reissue` issues
    /// another.
    Expired { expired_at: OffsetDateTime },
}

/// The first administrator and the API token the exchange yields.
#[derive(Debug)]
pub struct BootstrapResult {
    pub administrator: PrincipalRecord,
    pub token: SecretString,
    /// When the token expires: like every API token, it has a lifetime
    /// (the default, 90 days). The people who administer Rempart are
    /// created with it, and log in with a password and second factor.
    pub token_expires_at: OffsetDateTime,
}

impl Rempart {
    /// At start: issues the bootstrap credential if there is no
    /// administrator and none was issued yet.
    pub async fn ensure_bootstrap(&self) -> Result<BootstrapStatus, ServiceError> {
        let call = Call::system(Action::BootstrapIssue);
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Internal);
        if gate.read().count_principals().await? > 0 {
            return Ok(BootstrapStatus::AdministratorExists);
        }
        let now = gate.now();
        match gate.read().latest_bootstrap().await? {
            Some(latest) if latest.used_at.is_none() && now < latest.expires_at => {
                Ok(BootstrapStatus::Pending {
                    expires_at: latest.expires_at,
                })
            }
            Some(latest) if latest.used_at.is_none() => Ok(BootstrapStatus::Expired {
                expired_at: latest.expires_at,
            }),
            _ => self.issue_bootstrap(gate).await,
        }
    }

    /// Issues a new bootstrap credential while there is still no
    /// administrator (the offline recovery of a lost or expired one).
    pub async fn reissue_bootstrap(&self) -> Result<BootstrapStatus, ServiceError> {
        let call = Call::system(Action::BootstrapIssue);
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Internal);
        if gate.read().count_principals().await? > 0 {
            return Ok(BootstrapStatus::AdministratorExists);
        }
        self.issue_bootstrap(gate).await
    }

    async fn issue_bootstrap(
        &self,
        mut gate: Gate<'_, Write, Cleared>,
    ) -> Result<BootstrapStatus, ServiceError> {
        let now = gate.now();
        let credential = secret::generate(SecretKind::Bootstrap)?;
        let record = BootstrapRecord {
            id: self.kernel.clock.new_id(),
            hash: secret::fingerprint(&credential),
            created_at: now,
            expires_at: now + BOOTSTRAP_TTL,
            used_at: None,
        };
        gate.tx().insert_bootstrap(&record).await?;
        gate.on(Target::Bootstrap(record.id));
        gate.commit().await?;
        Ok(BootstrapStatus::Issued {
            credential,
            expires_at: record.expires_at,
        })
    }

    /// Exchanges the bootstrap credential for the first administrator and
    /// its first API token. Single use: a second exchange is refused.
    pub async fn exchange_bootstrap(
        &self,
        ctx: &RequestContext,
        credential: &SecretString,
        administrator: PrincipalName,
    ) -> Result<BootstrapResult, ServiceError> {
        let call = Call::new(Caller::Anonymous, ctx, Action::BootstrapExchange);
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Credential);
        let now = gate.now();
        let found = gate
            .read()
            .bootstrap_by_hash(&secret::fingerprint(credential))
            .await?;
        let refusal = match found {
            None => Some(BootstrapRefusal::Unknown),
            Some(record) => {
                let state = BootstrapCredential {
                    expires_at: record.expires_at,
                    used_at: record.used_at,
                };
                match state.check(now) {
                    Err(refusal) => Some(refusal),
                    Ok(()) if !gate.tx().mark_bootstrap_used(record.id, now).await? => {
                        Some(BootstrapRefusal::AlreadyUsed)
                    }
                    Ok(()) if gate.read().count_principals().await? > 0 => {
                        Some(BootstrapRefusal::AlreadyUsed)
                    }
                    Ok(()) => None,
                }
            }
        };
        if let Some(refusal) = refusal {
            let answer = IdentityError::BootstrapRefused(refusal);
            return Err(gate.refuse(&refusal.to_string(), answer).await);
        }
        let principal =
            PrincipalRecord::staff(PrincipalId(self.kernel.clock.new_id()), administrator, now);
        let tx = gate.tx();
        tx.insert_principal(&principal).await?;
        let grant = Grant::of(Role::SecurityAdmin, Scope::Global, None);
        tx.insert_grant(self.kernel.clock.new_id(), principal.id, &grant, now)
            .await?;
        let token = secret::generate(SecretKind::ApiToken)?;
        let token_expires_at = now + crate::identity::TOKEN_DEFAULT_LIFETIME;
        tx.insert_token(&TokenRecord {
            expires_at: Some(token_expires_at),
            ..TokenRecord::unrestricted(
                self.kernel.clock.new_id(),
                principal.id,
                secret::fingerprint(&token),
                "bootstrap",
                now,
            )
        })
        .await?;
        // The credential proved: the first administrator is made by it.
        gate.by(Caller::Bootstrap);
        gate.on(Target::Principal(principal.id));
        gate.commit().await?;
        Ok(BootstrapResult {
            administrator: principal,
            token,
            token_expires_at,
        })
    }
}
