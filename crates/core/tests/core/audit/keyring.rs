//! Checkpoints signed by the keyring's audit key: they
//! verify with the keyring's public key, which is recorded in the database
//! for offline use; while the keyring is sealed events are chained and
//! checkpoints wait, and the first one due after unsealing covers them all.

use std::sync::Arc;

use rempart_audit::{PublicKey, Report};
use rempart_core::kernel::audit_chain::AuditChain;
use rempart_core::keys::{KeyVault, KeyringLocation, UnsealInput};
use rempart_core::{ManualClock, Rempart};
use rempart_model::{Action, Outcome};
use rempart_store::Store;
use rempart_testkit::{Engine, TestDatabase};
use secrecy::SecretString;
use time::Duration;
use time::macros::datetime;

use super::ctx;

fn keyring_key(vault: &KeyVault) -> PublicKey {
    rempart_core::kernel::signing_key::keyring_public_key(vault).unwrap()
}

fn core_with(store: Arc<dyn Store>, clock: Arc<ManualClock>, vault: &Arc<KeyVault>) -> Rempart {
    Rempart::new(store, clock)
        .with_keys(Arc::clone(vault))
        .with_audit(AuditChain::with_keyring(
            Arc::clone(vault),
            4,
            Duration::minutes(1),
        ))
}

async fn append(core: &Rempart, n: usize) {
    for _ in 0..n {
        core.record_offline(Action::AuditVerify, Outcome::Success)
            .await
            .unwrap();
    }
}

/// One more event, then two minutes: the checkpoint due by time covers
/// the whole log, `events` long, which verifies with `key`.
async fn one_more_then_time_checkpoint(
    core: &Rempart,
    clock: &ManualClock,
    key: &PublicKey,
    events: u64,
) -> Report {
    append(core, 1).await;
    clock.advance(Duration::minutes(2));
    let due = core.checkpoint_audit_if_due(false).await.unwrap();
    assert_eq!(due, Some(events));
    let report = core.verify_audit_log(key).await.unwrap().unwrap();
    assert_eq!((report.events, report.checkpointed), (events, events));
    report
}

async fn head(core: &Rempart, store: &Arc<dyn Store>) -> (u64, Option<u64>) {
    core.drain_audit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let head = tx.lock_audit_head().await.unwrap().seq;
    let last = tx.last_audit_checkpoint().await.unwrap().map(|c| c.size);
    (head, last)
}

pub async fn checkpoints_are_signed_by_the_keyring_key(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let store = db.store().await;
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-27 09:00 UTC)));
    let vault = rempart_testkit::test_keys(db.dir());
    let key = keyring_key(&vault);
    let core = core_with(store.clone(), clock.clone(), &vault);
    assert_eq!(core.recorded_audit_public_key().await.unwrap(), None);
    assert_eq!(core.record_audit_public_key().await.unwrap(), Some(key));
    assert_eq!(core.audit_public_key(), Some(key));

    append(&core, 9).await;
    // What the background sequencer of `serve` does soon after: chain them,
    // which signs the count checkpoints at 4 and 8 now.
    assert_eq!(core.drain_audit().await.unwrap(), 9);
    clock.advance(Duration::seconds(1));
    // The time checkpoint covers the rest.
    let report = one_more_then_time_checkpoint(&core, &clock, &key, 10).await;
    assert_eq!(report.checkpoints, 3);
    assert_eq!(report.checkpointed, 10);

    // Offline, with no keyring at all: the recorded key is the keyring's.
    let offline = Rempart::new(store.clone(), clock.clone());
    assert_eq!(
        offline.recorded_audit_public_key().await.unwrap(),
        Some(key)
    );
    let report = offline.verify_audit_log(&key).await.unwrap().unwrap();
    assert_eq!(report.checkpoints, 3);

    // Another key does not verify them.
    let other = rempart_audit::Ed25519Signer::from_seed(&[7; 32]).unwrap();
    let other = rempart_audit::Signer::public_key(&other);
    assert!(offline.verify_audit_log(&other).await.unwrap().is_err());
}

