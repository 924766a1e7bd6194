//! WebAuthn security keys and passkeys as a second factor (control AC-1),
//! with webauthn-rs as the relying party.
//!
//! A ceremony (registration or authentication) is started by one request
//! and finished by another, which a load balancer may send to another
//! replica. Its state is therefore kept in the database, bound to the
//! session that started it, and taken (deleted) in the transaction that
//! finishes it: a ceremony is used at most once, and a challenge answered
//! once cannot be answered again. An assertion whose signature counter does
//! not exceed the stored one (a cloned authenticator, or a replayed
//! assertion) is refused. Every refusal is audited, counted towards the
//! account's lockout like a wrong TOTP code, and changes nothing else: the
//! credential and the session are left as they were.

use rempart_model::{Action, PrincipalId};
use rempart_store::{
    CeremonyKind, ReadTx, SessionRecord, SessionStage, WebauthnCeremonyRecord,
    WebauthnCredentialRecord,
};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, Passkey, PasskeyAuthentication, PasskeyRegistration, Webauthn,
    WebauthnError,
};

pub use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};

use super::config::relying_party;
use super::login::LoginStep;
use crate::identity::error::IdentityError;
use crate::kernel::actor::{Actor, Credential};
use crate::kernel::context::RequestContext;
use crate::kernel::details::Details;
use crate::kernel::error::ServiceError;
use crate::kernel::gate::{Call, Clearance, Cleared, Gate, Write};
use crate::kernel::target::Target;
use crate::service::Rempart;

/// How long a started ceremony may be finished.
pub const CEREMONY_LIFETIME: Duration = Duration::minutes(5);

/// Longest name a holder may give a credential.
const MAX_NAME_CHARS: usize = 64;

/// Security keys and passkeys one account may hold.
const MAX_CREDENTIALS: usize = 20;

/// A started ceremony: its id (sent back to finish it) and the options for
/// the browser's `navigator.credentials` call.
#[derive(Debug, Clone)]
pub struct WebauthnChallenge<T> {
    pub ceremony: Uuid,
    pub options: T,
}

/// A registered security key or passkey, as its holder sees it.
#[derive(Debug, Clone)]
pub struct WebauthnCredentialView {
    pub id: Uuid,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    /// The caller's session stage after registration (a login waiting for
    /// MFA enrolment moves on).
    pub stage: Option<SessionStage>,
    /// Recovery codes made at registration when the account had none left
    /// (shown once).
    pub recovery_codes: Option<super::credentials::RecoveryCodes>,
}

/// The one message for a ceremony that cannot be finished: no one learns
/// whether it existed.
const UNKNOWN_CEREMONY: &str =
    "no such WebAuthn ceremony for this session: unknown, already finished, or expired";

fn parse_passkeys(records: &[WebauthnCredentialRecord]) -> Result<Vec<Passkey>, ServiceError> {
    records
        .iter()
        .map(|r| {
            serde_json::from_str::<Passkey>(&r.passkey).map_err(|e| {
                ServiceError::Store(rempart_store::StoreError::Corrupt(format!(
                    "WebAuthn credential {}: {e}",
                    r.id
                )))
            })
        })
        .collect()
}

/// The session behind a session actor, with its stage; `None` for an API
/// token.
async fn session_of(
    tx: &mut dyn ReadTx,
    actor: &Actor,
) -> Result<Option<SessionRecord>, ServiceError> {
    let Credential::Session { id, .. } = actor.credential else {
        return Ok(None);
    };
    Ok(tx.session(id).await?)
}

fn state_json<T: serde::Serialize>(state: &T) -> Result<String, ServiceError> {
    serde_json::to_string(state)
        .map_err(|e| ServiceError::AuditLog(format!("WebAuthn ceremony state: {e}")))
}

/// Why an assertion was refused, in words that name no secret.
fn assertion_refusal(err: &WebauthnError) -> String {
    match err {
        WebauthnError::CredentialPossibleCompromise => "the signature counter did not increase: \
            a replayed assertion or a cloned authenticator"
            .to_owned(),
        WebauthnError::MismatchedChallenge => {
            "the assertion answers another challenge (replayed)".to_owned()
        }
        other => format!("the assertion is refused: {other}"),
    }
}

