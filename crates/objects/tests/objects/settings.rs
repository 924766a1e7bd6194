//! Bad input is refused with a clear error before any I/O: keys,
//! configuration, endpoints and CA files. The secret access key never
//! shows, and TLS trusts exactly the configured CA.

use futures::TryStreamExt as _;
use rempart_objects::provider;
use rempart_objects::{ObjectError, ObjectKey, ObjectStorage, StorageConfig};
use rempart_testkit::s3::{S3Server, Transport};
use secrecy::ExposeSecret as _;

use crate::support::{chunks, key, read_ok, s3_config, secret};

#[test]
fn bad_keys_are_refused() {
    for (bad, why) in [
        ("", "empty"),
        ("/leading", "starts with '/'"),
        ("trailing/", "ends with '/'"),
        ("a//b", "empty segment"),
        ("..", "'..'"),
        ("a/../b", "'..'"),
        ("a/./b", "'.'"),
        ("a/b#1", "character"),
        ("spaces here", "character"),
        ("a\\b", "character"),
        ("é", "character"),
        ("a\0b", "character"),
    ] {
        let error = ObjectKey::new(bad).unwrap_err();
        assert!(
            matches!(&error, ObjectError::InvalidKey { reason, .. } if reason.contains(why)),
            "{bad:?}: {error}"
        );
        assert!(error.to_string().contains("is not valid"), "{error}");
        assert!(bad.parse::<ObjectKey>().is_err());
    }
    let long = "k".repeat(1025);
    assert!(ObjectKey::new(long).is_err());
    for good in [
        "a",
        "tenant-1/attachments/0190b3e2.enc",
        "A_b-c.d/e",
        "...x",
        "x..",
    ] {
        assert_eq!(ObjectKey::new(good).unwrap().as_str(), good);
    }
}

#[test]
fn configurations_parse_with_their_defaults() {
    let local: StorageConfig = toml::from_str(
        r#"
            provider = "local"
            dir = "/var/lib/rempart/objects"
        "#,
    )
    .unwrap();
    assert!(
        matches!(&local, StorageConfig::Local { dir } if dir.to_str() == Some("/var/lib/rempart/objects"))
    );

    let s3: StorageConfig = toml::from_str(
        r#"
            provider = "s3"
            bucket = "rempart"
            endpoint = "https://s3.example.net"
            region = "eu-west-3"
            access_key_id = "AKIDEXAMPLE"
            secret_access_key = "very-secret-key"
        "#,
    )
    .unwrap();
    let StorageConfig::S3(config) = &s3 else {
        panic!("not S3");
    };
    assert_eq!(config.bucket, "rempart");
    assert!(!config.allow_http);
    assert_eq!(config.root_certificate, None);
    assert_eq!(config.max_retries, 10);
    assert_eq!(config.secret_access_key.expose_secret(), "very-secret-key");
    let shown = format!("{s3:?}");
    assert!(!shown.contains("very-secret-key"), "{shown}");
}

#[test]
fn bad_configurations_are_refused() {
    for bad in [
        // Unknown provider, unknown key, missing key, wrong type.
        "provider = \"ftp\"\ndir = \"/x\"",
        "provider = \"local\"\ndir = \"/x\"\nmode = 1",
        "provider = \"local\"",
        "dir = \"/x\"",
        "provider = \"s3\"\nbucket = \"b\"\nendpoint = \"https://e\"\nregion = \"r\"\naccess_key_id = \"a\"",
        "provider = \"s3\"\nbucket = \"b\"\nendpoint = \"https://e\"\nregion = \"r\"\naccess_key_id = \"a\"\nsecret_access_key = \"s\"\nallow_http = \"yes\"",
        "provider = \"s3\"\nbucket = \"b\"\nendpoint = \"https://e\"\nregion = \"r\"\naccess_key_id = \"a\"\nsecret_access_key = \"s\"\nextra = 1",
    ] {
        assert!(
            toml::from_str::<StorageConfig>(bad).is_err(),
            "accepted: {bad}"
        );
    }
}

fn s3(endpoint: &str) -> rempart_objects::S3Config {
    rempart_objects::S3Config {
        bucket: "rempart".to_owned(),
        endpoint: endpoint.to_owned(),
        region: "us-east-1".to_owned(),
        access_key_id: "AKIDEXAMPLE".to_owned(),
        secret_access_key: secret("very-secret-key"),
        allow_http: false,
        root_certificate: None,
        max_retries: 0,
    }
}

