//! The keyring on both engines, through the service layer: tenant enrolment,
//! envelope encryption through stored wrapped data keys, separation of
//! production and development, rotation, resumable re-wrap, retirement,
//! crypto-shredding, sealing and unsealing; bad input changes nothing.

use std::sync::Arc;

use rempart_audit::{Ed25519Signer, Signer as _};
use rempart_core::identity::{NewAccount, NewToken};
use rempart_core::kernel::audit_chain::AuditChain;
use rempart_core::keys::{
    KeyError, KeyErrorKind, KeyVault, KeyringLocation, RootKeySource, UnsealInput,
};
use rempart_core::{Actor, Clock as _, RequestContext, ServiceError};
use rempart_model::{Environment, PrincipalName, Role, Scope, Tenant, TenantId};
use rempart_store::{AccountKind, AuditRecord, PrincipalState};
use rempart_testkit::{Engine, both_engines, keyring_location, passphrase_source};
use secrecy::SecretString;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::support::{Fixture, account, context, grant, new_tenant, staff};

/// A service with the keyring `vault` makes of its location.
async fn fixture_with(
    engine: Engine,
    vault: impl FnOnce(&KeyringLocation) -> KeyVault,
) -> Option<Fixture> {
    Fixture::new(engine, datetime!(2026-11-27 09:00 UTC), |core, db| {
        core.with_keys(Arc::new(vault(&keyring_location(db.dir()))))
    })
    .await
}

fn passphrase(text: &str) -> UnsealInput {
    UnsealInput::Passphrase(SecretString::from(text.to_owned()))
}

/// Where the fixture's keyring is.
fn location(f: &Fixture) -> KeyringLocation {
    keyring_location(f.db.dir())
}

/// The keyring file's bytes.
fn keyring_file(f: &Fixture) -> Vec<u8> {
    std::fs::read(location(f).path).unwrap()
}

async fn fixture(engine: Engine) -> Option<Fixture> {
    fixture_with(engine, |l| {
        KeyVault::init(
            l.clone(),
            &RootKeySource::KeyFile,
            datetime!(2026-11-27 09:00 UTC),
        )
        .unwrap()
        .0
    })
    .await
}

fn ctx() -> RequestContext {
    context("req-keys", "192.0.2.9")
}

async fn admin(f: &Fixture) -> Actor {
    f.admin(&ctx()).await
}

/// Creates a tenant in `env`.
async fn tenant(f: &Fixture, actor: &Actor, name: &str, env: Environment) -> Tenant {
    try_tenant(f, actor, name, env).await.unwrap()
}

/// Tries to create a tenant in `env`.
async fn try_tenant(
    f: &Fixture,
    actor: &Actor,
    name: &str,
    env: Environment,
) -> Result<Tenant, ServiceError> {
    f.core
        .create_tenant(actor, &ctx(), new_tenant(name, "us", env))
        .await
}

/// When `tenant` was shredded, as the gone (410) answer `err` says.
fn gone_at(err: &ServiceError, tenant: TenantId) -> OffsetDateTime {
    match err {
        ServiceError::TenantShredded {
            tenant: t,
            shredded_at,
        } if *t == tenant => *shredded_at,
        other => panic!("expected tenant {tenant} gone, got {other:?}"),
    }
}

fn key_kind(err: &ServiceError) -> KeyErrorKind {
    match err.domain::<KeyError>() {
        Some(e) => e.kind(),
        None => panic!("expected a key error, got {err:?}"),
    }
}

