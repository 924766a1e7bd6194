//! Accounts: staff, tenant users and service accounts, and their states
//! (control AC-2: access revoked the moment someone leaves).

use rempart_model::password_policy::PasswordPolicy;
use rempart_model::{Action, Outcome, Permission, PrincipalId, PrincipalName, Scope, TenantId};
use rempart_store::{
    AccountFilter, AccountKind, PasswordRecord, PrincipalRecord, PrincipalState, StoreError,
};
use secrecy::SecretString;

use super::administrators::Removal;
use super::authorize_naming;
use crate::identity::error::IdentityError;
use crate::kernel::actor::Actor;
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Clearance, Cleared, Gate, Write};
use crate::kernel::liveness::Reach;
use crate::kernel::target::Target;
use crate::kernel::visibility::{Sight, account_scope_in};
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

impl NewAccount {
    /// Refuses what no caller may ask for (no change, no event).
    fn check(&self) -> Result<(), ServiceError> {
        let invalid = |field: &'static str, message: &str| ServiceError::Invalid {
            field,
            message: message.to_owned(),
        };
        match (self.kind, self.tenant) {
            (AccountKind::TenantUser, None) => {
                return Err(invalid("tenant", "a tenant user needs a tenant"));
            }
            (AccountKind::Staff | AccountKind::Service, Some(_)) => {
                return Err(invalid("tenant", "only tenant users belong to a tenant"));
            }
            _ => {}
        }
        if self.break_glass && self.kind != AccountKind::Staff {
            return Err(invalid(
                "break_glass",
                "only staff accounts can be emergency accounts",
            ));
        }
        if self.kind == AccountKind::Service && self.password.is_some() {
            return Err(invalid(
                "password",
                "a service account uses API tokens, not a password",
            ));
        }
        if let Some(email) = &self.email
            && (email.len() > 254 || !email.contains('@') || email.chars().any(char::is_whitespace))
        {
            return Err(invalid("email", "not an e-mail address"));
        }
        if self
            .display_name
            .as_ref()
            .is_some_and(|d| d.chars().count() > 200)
        {
            return Err(invalid("display_name", "at most 200 characters"));
        }
        Ok(())
    }
}