fn config_error(result: Result<provider::Backend, ObjectError>) -> String {
    match result {
        Err(ObjectError::Config(message)) => message,
        other => panic!("not a configuration error: {other:?}"),
    }
}

#[test]
fn unusable_providers_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing");
    let message = config_error(provider::local::open(&missing));
    assert!(message.contains("does not exist"), "{message}");
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    assert!(config_error(provider::local::open(&file)).contains("not a directory"));

    let message = config_error(provider::s3::open(&s3("http://127.0.0.1:9")));
    assert!(message.contains("plain HTTP"), "{message}");
    let message = config_error(provider::s3::open(&s3("s3.example.net")));
    assert!(message.contains("not an https:// URL"), "{message}");
    let mut empty_bucket = s3("https://s3.example.net");
    empty_bucket.bucket = String::new();
    assert!(config_error(provider::s3::open(&empty_bucket)).contains("bucket"));

    let mut no_ca = s3("https://s3.example.net");
    no_ca.root_certificate = Some(dir.path().join("absent.pem"));
    assert!(config_error(provider::s3::open(&no_ca)).contains("cannot read"));
    let mut not_pem = s3("https://s3.example.net");
    not_pem.root_certificate = Some(file.clone());
    assert!(config_error(provider::s3::open(&not_pem)).contains("holds no certificate"));

    // The secret shows nowhere: not in the storage's Debug, not in errors.
    let storage = ObjectStorage::new(provider::s3::open(&s3("https://s3.example.net")).unwrap());
    let shown = format!("{storage:?}");
    assert!(!shown.contains("very-secret-key"), "{shown}");
    assert_eq!(
        storage.name(),
        "s3 bucket rempart at https://s3.example.net"
    );
}

/// Backend errors carry neither the secret nor the access key id, even
/// from a server that echoes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_errors_hold_no_credentials() {
    let Some(server) = S3Server::start(Transport::Tls).await else {
        return;
    };
    let mut config = s3_config(&server);
    config.bucket = "no-such-bucket".to_owned();
    config.max_retries = 0;
    let storage = ObjectStorage::new(provider::s3::open(&config).unwrap());
    let error = storage
        .put_stream(&key("k"), chunks(b"data", 4))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ObjectError::Backend { .. }), "{message}");
    assert!(message.contains("no-such-bucket"), "{message}");
    assert!(!message.contains(&server.secret_access_key), "{message}");
    assert!(!message.contains(&server.access_key_id), "{message}");
}

/// TLS is verified: without the CA the server's certificate chains to (or
/// with another CA), nothing is sent; with it, objects go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_trusts_exactly_the_configured_ca() {
    let Some(server) = S3Server::start(Transport::Tls).await else {
        return;
    };
    let mut untrusted = s3_config(&server);
    untrusted.root_certificate = None;
    untrusted.max_retries = 0;
    let storage = ObjectStorage::new(provider::s3::open(&untrusted).unwrap());
    let error = storage.put_stream(&key("k"), chunks(b"data", 4)).await;
    assert!(
        matches!(error, Err(ObjectError::Backend { .. })),
        "{error:?}"
    );

    let other = tempfile::tempdir().unwrap();
    let other_ca = rempart_testkit::self_signed_certificate(other.path());
    let mut wrong_ca = s3_config(&server);
    wrong_ca.root_certificate = Some(other_ca.cert_file);
    wrong_ca.max_retries = 0;
    let storage = ObjectStorage::new(provider::s3::open(&wrong_ca).unwrap());
    let error = storage.put_stream(&key("k"), chunks(b"data", 4)).await;
    assert!(
        matches!(error, Err(ObjectError::Backend { .. })),
        "{error:?}"
    );

    let storage = ObjectStorage::new(provider::s3::open(&s3_config(&server)).unwrap());
    let info = storage
        .put_stream(&key("k"), chunks(b"data", 4))
        .await
        .unwrap();
    assert_eq!(
        read_ok(&storage, &key("k"), Some(info.sha256)).await,
        b"data".to_vec()
    );
    let listed: Vec<_> = storage.list(None).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);
}

/// Plain HTTP works where the operator allows it (a loopback test server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_when_allowed() {
    let Some(server) = S3Server::start(Transport::Http).await else {
        return;
    };
    let config = s3_config(&server);
    assert!(config.allow_http);
    let storage = ObjectStorage::new(provider::s3::open(&config).unwrap());
    let info = storage
        .put_stream(&key("plain"), chunks(b"over http", 3))
        .await
        .unwrap();
    assert_eq!(
        read_ok(&storage, &key("plain"), Some(info.sha256)).await,
        b"over http".to_vec()
    );
}
