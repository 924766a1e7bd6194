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

use rempart_model::{Action, Grant, Outcome, Scope, Tenant};
use rempart_store::{
    AccountKind, PrincipalRecord, PrincipalState, ReadTx, SessionRecord, SessionStage,
    ThrottleRecord, TokenRecord, Tx,
};
use secrecy::{ExposeSecret, SecretString};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::Refusal;
use super::credentials::{is_recovery_code, recovery_fingerprint};
use super::tenant_access::TenantAccess;
use crate::identity::totp::TotpRefusal;
use crate::kernel::actor::{Actor, Credential};
use crate::kernel::audit_chain::Draft;
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::secret::{self, SecretKind};
use crate::service::Rempart;

/// How often a session's "last seen" time is written: idle timeouts are
/// exact to this.
pub(crate) const SESSION_TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// Where a login stands: the session secret (shown once) and the step it
/// is at.
pub struct LoginStep {
    pub session: SecretString,
    pub session_id: Uuid,
    pub principal: rempart_model::PrincipalId,
    pub stage: SessionStage,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for LoginStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginStep")
            .field("session_id", &self.session_id)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

/// A session as its holder (or an administrator) sees it.
#[derive(Debug, Clone)]
pub struct SessionView {
    pub id: Uuid,
    pub principal: rempart_model::PrincipalId,
    pub stage: SessionStage,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub source: Option<String>,
    pub current: bool,
}

fn source_key(ctx: &RequestContext) -> Option<String> {
    ctx.source.map(|ip| format!("source:{ip}"))
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

impl Rempart {
    /// Logs in with a login name and password. Answers the next step: a
    /// second factor, MFA enrolment, a password change, or a full session.
    #[allow(
        clippy::too_many_lines,
        reason = "one flow read top to bottom: each refusal is recorded where it happens"
    )]
    pub async fn login(
        &self,
        ctx: &RequestContext,
        name: &str,
        password: SecretString,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.kernel.clock.now();
        let name_key = name.trim().to_lowercase();
        // Keyed by a hash: a password typed as the name is never stored.
        let account_throttle = self.identity.login_key.throttle_key(&name_key);
        let mut tx = self.kernel.store.begin_read().await?;
        let account_lock = tx.throttle(&account_throttle).await?;
        let source_lock = match source_key(ctx) {
            Some(key) => tx.throttle(&key).await?,
            None => None,
        };
        let account = tx.principal_by_name(&name_key).await?;
        let stored = match &account {
            Some(a) => tx.password(a.id).await?,
            None => None,
        };
        let access = match &account {
            Some(a) => self.access_of(tx.as_mut(), a).await?,
            None => TenantAccess::default(),
        };
        drop(tx);
        let target = account.as_ref().map_or_else(
            || "login:unknown".to_owned(),
            |a| format!("principal:{}", a.id),
        );
        let tenant = account.as_ref().and_then(|a| a.tenant);

        if let Some(retry) =
            locked_for(account_lock.as_ref(), now).max(locked_for(source_lock.as_ref(), now))
        {
            let draft = login_draft(&target, tenant, Outcome::Denied, "locked out");
            self.refuse_with_details(ctx, now, draft).await?;
            return Err(ServiceError::LockedOut {
                retry_after_secs: retry,
            });
        }

        // The same Argon2id work whatever the account: no enumeration.
        let verdict = if let Some(p) = &stored {
            Some(
                self.identity
                    .hasher
                    .verify(password.clone(), p.hash.clone())
                    .await
                    .map_err(|e| ServiceError::AuditLog(format!("password check: {e}")))?,
            )
        } else {
            self.identity
                .hasher
                .verify_dummy(password.clone())
                .await
                .map_err(|e| ServiceError::AuditLog(format!("password check: {e}")))?;
            None
        };
        let failure = match (&account, &verdict) {
            (None, _) => Some("unknown login name"),
            (Some(_), None) => Some("the account has no password"),
            (Some(_), Some(v)) if !v.matches => Some("wrong password"),
            (Some(a), Some(_)) if a.state != PrincipalState::Active => {
                Some("the account is not active")
            }
            (Some(a), Some(_)) if a.kind == AccountKind::Service => {
                Some("service accounts do not log in")
            }
            (Some(a), Some(_)) if !self.source_allowed(a, &access, ctx) => {
                Some("source outside the account's allow-list")
            }
            _ => None,
        };
        if let Some(reason) = failure {
            let mut tx = self.kernel.store.begin().await?;
            self.count_failure(tx.as_mut(), now, &account_throttle)
                .await?;
            if let Some(key) = source_key(ctx) {
                self.count_source_failure(tx.as_mut(), now, &key).await?;
            }
            let draft = login_draft(&target, tenant, Outcome::Denied, reason);
            self.kernel
                .append_audit(tx.as_mut(), ctx, now, draft)
                .await?;
            self.lockout_events(tx.as_mut(), ctx, now, &account_throttle, &target)
                .await?;
            tx.commit().await?;
            return Err(ServiceError::LoginFailed);
        }
        let (Some(account), Some(stored), Some(verdict)) = (account, stored, verdict) else {
            return Err(ServiceError::LoginFailed);
        };

        let secret = secret::generate(SecretKind::Session)?;
        // The parameters changed: upgrade the hash now that the password is
        // known to be right (hashed before the write transaction opens, so
        // that no write waits on Argon2id).
        let rehashed = if verdict.needs_rehash {
            match self.identity.hasher.hash(password).await {
                Ok(hash) => Some(hash),
                Err(e) => {
                    tracing::warn!(error = %e, "password re-hash failed; kept the old hash");
                    None
                }
            }
        } else {
            None
        };
        let mut tx = self.kernel.store.begin().await?;
        if let Some(hash) = rehashed {
            tx.rehash_password(account.id, &hash).await?;
        }
        if account_lock.is_some() {
            tx.clear_throttle(&account_throttle).await?;
        }
        let grants = tx.grants_of(account.id).await?;
        let has_totp = tx
            .totp(account.id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        let has_webauthn = !tx.webauthn_credentials(account.id).await?.is_empty();
        let stage = if has_totp || has_webauthn {
            SessionStage::SecondFactor
        } else if self.mfa_required(&account, &grants, now, &access) {
            SessionStage::EnrolMfa
        } else if Self::password_change_due(&self.policy_with(&access), &stored, now) {
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
            source: ctx.source.map(|ip| ip.to_string()),
        };
        tx.insert_session(&session).await?;
        let draft = Draft::new(
            format!("principal:{}", account.id),
            Action::Login,
            Outcome::Success,
        )
        .target(format!("session:{}", session.id))
        .details(Details::field("next", stage.as_str()))
        .in_tenant(account.tenant);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        if account.break_glass {
            let draft = Draft::new(
                format!("principal:{}", account.id),
                Action::BreakGlass,
                Outcome::Success,
            )
            .target(format!("session:{}", session.id))
            .details(Details::field("severity", "high"));
            self.kernel
                .append_audit(tx.as_mut(), ctx, now, draft)
                .await?;
            tracing::warn!(account = %account.id, "emergency (break-glass) account logged in");
        }
        tx.commit().await?;
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
    #[allow(
        clippy::too_many_lines,
        reason = "one flow read top to bottom: each refusal is recorded where it happens"
    )]
    pub async fn second_factor(
        &self,
        ctx: &RequestContext,
        session: &SecretString,
        code: &SecretString,
    ) -> Result<LoginStep, ServiceError> {
        let now = self.kernel.clock.now();
        let (actor, record) = self
            .authenticate_session(ctx, session, &[SessionStage::SecondFactor])
            .await?;
        let target = format!("session:{}", record.id);
        let mut tx = self.kernel.store.begin_read().await?;
        let account = tx.principal(actor.principal).await?;
        let totp = tx.totp(actor.principal).await?;
        let password = tx.password(actor.principal).await?;
        drop(tx);
        let Some(account) = account else {
            return Err(ServiceError::Unauthenticated);
        };
        let throttle = self.account_key(&account);
        self.refuse_if_locked(
            &actor,
            ctx,
            now,
            &account,
            &target,
            Action::LoginSecondFactor,
        )
        .await?;
        let mut tx = self.kernel.store.begin_read().await?;
        let policy = self.policy_with(&self.access_of(tx.as_mut(), &account).await?);
        drop(tx);

        let text = code.expose_secret().trim();
        let mut tx = self.kernel.store.begin().await?;
        let outcome: Result<&'static str, String> = if is_recovery_code(text) {
            if tx
                .use_recovery_code(actor.principal, &recovery_fingerprint(text), now)
                .await?
            {
                Ok("recovery code")
            } else {
                Err("not a valid unused recovery code".to_owned())
            }
        } else {
            match &totp {
                Some(t) if t.confirmed_at.is_some() => {
                    drop(tx);
                    let secret = self.open_totp(t).await?;
                    tx = self.kernel.store.begin().await?;
                    match secret.verify(text, now, t.last_step) {
                        Ok(step) => {
                            if tx
                                .advance_totp_step(actor.principal, t.last_step, step, None)
                                .await?
                            {
                                Ok("totp")
                            } else {
                                Err(TotpRefusal::Replayed.to_string())
                            }
                        }
                        Err(refusal) => Err(refusal.to_string()),
                    }
                }
                _ => Err("no authenticator is enrolled".to_owned()),
            }
        };
        match outcome {
            Ok(method) => {
                let must_change =
                    password.is_some_and(|p| Self::password_change_due(&policy, &p, now));
                let stage = if must_change {
                    SessionStage::ChangePassword
                } else {
                    SessionStage::Full
                };
                tx.update_session(record.id, stage, now, now).await?;
                tx.clear_throttle(&throttle).await?;
                let draft = Draft::new(
                    actor.audit_name(),
                    Action::LoginSecondFactor,
                    Outcome::Success,
                )
                .target(target)
                .details(Details::field("method", method))
                .in_tenant(account.tenant);
                self.kernel
                    .append_audit(tx.as_mut(), ctx, now, draft)
                    .await?;
                tx.commit().await?;
                Ok(LoginStep {
                    session: session.clone(),
                    session_id: record.id,
                    principal: actor.principal,
                    stage,
                    expires_at: record.expires_at,
                })
            }
            Err(reason) => {
                self.count_failure(tx.as_mut(), now, &throttle).await?;
                let draft = Draft::new(
                    actor.audit_name(),
                    Action::LoginSecondFactor,
                    Outcome::Denied,
                )
                .target(target.clone())
                .details(Details::reason(reason.clone()))
                .in_tenant(account.tenant);
                self.kernel
                    .append_audit(tx.as_mut(), ctx, now, draft)
                    .await?;
                self.lockout_events(tx.as_mut(), ctx, now, &throttle, &target)
                    .await?;
                tx.commit().await?;
                Err(ServiceError::SecondFactorRefused(reason))
            }
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
        let now = self.kernel.clock.now();
        let Credential::Session { id, .. } = actor.credential else {
            return Err(ServiceError::Invalid {
                field: "credential",
                message: "step-up is for login sessions; API tokens need none".to_owned(),
            });
        };
        let target = format!("session:{id}");
        let mut tx = self.kernel.store.begin_read().await?;
        let account = tx.principal(actor.principal).await?;
        let stored = tx.password(actor.principal).await?;
        let totp = tx.totp(actor.principal).await?;
        let has_keys = !tx.webauthn_credentials(actor.principal).await?.is_empty();
        drop(tx);
        let (Some(account), Some(stored)) = (account, stored) else {
            return Err(ServiceError::LoginFailed);
        };
        // Step-up counts failures toward the login lockout, and is refused
        // while it holds, like every other password or code check.
        self.refuse_if_locked(actor, ctx, now, &account, &target, Action::StepUp)
            .await?;
        let throttle = self.account_key(&account);
        let verdict = self
            .identity
            .hasher
            .verify(password, stored.hash.clone())
            .await
            .map_err(|e| ServiceError::AuditLog(format!("password check: {e}")))?;
        let mut failure = (!verdict.matches).then(|| "wrong password".to_owned());
        let has_totp = totp.as_ref().is_some_and(|t| t.confirmed_at.is_some());
        if failure.is_none() && !has_totp && has_keys {
            // A second factor is enrolled, but not one this route checks: a
            // password alone never stands in for it.
            failure = Some(
                "this account's second factor is a security key: step up with POST /api/v1/auth/webauthn/start"
                    .to_owned(),
            );
        }
        let mut advance = None;
        if failure.is_none()
            && let Some(t) = totp.filter(|t| t.confirmed_at.is_some())
        {
            match code {
                None => failure = Some("a TOTP code is needed".to_owned()),
                Some(code) => {
                    let secret = self.open_totp(&t).await?;
                    match secret.verify(code.expose_secret(), now, t.last_step) {
                        Ok(step) => advance = Some((t.last_step, step)),
                        Err(r) => failure = Some(r.to_string()),
                    }
                }
            }
        }
        let mut tx = self.kernel.store.begin().await?;
        if let Some((expected, step)) = advance
            && !tx
                .advance_totp_step(actor.principal, expected, step, None)
                .await?
        {
            failure = Some(TotpRefusal::Replayed.to_string());
        }
        if let Some(reason) = failure {
            drop(tx);
            let mut tx = self.kernel.store.begin().await?;
            self.count_failure(tx.as_mut(), now, &throttle).await?;
            let draft = Draft::new(actor.audit_name(), Action::StepUp, Outcome::Denied)
                .target(target.clone())
                .details(Details::reason(reason.clone()));
            self.kernel
                .append_audit(tx.as_mut(), ctx, now, draft)
                .await?;
            self.lockout_events(tx.as_mut(), ctx, now, &throttle, &target)
                .await?;
            tx.commit().await?;
            return Err(ServiceError::SecondFactorRefused(reason));
        }
        tx.update_session(id, SessionStage::Full, now, now).await?;
        let draft = Draft::new(actor.audit_name(), Action::StepUp, Outcome::Success).target(target);
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The throttle key of an account's login name (its keyed hash).
    pub(crate) fn account_key(&self, account: &PrincipalRecord) -> String {
        self.identity
            .login_key
            .throttle_key(&account.name.uniqueness_key())
    }

    /// Refuses (and records) a second-factor attempt while the account's
    /// login name is locked out.
    pub(super) async fn refuse_if_locked(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        now: OffsetDateTime,
        account: &PrincipalRecord,
        target: &str,
        action: Action,
    ) -> Result<(), ServiceError> {
        let mut tx = self.kernel.store.begin_read().await?;
        let lock = tx.throttle(&self.account_key(account)).await?;
        drop(tx);
        let Some(retry) = locked_for(lock.as_ref(), now) else {
            return Ok(());
        };
        self.refuse_for(
            actor,
            ctx,
            now,
            Refusal {
                action,
                target: target.to_owned(),
                tenant: account.tenant,
                reason: "locked out",
            },
        )
        .await?;
        Err(ServiceError::LockedOut {
            retry_after_secs: retry,
        })
    }

    /// Ends the caller's own session.
    pub async fn logout(&self, actor: &Actor, ctx: &RequestContext) -> Result<(), ServiceError> {
        let now = self.kernel.clock.now();
        let Credential::Session { id, .. } = actor.credential else {
            return Err(ServiceError::Invalid {
                field: "credential",
                message: "only a login session logs out; revoke an API token instead".to_owned(),
            });
        };
        let mut tx = self.kernel.store.begin().await?;
        tx.revoke_session(id, now).await?;
        let draft = Draft::new(actor.audit_name(), Action::Logout, Outcome::Success)
            .target(format!("session:{id}"));
        self.kernel
            .append_audit(tx.as_mut(), ctx, now, draft)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the login-name key's check value on first start, and tells
    /// whether this process's key is the one recorded: a replica with
    /// another key would count failures apart from the others.
    pub async fn login_key_matches(&self) -> Result<bool, ServiceError> {
        let mine = self.identity.login_key.check_value();
        let mut tx = self.kernel.store.begin().await?;
        let recorded = tx.record_login_key_check(mine).await?;
        tx.commit().await?;
        Ok(recorded == mine)
    }

    /// Housekeeping: forgets failure counters idle for a day (lockout
    /// escalation looks back that far). Run by `rempart serve` every few
    /// minutes; returns how many were forgotten.
    pub async fn purge_login_throttle(&self) -> Result<u64, ServiceError> {
        let now = self.kernel.clock.now();
        let mut tx = self.kernel.store.begin().await?;
        let purged = tx.purge_login_throttle(now - Duration::days(1)).await?;
        if purged > 0 {
            let draft = Draft::new("system", Action::ThrottlePurge, Outcome::Success)
                .details(Details::field("purged", purged.to_string()));
            self.kernel
                .append_audit(tx.as_mut(), &RequestContext::system(), now, draft)
                .await?;
        }
        tx.commit().await?;
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

    /// The same for a source address, with its own limit.
    async fn count_source_failure(
        &self,
        tx: &mut dyn Tx,
        now: OffsetDateTime,
        key: &str,
    ) -> Result<(), ServiceError> {
        let limit = self.identity.config.source_attempts;
        self.count_toward_lockout(tx, now, key, limit).await
    }

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

    /// Appends a high-severity lockout event when `key` was just locked.
    pub(super) async fn lockout_events(
        &self,
        tx: &mut dyn Tx,
        ctx: &RequestContext,
        now: OffsetDateTime,
        key: &str,
        target: &str,
    ) -> Result<(), ServiceError> {
        let keys = std::iter::once(key.to_owned()).chain(source_key(ctx));
        for key in keys {
            let Some(record) = tx.throttle(&key).await? else {
                continue;
            };
            if record.failures == 0 && record.locked_until.is_some_and(|u| now < u) {
                let mut details = serde_json::Map::new();
                details.insert("severity".to_owned(), "high".into());
                details.insert(
                    "locked_for_secs".to_owned(),
                    record
                        .locked_until
                        .map_or(0, |u| (u - now).whole_seconds())
                        .into(),
                );
                details.insert(
                    "on".to_owned(),
                    if key.starts_with("source:") {
                        "source"
                    } else {
                        "account"
                    }
                    .into(),
                );
                let draft = Draft::new("system", Action::Lockout, Outcome::Success)
                    .target(target.to_owned())
                    .details(Details::new(&details));
                self.kernel.append_audit(tx, ctx, now, draft).await?;
                tracing::warn!(target = %target, "login locked out after repeated failures");
            }
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
        let mut tx = self.kernel.store.begin_read().await?;
        let found = tx.session_by_hash(&secret::fingerprint(secret)).await?;
        let live = found.filter(|s| {
            s.revoked_at.is_none() && now < s.expires_at && now - s.last_seen_at < idle
        });
        let principal = match &live {
            Some(s) => tx.principal(s.principal).await?,
            None => None,
        };
        let (Some(session), Some(principal)) = (live, principal) else {
            drop(tx);
            let draft = Draft::new("anonymous", Action::AuthSession, Outcome::Denied);
            self.refuse(ctx, now, draft).await?;
            return Err(ServiceError::Unauthenticated);
        };
        let mut tx = self
            .admit_holder(tx, ctx, now, &principal, Action::AuthSession)
            .await?;
        if !stages.contains(&session.stage) {
            return Err(ServiceError::LoginIncomplete {
                next: session.stage.as_str(),
            });
        }
        let grants = tx.grants_of(principal.id).await?;
        drop(tx);
        if now - session.last_seen_at >= SESSION_TOUCH_INTERVAL {
            let mut tx = self.kernel.store.begin().await?;
            tx.touch_session(session.id, now).await?;
            tx.commit().await?;
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
                return Err(ServiceError::SourceNotAllowed { what: "API token" });
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

fn login_draft(
    target: &str,
    tenant: Option<rempart_model::TenantId>,
    outcome: Outcome,
    reason: &str,
) -> Draft {
    Draft::new("anonymous", Action::Login, outcome)
        .target(target.to_owned())
        .details(Details::reason(reason))
        .in_tenant(tenant)
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
