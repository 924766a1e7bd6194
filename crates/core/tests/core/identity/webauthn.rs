//! WebAuthn security keys and passkeys through the service layer, on both
//! engines, with a software authenticator: registration as MFA enrolment,
//! login with it on another replica over the same store, and the refusals
//! (a replayed assertion, a cloned authenticator, another user's or an
//! expired ceremony), each audited and changing nothing else.

use rempart_core::identity::webauthn::{PublicKeyCredential, RequestChallengeResponse, Url};
use rempart_core::identity::{Identity, IdentityConfig, LoginStep};
use rempart_core::{Actor, Clock as _, Rempart, ServiceError};
use rempart_model::password_policy::PasswordPolicy;
use rempart_model::{PrincipalId, Role};
use rempart_store::{SessionStage, WebauthnCredentialRecord};
use rempart_testkit::{Engine, both_engines};
use time::Duration;
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use super::{
    Fixture, GOOD, admin, audit, create, create_with, ctx, denied, fixture_with, secret,
    session_actor, staff, throttle_of,
};
use rempart_core::identity::error::IdentityError;
use uuid::Uuid;

const ORIGIN: &str = "https://localhost";

fn config() -> IdentityConfig {
    IdentityConfig {
        webauthn_rp_id: "localhost".to_owned(),
        webauthn_origin: ORIGIN.to_owned(),
        ..IdentityConfig::default()
    }
}

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

/// Another replica: a second service over the same store and clock.
fn replica(f: &Fixture) -> Rempart {
    Rempart::new(f.store.clone(), f.clock.clone())
        .with_identity(Identity::for_tests(config(), PasswordPolicy::default()))
}

/// Creates a privileged staff account and registers a passkey for it at
/// its first login (MFA enrolment).
async fn enrolled(f: &Fixture, admin: &Actor, name: &str) -> (PrincipalId, SoftPasskey) {
    let account = create_with(f, admin, staff(name, Some(GOOD)), Role::SecurityAdmin).await;
    let step = f.core.login(&ctx(), name, secret(GOOD)).await.unwrap();
    assert_eq!(step.stage, SessionStage::EnrolMfa);
    let actor = session_actor(f, &step, SessionStage::EnrolMfa).await;
    let started = f
        .core
        .webauthn_register_start(&actor, &ctx())
        .await
        .unwrap();
    let mut key = SoftPasskey::new(true);
    let answer = key.do_registration(origin(), started.options).unwrap();
    let view = f
        .core
        .webauthn_register_finish(&actor, &ctx(), started.ceremony, "soft key", &answer)
        .await
        .unwrap();
    assert_eq!(view.stage, Some(SessionStage::Full));
    assert_eq!(view.name, "soft key");
    // A key can be lost too: the first one comes with recovery codes.
    assert_eq!(view.recovery_codes.map(|c| c.0.len()), Some(10));
    f.core.authenticate(&ctx(), &step.session).await.unwrap();
    (account.id, key)
}

async fn second_factor_login(f: &Fixture, name: &str) -> LoginStep {
    let step = f.core.login(&ctx(), name, secret(GOOD)).await.unwrap();
    assert_eq!(step.stage, SessionStage::SecondFactor);
    step
}

/// Finishes the login `step`'s ceremony with `assertion`.
async fn finish(
    f: &Fixture,
    step: &LoginStep,
    ceremony: Uuid,
    assertion: &PublicKeyCredential,
) -> Result<LoginStep, ServiceError> {
    f.core
        .webauthn_finish(&ctx(), &step.session, ceremony, assertion)
        .await
}

/// The keys `principal` has registered, as stored.
async fn keys_of(f: &Fixture, principal: PrincipalId) -> Vec<WebauthnCredentialRecord> {
    let mut tx = f.store.begin().await.unwrap();
    tx.webauthn_credentials(principal).await.unwrap()
}

fn sign(key: &mut SoftPasskey, options: RequestChallengeResponse) -> PublicKeyCredential {
    key.do_authentication(origin(), options).unwrap()
}

async fn stage_of(f: &Fixture, step: &LoginStep) -> SessionStage {
    let mut tx = f.store.begin().await.unwrap();
    tx.session(step.session_id).await.unwrap().unwrap().stage
}

async fn register_and_login_on_another_replica(engine: Engine) {
    let Some(f) = fixture_with(engine, config()).await else {
        return;
    };
    let (alice, mut key) = enrolled(&f, &admin(&f).await, "alice").await;
    let events = audit(&f).await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "mfa.webauthn.register" && e.outcome == "success")
    );

    // A key counts as a second factor: the next login asks for it. The
    // ceremony starts on one replica and finishes on another.
    let step = second_factor_login(&f, "alice").await;
    let started = f.core.webauthn_start(&ctx(), &step.session).await.unwrap();
    let assertion = sign(&mut key, started.options);
    let other = replica(&f);
    let done = other
        .webauthn_finish(&ctx(), &step.session, started.ceremony, &assertion)
        .await
        .unwrap();
    assert_eq!(done.stage, SessionStage::Full);
    f.core.authenticate(&ctx(), &step.session).await.unwrap();
    let events = audit(&f).await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "auth.webauthn" && e.outcome == "success")
    );
    let stored = keys_of(&f, alice).await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].counter > 0);
    assert_eq!(stored[0].last_used_at, Some(f.clock.now()));

    // Step-up from the logged-in session with the key.
    f.clock.advance(Duration::minutes(10));
    let started = f.core.webauthn_start(&ctx(), &step.session).await.unwrap();
    let assertion = sign(&mut key, started.options);
    let again = finish(&f, &step, started.ceremony, &assertion)
        .await
        .unwrap();
    assert_eq!(again.stage, SessionStage::Full);
    let actor = f.core.authenticate(&ctx(), &step.session).await.unwrap();
    assert_eq!(f.core.webauthn_credentials(&actor).await.unwrap().len(), 1);

    // The password alone never stands in for the key at step-up.
    let password_only = f.core.step_up(&actor, &ctx(), secret(GOOD), None).await;
    assert_identity_err!(password_only, IdentityError::SecondFactorRefused(m) if m.contains("security key"));
}

