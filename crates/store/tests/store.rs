//! The storage interface on both engines: migrations, tenant scoping in the
//! query, conflicts, rollback, and the audit head's guard.

#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use rempart_model::{Environment, Region, Tenant, TenantId, TenantName};
use rempart_store::{AuditRecord, DATA_KEY_ID_LEN, DataKeyRecord, StoreError, TenantFilter};
use rempart_testkit::{Engine, TestDatabase, both_engines};
use time::macros::datetime;
use uuid::Uuid;

fn tenant(n: u128, name: &str, env: Environment) -> Tenant {
    Tenant {
        id: TenantId(Uuid::from_u128(n)),
        name: TenantName::parse(name).unwrap(),
        region: Region::parse("us").unwrap(),
        environment: env,
        created_at: datetime!(2026-11-27 10:00:00.123456 UTC),
        shredded_at: None,
    }
}

async fn migrations_are_idempotent(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let store = db.store().await;
    let version = store.schema_version().await.unwrap();
    assert_eq!(version.found, version.known);
    let again = store.migrate().await.unwrap();
    assert!(!again.applied_any());
    assert_eq!(store.engine(), engine);
}

async fn tenant_queries_are_scoped(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    let a = tenant(1, "Alpha", Environment::production());
    let b = tenant(2, "Beta", Environment::development());
    let c = tenant(3, "Gamma", Environment::production());
    for t in [&a, &b, &c] {
        tx.insert_tenant(t).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let ids = |ts: Vec<Tenant>| ts.into_iter().map(|t| t.id).collect::<Vec<_>>();
    assert_eq!(
        ids(tx.list_tenants(&TenantFilter::All).await.unwrap()),
        [a.id, b.id, c.id]
    );
    assert_eq!(
        ids(tx
            .list_tenants(&TenantFilter::Only(vec![c.id]))
            .await
            .unwrap()),
        [c.id]
    );
    assert_eq!(
        ids(tx.list_tenants(&TenantFilter::Only(vec![])).await.unwrap()),
        []
    );
    assert_eq!(
        ids(tx
            .list_tenants(&TenantFilter::Environments(
                vec![Environment::development()]
            ))
            .await
            .unwrap()),
        [b.id]
    );
    assert_eq!(
        ids(tx
            .list_tenants(&TenantFilter::Union(
                vec![a.id],
                vec![Environment::development()]
            ))
            .await
            .unwrap()),
        [a.id, b.id]
    );
    // Times survive exactly, to the microsecond.
    assert_eq!(tx.tenant(a.id).await.unwrap().unwrap(), a);
}

async fn duplicates_conflict_and_dropped_transactions_roll_back(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_tenant(&tenant(1, "Acme", Environment::production()))
        .await
        .unwrap();
    let err = tx
        .insert_tenant(&tenant(2, "ACME", Environment::development()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.count_tenants().await.unwrap(),
        0,
        "dropped without commit: nothing stays"
    );
}

async fn the_audit_head_only_moves_forward_by_one(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    let head = tx.lock_audit_head().await.unwrap();
    assert_eq!((head.seq, head.hash), (0, [0; 32]));
    let event = |seq: u64, prev: [u8; 32], hash: [u8; 32]| AuditRecord {
        seq,
        time: datetime!(2026-11-27 10:00 UTC),
        actor: "system".to_owned(),
        action: "test".to_owned(),
        target: None,
        tenant: None,
        outcome: "success".to_owned(),
        request_id: None,
        source: None,
        details: Some(vec![1, 2, 3]),
        id: seq
            .is_multiple_of(2)
            .then(|| Uuid::from_u128(u128::from(seq))),
        prev_hash: prev,
        hash,
    };
    tx.append_audit(&event(1, [0; 32], [1; 32])).await.unwrap();
    let head = tx.lock_audit_head().await.unwrap();
    assert_eq!((head.seq, head.hash), (1, [1; 32]));
    // A gap is refused.
    assert!(tx.append_audit(&event(3, [1; 32], [3; 32])).await.is_err());
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.lock_audit_head().await.unwrap().seq, 0);
    assert!(tx.audit_events(0, 10).await.unwrap().is_empty());
    // A batch: consecutive events, one head move; ids read back.
    let batch: Vec<_> = (1..=3u8)
        .map(|i| event(u64::from(i), [i - 1; 32], [i; 32]))
        .collect();
    tx.append_audit_batch(&batch).await.unwrap();
    assert_eq!(tx.lock_audit_head().await.unwrap().seq, 3);
    assert_eq!(tx.audit_events(0, 10).await.unwrap(), batch);
    // Not from the head: refused.
    assert!(
        tx.append_audit_batch(&[event(5, [4; 32], [5; 32])])
            .await
            .is_err()
    );
}

async fn pending_audit_events_keep_their_order(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let store = db.store().await;
    let pending = |n: u128| rempart_store::PendingAuditRecord {
        order: 0,
        id: Uuid::from_u128(n),
        time: datetime!(2026-11-27 10:00 UTC),
        actor: "system".to_owned(),
        action: format!("test.{n}"),
        target: None,
        tenant: None,
        outcome: "success".to_owned(),
        request_id: None,
        source: Some("192.0.2.1".to_owned()),
        details: Some(vec![9; 4]),
    };
    for n in 1..=3 {
        let mut tx = store.begin().await.unwrap();
        tx.insert_audit_pending(&pending(n)).await.unwrap();
        tx.commit().await.unwrap();
    }
    // Rolled back: never pending.
    let mut tx = store.begin().await.unwrap();
    tx.insert_audit_pending(&pending(99)).await.unwrap();
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let rows = tx.audit_pending(10).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.id.as_u128()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let [first, second, third] = rows.as_slice() else {
        unreachable!("three rows")
    };
    assert!(first.order < second.order && second.order < third.order);
    assert_eq!(first.details, Some(vec![9; 4]));
    assert_eq!(tx.audit_pending(2).await.unwrap().len(), 2);
    // Taken in a transaction rolled back: still pending.
    let two = [first.clone(), second.clone()];
    assert_eq!(tx.take_audit_pending(2).await.unwrap(), two);
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.take_audit_pending(2).await.unwrap(), two);
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.audit_pending(10).await.unwrap(),
        std::slice::from_ref(third)
    );
}

