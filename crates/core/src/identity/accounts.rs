//! Accounts: staff, tenant users and service accounts, and their states
//! (control AC-2: access revoked the moment someone leaves).

use rempart_model::{Action, Outcome, Permission, PrincipalId, PrincipalName, Scope, TenantId};
use rempart_store::{
    AccountFilter, AccountKind, PasswordRecord, PrincipalRecord, PrincipalState, StoreError,
};
use secrecy::SecretString;

use super::Refusal;
use super::administrators::Removal;
use crate::kernel::actor::Actor;
use crate::kernel::audit_chain::Draft;
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::visibility::Sight;
use crate::service::Rempart;

/// An account to create.
#[derive(Debug)]
pub struct NewAccount {
    pub name: PrincipalName,
    pub kind: AccountKind,
    /// The tenant of a tenant user (required for them, refused otherwise).
    pub tenant: Option<TenantId>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// An initial password, checked against the policy.
    pub password: Option<SecretString>,
    /// The holder must change the initial password at the first login.
    pub temporary_password: bool,
    /// A named emergency account (staff only, at most
    /// `identity.break_glass_max`).
    pub break_glass: bool,
}

impl Rempart {
    /// Creates an account. Needs `user.create` staff-wide for staff and
    /// service accounts, or over the tenant for its users.
    #[allow(
        clippy::too_many_lines,
        reason = "one flow read top to bottom: each refusal is recorded where it happens"
    )]
    pub async fn create_account(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        new: NewAccount,
    ) -> Result<PrincipalRecord, ServiceError> {
        let now = self.kernel.clock.now();
        let invalid = |field: &'static str, message: &str| ServiceError::Invalid {
            field,
            message: message.to_owned(),
        };
        match (new.kind, new.tenant) {
            (AccountKind::TenantUser, None) => {
                return Err(invalid("tenant", "a tenant user needs a tenant"));
            }
            (AccountKind::Staff | AccountKind::Service, Some(_)) => {
                return Err(invalid("tenant", "only tenant users belong to a tenant"));
            }
            _ => {}
        }
        if new.break_glass && new.kind != AccountKind::Staff {
            return Err(invalid(
                "break_glass",
                "only staff accounts can be emergency accounts",
            ));
        }
        if new.kind == AccountKind::Service && new.password.is_some() {
            return Err(invalid(
                "password",
                "a service account uses API tokens, not a password",
            ));
        }
        if let Some(email) = &new.email
            && (email.len() > 254 || !email.contains('@') || email.chars().any(char::is_whitespace))
        {
            return Err(invalid("email", "not an e-mail address"));
        }
        if new
            .display_name
            .as_ref()
            .is_some_and(|d| d.chars().count() > 200)
        {
            return Err(invalid("display_name", "at most 200 characters"));
        }
        // A tenant the caller does not see is not found.
        let environment = match new.tenant {
            Some(tenant) => Some(
                self.tenant_in_sight(actor, ctx, now, tenant, Action::UserCreate)
                    .await?,
            ),
            None => None,
        };
        let scope = new.tenant.map_or(Scope::Global, Scope::Tenant);
        self.authorize(
            actor,
            ctx,
            now,
            Permission::UserCreate,
            (&scope, environment.as_ref()),
            Action::UserCreate,
            &format!("user:{}", new.name),
        )
        .await?;

        let account = PrincipalRecord {
            id: PrincipalId(self.kernel.clock.new_id()),
            name: new.name,
            state: PrincipalState::Active,
            created_at: now,
            kind: new.kind,
            tenant: new.tenant,
            email: new.email,
            display_name: new.display_name,
            break_glass: new.break_glass,
        };
        // Hash before the transaction: a write transaction is not held
        // through tens of milliseconds of Argon2id.
        let policy = self.policy_for(&account).await?;
        let password = match new.password {
            Some(password) => match self.checked_hash(&account, &policy, password, &[]).await {
                Ok(hash) => Some(hash),
                Err(ServiceError::PasswordRefused { rules }) => {
                    self.refuse_password(actor, ctx, now, &account, &rules)
                        .await?;
                    return Err(ServiceError::PasswordRefused { rules });
                }
                Err(e) => return Err(e),
            },
            None => None,
        };
        let mut tx = self.kernel.store.begin().await?;
        if account.break_glass
            && tx.count_break_glass().await? >= u64::from(self.identity.config.break_glass_max)
        {
            drop(tx);
            let refused = self
                .refuse_rule(
                    actor,
                    ctx,
                    now,
                    Refusal {
                        action: Action::UserCreate,
                        target: format!("user:{}", account.name),
                        tenant: None,
                        reason: &format!(
                            "at most {} emergency accounts",
                            self.identity.config.break_glass_max
                        ),
                    },
                    "break-glass-limit",
                )
                .await?;
            return Err(refused);
        }
        match tx.insert_principal(&account).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(ServiceError::PrincipalNameTaken {
                    name: account.name.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(hash) = password {
            tx.set_password(
                &PasswordRecord {
                    principal: account.id,
                    hash,
                    changed_at: now,
                    must_change: new.temporary_password,
                },
                policy.history,
            )
            .await?;
        }
        let draft = Draft::new(actor.audit_name(), Action::UserCreate, Outcome::Success)
            .target(format!("principal:{}", account.id))
            .details(Details::field("kind", account.kind.as_str()))
            .in_tenant(account.tenant);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        if account.break_glass {
            tracing::warn!(account = %account.id, "emergency (break-glass) account created");
        }
        Ok(account)
    }

    /// Lists accounts: staff (with `user.read` staff-wide) or the users of
    /// one tenant (with `user.read` over it). The scope is in the query.
    pub async fn list_accounts(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
    ) -> Result<Vec<PrincipalRecord>, ServiceError> {
        let now = self.kernel.clock.now();
        let (scope, environment, filter) = match tenant {
            Some(t) => {
                let env = self
                    .tenant_in_sight(actor, ctx, now, t, Action::UserList)
                    .await?;
                (Scope::Tenant(t), Some(env), AccountFilter::Tenants(vec![t]))
            }
            None => (Scope::Global, None, AccountFilter::All),
        };
        self.authorize(
            actor,
            ctx,
            now,
            Permission::UserRead,
            (&scope, environment.as_ref()),
            Action::UserList,
            "users",
        )
        .await?;
        let mut tx = self.kernel.store.begin().await?;
        let accounts = tx.list_principals(&filter).await?;
        let draft =
            Draft::new(actor.audit_name(), Action::UserList, Outcome::Success).in_tenant(tenant);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(accounts)
    }

    /// An account by login name, for the caller who may read it.
    pub async fn find_account(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        name: &PrincipalName,
    ) -> Result<PrincipalRecord, ServiceError> {
        let now = self.kernel.clock.now();
        let mut tx = self.kernel.store.begin_read().await?;
        let found = tx.principal_by_name(&name.uniqueness_key()).await?;
        drop(tx);
        let not_found = || ServiceError::NotFound {
            what: format!("user {name}"),
        };
        let account = found.ok_or_else(not_found)?;
        let (scope, env) = self.account_scope(&account).await?;
        if account.id != actor.principal
            && !Sight::Account.seen_by(actor, &scope, env.as_ref(), now)
        {
            // Outside the caller's scope: as if it did not exist.
            return Err(not_found());
        }
        let mut tx = self.kernel.store.begin().await?;
        let draft = Draft::new(actor.audit_name(), Action::UserList, Outcome::Success)
            .target(format!("principal:{}", account.id))
            .in_tenant(account.tenant);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(account)
    }

    /// Suspends, reactivates or terminates an account. Needs `user.update`
    /// over the account and a recent login. Suspending or terminating ends
    /// every session and revokes every API token of the account at once,
    /// on every replica (the next request reads the state).
    pub async fn set_account_state(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        account: PrincipalId,
        state: PrincipalState,
    ) -> Result<PrincipalRecord, ServiceError> {
        let now = self.kernel.clock.now();
        let target = format!("principal:{account}");
        let record = self
            .account_for_change(
                actor,
                ctx,
                now,
                account,
                Permission::UserUpdate,
                Action::UserState,
            )
            .await?;
        if account == actor.principal {
            let refused = self
                .refuse_rule(
                    actor,
                    ctx,
                    now,
                    Refusal {
                        action: Action::UserState,
                        target,
                        tenant: record.tenant,
                        reason: "no one changes the state of their own account",
                    },
                    "no-self-service",
                )
                .await?;
            return Err(refused);
        }
        if record.state == PrincipalState::Terminated {
            return Err(ServiceError::Invalid {
                field: "state",
                message: "a terminated account stays terminated".to_owned(),
            });
        }
        let mut tx = self.kernel.store.begin().await?;
        if state != PrincipalState::Active
            && self
                .removes_last_administrator(tx.as_mut(), Removal::Account(account))
                .await?
        {
            drop(tx);
            let refused = self
                .refuse_rule(
                    actor,
                    ctx,
                    now,
                    Refusal {
                        action: Action::UserState,
                        target,
                        tenant: record.tenant,
                        reason: "the account is the last active one holding grant.manage and user.update staff-wide without expiry; grant them to another account first",
                    },
                    "last-administrator",
                )
                .await?;
            return Err(refused);
        }
        tx.set_principal_state(account, state).await?;
        let (sessions, tokens) = if state == PrincipalState::Active {
            (0, 0)
        } else {
            (
                tx.revoke_sessions_of(account, now).await?,
                tx.revoke_tokens_of(account, now).await?,
            )
        };
        let mut details = serde_json::Map::new();
        details.insert("state".to_owned(), state.as_str().into());
        details.insert("sessions_ended".to_owned(), sessions.into());
        details.insert("tokens_revoked".to_owned(), tokens.into());
        let draft = Draft::new(actor.audit_name(), Action::UserState, Outcome::Success)
            .target(target)
            .details(Details::new(&details))
            .in_tenant(record.tenant);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(PrincipalRecord { state, ..record })
    }
}
