//! Login (password, then second factor), throttling and lockout, sessions
//! and API-token authentication (controls AC-1, AC-5, DS-4).
//!
//! No user enumeration: an unknown login name, an account with no
//! password, a suspended account and a wrong password all get the same
//! answer after the same Argon2id work (a dummy hash stands in when there
//! is nothing to check). Throttling counts failures per login name (known
//! or not, so a lockout reveals nothing) and per source address, in the
//! database, so that every replica sees them. A name is counted under its
//! keyed hash (`login_key`), never in clear: what someone types into the
//! name field (a password, by mistake) is not kept anywhere.

use rempart_model::{Action, Grant, Outcome, PrincipalId, Scope, Tenant, TenantId};
use rempart_store::{
    AccountKind, PasswordRecord, PrincipalRecord, PrincipalState, ReadTx, SessionRecord,
    SessionStage, ThrottleRecord, TokenRecord, TotpRecord, Tx,
};
use secrecy::{ExposeSecret, SecretString};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::credentials::{is_recovery_code, recovery_fingerprint};
use super::password::Verification;
use super::tenant_access::TenantAccess;
use crate::identity::error::IdentityError;
use crate::identity::totp::TotpRefusal;
use crate::kernel::actor::{Actor, Credential};
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Caller, Clearance, Cleared, Gate, Write};
use crate::kernel::secret::{self, SecretKind};
use crate::kernel::target::Target;
use crate::service::Rempart;

/// How often a session's "last seen" time is written: idle timeouts are
/// exact to this.
pub(crate) const SESSION_TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// Where a login stands: the session secret (shown once) and the step it
/// is at.
pub struct LoginStep {
    pub session: SecretString,
    pub session_id: Uuid,
    pub principal: PrincipalId,
    pub stage: SessionStage,
    pub expires_at: OffsetDateTime,
}

rempart_model::debug_fields!(LoginStep { session_id, stage });

/// A session as its holder (or an administrator) sees it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: Uuid,
    pub principal: PrincipalId,
    pub stage: SessionStage,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub source: Option<String>,
    pub current: bool,
}

/// The throttle key of a source address: the address as the audit log
/// names it.
fn source_key(ctx: &RequestContext) -> Option<String> {
    ctx.source.map(|ip| Target::Source(ip).to_string())
}

/// Whole seconds until a lockout ends (rounded up, at least one): the
/// `Retry-After` of the refusal.
fn locked_for(record: Option<&ThrottleRecord>, now: OffsetDateTime) -> Option<u64> {
    let until = record?.locked_until?;
    (now < until).then(|| {
        let left = until - now;
        let whole = u64::try_from(left.whole_seconds()).unwrap_or(0);
        let ceil = if left.subsec_nanoseconds() > 0 {
            whole.saturating_add(1)
        } else {
            whole
        };
        ceil.max(1)
    })
}

/// What a login is decided on: read once before the password is hashed
/// (so that no write waits on Argon2id), and again inside the gate, where
/// the decision is taken on what the change sees.
struct LoginFacts {
    account: Option<PrincipalRecord>,
    stored: Option<PasswordRecord>,
    access: TenantAccess,
    account_lock: Option<ThrottleRecord>,
    source_lock: Option<ThrottleRecord>,
}

impl LoginFacts {
    /// The account as the audit log names it, or an unknown login.
    fn target(&self) -> Target {
        self.account
            .as_ref()
            .map_or(Target::UnknownLogin, |a| Target::Principal(a.id))
    }

    fn tenant(&self) -> Option<TenantId> {
        self.account.as_ref().and_then(|a| a.tenant)
    }

    /// How long the login name or the source is still locked out.
    fn locked_for(&self, now: OffsetDateTime) -> Option<u64> {
        locked_for(self.account_lock.as_ref(), now).max(locked_for(self.source_lock.as_ref(), now))
    }

    /// Whether the password stored now is the one a verdict was reached on.
    fn same_password(&self, checked: Option<&PasswordRecord>) -> bool {
        match (&self.stored, checked) {
            (Some(now), Some(checked)) => now.hash == checked.hash,
            _ => false,
        }
    }
}