impl Rempart {
    fn webauthn(&self) -> Result<Webauthn, ServiceError> {
        relying_party(&self.identity.config)
            .map_err(|message| ServiceError::Invalid {
                field: "identity.webauthn_origin",
                message,
            })?
            .ok_or(ServiceError::from(IdentityError::WebauthnNotConfigured))
    }

    /// Starts registering a security key or passkey for the caller, from a
    /// login session that is logged in or waiting for MFA enrolment.
    pub async fn webauthn_register_start(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
    ) -> Result<WebauthnChallenge<CreationChallengeResponse>, ServiceError> {
        let webauthn = self.webauthn()?;
        let call = Call::by(actor, ctx, Action::WebauthnRegisterStart)
            .on(Target::Principal(actor.principal));
        // Nothing is enrolled for a user of a crypto-shredded tenant.
        let gate = self.kernel.write(call).await?.clear(Clearance::Own);
        let mut gate = gate.caller_live().await?;
        let session = session_of(gate.read(), actor).await?;
        let Some(session) =
            session.filter(|s| matches!(s.stage, SessionStage::EnrolMfa | SessionStage::Full))
        else {
            return Err(ServiceError::Invalid {
                field: "credential",
                message: "a security key or passkey is registered from a login session".to_owned(),
            });
        };
        let existing = gate.read().webauthn_credentials(actor.principal).await?;
        if existing.len() >= MAX_CREDENTIALS {
            let answer = ServiceError::Invalid {
                field: "credential",
                message: format!(
                    "at most {MAX_CREDENTIALS} security keys and passkeys per account"
                ),
            };
            return Err(gate
                .refuse("too many security keys and passkeys", answer)
                .await);
        }
        let exclude = parse_passkeys(&existing)?
            .iter()
            .map(|p| p.cred_id().clone())
            .collect();
        let (options, state) = webauthn
            .start_passkey_registration(
                actor.principal.0,
                actor.name.as_str(),
                actor.name.as_str(),
                Some(exclude),
            )
            .map_err(|e| ServiceError::AuditLog(format!("WebAuthn registration: {e}")))?;
        let ceremony = (actor.principal, session.id, CeremonyKind::Registration);
        self.open_ceremony(gate, ceremony, &state, options).await
    }

    /// Stores a ceremony's state for `(principal, session, kind)` (expired
    /// ones purged first), records the event naming the ceremony, and
    /// hands the browser its options.
    async fn open_ceremony<T>(
        &self,
        mut gate: Gate<'_, Write, Cleared>,
        (principal, session, kind): (PrincipalId, Uuid, CeremonyKind),
        state: &impl serde::Serialize,
        options: T,
    ) -> Result<WebauthnChallenge<T>, ServiceError> {
        let now = gate.now();
        let ceremony = WebauthnCeremonyRecord {
            id: self.kernel.clock.new_id(),
            principal,
            session,
            kind,
            state: state_json(state)?,
            created_at: now,
            expires_at: now + CEREMONY_LIFETIME,
        };
        gate.tx().purge_webauthn_ceremonies(now).await?;
        gate.tx().insert_webauthn_ceremony(&ceremony).await?;
        gate.details(Details::field("ceremony", ceremony.id.to_string()));
        gate.commit().await?;
        Ok(WebauthnChallenge {
            ceremony: ceremony.id,
            options,
        })
    }

    /// Finishes a registration with the browser's answer. Counts as MFA
    /// enrolment: a session waiting for it moves to its next step.
    pub async fn webauthn_register_finish(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        ceremony: Uuid,
        name: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<WebauthnCredentialView, ServiceError> {
        let webauthn = self.webauthn()?;
        let name = name.trim();
        let name = if name.is_empty() {
            "security key"
        } else {
            name
        };
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(ServiceError::Invalid {
                field: "name",
                message: format!("at most {MAX_NAME_CHARS} printable characters"),
            });
        }
        let call =
            Call::by(actor, ctx, Action::WebauthnRegister).on(Target::Principal(actor.principal));
        let gate = self.kernel.write(call).await?.clear(Clearance::Own);
        let mut gate = gate.caller_live().await?;
        let Some(session) = session_of(gate.read(), actor).await? else {
            return Err(ServiceError::Invalid {
                field: "credential",
                message: "a security key or passkey is registered from a login session".to_owned(),
            });
        };
        let taken = gate
            .tx()
            .take_webauthn_ceremony(
                ceremony,
                actor.principal,
                session.id,
                CeremonyKind::Registration,
            )
            .await?;
        let outcome = match registered(&webauthn, taken, gate.now(), credential) {
            Ok(passkey)
                if gate
                    .read()
                    .webauthn_credential_exists(passkey.cred_id())
                    .await? =>
            {
                Err("this authenticator credential is already registered".to_owned())
            }
            other => other,
        };
        match outcome {
            Ok(passkey) => {
                self.store_passkey(gate, actor.principal, &session, name, &passkey)
                    .await
            }
            Err(reason) => {
                // The ceremony stays used; nothing else changes.
                gate.details(Details::reason(reason.clone()));
                gate.commit_as(rempart_model::Outcome::Denied).await?;
                Err(ServiceError::from(IdentityError::SecondFactorRefused(
                    reason,
                )))
            }
        }
    }

