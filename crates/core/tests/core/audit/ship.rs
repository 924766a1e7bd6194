//! Shipping the audit log to a real HTTPS receiver (axum over rustls, with
//! an rcgen certificate that the shipper trusts through its CA file): every
//! event arrives once and in order, the receiver verifies what it got with
//! the log's public key, and an outage, a 500 or a restart loses nothing.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rempart_audit::{PublicKey, verify_export};
use rempart_core::audit::ship::{ShipError, ShipOptions, Shipped, Shipper};
use rempart_model::{Action, Outcome};
use rempart_testkit::Engine;
use time::Duration;
use tokio::sync::oneshot;

use super::{Fixture, fixture, key};

const TOKEN: &str = "sink-token-for-tests-only-7f3a";

/// What the receiver kept: the export lines of every accepted batch.
#[derive(Debug)]
struct Inbox {
    lines: Vec<String>,
    last_seq: u64,
    batches: u64,
    /// The status to answer (200: accept).
    answer: u16,
    auth: Vec<Option<String>>,
    redelivered: u64,
}

type Shared = Arc<Mutex<Inbox>>;

async fn receive(State(inbox): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let mut inbox = inbox.lock().unwrap();
    inbox.auth.push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    if inbox.answer != 200 {
        return StatusCode::from_u16(inbox.answer).unwrap();
    }
    let lines: Vec<&str> = body.lines().collect();
    let header: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["type"], "batch");
    assert_eq!(header["format"], "rempart-audit-export");
    let after = header["after_seq"].as_u64().unwrap();
    if after < inbox.last_seq {
        inbox.redelivered += 1;
        return StatusCode::OK;
    }
    if after > inbox.last_seq {
        return StatusCode::CONFLICT;
    }
    let end: serde_json::Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
    assert_eq!(end["type"], "end");
    for line in &lines[1..lines.len() - 1] {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "event" {
            inbox.last_seq = v["seq"].as_u64().unwrap();
        }
        inbox.lines.push((*line).to_owned());
    }
    inbox.batches += 1;
    StatusCode::OK
}

struct Receiver {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start(addr: SocketAddr, tls: Arc<rustls::ServerConfig>, inbox: Shared) -> Receiver {
    let tcp = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = rempart_server::tls::TlsListener::new(tcp, tls).unwrap();
    let app = axum::Router::new()
        .route("/ingest", axum::routing::post(receive))
        .with_state(inbox);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Receiver { addr, stop, task }
}

impl Receiver {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

struct Sink {
    dir: tempfile::TempDir,
    tls: Arc<rustls::ServerConfig>,
    inbox: Shared,
}

fn sink() -> Sink {
    let dir = tempfile::tempdir().unwrap();
    let cert = rempart_testkit::self_signed_certificate(dir.path());
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let tls = rempart_server::tls::load_config(&cert.cert_file, &cert.key_file).unwrap();
    let tls = Arc::new(tls);
    let inbox = Arc::new(Mutex::new(Inbox {
        lines: Vec::new(),
        last_seq: 0,
        batches: 0,
        answer: 200,
        auth: Vec::new(),
        redelivered: 0,
    }));
    Sink { dir, tls, inbox }
}

impl Sink {
    fn options(&self, addr: SocketAddr) -> ShipOptions {
        let mut o = ShipOptions::new(format!("https://localhost:{}/ingest", addr.port()));
        o.ca_file = Some(self.dir.path().join("cert.pem"));
        o.token_file = Some(self.dir.path().join("token"));
        o.batch_size = 3;
        o.timeout = StdDuration::from_secs(10);
        o
    }

    /// What the receiver holds, as an export, verified with `key`; returns
    /// the `seq` of every event received, in order.
    fn verified(&self, key: &PublicKey) -> Vec<u64> {
        let inbox = self.inbox.lock().unwrap();
        verify_shipped(inbox.lines.iter().map(String::as_str), key)
    }
}

/// `lines` (events and checkpoints, as shipped) made into an export and
/// verified with `key`; returns the `seq` of every event, in order.
fn verify_shipped<'a>(lines: impl IntoIterator<Item = &'a str>, key: &PublicKey) -> Vec<u64> {
    let mut export = format!(
        "{{\"type\":\"header\",\"format\":\"rempart-audit-export\",\"version\":1,\"key_id\":\"{}\"}}\n",
        key.key_id()
    );
    let (mut events, mut cps) = (Vec::new(), 0u64);
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "event" {
            events.push(v["seq"].as_u64().unwrap());
        } else {
            cps += 1;
        }
        export.push_str(line);
        export.push('\n');
    }
    let _ = writeln!(
        export,
        "{{\"type\":\"end\",\"events\":{},\"checkpoints\":{cps}}}",
        events.len()
    );
    let report = verify_export(export.as_bytes(), key).unwrap();
    assert_eq!(report.events, events.len() as u64);
    events
}