impl Rempart {
    /// Creates an account. Needs `user.create` staff-wide for staff and
    /// service accounts, or over the tenant for its users.
    pub async fn create_account(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        new: NewAccount,
    ) -> Result<PrincipalRecord, ServiceError> {
        new.check()?;
        let call = Call::by(actor, ctx, Action::UserCreate).on(Target::User(new.name.to_string()));
        let gate = self.kernel.write(call).await?;
        // A tenant the caller does not see is not found; a shredded one is
        // gone.
        let (gate, environment) = match new.tenant {
            Some(tenant) => {
                let (gate, environment) = gate.tenant_in_sight(tenant).await?;
                (gate, Some(environment))
            }
            None => (gate, None),
        };
        let scope = new.tenant.map_or(Scope::Global, Scope::Tenant);
        let gate = gate
            .authorize(Permission::UserCreate, &scope, environment.as_ref())
            .await?;
        let account = PrincipalRecord {
            id: PrincipalId(self.kernel.clock.new_id()),
            name: new.name,
            state: PrincipalState::Active,
            created_at: gate.now(),
            kind: new.kind,
            tenant: new.tenant,
            email: new.email,
            display_name: new.display_name,
            break_glass: new.break_glass,
        };
        let (mut gate, password) = self.initial_password(gate, &account, new.password).await?;
        let break_glass_max = self.identity.config.break_glass_max;
        if account.break_glass && gate.tx().count_break_glass().await? >= u64::from(break_glass_max)
        {
            let message = format!("at most {break_glass_max} emergency accounts");
            return Err(gate.refuse_rule("break-glass-limit", message).await);
        }
        match gate.tx().insert_principal(&account).await {
            Ok(()) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(ServiceError::from(IdentityError::NameTaken {
                    name: account.name.to_string(),
                }));
            }
            Err(e) => return Err(e.into()),
        }
        if let Some((hash, policy)) = password {
            let record = PasswordRecord {
                principal: account.id,
                hash,
                changed_at: gate.now(),
                must_change: new.temporary_password,
            };
            gate.tx().set_password(&record, policy.history).await?;
        }
        gate.on(Target::Principal(account.id));
        gate.in_tenant(account.tenant);
        gate.details(Details::field("kind", account.kind.as_str()));
        gate.commit().await?;
        if account.break_glass {
            tracing::warn!(account = %account.id, "emergency (break-glass) account created");
        }
        Ok(account)
    }

    /// The hash of a new account's initial password, checked against the
    /// policy that will bind the account, and that policy. A password the
    /// policy refuses is recorded as a refused password change of the new
    /// account, and nothing is created. Hashed within the gate, after the
    /// caller was authorized: the decision and the change see one state,
    /// and no one unauthorized makes Rempart run Argon2id. On SQLite the
    /// write lock is held through the hash (tens of milliseconds), the price
    /// of checking the policy in force when the account is made.
    async fn initial_password<'a>(
        &self,
        mut gate: Gate<'a, Write, Cleared>,
        account: &PrincipalRecord,
        password: Option<SecretString>,
    ) -> Result<(Gate<'a, Write, Cleared>, Option<(String, PasswordPolicy)>), ServiceError> {
        let Some(password) = password else {
            return Ok((gate, None));
        };
        let access = self.access_of(gate.read(), account).await?;
        let policy = self.policy_with(&access);
        match self.checked_hash(account, &policy, password, &[]).await {
            Ok(hash) => Ok((gate, Some((hash, policy)))),
            Err(e) => {
                let Some(IdentityError::PasswordRefused { rules }) = e.domain::<IdentityError>()
                else {
                    return Err(e);
                };
                let names: Vec<String> = rules.iter().map(ToString::to_string).collect();
                let call = Call::new(gate.caller(), gate.ctx(), Action::PasswordChange)
                    .on(Target::Principal(account.id))
                    .in_tenant(account.tenant);
                drop(gate);
                let reason = format!("password policy: {}", names.join("; "));
                self.kernel
                    .record_refusal(call, Outcome::Denied, &reason)
                    .await?;
                Err(e)
            }
        }
    }

    /// Lists accounts: staff (with `user.read` staff-wide) or the users of
    /// one tenant (with `user.read` over it). The scope is in the query.
    pub async fn list_accounts(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
    ) -> Result<Vec<PrincipalRecord>, ServiceError> {
        let call = Call::by(actor, ctx, Action::UserList);
        let gate = self.kernel.audited_read(call).await?;
        let (mut gate, scope, environment, filter) = match tenant {
            Some(t) => {
                let (gate, environment) = gate.tenant_in_sight(t).await?;
                let filter = AccountFilter::Tenants(vec![t]);
                (gate, Scope::Tenant(t), Some(environment), filter)
            }
            None => (gate, Scope::Global, None, AccountFilter::All),
        };
        gate.in_tenant(tenant);
        let mut gate = authorize_naming(
            gate,
            Target::Users,
            Permission::UserRead,
            &scope,
            environment.as_ref(),
        )
        .await?;
        let accounts = gate.read().list_principals(&filter).await?;
        gate.commit().await?;
        Ok(accounts)
    }
    /// An account by login name, for the caller who may read it.
    pub async fn find_account(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        name: &PrincipalName,
    ) -> Result<PrincipalRecord, ServiceError> {
        let call = Call::by(actor, ctx, Action::UserList);
        let mut gate = self.kernel.audited_read(call).await?;
        let now = gate.now();
        let not_found = || ServiceError::NotFound {
            what: format!("user {name}"),
        };
        // Not there, or outside the caller's scope: as if it did not exist
        // (and, as a lookup by name, unrecorded).
        let found = gate
            .read()
            .principal_by_name(&name.uniqueness_key())
            .await?;
        let account = found.ok_or_else(not_found)?;
        let (scope, environment) = account_scope_in(gate.read(), &account).await?;
        gate.on(Target::Principal(account.id));
        gate.in_tenant(account.tenant);
        let gate = if account.id == actor.principal {
            gate.clear(Clearance::Own)
        } else if Sight::Account.seen_by(actor, &scope, environment.as_ref(), now) {
            // Seeing an account is holding `user.read` over it.
            gate.authorize(Permission::UserRead, &scope, environment.as_ref())
                .await?
        } else {
            return Err(not_found());
        };
        gate.commit().await?;
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
        let call = Call::by(actor, ctx, Action::UserState).on(Target::Principal(account));
        let gate = self.kernel.write(call).await?;
        // Suspending or terminating only narrows access: it still reaches
        // the accounts of a crypto-shredded tenant; reactivating does not.
        let reach = if state == PrincipalState::Active {
            Reach::Use
        } else {
            Reach::Narrow
        };
        let (mut gate, record) = self
            .account_to_change(gate, account, Permission::UserUpdate, reach)
            .await?;
        gate.in_tenant(record.tenant);
        if account == actor.principal {
            return Err(gate
                .refuse_rule(
                    "no-self-service",
                    "no one changes the state of their own account",
                )
                .await);
        }
        if record.state == PrincipalState::Terminated {
            return Err(ServiceError::Invalid {
                field: "state",
                message: "a terminated account stays terminated".to_owned(),
            });
        }
        if state != PrincipalState::Active
            && self
                .removes_last_administrator(gate.tx(), Removal::Account(account))
                .await?
        {
            return Err(gate
                .refuse_rule(
                    "last-administrator",
                    "the account is the last active one holding grant.manage and user.update staff-wide without expiry; grant them to another account first",
                )
                .await);
        }
        let now = gate.now();
        let tx = gate.tx();
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
        gate.details(Details::new(&details));
        gate.commit().await?;
        Ok(PrincipalRecord { state, ..record })
    }
}
