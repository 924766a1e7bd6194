//! The behaviour every backend must have, run on each: round trips of
//! small, empty and multi-part objects; tampering, truncation and
//! substitution detected on read; failed and dropped uploads leave
//! nothing; list and delete.

use bytes::Bytes;
use futures::StreamExt as _;
use rempart_objects::trailer::{TRAILER_LEN, Trailer};
use rempart_objects::{ListedObject, ObjectError, ObjectInfo, PART_SIZE, Sha256};

use crate::support::{TestBackend, both_backends, chunks, generated, key, read_all, read_ok};

both_backends!(
    small_object_round_trip,
    empty_object_round_trip,
    multipart_object_round_trip,
    changed_content_is_detected,
    truncation_is_detected,
    substitution_is_caught_by_the_expected_checksum,
    failed_upload_leaves_nothing,
    failed_multipart_upload_leaves_nothing,
    failed_upload_keeps_the_previous_object,
    dropped_upload_leaves_nothing,
    list_and_delete,
    missing_object_is_not_found,
);

async fn small_object_round_trip(t: &TestBackend) {
    let k = key("tenant-1/attachments/hello");
    let info = t.storage.put_stream(&k, chunks(b"hello", 2)).await.unwrap();
    assert_eq!(
        info,
        ObjectInfo {
            size: 5,
            sha256: Sha256::of(b"hello")
        }
    );
    assert_eq!(read_ok(&t.storage, &k, None).await, b"hello".to_vec());
    let (bytes, error) = read_all(&t.storage, &k, Some(info.sha256)).await;
    assert_eq!(bytes, b"hello");
    assert!(error.is_none(), "{error:?}");
    assert_eq!(t.storage.head(&k).await.unwrap(), info);

    // As stored: the content, then the trailer (the format's test vector).
    let vector = hex::decode(
        "68656c6c6f\
         524d50544f424a31\
         0000000000000005\
         2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    )
    .unwrap();
    assert_eq!(t.stored(k.as_str()).await, vector);

    // A second put replaces the object.
    let info = t
        .storage
        .put_stream(&k, chunks(b"bonjour", 7))
        .await
        .unwrap();
    assert_eq!(info.size, 7);
    assert_eq!(
        read_ok(&t.storage, &k, Some(info.sha256)).await,
        b"bonjour".to_vec()
    );
}

async fn empty_object_round_trip(t: &TestBackend) {
    let k = key("empty");
    let info = t
        .storage
        .put_stream(&k, futures::stream::empty())
        .await
        .unwrap();
    assert_eq!(info.size, 0);
    assert_eq!(info.sha256, Sha256::of(b""));
    assert_eq!(
        read_ok(&t.storage, &k, Some(info.sha256)).await,
        Vec::<u8>::new()
    );
    assert_eq!(t.storage.head(&k).await.unwrap(), info);
    assert_eq!(t.stored("empty").await.len(), TRAILER_LEN);
}

async fn multipart_object_round_trip(t: &TestBackend) {
    // Larger than a part, and not a multiple of one.
    let len = PART_SIZE + PART_SIZE / 2 + 12_345;
    let k = key("big/object");
    let info = t.storage.put_stream(&k, generated(len, 7)).await.unwrap();
    assert_eq!(info.size, len as u64);

    let expected = {
        let mut hasher = Vec::with_capacity(len);
        let mut source = generated(len, 7);
        while let Some(chunk) = source.next().await {
            hasher.extend_from_slice(&chunk.unwrap());
        }
        Sha256::of(&hasher)
    };
    assert_eq!(info.sha256, expected);
    assert_eq!(t.storage.head(&k).await.unwrap(), info);

    let mut stream = t.storage.get_stream(&k, Some(info.sha256)).await.unwrap();
    assert_eq!(stream.size(), len as u64);
    let mut received = Vec::with_capacity(len);
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(received.len(), len);
    assert_eq!(Sha256::of(&received), expected);
    assert_eq!(t.everything().await.len(), 1, "{:?}", t.everything().await);
}

async fn changed_content_is_detected(t: &TestBackend) {
    let k = key("a/tampered");
    let data = vec![7u8; 4096];
    let info = t.storage.put_stream(&k, chunks(&data, 1000)).await.unwrap();
    let mut stored = t.stored(k.as_str()).await;
    stored[100] ^= 1;
    t.overwrite(k.as_str(), stored).await;

    for expected in [None, Some(info.sha256)] {
        let (bytes, error) = read_all(&t.storage, &k, expected).await;
        assert_eq!(
            bytes.len(),
            data.len(),
            "the content streams, then the error"
        );
        assert!(
            matches!(
                &error,
                Some(ObjectError::Corrupt { what, .. }) if what.contains("does not match")
            ),
            "{error:?}"
        );
    }
}

async fn truncation_is_detected(t: &TestBackend) {
    let k = key("a/truncated");
    let data = vec![9u8; 1000];
    let info = t.storage.put_stream(&k, chunks(&data, 1000)).await.unwrap();
    let stored = t.stored(k.as_str()).await;

    // The end cut off: the trailer is damaged.
    t.overwrite(k.as_str(), stored[..stored.len() - 10].to_vec())
        .await;
    let (_, error) = read_all(&t.storage, &k, Some(info.sha256)).await;
    assert!(
        matches!(error, Some(ObjectError::Corrupt { .. })),
        "{error:?}"
    );
    let head = t.storage.head(&k).await;
    assert!(matches!(head, Err(ObjectError::Corrupt { .. })), "{head:?}");

    // Content cut, trailer kept: the lengths disagree.
    let mut cut = stored[..500].to_vec();
    cut.extend_from_slice(&stored[stored.len() - TRAILER_LEN..]);
    t.overwrite(k.as_str(), cut).await;
    let (_, error) = read_all(&t.storage, &k, None).await;
    assert!(
        matches!(&error, Some(ObjectError::Corrupt { what, .. }) if what.contains("length")),
        "{error:?}"
    );
    let head = t.storage.head(&k).await;
    assert!(matches!(head, Err(ObjectError::Corrupt { .. })), "{head:?}");

    // Shorter than a trailer: refused before any byte.
    t.overwrite(k.as_str(), b"short".to_vec()).await;
    let opened = t.storage.get_stream(&k, None).await;
    assert!(
        matches!(opened, Err(ObjectError::Corrupt { .. })),
        "{opened:?}"
    );
    assert!(matches!(
        t.storage.head(&k).await,
        Err(ObjectError::Corrupt { .. })
    ));
}

async fn substitution_is_caught_by_the_expected_checksum(t: &TestBackend) {
    let (a, b) = (key("x/a"), key("x/b"));
    let info_a = t
        .storage
        .put_stream(&a, chunks(b"content A", 4))
        .await
        .unwrap();
    t.storage
        .put_stream(&b, chunks(b"content B", 4))
        .await
        .unwrap();
    // B's object, intact, put in A's place.
    t.overwrite("x/a", t.stored("x/b").await).await;

    // Self-consistent: only the checksum the caller kept reveals it.
    assert_eq!(read_ok(&t.storage, &a, None).await, b"content B".to_vec());
    let (_, error) = read_all(&t.storage, &a, Some(info_a.sha256)).await;
    assert!(
        matches!(&error, Some(ObjectError::Unexpected { found, .. }) if *found == Sha256::of(b"content B")),
        "{error:?}"
    );
}

/// A stream that yields `before` bytes, then fails.
fn failing_after(before: usize) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send {
    generated(before, 3).chain(futures::stream::once(async {
        Err(std::io::Error::other("the client went away"))
    }))
}

async fn failed_upload_leaves_nothing(t: &TestBackend) {
    let k = key("failed/small");
    let error = t
        .storage
        .put_stream(&k, failing_after(1000))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ObjectError::Source { reason, .. } if reason.contains("went away")),
        "{error:?}"
    );
    assert!(matches!(
        t.storage.head(&k).await,
        Err(ObjectError::NotFound { .. })
    ));
    assert_eq!(t.everything().await, Vec::<String>::new());
}

