//! The first administrator: the bootstrap credential issued at first start
//! and exchanged once for the first administrator and its API token.

use rempart_model::bootstrap::{BOOTSTRAP_TTL, BootstrapCredential, BootstrapRefusal};
use rempart_model::{Action, Grant, Outcome, PrincipalId, PrincipalName, Role, Scope};
use rempart_store::{BootstrapRecord, PrincipalRecord, TokenRecord};
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::kernel::audit_chain::Draft;
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::secret::{self, SecretKind};
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
        let now = self.kernel.clock.now();
        let mut tx = self.kernel.store.begin().await?;
        if tx.count_principals().await? > 0 {
            return Ok(BootstrapStatus::AdministratorExists);
        }
        match tx.latest_bootstrap().await? {
            Some(latest) if latest.used_at.is_none() && now < latest.expires_at => {
                Ok(BootstrapStatus::Pending {
                    expires_at: latest.expires_at,
                })
            }
            Some(latest) if latest.used_at.is_none() => Ok(BootstrapStatus::Expired {
                expired_at: latest.expires_at,
            }),
            _ => {
                let (credential, expires_at) = self.issue_bootstrap(tx.as_mut(), now).await?;
                tx.commit().await?;
                Ok(BootstrapStatus::Issued {
                    credential,
                    expires_at,
                })
            }
        }
    }

    /// Issues a new bootstrap credential while there is still no
    /// administrator (the offline recovery of a lost or expired one).
    pub async fn reissue_bootstrap(&self) -> Result<BootstrapStatus, ServiceError> {
        let now = self.kernel.clock.now();
        let mut tx = self.kernel.store.begin().await?;
        if tx.count_principals().await? > 0 {
            return Ok(BootstrapStatus::AdministratorExists);
        }
        let (credential, expires_at) = self.issue_bootstrap(tx.as_mut(), now).await?;
        tx.commit().await?;
        Ok(BootstrapStatus::Issued {
            credential,
            expires_at,
        })
    }

    async fn issue_bootstrap(
        &self,
        tx: &mut dyn rempart_store::Tx,
        now: OffsetDateTime,
    ) -> Result<(SecretString, OffsetDateTime), ServiceError> {
        let credential = secret::generate(SecretKind::Bootstrap)?;
        let record = BootstrapRecord {
            id: self.kernel.clock.new_id(),
            hash: secret::fingerprint(&credential),
            created_at: now,
            expires_at: now + BOOTSTRAP_TTL,
            used_at: None,
        };
        tx.insert_bootstrap(&record).await?;
        let draft = Draft::new("system", Action::BootstrapIssue, Outcome::Success)
            .target(format!("bootstrap:{}", record.id));
        self.kernel
            .audit
            .append(tx, &RequestContext::system(), now, draft)
            .await?;
        Ok((credential, record.expires_at))
    }

    /// Exchanges the bootstrap credential for the first administrator and
    /// its first API token. Single use: a second exchange is refused.
    pub async fn exchange_bootstrap(
        &self,
        ctx: &RequestContext,
        credential: &SecretString,
        administrator: PrincipalName,
    ) -> Result<BootstrapResult, ServiceError> {
        let now = self.kernel.clock.now();
        let mut tx = self.kernel.store.begin().await?;
        let refusal = match tx
            .bootstrap_by_hash(&secret::fingerprint(credential))
            .await?
        {
            None => Some(BootstrapRefusal::Unknown),
            Some(record) => {
                let state = BootstrapCredential {
                    expires_at: record.expires_at,
                    used_at: record.used_at,
                };
                match state.check(now) {
                    Err(refusal) => Some(refusal),
                    Ok(()) if !tx.mark_bootstrap_used(record.id, now).await? => {
                        Some(BootstrapRefusal::AlreadyUsed)
                    }
                    Ok(()) if tx.count_principals().await? > 0 => {
                        Some(BootstrapRefusal::AlreadyUsed)
                    }
                    Ok(()) => None,
                }
            }
        };
        if let Some(refusal) = refusal {
            drop(tx);
            let draft = Draft::new("anonymous", Action::BootstrapExchange, Outcome::Denied)
                .details(crate::kernel::details::Details::reason(refusal.to_string()));
            self.refuse_with_details(ctx, now, draft).await?;
            return Err(ServiceError::BootstrapRefused(refusal));
        }

        let principal =
            PrincipalRecord::staff(PrincipalId(self.kernel.clock.new_id()), administrator, now);
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
        let draft = Draft::new("bootstrap", Action::BootstrapExchange, Outcome::Success)
            .target(format!("principal:{}", principal.id));
        self.kernel
            .audit
            .append(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(BootstrapResult {
            administrator: principal,
            token,
            token_expires_at,
        })
    }
}
