//! The S3 provider: a bucket on any S3-compatible server, over HTTPS
//! (rustls), path-style requests, optionally trusting a private CA only.
//!
//! Requests have no overall time limit (a multi-gigabyte object takes as
//! long as it takes) but each read waits at most [`READ_TIMEOUT`], and a
//! connection is given up after [`CONNECT_TIMEOUT`]; failures are retried
//! with back-off as `max_retries` says. The credentials are redacted from
//! every message of the backend.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::{Certificate, ClientOptions, RetryConfig};
use secrecy::{ExposeSecret as _, SecretString};

use super::Backend;
use crate::config::S3Config;
use crate::error::ObjectError;

/// The longest wait for bytes on an open connection.
pub const READ_TIMEOUT: Duration = Duration::from_mins(1);
/// The longest wait for a connection (and its TLS handshake).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the S3 backend; checks the endpoint and the CA file first.
pub fn open(config: &S3Config) -> Result<Backend, ObjectError> {
    check_endpoint(config)?;
    if config.bucket.is_empty() {
        return Err(ObjectError::Config(
            "the S3 bucket name is empty".to_owned(),
        ));
    }
    let mut client = ClientOptions::new()
        .with_allow_http(config.allow_http)
        .with_timeout_disabled()
        .with_read_timeout(READ_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT);
    if let Some(path) = &config.root_certificate {
        for certificate in root_certificates(path)? {
            client = client.with_root_certificate(certificate);
        }
        client = client.with_no_system_certificates(true);
    }
    let retry = RetryConfig {
        max_retries: usize::try_from(config.max_retries).unwrap_or(usize::MAX),
        ..RetryConfig::default()
    };
    let store = AmazonS3Builder::new()
        .with_bucket_name(&config.bucket)
        .with_endpoint(&config.endpoint)
        .with_region(&config.region)
        .with_access_key_id(&config.access_key_id)
        .with_secret_access_key(config.secret_access_key.expose_secret())
        .with_virtual_hosted_style_request(false)
        .with_allow_http(config.allow_http)
        .with_client_options(client)
        .with_retry(retry)
        .build()
        .map_err(|e| {
            let redact = crate::error::Redactions::new(secrets(config));
            ObjectError::Config(redact.apply(&format!("the S3 client cannot be built: {e}")))
        })?;
    Ok(Backend::new(
        Arc::new(store),
        format!("s3 bucket {} at {}", config.bucket, config.endpoint),
    )
    .redacting(secrets(config)))
}

fn secrets(config: &S3Config) -> Vec<SecretString> {
    vec![
        config.secret_access_key.clone(),
        SecretString::from(config.access_key_id.clone()),
    ]
}

fn check_endpoint(config: &S3Config) -> Result<(), ObjectError> {
    let endpoint = config.endpoint.as_str();
    if endpoint.starts_with("https://") && endpoint.len() > "https://".len() {
        return Ok(());
    }
    if endpoint.starts_with("http://") {
        return if config.allow_http {
            Ok(())
        } else {
            Err(ObjectError::Config(format!(
                "the S3 endpoint {endpoint} is plain HTTP; use https:// (or set allow_http for a test server)"
            )))
        };
    }
    Err(ObjectError::Config(format!(
        "the S3 endpoint {endpoint:?} is not an https:// URL"
    )))
}

fn root_certificates(path: &std::path::Path) -> Result<Vec<Certificate>, ObjectError> {
    let pem = std::fs::read(path).map_err(|e| {
        ObjectError::Config(format!(
            "cannot read the S3 root certificate file {}: {e}",
            path.display()
        ))
    })?;
    let certificates = Certificate::from_pem_bundle(&pem).map_err(|e| {
        ObjectError::Config(format!(
            "the S3 root certificate file {} is not PEM certificates: {e}",
            path.display()
        ))
    })?;
    if certificates.is_empty() {
        return Err(ObjectError::Config(format!(
            "the S3 root certificate file {} holds no certificate",
            path.display()
        )));
    }
    Ok(certificates)
}