async fn failed_multipart_upload_leaves_nothing(t: &TestBackend) {
    let k = key("failed/big");
    let error = t
        .storage
        .put_stream(&k, failing_after(PART_SIZE * 2 + 1))
        .await
        .unwrap_err();
    assert!(matches!(error, ObjectError::Source { .. }), "{error:?}");
    assert!(matches!(
        t.storage.head(&k).await,
        Err(ObjectError::NotFound { .. })
    ));
    assert_eq!(t.everything().await, Vec::<String>::new());
}

async fn failed_upload_keeps_the_previous_object(t: &TestBackend) {
    let k = key("kept");
    let info = t
        .storage
        .put_stream(&k, chunks(b"previous", 8))
        .await
        .unwrap();
    for size in [10, PART_SIZE + 1] {
        assert!(t.storage.put_stream(&k, failing_after(size)).await.is_err());
        assert_eq!(
            read_ok(&t.storage, &k, Some(info.sha256)).await,
            b"previous".to_vec()
        );
    }
    assert_eq!(t.everything().await.len(), 1, "{:?}", t.everything().await);
}

async fn dropped_upload_leaves_nothing(t: &TestBackend) {
    let k = key("dropped/big");
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let storage = t.storage.clone();
    let upload_key = k.clone();
    let upload = tokio::spawn(async move {
        let data = tokio_stream(receiver);
        storage.put_stream(&upload_key, data).await
    });
    // More than a part: the multipart upload has begun.
    let mut source = generated(PART_SIZE + 1024, 5);
    while let Some(chunk) = source.next().await {
        sender.send(chunk).await.unwrap();
    }
    assert!(
        eventually(|| async { !t.everything().await.is_empty() }).await,
        "the upload never began"
    );
    // The caller gives up: the upload's future is dropped mid-way.
    upload.abort();
    assert!(upload.await.unwrap_err().is_cancelled());
    assert!(
        eventually(|| async { t.everything().await.is_empty() }).await,
        "left behind: {:?}",
        t.everything().await
    );
    assert!(matches!(
        t.storage.head(&k).await,
        Err(ObjectError::NotFound { .. })
    ));
    drop(sender);
}