async fn tenants_are_enrolled_and_their_data_round_trips(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    let acme = tenant(&f, &admin, "Acme", Environment::production()).await;
    // An environment the keyring did not have gets its own KEK on enrolment.
    let qa = tenant(&f, &admin, "Qa", Environment::parse("staging").unwrap()).await;
    let status = f.core.keys_status(&admin, &ctx()).await.unwrap();
    let keyring = status.keyring.unwrap();
    assert_eq!(keyring.tenants_enrolled, 2);
    assert!(
        keyring
            .environments
            .iter()
            .any(|e| e.environment.as_str() == "staging")
    );

    let envelope = f
        .core
        .encrypt_for_tenant(
            &ctx(),
            acme.id,
            "vault:customers.email",
            b"c1/email",
            b"a@b.c",
        )
        .await
        .unwrap();
    assert!(!envelope.windows(5).any(|w| w == b"a@b.c"));
    let plain = f
        .core
        .decrypt_for_tenant(acme.id, "vault:customers.email", b"c1/email", &envelope)
        .await
        .unwrap();
    assert_eq!(plain, b"a@b.c");
    // Another record, purpose or tenant does not open it.
    for (tenant, purpose, record) in [
        (acme.id, "vault:customers.email", &b"c2/email"[..]),
        (acme.id, "vault:customers.phone", &b"c1/email"[..]),
        (qa.id, "vault:customers.email", &b"c1/email"[..]),
    ] {
        let err = f
            .core
            .decrypt_for_tenant(tenant, purpose, record, &envelope)
            .await
            .unwrap_err();
        assert_eq!(key_kind(&err), KeyErrorKind::Undecryptable, "{err}");
    }
    // The data key was created once, audited, and is stored wrapped only.
    f.core
        .encrypt_for_tenant(&ctx(), acme.id, "vault:customers.email", b"c2/email", b"x")
        .await
        .unwrap();
    let events = f.audit().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "keys.data_key.create")
            .count(),
        1
    );
    let mut tx = f.store.begin().await.unwrap();
    let stored = tx
        .data_key_for(acme.id, "vault:customers.email")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.encryptions, 2);
    assert_eq!(stored.kek_version, 1);
}

async fn production_data_does_not_open_with_development_keys(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    let prod = tenant(&f, &admin, "Prod", Environment::production()).await;
    let dev = tenant(&f, &admin, "Dev", Environment::development()).await;
    let purpose = "vault:customers.email";
    let prod_envelope = f
        .core
        .encrypt_for_tenant(&ctx(), prod.id, purpose, b"r", b"prod secret")
        .await
        .unwrap();
    let dev_envelope = f
        .core
        .encrypt_for_tenant(&ctx(), dev.id, purpose, b"r", b"dev secret")
        .await
        .unwrap();

    let decrypt = |tenant: &Tenant, envelope| {
        f.core
            .decrypt_for_tenant(tenant.id, purpose, b"r", envelope)
    };
    for (from, to, envelope) in [(&prod, &dev, &prod_envelope), (&dev, &prod, &dev_envelope)] {
        // Presented as the other environment's tenant: no key of its own.
        let err = decrypt(to, envelope).await.unwrap_err();
        assert_eq!(key_kind(&err), KeyErrorKind::Undecryptable, "{err}");
        // Even with the wrapped data key moved into the other environment's
        // tenant (a database-level attack), that environment's keys do not
        // unwrap it.
        let mut tx = f.store.begin().await.unwrap();
        let original = tx.data_key_for(from.id, purpose).await.unwrap().unwrap();
        let theirs = tx.data_key_for(to.id, purpose).await.unwrap().unwrap();
        tx.delete_data_keys_of_tenant(from.id).await.unwrap();
        tx.delete_data_keys_of_tenant(to.id).await.unwrap();
        let mut stolen = original.clone();
        stolen.tenant = Some(to.id);
        stolen.environment = to.environment.clone();
        tx.insert_data_key(&stolen).await.unwrap();
        tx.commit().await.unwrap();
        let err = decrypt(to, envelope).await.unwrap_err();
        assert_eq!(key_kind(&err), KeyErrorKind::Undecryptable, "{err}");
        assert!(err.to_string().contains("bound to another"), "{err}");
        // Put things back for the other direction.
        let mut tx = f.store.begin().await.unwrap();
        tx.delete_data_keys_of_tenant(to.id).await.unwrap();
        tx.insert_data_key(&original).await.unwrap();
        tx.insert_data_key(&theirs).await.unwrap();
        tx.commit().await.unwrap();
        let plain = decrypt(from, envelope).await.unwrap();
        assert!(plain.ends_with(b" secret"));
    }
}