/// The message of a step-up by password for an account whose only second
/// factor is a security key.
const KEY_ONLY: &str =
    "this account's second factor is a security key: step up with POST /api/v1/auth/webauthn/start";

impl Rempart {
    /// Logs in with a login name and password. Answers the next step: a
    /// second factor, MFA enrolment, a password change, or a full session.
    pub async fn login(
        &self,
        ctx: &RequestContext,
        name: &str,
        password: SecretString,
    ) -> Result<LoginStep, ServiceError> {
        let name_key = name.trim().to_lowercase();
        // Keyed by a hash: a password typed as the name is never stored.
        let throttle = self.identity.login_key.throttle_key(&name_key);
        let mut tx = self.kernel.read().await?;
        let facts = self
            .login_facts(tx.as_mut(), ctx, &name_key, &throttle)
            .await?;
        drop(tx);
        let call = Call::new(Caller::Anonymous, ctx, Action::Login)
            .on(facts.target())
            .in_tenant(facts.tenant());
        if let Some(retry) = facts.locked_for(self.kernel.clock.now()) {
            self.kernel
                .record_refusal(call, Outcome::Denied, "locked out")
                .await?;
            return Err(ServiceError::from(IdentityError::LockedOut {
                retry_after_secs: retry,
            }));
        }
        // The same Argon2id work whatever the account: no enumeration.
        let verdict = self
            .login_verdict(facts.stored.as_ref(), password.clone())
            .await?;
        if let Some(reason) = self.login_failure(&facts, verdict, ctx) {
            let gate = self.kernel.write(call).await?.clear(Clearance::Credential);
            let target = facts.target();
            return Err(self.login_failed(gate, &throttle, &target, reason).await?);
        }
        // The password is right: a secret for the session, and the hash
        // upgraded when the parameters changed, both before the gate opens.
        let secret = secret::generate(SecretKind::Session)?;
        let rehashed = self.rehash(verdict, password).await;
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Credential);
        // The decision again, on what the change sees: the password checked
        // must still be the one stored.
        let now_facts = self
            .login_facts(gate.read(), ctx, &name_key, &throttle)
            .await?;
        gate.on(now_facts.target());
        gate.in_tenant(now_facts.tenant());
        if let Some(retry) = now_facts.locked_for(gate.now()) {
            let answer = IdentityError::LockedOut {
                retry_after_secs: retry,
            };
            return Err(gate.refuse("locked out", answer).await);
        }
        let verdict = verdict.filter(|_| now_facts.same_password(facts.stored.as_ref()));
        if let Some(reason) = self.login_failure(&now_facts, verdict, ctx) {
            let target = now_facts.target();
            return Err(self.login_failed(gate, &throttle, &target, reason).await?);
        }
        self.open_session(gate, now_facts, &throttle, secret, rehashed)
            .await
    }

    /// The account a login names, its password, settings and throttles.
    async fn login_facts(
        &self,
        tx: &mut dyn ReadTx,
        ctx: &RequestContext,
        name_key: &str,
        throttle: &str,
    ) -> Result<LoginFacts, ServiceError> {
        let account_lock = tx.throttle(throttle).await?;
        let source_lock = match source_key(ctx) {
            Some(key) => tx.throttle(&key).await?,
            None => None,
        };
        let account = tx.principal_by_name(name_key).await?;
        let (stored, access) = match &account {
            Some(a) => (tx.password(a.id).await?, self.access_of(tx, a).await?),
            None => (None, TenantAccess::default()),
        };
        Ok(LoginFacts {
            account,
            stored,
            access,
            account_lock,
            source_lock,
        })
    }

    /// Checks the password against the stored hash, or against a dummy
    /// when there is none (`None`): the same work either way.
    async fn login_verdict(
        &self,
        stored: Option<&PasswordRecord>,
        password: SecretString,
    ) -> Result<Option<Verification>, ServiceError> {
        let failed = |e: super::password::PasswordError| {
            ServiceError::AuditLog(format!("password check: {e}"))
        };
        let hasher = &self.identity.hasher;
        if let Some(p) = stored {
            Ok(Some(
                hasher
                    .verify(password, p.hash.clone())
                    .await
                    .map_err(failed)?,
            ))
        } else {
            hasher.verify_dummy(password).await.map_err(failed)?;
            Ok(None)
        }
    }

    /// Why a login fails, if it does: `verdict` is the password check
    /// against the password stored in `facts` (`None`: none was).
    fn login_failure(
        &self,
        facts: &LoginFacts,
        verdict: Option<Verification>,
        ctx: &RequestContext,
    ) -> Option<&'static str> {
        match (&facts.account, verdict) {
            (None, _) => Some("unknown login name"),
            (Some(_), None) if facts.stored.is_none() => Some("the account has no password"),
            (Some(_), None) => Some("the password changed during the login"),
            (Some(_), Some(v)) if !v.matches => Some("wrong password"),
            (Some(a), Some(_)) if a.state != PrincipalState::Active => {
                Some("the account is not active")
            }
            (Some(a), Some(_)) if a.kind == AccountKind::Service => {
                Some("service accounts do not log in")
            }
            (Some(a), Some(_)) if !self.source_allowed(a, &facts.access, ctx) => {
                Some("source outside the account's allow-list")
            }
            _ => None,
        }
    }

    /// The password hashed with the current parameters, when the stored
    /// hash was made with others (the password now known to be right).
    async fn rehash(
        &self,
        verdict: Option<Verification>,
        password: SecretString,
    ) -> Option<String> {
        if !verdict.is_some_and(|v| v.needs_rehash) {
            return None;
        }
        match self.identity.hasher.hash(password).await {
            Ok(hash) => Some(hash),
            Err(e) => {
                tracing::warn!(error = %e, "password re-hash failed; kept the old hash");
                None
            }
        }
    }

    /// Records a failed login in the gate: counted for the login name and
    /// the source, with the lockout it may cause. Returns the answer.
    async fn login_failed(
        &self,
        mut gate: Gate<'_, Write, Cleared>,
        throttle: &str,
        target: &Target,
        reason: &str,
    ) -> Result<ServiceError, ServiceError> {
        let now = gate.now();
        self.count_failure(gate.tx(), now, throttle).await?;
        if let Some(key) = source_key(gate.ctx()) {
            let limit = self.identity.config.source_attempts;
            self.count_toward_lockout(gate.tx(), now, &key, limit)
                .await?;
        }
        gate.details(Details::reason(reason));
        self.lockout_events(&mut gate, throttle, target).await?;
        gate.commit_as(Outcome::Denied).await?;
        Ok(ServiceError::from(IdentityError::LoginFailed))
    }

    /// The session of a login whose password was right, at its next step;
    /// recorded as the account's own act (and, for an emergency account,
    /// with a high-severity alarm).
    async fn open_session(
        &self,
        mut gate: Gate<'_, Write, Cleared>,
        facts: LoginFacts,
        throttle: &str,
        secret: SecretString,
        rehashed: Option<String>,
    ) -> Result<LoginStep, ServiceError> {
        let (Some(account), Some(stored)) = (facts.account, facts.stored) else {
            return Err(ServiceError::from(IdentityError::LoginFailed));
        };
        let now = gate.now();
        let source = gate.ctx().source;
        let tx = gate.tx();
        if let Some(hash) = rehashed {
            tx.rehash_password(account.id, &hash).await?;
        }
        if facts.account_lock.is_some() {
            tx.clear_throttle(throttle).await?;
        }
        let grants = tx.grants_of(account.id).await?;
        let has_totp = tx
            .totp(account.id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        let has_webauthn = !tx.webauthn_credentials(account.id).await?.is_empty();
        let stage = if has_totp || has_webauthn {
            SessionStage::SecondFactor
        } else if self.mfa_required(&account, &grants, now, &facts.access) {
            SessionStage::EnrolMfa
        } else if Self::password_change_due(&self.policy_with(&facts.access), &stored, now) {
            SessionStage::ChangePassword
        } else {
            SessionStage::Full
        };
        let session = SessionRecord {
            id: self.kernel.clock.new_id(),
            principal: account.id,
            hash: secret::fingerprint(&secret),
            stage,
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.identity.config.session_absolute(),
            authenticated_at: now,
            revoked_at: None,
            source: source.map(|ip| ip.to_string()),
        };
        tx.insert_session(&session).await?;
        gate.by(Caller::Holder(account.id));
        gate.on(Target::Session(session.id));
        gate.in_tenant(account.tenant);
        gate.details(Details::field("next", stage.as_str()));
        if account.break_glass {
            let alarm = Call::new(Caller::Holder(account.id), gate.ctx(), Action::BreakGlass)
                .on(Target::Session(session.id));
            gate.also(
                alarm,
                Outcome::Success,
                Some(Details::field("severity", "high")),
            );
            tracing::warn!(account = %account.id, "emergency (break-glass) account logged in");
        }
        gate.commit().await?;
        Ok(LoginStep {
            session: secret,
            session_id: session.id,
            principal: account.id,
            stage,
            expires_at: session.expires_at,
        })
    }

    /// The second factor of a login: a TOTP code (never accepted twice) or
    /// a single-use recovery code.
    pub async fn second_factor(
        &self,
        ctx: &RequestContext,
        session: &SecretString,
        code: &SecretString,
    ) -> Result<LoginStep, ServiceError> {
        let (actor, record) = self
            .authenticate_session(ctx, session, &[SessionStage::SecondFactor])
            .await?;
        let target = Target::Session(record.id);
        let call = Call::by(&actor, ctx, Action::LoginSecondFactor).on(target.clone());
        let (mut gate, account) = self.factor_gate(call, actor.principal).await?;
        let text = code.expose_secret().trim();
        let throttle = self.account_key(&account);
        let method = match self.check_code(&mut gate, actor.principal, text).await? {
            Ok(method) => method,
            Err(reason) => {
                let details = Details::reason(reason.clone());
                self.factor_refused(gate, &throttle, &target, details)
                    .await?;
                return Err(ServiceError::from(IdentityError::SecondFactorRefused(
                    reason,
                )));
            }
        };
        let now = gate.now();
        let policy = self.policy_with(&self.access_of(gate.read(), &account).await?);
        let password = gate.read().password(actor.principal).await?;
        let stage = if password.is_some_and(|p| Self::password_change_due(&policy, &p, now)) {
            SessionStage::ChangePassword
        } else {
            SessionStage::Full
        };
        let details = Details::field("method", method);
        self.factor_passed(gate, session, &record, stage, &throttle, details)
            .await
    }

    /// The write gate of a second-factor step (`call`, on the session) for
    /// the account `principal` holds: opened for the credential the step
    /// checks, in the account's tenant, and refused while the account is
    /// locked out.
    pub(super) async fn factor_gate<'a>(
        &'a self,
        call: Call<'a>,
        principal: PrincipalId,
    ) -> Result<(Gate<'a, Write, Cleared>, PrincipalRecord), ServiceError> {
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Credential);
        let Some(account) = gate.read().principal(principal).await? else {
            return Err(ServiceError::Unauthenticated);
        };
        gate.in_tenant(account.tenant);
        let gate = self.unless_locked(gate, &account).await?;
        Ok((gate, account))
    }

    /// A second factor passed: the session `record` moves to `stage`, the
    /// account's failure counter (`throttle`) is cleared, and the step is
    /// recorded with `details`.
    pub(super) async fn factor_passed(
        &self,
        mut gate: Gate<'_, Write, Cleared>,
        session: &SecretString,
        record: &SessionRecord,
        stage: SessionStage,
        throttle: &str,
        details: Details,
    ) -> Result<LoginStep, ServiceError> {
        let now = gate.now();
        gate.tx().update_session(record.id, stage, now, now).await?;
        gate.tx().clear_throttle(throttle).await?;
        gate.details(details);
        gate.commit().await?;
        Ok(LoginStep {
            session: session.clone(),
            session_id: record.id,
            principal: record.principal,
            stage,
            expires_at: record.expires_at,
        })
    }

    /// Checks a second-factor code in the gate: a recovery code (used up),
    /// or a code of the account's authenticator (its step advanced). The
    /// method that passed, or why none did.
    async fn check_code(
        &self,
        gate: &mut Gate<'_, Write, Cleared>,
        principal: PrincipalId,
        text: &str,
    ) -> Result<Result<&'static str, String>, ServiceError> {
        let now = gate.now();
        if is_recovery_code(text) {
            let used = gate
                .tx()
                .use_recovery_code(principal, &recovery_fingerprint(text), now)
                .await?;
            return Ok(if used {
                Ok("recovery code")
            } else {
                Err("not a valid unused recovery code".to_owned())
            });
        }
        let totp = gate.read().totp(principal).await?;
        let Some(totp) = totp.filter(|t| t.confirmed_at.is_some()) else {
            return Ok(Err("no authenticator is enrolled".to_owned()));
        };
        Ok(self.check_totp(gate, &totp, text).await?.map(|()| "totp"))
    }

    /// Checks a code of the authenticator `totp` in the gate, and advances
    /// its step (a code is never accepted twice); why not, if it fails.
    async fn check_totp(
        &self,
        gate: &mut Gate<'_, Write, Cleared>,
        totp: &TotpRecord,
        code: &str,
    ) -> Result<Result<(), String>, ServiceError> {
        let secret = self.open_totp(gate.read(), totp).await?;
        match secret.verify(code, gate.now(), totp.last_step) {
            Ok(step) => advance_totp(gate, totp, step, None).await,
            Err(refusal) => Ok(Err(refusal.to_string())),
        }
    }

    /// Proves identity again within a session (step-up), with the password
    /// and, when enrolled, a TOTP code.
    pub async fn step_up(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        password: SecretString,
        code: Option<SecretString>,
    ) -> Result<(), ServiceError> {
        let Credential::Session { id, .. } = actor.credential else {
            return Err(ServiceError::Invalid {
                field: "credential",
                message: "step-up is for login sessions; API tokens need none".to_owned(),
            });
        };
        let target = Target::Session(id);
        let mut tx = self.kernel.read().await?;
        let account = tx.principal(actor.principal).await?;
        let stored = tx.password(actor.principal).await?;
        drop(tx);
        let (Some(account), Some(stored)) = (account, stored) else {
            return Err(ServiceError::from(IdentityError::LoginFailed));
        };
        let call = Call::by(actor, ctx, Action::StepUp).on(target.clone());
        // Step-up counts failures toward the login lockout, and is refused
        // while it holds, like every other password or code check.
        self.refuse_if_locked(call.clone(), &account).await?;
        // Hashing happens before the gate opens: no write waits on it.
        let verdict = self
            .identity
            .hasher
            .verify(password, stored.hash.clone())
            .await
            .map_err(|e| ServiceError::AuditLog(format!("password check: {e}")))?;
        let gate = self.kernel.write(call).await?.clear(Clearance::Credential);
        let mut gate = self.unless_locked(gate, &account).await?;
        let failure = if verdict.matches {
            self.step_up_fails(&mut gate, actor.principal, &stored, code)
                .await?
        } else {
            Some("wrong password".to_owned())
        };
        if let Some(reason) = failure {
            let details = Details::reason(reason.clone());
            self.factor_refused(gate, &self.account_key(&account), &target, details)
                .await?;
            return Err(ServiceError::from(IdentityError::SecondFactorRefused(
                reason,
            )));
        }
        let now = gate.now();
        gate.tx()
            .update_session(id, SessionStage::Full, now, now)
            .await?;
        gate.commit().await
    }

    /// The rest of a step-up whose password was right, in the gate: the
    /// password checked is still the one stored, and the second factor
    /// this route checks (a TOTP code) passes. Why not, if it fails.
    async fn step_up_fails(
        &self,
        gate: &mut Gate<'_, Write, Cleared>,
        principal: PrincipalId,
        checked: &PasswordRecord,
        code: Option<SecretString>,
    ) -> Result<Option<String>, ServiceError> {
        let stored = gate.read().password(principal).await?;
        if stored.is_none_or(|p| p.hash != checked.hash) {
            return Ok(Some("the password changed during the check".to_owned()));
        }
        let totp = gate.read().totp(principal).await?;
        let Some(totp) = totp.filter(|t| t.confirmed_at.is_some()) else {
            // A second factor is enrolled, but not one this route checks: a
            // password alone never stands in for it.
            let has_keys = !gate
                .read()
                .webauthn_credentials(principal)
                .await?
                .is_empty();
            return Ok(has_keys.then(|| KEY_ONLY.to_owned()));
        };
        let Some(code) = code else {
            return Ok(Some("a TOTP code is needed".to_owned()));
        };
        Ok(self
            .check_totp(gate, &totp, code.expose_secret())
            .await?
            .err())
    }

    /// The throttle key of an account's login name (its keyed hash).
    pub(crate) fn account_key(&self, account: &PrincipalRecord) -> String {
        self.identity
            .login_key
            .throttle_key(&account.name.uniqueness_key())
    }

    /// Refuses (and records, in the account's tenant) an attempt while the
    /// account's login name is locked out, before any gate opens: no
    /// password or code is checked meanwhile.
    pub(super) async fn refuse_if_locked(
        &self,
        call: Call<'_>,
        account: &PrincipalRecord,
    ) -> Result<(), ServiceError> {
        let mut tx = self.kernel.read().await?;
        let lock = tx.throttle(&self.account_key(account)).await?;
        drop(tx);
        let Some(retry) = locked_for(lock.as_ref(), self.kernel.clock.now()) else {
            return Ok(());
        };
        self.kernel
            .record_refusal(
                call.in_tenant(account.tenant),
                Outcome::Denied,
                "locked out",
            )
            .await?;
        Err(ServiceError::from(IdentityError::LockedOut {
            retry_after_secs: retry,
        }))
    }

    /// The gate, unless the account's login name is locked out as its
    /// transaction sees it: then the attempt is refused like
    /// [`Rempart::refuse_if_locked`] refuses it.
    pub(super) async fn unless_locked<'a, M, S>(
        &self,
        mut gate: Gate<'a, M, S>,
        account: &PrincipalRecord,
    ) -> Result<Gate<'a, M, S>, ServiceError> {
        let lock = gate.read().throttle(&self.account_key(account)).await?;
        let Some(retry) = locked_for(lock.as_ref(), gate.now()) else {
            return Ok(gate);
        };
        gate.in_tenant(account.tenant);
        let answer = IdentityError::LockedOut {
            retry_after_secs: retry,
        };
        Err(gate.refuse("locked out", answer).await)
    }

    /// Records a refused second factor (or step-up) in the gate, with
    /// `details`: counted toward the account's lockout, with the lockout
    /// it may cause. What else the gate changed (a ceremony taken) stays.
    pub(super) async fn factor_refused(
        &self,
        mut gate: Gate<'_, Write, Cleared>,
        throttle: &str,
        target: &Target,
        details: Details,
    ) -> Result<(), ServiceError> {
        let now = gate.now();
        self.count_failure(gate.tx(), now, throttle).await?;
        gate.details(details);
        self.lockout_events(&mut gate, throttle, target).await?;
        gate.commit_as(Outcome::Denied).await
    }

    /// Ends the caller's own session.
    pub async fn logout(&self, actor: &Actor, ctx: &RequestContext) -> Result<(), ServiceError> {
        let Credential::Session { id, .. } = actor.credential else {
            return Err(ServiceError::Invalid {
                field: "credential",
                message: "only a login session logs out; revoke an API token instead".to_owned(),
            });
        };
        let call = Call::by(actor, ctx, Action::Logout).on(Target::Session(id));
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Own);
        let now = gate.now();
        gate.tx().revoke_session(id, now).await?;
        gate.commit().await
    }

    /// Records the login-name key's check value on first start, and tells
    /// whether this process's key is the one recorded: a replica with
    /// another key would count failures apart from the others.
    pub async fn login_key_matches(&self) -> Result<bool, ServiceError> {
        let mine = self.identity.login_key.check_value();
        let mut books = self.kernel.bookkeeping().await?;
        let recorded = books.record_login_key_check(mine).await?;
        books.commit().await?;
        Ok(recorded == mine)
    }

    /// Housekeeping: forgets failure counters idle for a day (lockout
    /// escalation looks back that far). Run by `rempart serve` every few
    /// minutes; returns how many were forgotten.
    pub async fn purge_login_throttle(&self) -> Result<u64, ServiceError> {
        let call = Call::system(Action::ThrottlePurge);
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Internal);
        let before = gate.now() - Duration::days(1);
        let purged = gate.tx().purge_login_throttle(before).await?;
        if purged > 0 {
            gate.details(Details::field("purged", purged.to_string()));
            gate.commit().await?;
        }
        Ok(purged)
    }

    /// Whether `account` must use a second factor: staff holding any
    /// privileged permission, and tenant users when so configured.
    pub(crate) fn mfa_required(
        &self,
        account: &PrincipalRecord,
        grants: &[Grant],
        now: OffsetDateTime,
        access: &TenantAccess,
    ) -> bool {
        match account.kind {
            AccountKind::Staff => grants
                .iter()
                .any(|g| g.is_active(now) && g.permissions.is_privileged()),
            AccountKind::TenantUser => {
                self.identity.config.tenant_mfa_required || access.require_mfa
            }
            AccountKind::Service => false,
        }
    }

    /// Counts a failed attempt for an account's login name, and locks it
    /// when the window's limit is reached (escalating).
    pub(crate) async fn count_failure(
        &self,
        tx: &mut dyn Tx,
        now: OffsetDateTime,
        key: &str,
    ) -> Result<(), ServiceError> {
        let limit = self.identity.config.lockout_attempts;
        self.count_toward_lockout(tx, now, key, limit).await
    }

    /// Counts a failed attempt under `key` (an account's login name, or a
    /// source address), and locks it once `limit` attempts fail within the
    /// window (escalating).
    async fn count_toward_lockout(
        &self,
        tx: &mut dyn Tx,
        now: OffsetDateTime,
        key: &str,
        limit: u32,
    ) -> Result<(), ServiceError> {
        let config = &self.identity.config;
        let record = tx
            .count_login_failure(key, now, now - config.lockout_window())
            .await?;
        if record.failures >= limit {
            tx.lock_login(key, now + config.lockout_duration(record.lockouts))
                .await?;
        }
        Ok(())
    }

    /// Adds a high-severity lockout event to the gate's for each of `key`
    /// and the request's source that was just locked.
    pub(super) async fn lockout_events(
        &self,
        gate: &mut Gate<'_, Write, Cleared>,
        key: &str,
        target: &Target,
    ) -> Result<(), ServiceError> {
        let now = gate.now();
        let keys = std::iter::once(key.to_owned()).chain(source_key(gate.ctx()));
        for key in keys {
            let Some(record) = gate.read().throttle(&key).await? else {
                continue;
            };
            let Some(until) = record
                .locked_until
                .filter(|u| record.failures == 0 && now < *u)
            else {
                continue;
            };
            let mut details = serde_json::Map::new();
            details.insert("severity".to_owned(), "high".into());
            details.insert(
                "locked_for_secs".to_owned(),
                (until - now).whole_seconds().into(),
            );
            let on = if key.starts_with("source:") {
                "source"
            } else {
                "account"
            };
            details.insert("on".to_owned(), on.into());
            let lockout = Call::new(Caller::System, gate.ctx(), Action::Lockout).on(target.clone());
            gate.also(lockout, Outcome::Success, Some(Details::new(&details)));
            tracing::warn!(target = %target, "login locked out after repeated failures");
        }
        Ok(())
    }

    /// Resolves a session secret whose stage is one of `stages` to an
    /// actor and the session. An unknown, revoked, idle or expired session,
    /// or one whose holder is no longer active, is refused and recorded.
    pub async fn authenticate_session(
        &self,
        ctx: &RequestContext,
        secret: &SecretString,
        stages: &[SessionStage],
    ) -> Result<(Actor, SessionRecord), ServiceError> {
        let now = self.kernel.clock.now();
        let idle = self.identity.config.session_idle();
        let mut tx = self.kernel.read().await?;
        let found = tx.session_by_hash(&secret::fingerprint(secret)).await?;
        let refused = match &found {
            None => Some("unknown session"),
            Some(s) if s.revoked_at.is_some() => Some("the session ended"),
            Some(s) if now >= s.expires_at => Some("the session expired"),
            Some(s) if now - s.last_seen_at >= idle => Some("the session was idle too long"),
            Some(_) => None,
        };
        let found = found.map(|s| (s.principal, s));
        let gone = "the session's holder no longer exists";
        let (mut tx, session, principal) = self
            .admit_credential(tx, ctx, Action::AuthSession, found, refused, gone)
            .await?;
        if !stages.contains(&session.stage) {
            return Err(ServiceError::from(IdentityError::LoginIncomplete {
                next: session.stage.as_str(),
            }));
        }
        let grants = tx.grants_of(principal.id).await?;
        drop(tx);
        if now - session.last_seen_at >= SESSION_TOUCH_INTERVAL {
            let mut books = self.kernel.bookkeeping().await?;
            books.touch_session(session.id, now).await?;
            books.commit().await?;
        }
        let actor = Actor::with_credential(
            principal.id,
            principal.name,
            Credential::Session {
                id: session.id,
                authenticated_at: session.authenticated_at,
            },
            grants,
        );
        Ok((actor, session))
    }

    /// The checks an API token adds to its holder's: its allow-list, and
    /// its grants cut down to its permissions and tenant.
    pub(crate) async fn token_grants(
        &self,
        tx: &mut dyn ReadTx,
        ctx: &RequestContext,
        token: &TokenRecord,
        grants: Vec<Grant>,
    ) -> Result<Vec<Grant>, ServiceError> {
        if let Some(list) = &token.allow_list {
            let allowed = ctx.source.is_some_and(|ip| {
                list.split_whitespace()
                    .filter_map(|n| n.parse::<ipnet::IpNet>().ok())
                    .any(|net| net.contains(&ip))
            });
            if !allowed {
                return Err(ServiceError::from(IdentityError::SourceNotAllowed {
                    what: "API token",
                }));
            }
        }
        let tenant = match token.tenant {
            Some(t) => match tx.tenant(t).await? {
                Some(tenant) => Some(tenant),
                // Bound to a tenant that is gone: bound to nothing, never
                // unbound.
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        Ok(restrict(grants, token.permissions, tenant.as_ref()))
    }
}

/// Advances an account's TOTP step to `step` from the `checked` record's
/// (and confirms a pending enrolment at `confirmed_at`): refused, with the
/// reason, when the step was taken already (a replayed code, or another
/// request's at once).
pub(super) async fn advance_totp(
    gate: &mut Gate<'_, Write, Cleared>,
    checked: &TotpRecord,
    step: u64,
    confirmed_at: Option<OffsetDateTime>,
) -> Result<Result<(), String>, ServiceError> {
    let advanced = gate
        .tx()
        .advance_totp_step(checked.principal, checked.last_step, step, confirmed_at)
        .await?;
    Ok(if advanced {
        Ok(())
    } else {
        Err(TotpRefusal::Replayed.to_string())
    })
}

/// The grants a restricted credential carries: each grant's permissions
/// cut to `permissions`, and, for a credential bound to `tenant`, scopes
/// narrowed to that tenant (grants elsewhere dropped).
pub fn restrict(
    grants: Vec<Grant>,
    permissions: Option<rempart_model::PermissionSet>,
    tenant: Option<&Tenant>,
) -> Vec<Grant> {
    grants
        .into_iter()
        .filter_map(|mut grant| {
            if let Some(allowed) = permissions {
                grant.permissions = grant.permissions.intersection(allowed);
            }
            if let Some(tenant) = tenant {
                let covers = grant
                    .scope
                    .covers(&Scope::Tenant(tenant.id), Some(&tenant.environment));
                if !covers {
                    return None;
                }
                grant.scope = Scope::Tenant(tenant.id);
            }
            (!grant.permissions.is_empty()).then_some(grant)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rempart_model::{
        Environment, Permission, PermissionSet, Region, Role, TenantId, TenantName,
    };

    #[test]
    fn a_restricted_credential_never_exceeds_its_restrictions() {
        let acme = Tenant {
            id: TenantId(Uuid::from_u128(1)),
            name: TenantName::parse("acme").unwrap(),
            region: Region::parse("eu").unwrap(),
            environment: Environment::production(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            shredded_at: None,
        };
        let other = TenantId(Uuid::from_u128(2));
        let grants = vec![
            Grant::of(Role::SecurityAdmin, Scope::Global, None),
            Grant::of(Role::Auditor, Scope::Tenant(other), None),
        ];
        let read = PermissionSet::of(&[Permission::TenantRead]);
        let cut = restrict(grants, Some(read), Some(&acme));
        assert_eq!(cut.len(), 1);
        assert_eq!(cut[0].scope, Scope::Tenant(acme.id));
        assert_eq!(cut[0].permissions, read);
    }
}
