//! Credentials: passwords under the policy (control AC-5), TOTP second
//! factors and single-use recovery codes (control AC-1).

use rempart_model::password_policy::{Measured, PasswordPolicy, PasswordRule};
use rempart_model::{Action, Outcome, Permission, PrincipalId};
use rempart_store::{PasswordRecord, PrincipalRecord, ReadTx, SessionStage, TotpRecord};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::login::advance_totp;
use super::tenant_access::TenantAccess;
use crate::identity::error::IdentityError;
use crate::identity::totp::TotpSecret;
use crate::kernel::actor::{Actor, Credential};
use crate::kernel::context::RequestContext;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Clearance, Cleared, Gate, Write};
use crate::kernel::liveness::Reach;
use crate::kernel::target::Target;
use crate::service::Rempart;

/// Why a cut credential changes no sign-in factor (invariant 8).
const NO_ESCALATION: &str = "a credential cut to one tenant or some permissions changes neither its holder's sign-in factors nor its holder's other credentials";

/// The data-key purpose sealing TOTP secrets.
const TOTP_PURPOSE: &str = "identity-totp";

/// The most previous passwords read for a reuse check (a policy's
/// `history` above this is capped here).
const MAX_HISTORY: u32 = 64;

/// A recovery code as stored: its id and SHA-256.
pub(crate) type StoredCode = (uuid::Uuid, [u8; 32]);

/// Recovery codes made at once.
const RECOVERY_CODES: usize = 10;

/// What an authenticator app needs, shown once.
pub struct TotpEnrolment {
    /// `otpauth://totp/…`: as a QR code or a link.
    pub uri: SecretString,
    /// The secret in base32, for manual entry.
    pub secret: SecretString,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment(redacted)")
    }
}

/// Single-use recovery codes, shown once (stored as SHA-256 only: each
/// carries 80 random bits, nothing to guess).
#[derive(Clone)]
pub struct RecoveryCodes(pub Vec<SecretString>);

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes({} redacted)", self.0.len())
    }
}

/// The record a TOTP secret's envelope is bound to.
fn totp_record(principal: PrincipalId) -> Vec<u8> {
    format!("totp:{principal}").into_bytes()
}

/// The stored form of a recovery code: SHA-256 of its normalised text.
pub(crate) fn recovery_fingerprint(code: &str) -> [u8; 32] {
    let normal: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(format!("rmp-recovery:{normal}").as_bytes()).into()
}

/// Whether a second-factor code looks like a recovery code (TOTP codes
/// are six digits).
pub(crate) fn is_recovery_code(code: &str) -> bool {
    code.trim().len() > 6
}

fn new_recovery_code() -> Result<SecretString, ServiceError> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = zeroize::Zeroizing::new([0_u8; 10]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| ServiceError::RandomUnavailable)?;
    // 80 bits as 16 base32 characters, in groups of four.
    let text = base32_lower(bytes.as_ref());
    let grouped: Vec<&str> = text
        .as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    Ok(SecretString::from(grouped.join("-")))
}

fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let index = usize::try_from((buffer >> bits) & 31).unwrap_or(0);
            out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'a')));
        }
    }
    if bits > 0 {
        let index = usize::try_from((buffer << (5 - bits)) & 31).unwrap_or(0);
        out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'a')));
    }
    out
}