async fn rotation_rewrap_and_retirement(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    let prod = Environment::production();
    let mut envelopes = Vec::new();
    for name in ["A", "B", "C"] {
        let t = tenant(&f, &admin, name, prod.clone()).await;
        let e = f
            .core
            .encrypt_for_tenant(&ctx(), t.id, "p", b"r", name.as_bytes())
            .await
            .unwrap();
        envelopes.push((t, e));
    }
    assert_eq!(f.core.rotate_kek(&admin, &ctx(), &prod).await.unwrap(), 2);

    // Retiring version 1 is refused while data keys are still under it.
    let before = f.audit().await.len();
    let request = ctx();
    let retire = |below| f.core.retire_keks(&admin, &request, &prod, below);
    let err = retire(2).await.unwrap_err();
    assert_eq!(key_kind(&err), KeyErrorKind::Conflict, "{err}");
    assert_eq!(f.audit().await.len(), before);

    // Re-wrap in batches of 2 with the cursor; stop after the first batch
    // (an interruption), then start over: only what is left is done.
    let first = f
        .core
        .rewrap_data_keys(&admin, &ctx(), &prod, None, 2)
        .await
        .unwrap();
    assert_eq!((first.rewrapped, first.remaining), (2, 1));
    assert!(first.next.is_some());
    let resumed = f
        .core
        .rewrap_data_keys(&admin, &ctx(), &prod, None, 2)
        .await
        .unwrap();
    assert_eq!(
        (resumed.rewrapped, resumed.remaining, resumed.next),
        (1, 0, None)
    );
    // Bad input: a zero batch is refused.
    assert!(matches!(
        f.core
            .rewrap_data_keys(&admin, &ctx(), &prod, None, 0)
            .await
            .unwrap_err(),
        ServiceError::Invalid { field: "limit", .. }
    ));

    // Bad input: a version below the current minimum changes nothing.
    let err = retire(0).await.unwrap_err();
    assert_eq!(key_kind(&err), KeyErrorKind::Invalid, "{err}");
    retire(2).await.unwrap();
    let status = f.core.keys_status(&admin, &ctx()).await.unwrap();
    let env = status
        .keyring
        .unwrap()
        .environments
        .into_iter()
        .find(|e| e.environment.as_str() == "production")
        .unwrap();
    assert_eq!((env.encryption_version, env.min_decryption_version), (2, 2));
    assert!(env.keks.iter().any(|k| k.version == 1 && k.retired));
    // Everything still decrypts, through the new version.
    for (t, e) in &envelopes {
        let plain = f.core.decrypt_for_tenant(t.id, "p", b"r", e).await.unwrap();
        assert_eq!(plain, t.name.as_str().as_bytes());
    }
    // The keyring on disk carries the change: reload it and look.
    let reloaded = KeyVault::load(location(&f), None).unwrap();
    let env = reloaded.with_keyring(rempart_crypto_status).unwrap();
    assert_eq!(env, (2, 2));
    let actions: Vec<String> = f.audit().await.into_iter().map(|e| e.action).collect();
    for a in ["keys.rotate", "keys.rewrap", "keys.retire"] {
        assert!(actions.iter().any(|x| x == a), "{a} not audited");
    }
}

fn rempart_crypto_status(
    k: &rempart_core::keys::Keyring,
) -> Result<(u32, u32), rempart_core::keys::CryptoError> {
    let env = k
        .status()?
        .environments
        .into_iter()
        .find(|e| e.environment.as_str() == "production")
        .unwrap();
    Ok((env.encryption_version, env.min_decryption_version))
}