/// The receiving end of a channel as a stream (kept open while the sender
/// lives).
fn tokio_stream(
    mut receiver: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// Whether `condition` holds within about ten seconds of polling.
async fn eventually<F, Fut>(condition: F) -> bool
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..100 {
        if condition().await {
            return true;
        }
        rempart_core::clock::pause(std::time::Duration::from_millis(100)).await;
    }
    false
}

async fn list_and_delete(t: &TestBackend) {
    for (name, content) in [
        ("a/1", &b"one"[..]),
        ("a/2", b"two!"),
        ("a/b/3", b""),
        ("ab/4", b"four"),
    ] {
        t.storage
            .put_stream(&key(name), chunks(content, 3))
            .await
            .unwrap();
    }
    let listed = |prefix: Option<&'static str>| async move {
        let prefix = prefix.map(key);
        let mut all: Vec<ListedObject> = t
            .storage
            .list(prefix.as_ref())
            .map(Result::unwrap)
            .collect()
            .await;
        all.sort_by(|x, y| x.key.cmp(&y.key));
        all.into_iter()
            .map(|o| (o.key.to_string(), o.size))
            .collect::<Vec<_>>()
    };
    let owned = |v: &[(&str, u64)]| {
        v.iter()
            .map(|(k, s)| ((*k).to_owned(), *s))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(Some("a")).await,
        owned(&[("a/1", 3), ("a/2", 4), ("a/b/3", 0)])
    );
    assert_eq!(listed(Some("a/b")).await, owned(&[("a/b/3", 0)]));
    assert_eq!(listed(None).await.len(), 4);
    assert_eq!(listed(Some("nothing")).await, owned(&[]));

    t.storage.delete(&key("a/1")).await.unwrap();
    assert!(matches!(
        t.storage.head(&key("a/1")).await,
        Err(ObjectError::NotFound { .. })
    ));
    // Idempotent: again, and an object that never was.
    t.storage.delete(&key("a/1")).await.unwrap();
    t.storage.delete(&key("never/was")).await.unwrap();
    t.storage.delete(&key("a/b/3")).await.unwrap();
    assert_eq!(listed(Some("a")).await, owned(&[("a/2", 4)]));
    assert_eq!(listed(None).await.len(), 2);
}

async fn missing_object_is_not_found(t: &TestBackend) {
    let k = key("not/there");
    let error = t.storage.get_stream(&k, None).await.unwrap_err();
    assert!(
        matches!(&error, ObjectError::NotFound { key, .. } if key == "not/there"),
        "{error}"
    );
    assert!(error.to_string().contains("not/there"));
    assert!(matches!(
        t.storage.head(&k).await,
        Err(ObjectError::NotFound { .. })
    ));
}

#[test]
fn the_trailer_vector_decodes() {
    let trailer = Trailer::decode(
        &hex::decode(
            "524d50544f424a31\
             0000000000000005\
             2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(trailer.size, 5);
    assert_eq!(trailer.sha256, Sha256::of(b"hello"));
}