    /// Stores a registered credential, with fresh recovery codes when the
    /// account has none left, and moves a session waiting for MFA
    /// enrolment on.
    async fn store_passkey(
        &self,
        mut gate: Gate<'_, Write, Cleared>,
        principal: PrincipalId,
        session: &SessionRecord,
        name: &str,
        passkey: &Passkey,
    ) -> Result<WebauthnCredentialView, ServiceError> {
        let now = gate.now();
        let record = WebauthnCredentialRecord {
            id: self.kernel.clock.new_id(),
            principal,
            credential_id: passkey.cred_id().clone(),
            name: name.to_owned(),
            passkey: state_json(passkey)?,
            counter: 0,
            created_at: now,
            last_used_at: None,
        };
        let tx = gate.tx();
        tx.insert_webauthn_credential(&record).await?;
        // A key can be lost like a phone: an account without unused
        // recovery codes gets a fresh set, as at TOTP enrolment.
        let recovery_codes = if tx.count_recovery_codes(principal).await? == 0 {
            let (codes, hashes) = self.new_recovery_codes()?;
            tx.replace_recovery_codes(principal, &hashes, now).await?;
            Some(codes)
        } else {
            None
        };
        let stage = if session.stage == SessionStage::EnrolMfa {
            let policy = self.policy_of(tx, principal).await?;
            let must_change = tx
                .password(principal)
                .await?
                .is_some_and(|p| Self::password_change_due(&policy, &p, now));
            let stage = if must_change {
                SessionStage::ChangePassword
            } else {
                SessionStage::Full
            };
            tx.update_session(session.id, stage, now, now).await?;
            stage
        } else {
            session.stage
        };
        gate.details(Details::field("credential", record.id.to_string()));
        gate.commit().await?;
        Ok(WebauthnCredentialView {
            id: record.id,
            name: record.name,
            created_at: record.created_at,
            last_used_at: None,
            stage: Some(stage),
            recovery_codes,
        })
    }

    /// The caller's security keys and passkeys.
    pub async fn webauthn_credentials(
        &self,
        actor: &Actor,
    ) -> Result<Vec<WebauthnCredentialView>, ServiceError> {
        let mut tx = self.kernel.read().await?;
        let records = tx.webauthn_credentials(actor.principal).await?;
        drop(tx);
        Ok(records
            .into_iter()
            .map(|r| WebauthnCredentialView {
                id: r.id,
                name: r.name,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                stage: None,
                recovery_codes: None,
            })
            .collect())
    }

    /// Removes one of the caller's own security keys or passkeys (a lost
    /// one), after a recent proof of identity. The account's last second
    /// factor is not removed this way: enrol another first, or ask an
    /// administrator (`user reset-mfa`), so that no one drops their MFA by
    /// accident. Another account's key is "not found".
    pub async fn remove_webauthn_credential(
        &self,
        actor: &Actor,
        ctx: &RequestContext,
        id: Uuid,
    ) -> Result<(), ServiceError> {
        let call = Call::by(actor, ctx, Action::WebauthnRemove).on(Target::Webauthn(id));
        let gate = self.ensure_uncut(self.kernel.write(call).await?).await?;
        let mut gate = self.ensure_step_up(gate).await?.clear(Clearance::Own);
        // Two removals at once must not both see another factor left.
        gate.tx().lock_principal(actor.principal).await?;
        let keys = gate.read().webauthn_credentials(actor.principal).await?;
        if !keys.iter().any(|k| k.id == id) {
            let answer = ServiceError::NotFound {
                what: format!("security key {id}"),
            };
            return Err(gate.refuse("no such key on the account", answer).await);
        }
        let has_totp = gate
            .read()
            .totp(actor.principal)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        if keys.len() == 1 && !has_totp {
            let answer = ServiceError::RuleRefused {
                rule: "last-second-factor",
                message: "this is the account's last second factor: enrol another first, or ask an administrator to reset MFA".to_owned(),
            };
            return Err(gate
                .refuse("the account's last second factor", answer)
                .await);
        }
        gate.tx()
            .delete_webauthn_credential(actor.principal, id)
            .await?;
        gate.commit().await
    }