impl Rempart {
    /// Checks `password` for `account` against the policy and the history,
    /// then hashes it. Each refusal names every rule it breaks.
    pub(crate) async fn checked_hash(
        &self,
        account: &PrincipalRecord,
        policy: &PasswordPolicy,
        password: SecretString,
        history: &[String],
    ) -> Result<String, ServiceError> {
        let mut inputs: Vec<&str> = vec![account.name.as_str()];
        inputs.extend(account.email.as_deref());
        inputs.extend(account.display_name.as_deref());
        let length = password.expose_secret().chars().count();
        let too_long = u32::try_from(length).map_or(true, |n| n > policy.max_length);
        // Over-long passwords are refused before any costly measurement.
        let (strength, common) = if too_long {
            (0, false)
        } else {
            super::strength::measure(password.expose_secret(), &inputs)
        };
        let mut reused = false;
        if !too_long {
            for old in history
                .iter()
                .take(usize::try_from(policy.history).unwrap_or(0))
            {
                let check = self
                    .identity
                    .hasher
                    .verify(password.clone(), old.clone())
                    .await
                    .map_err(|e| ServiceError::Invalid {
                        field: "password",
                        message: e.to_string(),
                    })?;
                if check.matches {
                    reused = true;
                    break;
                }
            }
        }
        let measured = Measured {
            strength,
            common,
            reused,
        };
        if let Err(rules) = policy.check(password.expose_secret(), account.name.as_str(), measured)
        {
            return Err(ServiceError::from(IdentityError::PasswordRefused { rules }));
        }
        self.identity
            .hasher
            .hash(password)
            .await
            .map_err(|e| ServiceError::AuditLog(format!("password hashing: {e}")))
    }

    /// Changes the caller's own password: the current one is proved first.
    /// Allowed from a full session, or one whose next step is this change.
    pub async fn change_password(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        current: SecretString,
        new: SecretString,
    ) -> Result<(), ServiceError> {
        let call =
            Call::by(actor, ctx, Action::PasswordChange).on(Target::Principal(actor.principal));
        self.refuse_if_cut(call.clone(), actor).await?;
        let mut tx = self.kernel.read().await?;
        let account = tx.principal(actor.principal).await?;
        let stored = tx.password(actor.principal).await?;
        let history = tx.password_history(actor.principal, MAX_HISTORY).await?;
        let access = match &account {
            Some(a) => self.access_of(tx.as_mut(), a).await?,
            None => TenantAccess::default(),
        };
        drop(tx);
        let (Some(account), Some(stored)) = (account, stored) else {
            return Err(ServiceError::Invalid {
                field: "current_password",
                message: "this account has no password".to_owned(),
            });
        };
        let call = call.in_tenant(account.tenant);
        // Wrong current passwords count toward the login lockout; while it
        // holds, this check is refused like every other password check.
        let proof = self
            .check_password(&call, &account, current, &stored)
            .await?;
        if !proof.matches {
            let gate = self.kernel.write(call).await?.clear(Clearance::Credential);
            let reason = "the current password is wrong";
            return Err(self
                .current_password_refused(gate, &account, reason)
                .await?);
        }
        let policy = self.policy_with(&access);
        let hash = self
            .accepted_hash(actor, ctx, &account, &policy, new, &history)
            .await?;
        let gate = self.kernel.write(call).await?.clear(Clearance::Credential);
        let mut gate = self.unless_locked(gate, &account).await?;
        // The password proved must still be the current one.
        let now_stored = gate.read().password(account.id).await?;
        if now_stored.is_none_or(|p| p.hash != stored.hash) {
            let reason = "the current password changed during the check";
            return Err(self
                .current_password_refused(gate, &account, reason)
                .await?);
        }
        let record = PasswordRecord {
            principal: account.id,
            hash,
            changed_at: gate.now(),
            must_change: false,
        };
        gate.tx().set_password(&record, policy.history).await?;
        end_other_sessions(&mut gate, actor, &account).await?;
        gate.commit().await
    }

    /// Records a refused password change (a wrong current password), which
    /// counts toward the login lockout, and returns the answer.
    async fn current_password_refused(
        &self,
        mut gate: Gate<'_, Write, Cleared>,
        account: &PrincipalRecord,
        reason: &str,
    ) -> Result<ServiceError, ServiceError> {
        let now = gate.now();
        self.count_failure(gate.tx(), now, &self.account_key(account))
            .await?;
        gate.details(crate::kernel::details::Details::reason(reason));
        gate.commit_as(Outcome::Denied).await?;
        Ok(ServiceError::from(IdentityError::LoginFailed))
    }