async fn shredding_is_confirmed_audited_and_final(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    let t = tenant(&f, &admin, "Gone", Environment::production()).await;
    let envelope = f
        .core
        .encrypt_for_tenant(&ctx(), t.id, "p", b"r", b"bye")
        .await
        .unwrap();
    let keyring_before = keyring_file(&f);
    let err = f
        .core
        .shred_tenant(&admin, &ctx(), t.id, "yes")
        .await
        .unwrap_err();
    assert!(matches!(
        err.domain::<KeyError>(),
        Some(KeyError::ConfirmationMismatch { .. })
    ));
    assert_eq!(keyring_file(&f), keyring_before);
    assert_eq!(
        f.core
            .decrypt_for_tenant(t.id, "p", b"r", &envelope)
            .await
            .unwrap(),
        b"bye"
    );

    f.clock.advance(Duration::minutes(1));
    let shredded_at = f.clock.now();
    f.core
        .shred_tenant(&admin, &ctx(), t.id, &t.id.to_string())
        .await
        .unwrap();
    let err = f
        .core
        .decrypt_for_tenant(t.id, "p", b"r", &envelope)
        .await
        .unwrap_err();
    assert_eq!(gone_at(&err, t.id), shredded_at);
    let err = f
        .core
        .encrypt_for_tenant(&ctx(), t.id, "p", b"r", b"again")
        .await
        .unwrap_err();
    assert_eq!(gone_at(&err, t.id), shredded_at);
    // A second shred is gone too, and changes nothing.
    let keyring_shredded = keyring_file(&f);
    f.clock.advance(Duration::minutes(1));
    let err = f
        .core
        .shred_tenant(&admin, &ctx(), t.id, &t.id.to_string())
        .await
        .unwrap_err();
    assert_eq!(gone_at(&err, t.id), shredded_at);
    assert_eq!(keyring_file(&f), keyring_shredded);
    let listed = f.core.list_tenants(&admin, &ctx()).await.unwrap();
    assert_eq!(listed[0].shredded_at, Some(shredded_at));
    let events = f.audit().await;
    let shreds: Vec<_> = events.iter().filter(|e| e.action == "keys.shred").collect();
    assert_eq!(shreds.len(), 2, "{shreds:?}");
    assert_eq!(shreds[0].tenant, Some(t.id.0));
    assert_eq!(shreds[0].outcome, "success");
    assert_eq!(shreds[1].tenant, Some(t.id.0));
    assert_eq!(shreds[1].outcome, "denied");
    // A reloaded keyring agrees: the tenant key is gone from disk too.
    let reloaded = KeyVault::load(location(&f), None).unwrap();
    let counts = reloaded
        .with_keyring(|k| k.status().map(|s| (s.tenants_enrolled, s.tenants_shredded)))
        .unwrap();
    assert_eq!(counts, (0, 1));
}

async fn without_permission_nothing_changes(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let _admin = admin(&f).await;
    let nobody = Actor::new(
        rempart_model::PrincipalId(uuid::Uuid::nil()),
        PrincipalName::parse("nobody@example.com").unwrap(),
        uuid::Uuid::nil(),
        Vec::new(),
    );
    let before = keyring_file(&f);
    let prod = Environment::production();
    assert!(matches!(
        f.core.rotate_kek(&nobody, &ctx(), &prod).await,
        Err(ServiceError::Forbidden { .. })
    ));
    assert!(matches!(
        f.core.keys_status(&nobody, &ctx()).await,
        Err(ServiceError::Forbidden { .. })
    ));
    assert!(matches!(
        f.core.retire_keks(&nobody, &ctx(), &prod, 1).await,
        Err(ServiceError::Forbidden { .. })
    ));
    assert_eq!(keyring_file(&f), before);
    assert_eq!(f.count_events(|e| e.outcome == "denied").await, 3);
}