    /// Starts a WebAuthn authentication for a session waiting for its
    /// second factor, or (step-up) a logged-in one.
    pub async fn webauthn_start(
        &self,
        ctx: &RequestContext,
        session: &SecretString,
    ) -> Result<WebauthnChallenge<RequestChallengeResponse>, ServiceError> {
        let (webauthn, actor, record) = self.authentication_session(ctx, session).await?;
        let target = Target::Session(record.id);
        let mut tx = self.kernel.read().await?;
        let account = tx.principal(actor.principal).await?;
        drop(tx);
        let Some(account) = account else {
            return Err(ServiceError::Unauthenticated);
        };
        let attempt = Call::by(&actor, ctx, Action::Webauthn).on(target.clone());
        self.refuse_if_locked(attempt, &account).await?;
        let call = Call::by(&actor, ctx, Action::WebauthnStart)
            .on(target)
            .in_tenant(account.tenant);
        let mut gate = self.kernel.write(call).await?.clear(Clearance::Own);
        let credentials = gate.read().webauthn_credentials(actor.principal).await?;
        if credentials.is_empty() {
            let reason = "no security key or passkey is registered";
            let answer = IdentityError::SecondFactorRefused(reason.to_owned());
            return Err(gate.refuse(reason, answer).await);
        }
        let passkeys = parse_passkeys(&credentials)?;
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| ServiceError::AuditLog(format!("WebAuthn authentication: {e}")))?;
        let ceremony = (actor.principal, record.id, CeremonyKind::Authentication);
        self.open_ceremony(gate, ceremony, &state, options).await
    }

    /// Finishes a WebAuthn authentication with the browser's assertion. A
    /// session at its second factor moves on as with a TOTP code; a
    /// logged-in session counts as re-authenticated (step-up).
    pub async fn webauthn_finish(
        &self,
        ctx: &RequestContext,
        session: &SecretString,
        ceremony: Uuid,
        assertion: &PublicKeyCredential,
    ) -> Result<LoginStep, ServiceError> {
        let (webauthn, actor, record) = self.authentication_session(ctx, session).await?;
        let target = Target::Session(record.id);
        let call = Call::by(&actor, ctx, Action::Webauthn).on(target.clone());
        let (mut gate, account) = self.factor_gate(call, actor.principal).await?;
        let throttle = self.account_key(&account);
        let taken = gate
            .tx()
            .take_webauthn_ceremony(
                ceremony,
                actor.principal,
                record.id,
                CeremonyKind::Authentication,
            )
            .await?;
        // What the assertion proves, or why it proves nothing.
        let verdict = open_state(taken, gate.now()).and_then(|state: PasskeyAuthentication| {
            webauthn
                .finish_passkey_authentication(assertion, &state)
                .map_err(|e| assertion_refusal(&e))
        });
        let outcome = match verdict {
            Err(reason) => Err(reason),
            Ok(result) => use_credential(&mut gate, actor.principal, &result).await?,
        };
        let step_up = record.stage == SessionStage::Full;
        let mut details = serde_json::Map::new();
        details.insert(
            "for".to_owned(),
            if step_up { "step_up" } else { "second_factor" }.into(),
        );
        let credential = match outcome {
            Ok(credential) => credential,
            Err(reason) => {
                // The only write so far is taking the ceremony: it stays
                // used, and nothing else changes.
                details.insert("reason".to_owned(), reason.clone().into());
                self.factor_refused(gate, &throttle, &target, Details::new(&details))
                    .await?;
                return Err(ServiceError::from(IdentityError::SecondFactorRefused(
                    reason,
                )));
            }
        };
        let now = gate.now();
        let policy = self.policy_of(gate.read(), actor.principal).await?;
        let password = gate.read().password(actor.principal).await?;
        let stage =
            if !step_up && password.is_some_and(|p| Self::password_change_due(&policy, &p, now)) {
                SessionStage::ChangePassword
            } else {
                SessionStage::Full
            };
        details.insert("credential".to_owned(), credential.to_string().into());
        let details = Details::new(&details);
        self.factor_passed(gate, session, &record, stage, &throttle, details)
            .await
    }

    /// What a WebAuthn authentication step starts from: the relying party,
    /// and the session (waiting for its second factor, or logged in for a
    /// step-up) with its caller.
    async fn authentication_session(
        &self,
        ctx: &RequestContext,
        session: &SecretString,
    ) -> Result<(Webauthn, Actor, SessionRecord), ServiceError> {
        let webauthn = self.webauthn()?;
        let stages = [SessionStage::SecondFactor, SessionStage::Full];
        let (actor, record) = self.authenticate_session(ctx, session, &stages).await?;
        Ok((webauthn, actor, record))
    }
}

