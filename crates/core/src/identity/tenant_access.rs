//! Each tenant's own access settings (controls AC-1, AC-5, NS-3): a
//! password policy that can only tighten the staff-wide baseline (the
//! strictest rule of the two wins), the networks its users may come from,
//! and whether they must use a second factor.

use rempart_model::password_policy::PasswordPolicy;
use rempart_model::{Action, AllowList, Outcome, Permission, PrincipalId, Scope, TenantId};
use rempart_store::{AccountKind, PasswordRecord, PrincipalRecord, ReadTx, TenantAccessRecord};
use time::OffsetDateTime;

use crate::identity::error::IdentityError;
use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Caller};
use crate::kernel::target::Target;
use crate::service::Rempart;

/// A tenant's access settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantAccess {
    /// Combined with the baseline (`[password]`), rule by rule, strictest
    /// first; `None`: the baseline alone.
    pub password_policy: Option<PasswordPolicy>,
    /// The networks the tenant's users may log in and use credentials
    /// from; `None`: any.
    pub allow_list: Option<AllowList>,
    /// Every user of the tenant must use a second factor.
    pub require_mfa: bool,
}

impl TenantAccess {
    fn from_record(record: &TenantAccessRecord) -> Result<Self, ServiceError> {
        let corrupt = |what: &str| ServiceError::AuditLog(format!("stored tenant access: {what}"));
        Ok(Self {
            password_policy: record
                .password_policy
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| corrupt("password policy"))?,
            allow_list: record
                .allow_list
                .as_deref()
                .map(|l| AllowList::parse(l.split_whitespace()))
                .transpose()
                .map_err(|_| corrupt("allow-list"))?,
            require_mfa: record.require_mfa,
        })
    }
}

impl TenantAccess {
    /// Refuses settings that make no sense (no change, no event).
    fn check(&self) -> Result<(), ServiceError> {
        if let Some(policy) = &self.password_policy {
            if policy.min_length < 8 || policy.min_length > policy.max_length {
                return Err(ServiceError::Invalid {
                    field: "password_policy.min_length",
                    message: "at least 8 and at most max_length".to_owned(),
                });
            }
            if policy.min_strength > 4 {
                return Err(ServiceError::Invalid {
                    field: "password_policy.min_strength",
                    message: "a zxcvbn score, 0 to 4".to_owned(),
                });
            }
        }
        if self.allow_list.as_ref().is_some_and(AllowList::is_empty) {
            return Err(ServiceError::Invalid {
                field: "allow_list",
                message:
                    "an empty allow-list would lock every user out; omit it to allow any source"
                        .to_owned(),
            });
        }
        Ok(())
    }

    /// The settings as stored for `tenant`.
    fn to_record(
        &self,
        tenant: TenantId,
        now: OffsetDateTime,
    ) -> Result<TenantAccessRecord, ServiceError> {
        Ok(TenantAccessRecord {
            tenant,
            password_policy: self
                .password_policy
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| ServiceError::AuditLog(e.to_string()))?,
            allow_list: self.allow_list.as_ref().map(|l| {
                l.entries()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            require_mfa: self.require_mfa,
            updated_at: now,
        })
    }
}

impl Rempart {
    /// Sets a tenant's access settings. Needs `tenant.update` over the
    /// tenant and a recent login.
    pub async fn set_tenant_access(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
        access: TenantAccess,
    ) -> Result<TenantAccess, ServiceError> {
        let call = Call::by(actor, ctx, Action::TenantAccess).on(Target::Tenant(tenant));
        let (gate, environment) = self
            .kernel
            .write(call)
            .await?
            .tenant_in_sight(tenant)
            .await?;
        let gate = gate
            .authorize(
                Permission::TenantUpdate,
                &Scope::Tenant(tenant),
                Some(&environment),
            )
            .await?;
        let mut gate = self.ensure_step_up(gate).await?;
        access.check()?;
        let record = access.to_record(tenant, gate.now())?;
        gate.tx().put_tenant_access(&record).await?;
        let mut details = serde_json::Map::new();
        details.insert("require_mfa".to_owned(), access.require_mfa.into());
        details.insert(
            "allow_list".to_owned(),
            record.allow_list.clone().unwrap_or_default().into(),
        );
        details.insert(
            "password_policy".to_owned(),
            record.password_policy.clone().unwrap_or_default().into(),
        );
        gate.in_tenant(Some(tenant));
        gate.details(Details::new(&details));
        gate.commit().await?;
        Ok(access)
    }

    /// A tenant's access settings. Needs `tenant.read` over the tenant.
    /// The settings are read within the gate, so the check and the read
    /// see one state; reading them leaves no event, only a refusal does.
    pub async fn tenant_access(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: TenantId,
    ) -> Result<TenantAccess, ServiceError> {
        let call = Call::by(actor, ctx, Action::TenantAccess).on(Target::Tenant(tenant));
        let (gate, environment) = self
            .kernel
            .audited_read(call)
            .await?
            .tenant_in_sight(tenant)
            .await?;
        let mut gate = gate
            .authorize(
                Permission::TenantRead,
                &Scope::Tenant(tenant),
                Some(&environment),
            )
            .await?;
        self.access_in(gate.read(), tenant).await
    }