async fn append(f: &Fixture, n: usize) {
    for _ in 0..n {
        f.core
            .record_offline(Action::AuditVerify, Outcome::Success)
            .await
            .unwrap();
    }
}

async fn drain(shipper: &Shipper) -> u64 {
    let mut batches = 0;
    loop {
        match shipper.ship_once().await.unwrap() {
            Shipped::Batch { .. } => batches += 1,
            Shipped::UpToDate => return batches,
            Shipped::NotLeader => panic!("the shipper lost its lease"),
        }
    }
}

async fn shipped_seq(shipper: &Shipper) -> u64 {
    shipper.cursor().await.unwrap().unwrap().shipped_seq
}

pub async fn shipping_survives_outages_refusals_and_restarts(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let sink = sink();

    // Bad settings are refused before anything is sent.
    let mut plain = sink.options("127.0.0.1:9".parse().unwrap());
    "http://127.0.0.1:9/ingest".clone_into(&mut plain.url);
    assert!(matches!(
        Shipper::new(f.core.clone(), plain),
        Err(ShipError::BadUrl(_))
    ));
    let mut no_ca = sink.options("127.0.0.1:9".parse().unwrap());
    no_ca.ca_file = Some(sink.dir.path().join("missing.pem"));
    assert!(matches!(
        Shipper::new(f.core.clone(), no_ca),
        Err(ShipError::CaFile { .. })
    ));

    let receiver = start(
        "127.0.0.1:0".parse().unwrap(),
        sink.tls.clone(),
        sink.inbox.clone(),
    )
    .await;
    let addr = receiver.addr;
    let shipper = Shipper::new(f.core.clone(), sink.options(addr)).unwrap();

    // Delivered in order, in bounded batches, with the bearer token.
    append(&f, 7).await;
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    assert!(drain(&shipper).await >= 3, "batches hold 3 events at most");
    assert_eq!(sink.verified(&key()), (1..=7).collect::<Vec<_>>());
    assert!(
        sink.inbox
            .lock()
            .unwrap()
            .auth
            .iter()
            .all(|a| a.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
    assert_eq!(shipped_seq(&shipper).await, 7);

    // A second replica does not ship while the lease runs.
    let other = Shipper::new(f.core.clone(), sink.options(addr)).unwrap();
    assert_eq!(other.ship_once().await.unwrap(), Shipped::NotLeader);

    // The receiver is down: nothing moves, and the error names no secret.
    receiver.stop().await;
    append(&f, 5).await;
    let err = shipper.ship_once().await.unwrap_err();
    assert!(matches!(err, ShipError::Unreachable { .. }), "{err}");
    assert!(!err.to_string().contains(TOKEN));
    assert_eq!(shipped_seq(&shipper).await, 7);

    // Back, but answering 500: retried later, the cursor stays.
    let receiver = start(addr, sink.tls.clone(), sink.inbox.clone()).await;
    sink.inbox.lock().unwrap().answer = 500;
    let err = shipper.ship_once().await.unwrap_err();
    assert!(
        matches!(err, ShipError::Refused { status: 500, .. }),
        "{err}"
    );
    assert_eq!(shipped_seq(&shipper).await, 7);
    assert_eq!(sink.verified(&key()).len(), 7);

    // The shipper dies holding its lease; a new one (a restart) takes over
    // once the lease expires, from the cursor.
    sink.inbox.lock().unwrap().answer = 200;
    drop(shipper);
    let restarted = Shipper::new(f.core.clone(), sink.options(addr)).unwrap();
    assert_eq!(restarted.ship_once().await.unwrap(), Shipped::NotLeader);
    f.clock.advance(Duration::minutes(3));
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    drain(&restarted).await;
    let all = sink.verified(&key());
    assert_eq!(
        all,
        (1..=12).collect::<Vec<_>>(),
        "each event once, in order"
    );
    assert_eq!(sink.inbox.lock().unwrap().redelivered, 0);
    assert_eq!(shipped_seq(&restarted).await, 12);

    // A checkpoint made after its events were shipped follows on its own.
    append(&f, 1).await;
    drain(&restarted).await;
    f.clock.advance(Duration::minutes(2));
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    assert_eq!(drain(&restarted).await, 1);
    assert_eq!(sink.verified(&key()), (1..=13).collect::<Vec<_>>());
    let cursor = restarted.cursor().await.unwrap().unwrap();
    assert!(cursor.shipped_checkpoint >= 4);

    restarted.release().await.unwrap();
    receiver.stop().await;
}

/// The background task retries with back-off while the sink is down and
/// catches up by itself once it is back.
pub async fn the_background_task_catches_up(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let sink = sink();
    // Find a free port, then leave it closed: the sink starts down.
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let mut options = sink.options(addr);
    options.retry_min = StdDuration::from_millis(20);
    options.retry_max = StdDuration::from_millis(200);
    options.poll = StdDuration::from_millis(20);
    let shipper = Shipper::new(f.core.clone(), options).unwrap();
    let task = tokio::spawn(async move { shipper.run().await });
    append(&f, 10).await;
    f.core.checkpoint_audit_if_due(true).await.unwrap();
    rempart_core::clock::pause(StdDuration::from_millis(300)).await;
    assert!(sink.inbox.lock().unwrap().lines.is_empty());

    let receiver = start(addr, sink.tls.clone(), sink.inbox.clone()).await;
    let mut waited = 0;
    while sink.inbox.lock().unwrap().last_seq < 10 {
        assert!(waited < 200, "the shipper did not catch up in 20 s");
        rempart_core::clock::pause(StdDuration::from_millis(100)).await;
        waited += 1;
    }
    task.abort();
    assert_eq!(sink.verified(&key()), (1..=10).collect::<Vec<_>>());
    receiver.stop().await;
}

/// Any provider plugs in behind the `Sink` trait: an in-memory sink takes
/// the place of the HTTPS one, and the shipper's lease, cursor and retries
/// work the same (a refusal moves nothing; what arrives verifies).
mod in_memory {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rempart_core::audit::ship::{
        Ack, Batch, Pacing, ShipError, Shipped, Shipper, Sink, SinkError,
    };
    use rempart_testkit::{Engine, both_engines};

    use super::super::fixture;
    use super::{append, drain, shipped_seq};

    /// Keeps every batch it accepts; refuses with 503 while `refusing`.
    #[derive(Debug, Default)]
    struct MemorySink {
        batches: Mutex<Vec<Batch>>,
        refusing: AtomicBool,
    }

    #[async_trait::async_trait]
    impl Sink for MemorySink {
        fn id(&self) -> &'static str {
            "memory:audit-test"
        }

        async fn deliver(&self, batch: &Batch) -> Result<Ack, SinkError> {
            if self.refusing.load(Ordering::SeqCst) {
                return Err(SinkError::Refused { status: 503 });
            }
            self.batches.lock().unwrap().push(batch.clone());
            Ok(Ack)
        }
    }

    impl MemorySink {
        /// The batches received, as one export verified with `key`; the
        /// `seq` of every event, in order.
        fn verified(&self, key: &rempart_audit::PublicKey) -> Vec<u64> {
            let batches = self.batches.lock().unwrap();
            let mut lines = Vec::new();
            let mut after = 0;
            for batch in batches.iter() {
                assert_eq!(batch.after_seq, after, "batches follow each other");
                after = batch.through_seq;
                let text = std::str::from_utf8(&batch.body).unwrap();
                let all: Vec<&str> = text.lines().collect();
                lines.extend_from_slice(&all[1..all.len() - 1]);
            }
            super::verify_shipped(lines, key)
        }
    }

    async fn an_in_memory_sink_takes_the_place_of_https(engine: Engine) {
        let Some(f) = fixture(engine).await else {
            return;
        };
        let sink = std::sync::Arc::new(MemorySink::default());
        let pacing = Pacing {
            batch_size: 4,
            ..Pacing::default()
        };
        let shipper = Shipper::with_sink(f.core.clone(), sink.clone(), pacing).unwrap();
        assert_eq!(shipper.sink(), "memory:audit-test");

        append(&f, 6).await;
        f.core.checkpoint_audit_if_due(true).await.unwrap();

        // Refused: the sink is named, and the cursor does not move.
        sink.refusing.store(true, Ordering::SeqCst);
        let err = shipper.ship_once().await.unwrap_err();
        assert!(
            matches!(&err, ShipError::Refused { sink, status: 503 } if sink == "memory:audit-test"),
            "{err}"
        );
        assert!(sink.batches.lock().unwrap().is_empty());

        // Accepted: every event once, in order, in batches of 4 at most.
        sink.refusing.store(false, Ordering::SeqCst);
        assert_eq!(drain(&shipper).await, 2);
        assert_eq!(sink.verified(&super::key()), (1..=6).collect::<Vec<_>>());
        assert_eq!(shipped_seq(&shipper).await, 6);
        assert_eq!(shipper.ship_once().await.unwrap(), Shipped::UpToDate);
        shipper.release().await.unwrap();
    }

    both_engines!(an_in_memory_sink_takes_the_place_of_https);
}