async fn a_passphrase_keyring_starts_sealed_and_refuses_a_wrong_passphrase(engine: Engine) {
    let Some(f) = fixture_with(engine, |l| {
        let source = passphrase_source("correct horse battery");
        drop(KeyVault::init(l.clone(), &source, datetime!(2026-11-27 09:00 UTC)).unwrap());
        KeyVault::load(l.clone(), None).unwrap()
    })
    .await
    else {
        return;
    };
    assert!(f.core.keys().is_sealed());
    let admin = admin(&f).await;
    let err = try_tenant(&f, &admin, "Acme", Environment::production())
        .await
        .unwrap_err();
    assert_eq!(key_kind(&err), KeyErrorKind::Sealed, "{err}");
    assert_eq!(
        err.to_string(),
        "keyring sealed: unseal it with `rempart unseal`"
    );
    let mut tx = f.store.begin().await.unwrap();
    assert_eq!(tx.count_tenants().await.unwrap(), 0);
    drop(tx);

    let on_disk = keyring_file(&f);
    let err = f
        .core
        .unseal(&ctx(), passphrase("wrong"))
        .await
        .unwrap_err();
    assert_eq!(key_kind(&err), KeyErrorKind::Refused, "{err}");
    assert!(f.core.keys().is_sealed());
    assert_eq!(keyring_file(&f), on_disk);
    let status = f
        .core
        .unseal(&ctx(), passphrase("correct horse battery"))
        .await
        .unwrap();
    assert!(!status.sealed);
    try_tenant(&f, &admin, "Acme", Environment::production())
        .await
        .unwrap();
    let outcomes: Vec<(String, String)> = f
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == "keys.unseal")
        .map(|e| (e.outcome, e.actor))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("failed".to_owned(), "anonymous".to_owned()),
            ("success".to_owned(), "anonymous".to_owned())
        ]
    );
}

async fn shares_are_entered_one_by_one(engine: Engine) {
    let shares = std::sync::Mutex::new(Vec::new());
    let Some(f) = fixture_with(engine, |l| {
        let (vault, texts) = KeyVault::init(
            l.clone(),
            &RootKeySource::Shamir {
                threshold: 2,
                shares: 3,
            },
            datetime!(2026-11-27 09:00 UTC),
        )
        .unwrap();
        drop(vault);
        *shares.lock().unwrap() = texts
            .iter()
            .map(|s| s.expose().to_owned())
            .collect::<Vec<_>>();
        KeyVault::load(l.clone(), None).unwrap()
    })
    .await
    else {
        return;
    };
    let shares = shares.into_inner().unwrap();
    let share = |s: &str| UnsealInput::Share(SecretString::from(s.to_owned()));
    assert_eq!(f.core.keys().seal_status().threshold, Some(2));

    // A corrupt share is refused and not kept.
    let mut corrupt = shares[0].clone();
    corrupt.pop();
    corrupt.push(if shares[0].ends_with('A') { 'B' } else { 'A' });
    let err = f.core.unseal(&ctx(), share(&corrupt)).await.unwrap_err();
    assert_eq!(key_kind(&err), KeyErrorKind::Refused, "{err}");
    assert_eq!(f.core.keys().seal_status().shares_entered, 0);

    // Shares of another split: refused when the threshold is reached, and
    // every partial share is forgotten.
    let other_dir = tempfile::tempdir().unwrap();
    let (_, other) = KeyVault::init(
        keyring_location(other_dir.path()),
        &RootKeySource::Shamir {
            threshold: 2,
            shares: 2,
        },
        datetime!(2026-11-27 09:00 UTC),
    )
    .unwrap();
    let status = f
        .core
        .unseal(&ctx(), share(other[0].expose()))
        .await
        .unwrap();
    assert_eq!((status.sealed, status.shares_entered), (true, 1));
    let err = f
        .core
        .unseal(&ctx(), share(other[1].expose()))
        .await
        .unwrap_err();
    assert_eq!(key_kind(&err), KeyErrorKind::Refused, "{err}");
    assert_eq!(f.core.keys().seal_status().shares_entered, 0);

    let status = f.core.unseal(&ctx(), share(&shares[2])).await.unwrap();
    assert!(status.sealed);
    let status = f.core.unseal(&ctx(), share(&shares[0])).await.unwrap();
    assert!(!status.sealed);
}

