//! Group commit (the audit log's append cost): events recorded pending by many
//! concurrent writers, chained by two sequencers of two "replicas" at once
//! (each with its own caches, as two processes would be), form one valid
//! chain holding every event exactly once, with its count checkpoints; and a
//! pending event never holds its details in clear.

use std::collections::HashSet;
use std::sync::Arc;

use rempart_core::Rempart;
use rempart_core::kernel::audit_chain::AuditChain;
use rempart_model::{Action, Outcome, Role, Scope};
use rempart_testkit::Engine;
use time::Duration;

use super::{ctx, fixture, holder, key, populated, signer};
use crate::support::assert_not_found;

const WRITERS: usize = 6;
const PER_WRITER: usize = 20;

pub async fn concurrent_writers_and_sequencers_make_one_chain(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    // A second replica: same store and signing key, its own chain caches.
    let mut chain = AuditChain::new(Some(Arc::new(signer())), 4, Duration::minutes(1));
    chain.gather = std::time::Duration::from_millis(2);
    chain.batch_size = 7;
    let replica = Rempart::new(f.store.clone(), f.clock.clone()).with_audit(chain);
    let sequencers: Vec<_> = [f.core.clone(), replica.clone()]
        .into_iter()
        .map(|core| tokio::spawn(async move { core.run_audit_sequencer().await }))
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let core = if w % 2 == 0 {
                f.core.clone()
            } else {
                replica.clone()
            };
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    core.record_offline(Action::AuditVerify, Outcome::Success)
                        .await
                        .unwrap();
                    if i % 7 == 3 {
                        // A reader drains in the middle of it all.
                        core.drain_audit().await.unwrap();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    for s in sequencers {
        s.abort();
    }
    replica.drain_audit().await.unwrap();
    let total = u64::try_from(WRITERS * PER_WRITER).unwrap();

    let mut tx = f.store.begin().await.unwrap();
    assert!(tx.audit_pending(10).await.unwrap().is_empty());
    let events = tx.audit_events(0, 10_000).await.unwrap();
    drop(tx);
    assert_eq!(events.len(), usize::try_from(total).unwrap());
    let ids: HashSet<_> = events.iter().map(|e| e.id.unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "each event chained once");
    let report = f.core.verify_audit_log(&key()).await.unwrap().unwrap();
    assert_eq!(report.events, total);
    // Count checkpoints every 4 events, whichever replica signed them.
    let mut tx = f.store.begin().await.unwrap();
    let sizes: Vec<u64> = tx
        .audit_checkpoints(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, (1..=total / 4).map(|n| n * 4).collect::<Vec<_>>());
}

pub async fn pending_events_hold_only_sealed_details(engine: Engine) {
    let Some((f, tenants)) = populated(engine).await else {
        return;
    };
    let outsider = holder(&f, "outsider", Role::Auditor, Scope::Tenant(tenants[1].id)).await;
    f.core.drain_audit().await.unwrap();
    assert_not_found(
        &f.core
            .audit_inclusion_proof(&outsider, &ctx(), 2, None)
            .await,
    );
    // The refusal is pending (with the creation of the tenant's details
    // key, first used here), its details sealed already.
    let mut tx = f.store.begin().await.unwrap();
    let pending = tx.audit_pending(10).await.unwrap();
    drop(tx);
    let refusal = pending
        .iter()
        .find(|p| p.action == "audit.proof" && p.outcome == "denied")
        .unwrap();
    let stored = refusal.details.clone().unwrap();
    for clear in [&b"outside the caller"[..], b"reason", b"scope"] {
        assert!(
            !stored.windows(clear.len()).any(|w| w == clear),
            "plaintext in a pending event's details"
        );
    }
    // Chained as it was recorded: same id, same envelope, in order.
    let events = f.audit().await;
    let tail: Vec<_> = events[events.len() - pending.len()..]
        .iter()
        .map(|e| e.id.unwrap())
        .collect();
    assert_eq!(tail, pending.iter().map(|p| p.id).collect::<Vec<_>>());
    let chained = events.iter().find(|e| e.id == Some(refusal.id)).unwrap();
    assert_eq!(chained.details.as_deref(), Some(stored.as_slice()));
}