    /// The settings of `tenant` within `tx` (defaults when none were set).
    pub(crate) async fn access_in(
        &self,
        tx: &mut dyn ReadTx,
        tenant: TenantId,
    ) -> Result<TenantAccess, ServiceError> {
        match tx.tenant_access(tenant).await? {
            Some(record) => TenantAccess::from_record(&record),
            None => Ok(TenantAccess::default()),
        }
    }

    /// The settings that bind `account`: its tenant's, for a tenant user.
    pub(crate) async fn access_of(
        &self,
        tx: &mut dyn ReadTx,
        account: &PrincipalRecord,
    ) -> Result<TenantAccess, ServiceError> {
        match (account.kind, account.tenant) {
            (AccountKind::TenantUser, Some(tenant)) => self.access_in(tx, tenant).await,
            _ => Ok(TenantAccess::default()),
        }
    }

    /// The password policy for `account`: the baseline, tightened by its
    /// tenant's own policy.
    pub(crate) fn policy_with(&self, access: &TenantAccess) -> PasswordPolicy {
        match &access.password_policy {
            Some(own) => PasswordPolicy::strictest([&self.identity.policy, own]),
            None => self.identity.policy.clone(),
        }
    }

    /// The password policy of the account `principal`, within `tx`.
    pub(crate) async fn policy_of(
        &self,
        tx: &mut dyn ReadTx,
        principal: PrincipalId,
    ) -> Result<PasswordPolicy, ServiceError> {
        match tx.principal(principal).await? {
            Some(account) => Ok(self.policy_with(&self.access_of(tx, &account).await?)),
            None => Ok(self.identity.policy.clone()),
        }
    }

    /// Whether `account` may act from `ctx`'s source: staff within
    /// `access.admin_allow_list`, tenant users within their tenant's list.
    pub(crate) fn source_allowed(
        &self,
        account: &PrincipalRecord,
        access: &TenantAccess,
        ctx: &RequestContext,
    ) -> bool {
        let staff_ok =
            account.kind != AccountKind::Staff || self.identity.admin_source_allowed(ctx);
        let tenant_ok = access
            .allow_list
            .as_ref()
            .is_none_or(|list| ctx.source.is_some_and(|ip| list.contains(ip)));
        staff_ok && tenant_ok
    }

    /// Admits the holder of a credential being used (`action`: a token or
    /// a session), looked up by its hash in the read transaction `tx`:
    /// `found` is the credential with its holder's id, `refused` why it may
    /// not be used if it may not. The credential is refused when it is not
    /// found, refused, or its holder no longer exists (`gone`), the caller
    /// then being anonymous; the holder when the account is not active or
    /// the request's source is not on its allow-list, the caller then being
    /// the holder. A refusal ends `tx`, is recorded with its reason (by the
    /// kernel, at its clock's time), and is returned; otherwise `tx` is
    /// handed back with the credential and its holder.
    pub(crate) async fn admit_credential<C>(
        &self,
        mut tx: Box<dyn ReadTx>,
        ctx: &RequestContext,
        action: Action,
        found: Option<(PrincipalId, C)>,
        refused: Option<&str>,
        gone: &str,
    ) -> Result<(Box<dyn ReadTx>, C, PrincipalRecord), ServiceError> {
        let holder = match (&found, refused) {
            (Some((id, _)), None) => tx.principal(*id).await?,
            _ => None,
        };
        let (Some((_, credential)), Some(principal)) = (found, holder) else {
            drop(tx);
            let call = Call::new(Caller::Anonymous, ctx, action);
            self.kernel
                .record_refusal(call, Outcome::Denied, refused.unwrap_or(gone))
                .await?;
            return Err(ServiceError::Unauthenticated);
        };
        let refused = if principal.state == rempart_store::PrincipalState::Active {
            let access = self.access_of(tx.as_mut(), &principal).await?;
            if self.source_allowed(&principal, &access, ctx) {
                return Ok((tx, credential, principal));
            }
            (
                "source outside the account's allow-list",
                ServiceError::from(IdentityError::SourceNotAllowed { what: "account" }),
            )
        } else {
            ("the account is not active", ServiceError::Unauthenticated)
        };
        drop(tx);
        let (reason, answer) = refused;
        let call = Call::new(Caller::Holder(principal.id), ctx, action);
        self.kernel
            .record_refusal(call, Outcome::Denied, reason)
            .await?;
        Err(answer)
    }

    /// Whether a password must be changed now (reset, or older than the
    /// policy's maximum age).
    pub(crate) fn password_change_due(
        policy: &PasswordPolicy,
        password: &PasswordRecord,
        now: OffsetDateTime,
    ) -> bool {
        password.must_change || policy.is_expired(password.changed_at, now)
    }
}