async fn a_corrupt_or_truncated_keyring_is_refused_and_kept(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let good = keyring_file(&f);
    for bad in [
        good[..good.len() / 2].to_vec(),
        {
            let mut b = good.clone();
            let last = b.len() - 1;
            b[last] ^= 1;
            b
        },
        b"not a keyring".to_vec(),
    ] {
        std::fs::write(&location(&f).path, &bad).unwrap();
        let err = KeyVault::load(location(&f), None).unwrap_err();
        assert!(!err.to_string().is_empty());
        // Starting again (what `serve` does) refuses too and never replaces it.
        let config = rempart_core::Config::default();
        let err =
            KeyVault::open_or_create(location(&f), &config.keyring, None, f.core.clock().now())
                .unwrap_err();
        assert!(!err.to_string().is_empty());
        assert_eq!(keyring_file(&f), bad);
    }
    std::fs::write(&location(&f).path, &good).unwrap();
    let err =
        KeyVault::init(location(&f), &RootKeySource::KeyFile, f.core.clock().now()).unwrap_err();
    assert!(matches!(err, KeyError::Exists { .. }));
    assert_eq!(keyring_file(&f), good);
}

async fn reseal_moves_to_a_new_root_key(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let old_key_file = std::fs::read(&location(&f).key_file).unwrap();
    let vault = f.core.keys();
    let texts = vault
        .reseal(&RootKeySource::Shamir {
            threshold: 2,
            shares: 2,
        })
        .unwrap();
    assert_eq!(texts.len(), 2);
    // The old key file no longer opens it; the shares do.
    assert!(KeyVault::load(location(&f), None).unwrap().is_sealed());
    let reopened = KeyVault::load(location(&f), None).unwrap();
    let shares: Vec<SecretString> = texts
        .iter()
        .map(|t| SecretString::from(t.expose().to_owned()))
        .collect();
    reopened.unseal_with_shares(&shares).unwrap();
    assert!(!reopened.is_sealed());
    // And back to a key file: written beside, then moved into place.
    reopened.reseal(&RootKeySource::KeyFile).unwrap();
    assert_ne!(std::fs::read(&location(&f).key_file).unwrap(), old_key_file);
    assert!(!KeyVault::load(location(&f), None).unwrap().is_sealed());
}

async fn a_keyring_changed_on_disk_is_not_overwritten(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let admin = admin(&f).await;
    // An offline reseal while the service runs.
    let offline = KeyVault::load(location(&f), None).unwrap();
    offline
        .reseal(&passphrase_source("a new passphrase here"))
        .unwrap();
    let resealed = keyring_file(&f);
    let err = try_tenant(&f, &admin, "Late", Environment::production())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.domain::<KeyError>(),
            Some(KeyError::ChangedOnDisk { .. })
        ),
        "{err}"
    );
    assert_eq!(keyring_file(&f), resealed);
    let mut tx = f.store.begin().await.unwrap();
    assert_eq!(tx.count_tenants().await.unwrap(), 0);
}

/// A service with a keyring and a signed audit log (checkpoints every
/// fourth event), for the tests that verify the log.
async fn signed_fixture(engine: Engine) -> Option<Fixture> {
    let signer = Ed25519Signer::from_seed(&[5; 32]).unwrap();
    let chain = AuditChain::new(Some(Arc::new(signer)), 4, Duration::minutes(1));
    Fixture::new(engine, datetime!(2026-11-27 09:00 UTC), |core, db| {
        core.with_audit(chain)
            .with_keys(rempart_testkit::test_keys(db.dir()))
    })
    .await
}

/// The tenant's stored data keys, of the purposes the tests use.
async fn data_keys_of(f: &Fixture, tenant: TenantId) -> usize {
    let mut tx = f.store.begin_read().await.unwrap();
    let mut found = 0;
    for purpose in ["p", "audit-details"] {
        found += usize::from(tx.data_key_for(tenant, purpose).await.unwrap().is_some());
    }
    found
}