async fn a_replayed_assertion_is_refused(engine: Engine) {
    let Some(f) = fixture_with(engine, config()).await else {
        return;
    };
    let (alice, mut key) = enrolled(&f, &admin(&f).await, "alice").await;
    let first = second_factor_login(&f, "alice").await;
    let started = f.core.webauthn_start(&ctx(), &first.session).await.unwrap();
    let assertion = sign(&mut key, started.options);
    finish(&f, &first, started.ceremony, &assertion)
        .await
        .unwrap();
    let before = keys_of(&f, alice).await;

    // The same assertion again, on a new login: against the used ceremony,
    // and against a fresh one (another challenge).
    let second = second_factor_login(&f, "alice").await;
    let replay = finish(&f, &second, started.ceremony, &assertion).await;
    assert_identity_err!(replay, IdentityError::SecondFactorRefused(m) if m.contains("no such WebAuthn ceremony"));
    let fresh = f
        .core
        .webauthn_start(&ctx(), &second.session)
        .await
        .unwrap();
    let replay = finish(&f, &second, fresh.ceremony, &assertion).await;
    assert_identity_err!(replay, IdentityError::SecondFactorRefused(_));
    assert_eq!(denied(&f, "auth.webauthn").await, 2);
    assert_eq!(stage_of(&f, &second).await, SessionStage::SecondFactor);
    assert_eq!(keys_of(&f, alice).await, before);
    let throttle = throttle_of(&f, "alice").await;
    assert_eq!(throttle.failures, 2, "each refusal counts towards lockout");
}

async fn a_cloned_authenticator_is_refused(engine: Engine) {
    let Some(f) = fixture_with(engine, config()).await else {
        return;
    };
    let (alice, mut key) = enrolled(&f, &admin(&f).await, "alice").await;
    // Two logins wait for their second factor; the key signs for the first
    // and then for the second, and the second is finished first: the first
    // assertion's counter is then behind the stored one, as a clone's is.
    let one = second_factor_login(&f, "alice").await;
    let two = second_factor_login(&f, "alice").await;
    let a = f.core.webauthn_start(&ctx(), &one.session).await.unwrap();
    let b = f.core.webauthn_start(&ctx(), &two.session).await.unwrap();
    let signed_a = sign(&mut key, a.options);
    let signed_b = sign(&mut key, b.options);
    finish(&f, &two, b.ceremony, &signed_b).await.unwrap();
    let before = keys_of(&f, alice).await;
    let clone = finish(&f, &one, a.ceremony, &signed_a).await;
    assert_identity_err!(clone, IdentityError::SecondFactorRefused(m) if m.contains("counter"));
    assert_eq!(stage_of(&f, &one).await, SessionStage::SecondFactor);
    assert_eq!(keys_of(&f, alice).await, before);
    assert_eq!(denied(&f, "auth.webauthn").await, 1);
}

async fn another_users_or_an_expired_ceremony_is_refused(engine: Engine) {
    let Some(f) = fixture_with(engine, config()).await else {
        return;
    };
    let admin = admin(&f).await;
    let (_, mut alice_key) = enrolled(&f, &admin, "alice").await;
    let (_, mut bob_key) = enrolled(&f, &admin, "bob").await;
    let alice = second_factor_login(&f, "alice").await;
    let bob = second_factor_login(&f, "bob").await;

    // Alice cannot finish Bob's ceremony, even with Bob's own assertion;
    // Bob's ceremony survives the attempt.
    let bobs = f.core.webauthn_start(&ctx(), &bob.session).await.unwrap();
    let bob_signed = sign(&mut bob_key, bobs.options);
    let stolen = finish(&f, &alice, bobs.ceremony, &bob_signed).await;
    assert_identity_err!(stolen, IdentityError::SecondFactorRefused(m) if m.contains("no such WebAuthn ceremony"));
    assert_eq!(stage_of(&f, &alice).await, SessionStage::SecondFactor);
    let done = finish(&f, &bob, bobs.ceremony, &bob_signed).await.unwrap();
    assert_eq!(done.stage, SessionStage::Full);

    // A ceremony finished after its five minutes is refused.
    let late = f.core.webauthn_start(&ctx(), &alice.session).await.unwrap();
    let signed = sign(&mut alice_key, late.options);
    f.clock.advance(Duration::minutes(6));
    let expired = finish(&f, &alice, late.ceremony, &signed).await;
    assert_identity_err!(expired, IdentityError::SecondFactorRefused(_));
    assert_eq!(stage_of(&f, &alice).await, SessionStage::SecondFactor);
    assert_eq!(denied(&f, "auth.webauthn").await, 2);
}

async fn webauthn_off_without_configuration(engine: Engine) {
    let Some(f) = fixture_with(engine, IdentityConfig::default()).await else {
        return;
    };
    let admin = admin(&f).await;
    create(&f, &admin, staff("carol", Some(GOOD))).await;
    let step = f.core.login(&ctx(), "carol", secret(GOOD)).await.unwrap();
    let refused = f.core.webauthn_start(&ctx(), &step.session).await;
    assert_identity_err!(refused, IdentityError::WebauthnNotConfigured);
}

both_engines!(
    register_and_login_on_another_replica,
    a_replayed_assertion_is_refused,
    a_cloned_authenticator_is_refused,
    another_users_or_an_expired_ceremony_is_refused,
    webauthn_off_without_configuration,
);