async fn an_unreachable_database_says_so_without_its_password(engine: Engine) {
    let url = match engine {
        Engine::Postgres => "postgres://rempart:hunter2@127.0.0.1:1/rempart".to_owned(),
        Engine::Sqlite => "sqlite:///nonexistent-dir/for/sure/rempart.db".to_owned(),
    };
    let err = rempart_store::connect(&url, 1).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{text}");
    assert!(text.starts_with("cannot reach the database"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// Invariant 7 at the storage layer: two stores on one database stand for
/// two replicas. One keeps reading the auth epoch (its lease stays fresh);
/// the other revokes. Once the revoking commit has returned, the first
/// reads the new epoch on its very next call; a move rolled back is never
/// seen; a transaction of several revocations moves it once, as it
/// commits.
async fn a_moved_auth_epoch_is_seen_everywhere_once_the_move_returns(engine: Engine) {
    use rempart_model::PrincipalId;
    use rempart_store::PrincipalState;
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let reader = db.store().await;
    let mover = db.store().await;
    let first = reader.auth_epoch().await.unwrap();
    assert_eq!(reader.auth_epoch().await.unwrap(), first);

    let mut tx = mover.begin().await.unwrap();
    tx.set_principal_state(PrincipalId(Uuid::from_u128(1)), PrincipalState::Suspended)
        .await
        .unwrap();
    drop(tx);
    assert_eq!(mover.auth_epoch().await.unwrap(), first);

    for round in 1..=3 {
        // The reader's lease is fresh when the move commits.
        assert_eq!(reader.auth_epoch().await.unwrap(), first + round - 1);
        let mut tx = mover.begin().await.unwrap();
        tx.revoke_token(
            Uuid::from_u128(round.into()),
            datetime!(2026-11-28 05:00 UTC),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(reader.auth_epoch().await.unwrap(), first + round);
        assert_eq!(mover.auth_epoch().await.unwrap(), first + round);
    }

    // Several changes in one transaction move it once, as it commits.
    let mut tx = mover.begin().await.unwrap();
    let principal = PrincipalId(Uuid::from_u128(1));
    let at = datetime!(2026-11-28 06:00 UTC);
    tx.set_principal_state(principal, PrincipalState::Suspended)
        .await
        .unwrap();
    tx.revoke_sessions_of(principal, at).await.unwrap();
    tx.revoke_tokens_of(principal, at).await.unwrap();
    assert_eq!(mover.auth_epoch().await.unwrap(), first + 3);
    tx.commit().await.unwrap();
    assert_eq!(reader.auth_epoch().await.unwrap(), first + 4);
}

fn data_key(id: u8, tenant: Option<TenantId>) -> DataKeyRecord {
    DataKeyRecord {
        id: [id; DATA_KEY_ID_LEN],
        tenant,
        environment: Environment::production(),
        purpose: "vault".to_owned(),
        kek_version: 1,
        wrapped: vec![id; 40],
        encryptions: 0,
        created_at: datetime!(2026-11-29 10:00 UTC),
        rewrapped_at: None,
    }
}

/// Returns once a session of the test's PostgreSQL database waits on a
/// lock (the racing insert is blocked on this transaction's key).
async fn wait_for_a_lock_wait(url: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    for _ in 0..5_000 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the racing insert never waited on the first one");
}

/// Two first uses of a data key at once: the second insert of the same
/// tenant and purpose (or system purpose) yields to the first instead of
/// failing its transaction, and the first key is the one that stays.
async fn a_second_first_data_key_yields_to_the_first(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let store = db.store().await;
    let t = tenant(1, "Alpha", Environment::production());
    let mut tx = store.begin().await.unwrap();
    tx.insert_tenant(&t).await.unwrap();
    assert!(tx.insert_data_key(&data_key(1, Some(t.id))).await.unwrap());
    assert!(tx.insert_data_key(&data_key(2, None)).await.unwrap());
    if engine == Engine::Postgres {
        // A concurrent insert waits for this transaction, then yields.
        let other = store.clone();
        let tenant_id = t.id;
        let racer = tokio::spawn(async move {
            let mut tx = other.begin().await.unwrap();
            let inserted = tx.insert_data_key(&data_key(3, Some(tenant_id))).await;
            let kept = tx.data_key_for(tenant_id, "vault").await.unwrap();
            tx.commit().await.unwrap();
            (inserted.unwrap(), kept.map(|k| k.id))
        });
        wait_for_a_lock_wait(&db.url).await;
        tx.commit().await.unwrap();
        assert_eq!(racer.await.unwrap(), (false, Some([1; DATA_KEY_ID_LEN])));
    } else {
        // SQLite writers are serial (the write lock from the start).
        tx.commit().await.unwrap();
    }
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.insert_data_key(&data_key(4, Some(t.id))).await.unwrap());
    assert!(!tx.insert_data_key(&data_key(5, None)).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.begin_read().await.unwrap();
    let kept = tx.data_key_for(t.id, "vault").await.unwrap().unwrap();
    assert_eq!(kept.id, [1; DATA_KEY_ID_LEN]);
    let kept = tx.system_data_key_for("vault").await.unwrap().unwrap();
    assert_eq!(kept.id, [2; DATA_KEY_ID_LEN]);
}

/// A shred is recorded once: its time kept, a second record refused and
/// changing nothing, an absent tenant refused; the held read sees it.
async fn a_shred_is_recorded_once(engine: Engine) {
    let Some(db) = TestDatabase::create(engine).await else {
        return;
    };
    let store = db.store().await;
    let a = tenant(1, "Alpha", Environment::production());
    let b = tenant(2, "Beta", Environment::production());
    let mut tx = store.begin().await.unwrap();
    for t in [&a, &b] {
        tx.insert_tenant(t).await.unwrap();
    }
    tx.commit().await.unwrap();
    let at = datetime!(2026-11-28 08:00:00.654321 UTC);
    let mut tx = store.begin().await.unwrap();
    assert!(tx.set_tenant_shredded(a.id, at).await.unwrap());
    let later = datetime!(2026-11-29 08:00 UTC);
    assert!(!tx.set_tenant_shredded(a.id, later).await.unwrap());
    let absent = TenantId(Uuid::from_u128(9));
    assert!(!tx.set_tenant_shredded(absent, at).await.unwrap());
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let shredded = tx.tenant_held(a.id).await.unwrap().unwrap();
    assert_eq!(shredded.shredded_at, Some(at));
    assert_eq!(tx.tenant_held(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(tx.tenant_held(absent).await.unwrap(), None);
    let listed = tx.list_tenants(&TenantFilter::All).await.unwrap();
    let times: Vec<_> = listed.iter().map(|t| t.shredded_at).collect();
    assert_eq!(times, [Some(at), None]);
}

both_engines!(
    migrations_are_idempotent,
    a_shred_is_recorded_once,
    a_moved_auth_epoch_is_seen_everywhere_once_the_move_returns,
    tenant_queries_are_scoped,
    duplicates_conflict_and_dropped_transactions_roll_back,
    the_audit_head_only_moves_forward_by_one,
    pending_audit_events_keep_their_order,
    an_unreachable_database_says_so_without_its_password,
    a_second_first_data_key_yields_to_the_first,
);