pub async fn a_sealed_keyring_chains_events_and_signs_after_unsealing(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let (store, clock, location, opened) = passphrase_keyring(&db).await;
    let key = keyring_key(&opened);
    drop(opened);
    let vault = Arc::new(KeyVault::load(location, None).unwrap());
    assert!(vault.is_sealed());
    let core = core_with(store.clone(), clock.clone(), &vault);

    // Sealed: no key to record, no checkpoint to sign, yet every event is
    // appended and chained.
    assert_eq!(core.record_audit_public_key().await.unwrap(), None);
    assert_eq!(core.audit_public_key(), None);
    // Given the key recorded earlier, a sealed chain still names it (what
    // `serve` does, for shipping).
    let named = AuditChain::with_keyring(Arc::clone(&vault), 4, Duration::minutes(1))
        .with_known_public_key(Some(key));
    assert_eq!(named.public_key(), Some(key));
    assert!(named.signer().is_none());
    append(&core, 10).await;
    clock.advance(Duration::minutes(5));
    assert_eq!(core.checkpoint_audit_if_due(false).await.unwrap(), None);
    assert_eq!(core.checkpoint_audit_if_due(true).await.unwrap(), None);
    assert_eq!(head(&core, &store).await, (10, None));
    assert_eq!(core.recorded_audit_public_key().await.unwrap(), None);

    // Unsealing records the public key (with its own audit event, 11) ...
    core.unseal(
        &ctx(),
        UnsealInput::Passphrase(SecretString::from(PASSPHRASE.to_owned())),
    )
    .await
    .unwrap();
    assert_eq!(core.recorded_audit_public_key().await.unwrap(), Some(key));
    // ... which was already past due by count: the checkpoint covers it all.
    assert_eq!(head(&core, &store).await, (11, Some(11)));
    one_more_then_time_checkpoint(&core, &clock, &key, 12).await;
}

const PASSPHRASE: &str = "correct horse battery";

/// A store on `db`, a clock, and a new keyring in `db`'s directory whose
/// root key comes from [`PASSPHRASE`]: where it is, and it opened.
async fn passphrase_keyring(
    db: &TestDatabase,
) -> (Arc<dyn Store>, Arc<ManualClock>, KeyringLocation, KeyVault) {
    let store = db.store().await;
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-27 09:00 UTC)));
    let location = rempart_testkit::keyring_location(db.dir());
    let source = rempart_testkit::passphrase_source(PASSPHRASE);
    let now = rempart_core::Clock::now(clock.as_ref());
    let (opened, _) = KeyVault::init(location.clone(), &source, now).unwrap();
    (store, clock, location, opened)
}

fn actor(
    name: &str,
    role: rempart_model::Role,
    scope: rempart_model::Scope,
) -> rempart_core::Actor {
    rempart_core::Actor::new(
        rempart_model::PrincipalId(uuid::Uuid::new_v4()),
        rempart_model::PrincipalName::parse(name).unwrap(),
        uuid::Uuid::new_v4(),
        vec![rempart_model::Grant::of(role, scope, None)],
    )
}

async fn last_event(core: &Rempart, store: &Arc<dyn Store>) -> rempart_store::AuditRecord {
    let mut events = rempart_testkit::audit_trail(core, store.as_ref()).await;
    events.pop().unwrap()
}

pub async fn while_sealed_events_are_stored_without_their_details(engine: Engine) {
    use rempart_model::{Role, Scope};
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let (store, clock, location, opened) = passphrase_keyring(&db).await;
    let opened = Arc::new(opened);
    let staff = actor("staff", Role::SecurityAdmin, Scope::Global);
    let unsealed = core_with(store.clone(), clock.clone(), &opened);
    let acme = unsealed
        .create_tenant(&staff, &ctx(), super::tenant("Acme"))
        .await
        .unwrap();
    let created = last_event(&unsealed, &store).await.seq;
    drop(opened);

    let sealed = Arc::new(KeyVault::load(location, None).unwrap());
    let core = core_with(store.clone(), clock.clone(), &sealed);
    let outsider = actor(
        "other-auditor",
        Role::Auditor,
        Scope::Tenant(rempart_model::TenantId(uuid::Uuid::new_v4())),
    );
    // Sealed: the refusal is recorded, without its details.
    let err = core
        .audit_inclusion_proof(&outsider, &ctx(), created, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, rempart_core::ServiceError::NotFound { .. }),
        "{err:?}"
    );
    let refused = last_event(&core, &store).await;
    assert_eq!(
        (refused.action.as_str(), refused.tenant),
        ("audit.proof", Some(acme.id.0))
    );
    assert_eq!(refused.details, None);
    // Reading details while sealed: the keyring must be unsealed first.
    core.unseal(
        &ctx(),
        UnsealInput::Passphrase(SecretString::from(PASSPHRASE.to_owned())),
    )
    .await
    .unwrap();
    core.audit_inclusion_proof(&outsider, &ctx(), created, None)
        .await
        .unwrap_err();
    let refused = last_event(&core, &store).await;
    assert!(refused.details.is_some());
    assert_eq!(
        core.audit_event_details(&staff, &ctx(), refused.seq)
            .await
            .unwrap(),
        Some(serde_json::json!({"reason": "outside the caller's scope"}))
    );
}