    /// Sets another account's password (an administrator's reset): needs
    /// `user.update` over the account and a recent login; the holder must
    /// change it at the next login, and their sessions end.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        account: PrincipalId,
        new: SecretString,
    ) -> Result<(), ServiceError> {
        let call = Call::by(actor, ctx, Action::PasswordSet).on(Target::Principal(account));
        // Refused before any hashing (the gate is left without a change),
        // then decided again in the gate that changes it.
        let gate = self.kernel.write(call.clone()).await?;
        let (mut gate, record) = self
            .account_to_change(gate, account, Permission::UserUpdate, Reach::Use)
            .await?;
        let history = gate.read().password_history(account, MAX_HISTORY).await?;
        let access = self.access_of(gate.read(), &record).await?;
        drop(gate);
        if record.kind == rempart_store::AccountKind::Service {
            return Err(ServiceError::Invalid {
                field: "password",
                message: "a service account uses API tokens, not a password".to_owned(),
            });
        }
        let policy = self.policy_with(&access);
        let hash = self
            .accepted_hash(actor, ctx, &record, &policy, new, &history)
            .await?;
        let gate = self.kernel.write(call).await?;
        let (mut gate, record) = self
            .account_to_change(gate, account, Permission::UserUpdate, Reach::Use)
            .await?;
        let now = gate.now();
        let password = PasswordRecord {
            principal: account,
            hash,
            changed_at: now,
            must_change: true,
        };
        gate.tx().set_password(&password, policy.history).await?;
        gate.tx().revoke_sessions_of(account, now).await?;
        gate.in_tenant(record.tenant);
        gate.commit().await
    }

    /// Records a new password refused by the policy, naming every rule it
    /// breaks.
    /// The hash of `new` for `account` (see [`Rempart::checked_hash`]);
    /// a password the policy refuses is recorded as refused, then returned
    /// as the error.
    async fn accepted_hash(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        account: &PrincipalRecord,
        policy: &PasswordPolicy,
        new: SecretString,
        history: &[String],
    ) -> Result<String, ServiceError> {
        let refused = match self.checked_hash(account, policy, new, history).await {
            Err(e) => e,
            hash => return hash,
        };
        if let Some(IdentityError::PasswordRefused { rules }) = refused.domain::<IdentityError>() {
            let now = self.kernel.clock.now();
            self.refuse_password(actor, ctx, now, account, rules)
                .await?;
        }
        Err(refused)
    }

    pub(crate) async fn refuse_password(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        _now: time::OffsetDateTime,
        account: &PrincipalRecord,
        rules: &[PasswordRule],
    ) -> Result<(), ServiceError> {
        let names: Vec<String> = rules.iter().map(ToString::to_string).collect();
        let call = Call::by(actor, ctx, Action::PasswordChange)
            .on(Target::Principal(account.id))
            .in_tenant(account.tenant);
        let reason = format!("password policy: {}", names.join("; "));
        self.kernel
            .record_refusal(call, Outcome::Denied, &reason)
            .await
    }

    /// A credential cut to one tenant or to some permissions acts within
    /// that cut only (invariant 8): it changes none of its holder's
    /// sign-in factors, and no other credential of its holder. Refused as
    /// `no-escalation`, before any gate opens.
    pub(super) async fn refuse_if_cut(
        &self,
        call: Call<'_>,
        actor: &Actor,
    ) -> Result<(), ServiceError> {
        if !actor.cut().narrows_what() {
            return Ok(());
        }
        let reason = format!("rule no-escalation: {NO_ESCALATION}");
        self.kernel
            .record_refusal(call, Outcome::Denied, &reason)
            .await?;
        Err(no_escalation())
    }

    /// Starts TOTP enrolment for the caller: a new secret, sealed by the
    /// keyring, unconfirmed until a code from it is given to
    /// [`Rempart::confirm_totp`]. A confirmed enrolment is not replaced
    /// (an administrator resets it).
    pub async fn enrol_totp(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<TotpEnrolment, ServiceError> {
        let call = Call::by(actor, ctx, Action::MfaEnrol).on(Target::Principal(actor.principal));
        let gate = self.ensure_uncut(self.kernel.write(call).await?).await?;
        let secret = TotpSecret::generate().map_err(|_| ServiceError::RandomUnavailable)?;
        let uri = secret
            .enrolment_uri(&self.identity.config.mfa_issuer, actor.name.as_str())
            .map_err(|e| ServiceError::Invalid {
                field: "mfa_issuer",
                message: e.to_string(),
            })?;
        // Nothing is enrolled for a user of a crypto-shredded tenant.
        let mut gate = gate.clear(Clearance::Own).caller_live().await?;
        let existing = gate.read().totp(actor.principal).await?;
        if existing.is_some_and(|t| t.confirmed_at.is_some()) {
            let answer = ServiceError::Invalid {
                field: "totp",
                message: "an authenticator is already enrolled; an administrator resets it"
                    .to_owned(),
            };
            return Err(gate
                .refuse("a confirmed authenticator exists", answer)
                .await);
        }
        let ctx = gate.ctx().clone();
        let now = gate.now();
        let key = self
            .kernel
            .system_data_key(gate.tx(), &ctx, now, TOTP_PURPOSE)
            .await?;
        let sealed = key
            .encrypt(&totp_record(actor.principal), secret.expose_bytes())
            .map_err(crate::kernel::keyring::KeyError::from)?;
        gate.tx()
            .set_data_key_encryptions(key.id().as_bytes(), key.usage().encryptions)
            .await?;
        gate.tx()
            .put_totp(&TotpRecord {
                principal: actor.principal,
                secret: sealed,
                last_step: None,
                created_at: now,
                confirmed_at: None,
            })
            .await?;
        gate.commit().await?;
        let base32 = base32_upper(secret.expose_bytes());
        Ok(TotpEnrolment {
            uri: SecretString::from(uri),
            secret: SecretString::from(base32),
        })
    }

    /// Confirms the caller's pending TOTP enrolment with a code from the
    /// authenticator, and returns fresh recovery codes (shown once). A
    /// session waiting for enrolment moves to its next step.
    pub async fn confirm_totp(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        code: &SecretString,
    ) -> Result<RecoveryCodes, ServiceError> {
        let call = Call::by(actor, ctx, Action::MfaConfirm).on(Target::Principal(actor.principal));
        let gate = self.kernel.write(call).await?.clear(Clearance::Own);
        let mut gate = gate.caller_live().await?;
        let pending = gate.read().totp(actor.principal).await?;
        let Some(pending) = pending.filter(|t| t.confirmed_at.is_none()) else {
            return Err(ServiceError::Invalid {
                field: "code",
                message: "no authenticator enrolment is pending: start one first".to_owned(),
            });
        };
        let secret = self.open_totp(gate.read(), &pending).await?;
        let now = gate.now();
        let step = match secret.verify(code.expose_secret(), now, pending.last_step) {
            Ok(step) => step,
            Err(refusal) => {
                let reason = refusal.to_string();
                let answer = IdentityError::SecondFactorRefused(reason.clone());
                return Err(gate.refuse(&reason, answer).await);
            }
        };
        let (codes, hashes) = self.new_recovery_codes()?;
        if let Err(reason) = advance_totp(&mut gate, &pending, step, Some(now)).await? {
            return Err(ServiceError::from(IdentityError::SecondFactorRefused(
                reason,
            )));
        }
        gate.tx()
            .replace_recovery_codes(actor.principal, &hashes, now)
            .await?;
        if let Credential::Session { id, .. } = actor.credential
            && let Some(session) = gate.read().session(id).await?
        {
            let policy = self.policy_of(gate.read(), actor.principal).await?;
            let must_change = gate
                .read()
                .password(actor.principal)
                .await?
                .is_some_and(|p| Self::password_change_due(&policy, &p, now));
            let stage = match session.stage {
                SessionStage::EnrolMfa if must_change => SessionStage::ChangePassword,
                SessionStage::EnrolMfa => SessionStage::Full,
                other => other,
            };
            gate.tx().update_session(id, stage, now, now).await?;
        }
        gate.commit().await?;
        Ok(codes)
    }

    /// A fresh set of recovery codes, and what is stored of them.
    pub(crate) fn new_recovery_codes(
        &self,
    ) -> Result<(RecoveryCodes, Vec<StoredCode>), ServiceError> {
        let codes: Vec<SecretString> = (0..RECOVERY_CODES)
            .map(|_| new_recovery_code())
            .collect::<Result<_, _>>()?;
        let hashes = codes
            .iter()
            .map(|c| {
                (
                    self.kernel.clock.new_id(),
                    recovery_fingerprint(c.expose_secret()),
                )
            })
            .collect();
        Ok((RecoveryCodes(codes), hashes))
    }

    /// Removes an account's authenticator, security keys and passkeys, and
    /// recovery codes (a lost phone or key): needs `user.update` over the
    /// account and a recent login. The holder enrols again at the next
    /// login if MFA is required. It only narrows access, so it still
    /// reaches the accounts of a crypto-shredded tenant.
    pub async fn reset_mfa(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        account: PrincipalId,
    ) -> Result<(), ServiceError> {
        let call = Call::by(actor, ctx, Action::MfaReset).on(Target::Principal(account));
        let gate = self.kernel.write(call).await?;
        let (mut gate, record) = self
            .account_to_change(gate, account, Permission::UserUpdate, Reach::Narrow)
            .await?;
        let now = gate.now();
        let tx = gate.tx();
        tx.delete_totp(account).await?;
        tx.delete_webauthn_credentials(account).await?;
        tx.replace_recovery_codes(account, &[], now).await?;
        tx.revoke_sessions_of(account, now).await?;
        gate.in_tenant(record.tenant);
        gate.commit().await
    }

    /// The TOTP secret of a stored credential, opened by the keyring
    /// within `tx` (a gate's: no second transaction while it is open).
    pub(crate) async fn open_totp(
        &self,
        tx: &mut dyn ReadTx,
        record: &TotpRecord,
    ) -> Result<TotpSecret, ServiceError> {
        let bytes = self
            .kernel
            .decrypt_system_in(
                tx,
                TOTP_PURPOSE,
                &totp_record(record.principal),
                &record.secret,
            )
            .await?;
        TotpSecret::from_bytes(bytes).map_err(|e| ServiceError::AuditLog(e.to_string()))
    }
}