/// The state a ceremony stored when it was opened, if it is still open
/// (not used, not expired); why not otherwise.
fn open_state<S: DeserializeOwned>(
    taken: Option<WebauthnCeremonyRecord>,
    now: OffsetDateTime,
) -> Result<S, String> {
    match taken {
        Some(c) if c.expires_at > now => serde_json::from_str(&c.state)
            .map_err(|e| format!("the ceremony's stored state is unreadable: {e}")),
        _ => Err(UNKNOWN_CEREMONY.to_owned()),
    }
}

/// The passkey a registration ceremony yields, or why it yields none.
fn registered(
    webauthn: &Webauthn,
    taken: Option<WebauthnCeremonyRecord>,
    now: OffsetDateTime,
    credential: &RegisterPublicKeyCredential,
) -> Result<Passkey, String> {
    let state: PasskeyRegistration = open_state(taken, now)?;
    webauthn
        .finish_passkey_registration(credential, &state)
        .map_err(|e| format!("the registration is refused: {e}"))
}

/// Records the use of the account's credential an assertion names (its
/// counter moved on): the credential's id, or why the assertion is
/// refused.
async fn use_credential(
    gate: &mut Gate<'_, Write, Cleared>,
    principal: PrincipalId,
    result: &AuthenticationResult,
) -> Result<Result<Uuid, String>, ServiceError> {
    let credentials = gate.read().webauthn_credentials(principal).await?;
    let Some(used) = credentials
        .iter()
        .find(|c| &c.credential_id == result.cred_id())
    else {
        return Ok(Err(
            "the assertion names no credential of this account".to_owned()
        ));
    };
    // The ceremony's state holds the counters as they were when it
    // started, so webauthn-rs alone would accept an older assertion
    // finished after a newer one: check against the counter stored now.
    if (result.counter() > 0 || used.counter > 0) && result.counter() <= used.counter {
        return Ok(Err(assertion_refusal(
            &WebauthnError::CredentialPossibleCompromise,
        )));
    }
    let mut passkey = serde_json::from_str::<Passkey>(&used.passkey).map_err(|e| {
        ServiceError::Store(rempart_store::StoreError::Corrupt(format!(
            "WebAuthn credential {}: {e}",
            used.id
        )))
    })?;
    passkey.update_credential(result);
    // Compare-and-set on the counter: two replicas finishing ceremonies
    // for one key at once cannot both write.
    let now = gate.now();
    let updated = gate
        .tx()
        .update_webauthn_credential(
            used.id,
            &state_json(&passkey)?,
            used.counter,
            result.counter(),
            now,
        )
        .await?;
    Ok(if updated {
        Ok(used.id)
    } else {
        Err("the credential was used by another request at once".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityConfig;

    #[test]
    fn webauthn_is_off_until_both_keys_are_set() {
        let mut c = IdentityConfig::default();
        assert!(relying_party(&c).unwrap().is_none());
        c.webauthn_rp_id = "rempart.example.com".to_owned();
        assert!(relying_party(&c).unwrap_err().contains("set together"));
        c.webauthn_origin = "https://rempart.example.com".to_owned();
        assert!(relying_party(&c).unwrap().is_some());
        c.webauthn_origin = "https://elsewhere.example.org".to_owned();
        assert!(relying_party(&c).is_err());
        c.webauthn_origin = "not a url".to_owned();
        assert!(relying_party(&c).unwrap_err().contains("not a URL"));
    }
}