/// A user of `tenant`, with no password.
fn user_of(name: &str, tenant: &Tenant) -> NewAccount {
    account(name, AccountKind::TenantUser, Some(tenant.id), None)
}

/// A shredded tenant is closed for good: every call that would read or
/// write its data is gone (410, saying when), recorded, and makes no data
/// key; what only narrows access still reaches it; a caller who does not
/// see it still finds nothing (404); another tenant is untouched; and the
/// log, over ciphertext, still verifies.
async fn a_shredded_tenant_is_closed_for_good(engine: Engine) {
    let Some(f) = signed_fixture(engine).await else {
        return;
    };
    let ctx = ctx();
    let admin = admin(&f).await;
    let prod = Environment::production();
    let gone = tenant(&f, &admin, "Gone", prod.clone()).await;
    let kept = tenant(&f, &admin, "Kept", prod).await;
    let mut users = Vec::new();
    let mut envelopes = Vec::new();
    for (t, name) in [(&gone, "ann@gone.example"), (&kept, "ann@kept.example")] {
        let user = f.core.create_account(&admin, &ctx, user_of(name, t));
        users.push(user.await.unwrap());
        let envelope = f.core.encrypt_for_tenant(&ctx, t.id, "p", b"r", b"data");
        envelopes.push(envelope.await.unwrap());
    }
    let staff = f
        .core
        .create_account(&admin, &ctx, staff("sam@example.com", None));
    let staff = staff.await.unwrap();
    let kept_admin = f
        .holder(
            &ctx,
            "kept-admin",
            &[(Role::TenantAdmin, Scope::Tenant(kept.id))],
        )
        .await;
    // The sealed details of each tenant's user.create event.
    let created = |events: &[AuditRecord], t: &Tenant| {
        events
            .iter()
            .find(|e| e.action == "user.create" && e.tenant == Some(t.id.0))
            .map(|e| e.seq)
            .unwrap()
    };
    let events = f.audit().await;
    let (gone_event, kept_event) = (created(&events, &gone), created(&events, &kept));
    assert_eq!(data_keys_of(&f, gone.id).await, 2);
    // A token of the shredded tenant's user, to enrol with afterwards.
    let token = SecretString::from("rmp_at_ann-of-gone-for-tests-only".to_owned());
    let mut tx = f.store.begin().await.unwrap();
    let record = rempart_store::TokenRecord::unrestricted(
        f.clock.new_id(),
        users[0].id,
        rempart_core::secret::fingerprint(&token),
        "ann",
        f.clock.now(),
    );
    tx.insert_token(&record).await.unwrap();
    tx.commit().await.unwrap();

    f.clock.advance(Duration::minutes(1));
    let at = f.clock.now();
    f.core
        .shred_tenant(&admin, &ctx, gone.id, &gone.id.to_string())
        .await
        .unwrap();
    assert_eq!(data_keys_of(&f, gone.id).await, 0);
    let before = f.audit().await.len();
    f.clock.advance(Duration::minutes(1));

    // Gone, each of them, and each recorded as a refusal in the tenant.
    let (core, id) = (&f.core, gone.id);
    let user = users[0].id;
    let attempts: Vec<ServiceError> = vec![
        core.create_account(&admin, &ctx, user_of("bob@gone.example", &gone))
            .await
            .unwrap_err(),
        core.list_accounts(&admin, &ctx, Some(id))
            .await
            .unwrap_err(),
        core.audit_event_details(&admin, &ctx, gone_event)
            .await
            .unwrap_err(),
        core.list_grants(&admin, &ctx, user).await.unwrap_err(),
        core.list_tokens(&admin, &ctx, Some(user))
            .await
            .unwrap_err(),
        core.reset_password(
            &admin,
            &ctx,
            user,
            SecretString::from("a long passphrase".to_owned()),
        )
        .await
        .unwrap_err(),
        core.grant_role(
            &admin,
            &ctx,
            grant(staff.id, Role::Auditor, Scope::Tenant(id)),
        )
        .await
        .unwrap_err(),
        core.create_token(
            &admin,
            &ctx,
            NewToken {
                name: "for gone".to_owned(),
                holder: None,
                expires_in: None,
                permissions: None,
                tenant: Some(id),
                allow_list: None,
            },
        )
        .await
        .unwrap_err(),
        core.tenant_access(&admin, &ctx, id).await.unwrap_err(),
        core.encrypt_for_tenant(&ctx, id, "p", b"r", b"more")
            .await
            .unwrap_err(),
        core.decrypt_for_tenant(id, "p", b"r", &envelopes[0])
            .await
            .unwrap_err(),
        core.shred_tenant(&admin, &ctx, id, &id.to_string())
            .await
            .unwrap_err(),
        core.enrol_totp(&core.authenticate(&ctx, &token).await.unwrap(), &ctx)
            .await
            .unwrap_err(),
    ];
    for err in &attempts {
        assert_eq!(gone_at(err, id), at);
    }
    let events = f.audit().await;
    let refused: Vec<_> = events[before..]
        .iter()
        .filter(|e| e.outcome == "denied" && e.tenant == Some(id.0))
        .collect();
    // All but the two envelope calls, which have no caller.
    assert_eq!(refused.len(), attempts.len() - 2, "{refused:?}");
    assert!(refused.iter().all(|e| e.details.is_none()), "{refused:?}");
    // No data key was made for it by any of them.
    assert_eq!(data_keys_of(&f, id).await, 0);

    // Out of sight, it is still not there.
    let err = core
        .create_account(&kept_admin, &ctx, user_of("eve@gone.example", &gone))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::TenantNotFound), "{err:?}");
    // Narrowing access still reaches what it left.
    let suspended = core
        .set_account_state(&admin, &ctx, user, PrincipalState::Suspended)
        .await
        .unwrap();
    assert_eq!(suspended.state, PrincipalState::Suspended);
    let err = core
        .set_account_state(&admin, &ctx, user, PrincipalState::Active)
        .await
        .unwrap_err();
    assert_eq!(gone_at(&err, id), at);
    assert_eq!(data_keys_of(&f, id).await, 0);

    // The other tenant is untouched.
    core.create_account(&kept_admin, &ctx, user_of("bob@kept.example", &kept))
        .await
        .unwrap();
    let listed = core.list_accounts(&admin, &ctx, Some(kept.id)).await;
    assert_eq!(listed.unwrap().len(), 2);
    let details = core.audit_event_details(&admin, &ctx, kept_event).await;
    assert!(details.unwrap().is_some());
    let opened = core.decrypt_for_tenant(kept.id, "p", b"r", &envelopes[1]);
    assert_eq!(opened.await.unwrap(), b"data");
    let tenants = core.list_tenants(&admin, &ctx).await.unwrap();
    let shredded: Vec<_> = tenants.iter().map(|t| (t.id, t.shredded_at)).collect();
    assert_eq!(shredded, vec![(gone.id, Some(at)), (kept.id, None)]);

    // The log, chained and signed over ciphertext, still verifies.
    f.clock.advance(Duration::minutes(1));
    core.checkpoint_audit_if_due(true).await.unwrap();
    let last = f.audit().await.last().unwrap().seq;
    let key = Ed25519Signer::from_seed(&[5; 32]).unwrap().public_key();
    let report = core.verify_audit_log(&key).await.unwrap().unwrap();
    assert_eq!(report.events, last);
}

both_engines!(
    a_keyring_changed_on_disk_is_not_overwritten,
    a_shredded_tenant_is_closed_for_good,
    tenants_are_enrolled_and_their_data_round_trips,
    production_data_does_not_open_with_development_keys,
    rotation_rewrap_and_retirement,
    shredding_is_confirmed_audited_and_final,
    without_permission_nothing_changes,
    a_passphrase_keyring_starts_sealed_and_refuses_a_wrong_passphrase,
    shares_are_entered_one_by_one,
    a_corrupt_or_truncated_keyring_is_refused_and_kept,
    reseal_moves_to_a_new_root_key,
);