/// The answer to a cut credential changing a sign-in factor.
fn no_escalation() -> ServiceError {
    ServiceError::RuleRefused {
        rule: "no-escalation",
        message: NO_ESCALATION.to_owned(),
    }
}

/// After a password change from a session: that session continues, fully
/// logged in (a change that was its next step is done); the holder's
/// other sessions end.
async fn end_other_sessions(
    gate: &mut Gate<'_, Write, Cleared>,
    actor: &Actor,
    account: &PrincipalRecord,
) -> Result<(), ServiceError> {
    let Credential::Session { id, .. } = actor.credential else {
        return Ok(());
    };
    let now = gate.now();
    let tx = gate.tx();
    if let Some(session) = tx.session(id).await? {
        let stage = if session.stage == SessionStage::ChangePassword {
            SessionStage::Full
        } else {
            session.stage
        };
        tx.update_session(id, stage, now, now).await?;
    }
    for other in tx.sessions_of(account.id, now).await? {
        if other.id != id {
            tx.revoke_session(other.id, now).await?;
        }
    }
    Ok(())
}

fn base32_upper(bytes: &[u8]) -> String {
    base32_lower(bytes).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_is_rfc_4648() {
        assert_eq!(base32_upper(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            base32_upper(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn recovery_codes_are_80_bits_grouped() {
        let code = new_recovery_code().unwrap();
        let text = code.expose_secret();
        assert_eq!(text.len(), 19, "{text}");
        assert_eq!(text.matches('-').count(), 3);
        assert!(is_recovery_code(text));
        assert!(!is_recovery_code("123456"));
        assert_eq!(
            recovery_fingerprint(text),
            recovery_fingerprint(&text.to_uppercase().replace('-', " "))
        );
    }
}
