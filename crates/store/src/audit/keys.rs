//! The public keys that sign audit checkpoints, and the certificates of
//! their rotations (docs/formats/audit.md section 3.3). Not secret: they
//! verify, they cannot sign.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;
use crate::engine::{Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, to_micros};

/// A public key that signs audit checkpoints, as recorded when the keyring
/// was opened (not secret: it verifies, it cannot sign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKeyRecord {
    /// The id checkpoints name it by.
    pub key_id: [u8; 8],
    pub public_key: [u8; 32],
    pub recorded_at: OffsetDateTime,
}

/// A rotation of the audit signing key: the predecessor's signature over
/// its successor (docs/formats/audit.md section 3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKeyCertificateRecord {
    /// The successor's id.
    pub key_id: [u8; 8],
    /// The successor's public key.
    pub public_key: [u8; 32],
    /// The predecessor's id.
    pub certified_by: [u8; 8],
    /// The predecessor's Ed25519 signature.
    pub certificate: Vec<u8>,
    pub recorded_at: OffsetDateTime,
}

const LATEST_KEY: &str = "SELECT key_id, public_key, recorded_at FROM audit_keys \
                          ORDER BY recorded_at DESC, key_id DESC LIMIT 1";
const KEY: &str = "SELECT public_key, recorded_at FROM audit_keys WHERE key_id = $1";
const RECORD_KEY: &str = "INSERT INTO audit_keys (key_id, public_key, recorded_at) \
                          VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING";
const CERTIFICATES: &str = "SELECT key_id, public_key, certified_by, certificate, recorded_at \
                            FROM audit_key_certificates ORDER BY recorded_at, key_id";
const RECORD_CERTIFICATE: &str = "INSERT INTO audit_key_certificates \
                                  (key_id, public_key, certified_by, certificate, recorded_at) \
                                  VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_id) DO NOTHING";

/// The audit signing keys' reads.
#[async_trait]
pub trait AuditKeyReadTx: SqlRead {
    /// The most recently recorded checkpoint signing key.
    async fn latest_audit_key(&mut self) -> Result<Option<AuditKeyRecord>, StoreError> {
        self.optional(Stmt::new(LATEST_KEY), |row| {
            Ok(AuditKeyRecord {
                key_id: row.key_id("key_id")?,
                public_key: row.hash("public_key")?,
                recorded_at: row.time("recorded_at")?,
            })
        })
        .await
    }

    /// A recorded checkpoint signing key by its id.
    async fn audit_key(&mut self, key_id: [u8; 8]) -> Result<Option<AuditKeyRecord>, StoreError> {
        self.optional(Stmt::new(KEY).bind(key_id.as_slice()), |row| {
            Ok(AuditKeyRecord {
                key_id,
                public_key: row.hash("public_key")?,
                recorded_at: row.time("recorded_at")?,
            })
        })
        .await
    }

    /// Every certificate of a rotation, oldest first.
    async fn audit_key_certificates(
        &mut self,
    ) -> Result<Vec<AuditKeyCertificateRecord>, StoreError> {
        self.all(Stmt::new(CERTIFICATES), |row| {
            Ok(AuditKeyCertificateRecord {
                key_id: row.key_id("key_id")?,
                public_key: row.hash("public_key")?,
                certified_by: row.key_id("certified_by")?,
                certificate: row.bytes("certificate")?,
                recorded_at: row.time("recorded_at")?,
            })
        })
        .await
    }
}

/// The audit signing keys' writes.
#[async_trait]
pub trait AuditKeyTx: AuditKeyReadTx + SqlWrite {
    /// Records a checkpoint signing key's public half; a key already
    /// recorded is left as it is.
    async fn record_audit_key(&mut self, key: &AuditKeyRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(RECORD_KEY)
            .bind(key.key_id.as_slice())
            .bind(key.public_key.as_slice())
            .bind(to_micros(key.recorded_at)?);
        self.execute(stmt).await?;
        Ok(())
    }

    /// Records that a key certified its successor (a rotation of the audit
    /// signing key); a key already certified is left as it is.
    async fn record_audit_key_certificate(
        &mut self,
        certificate: &AuditKeyCertificateRecord,
    ) -> Result<(), StoreError> {
        let stmt = Stmt::new(RECORD_CERTIFICATE)
            .bind(certificate.key_id.as_slice())
            .bind(certificate.public_key.as_slice())
            .bind(certificate.certified_by.as_slice())
            .bind(certificate.certificate.as_slice())
            .bind(to_micros(certificate.recorded_at)?);
        self.execute(stmt).await?;
        Ok(())
    }
}

impl<D: Db> AuditKeyReadTx for EngineTx<D> {}
impl<D: Db> AuditKeyTx for EngineTx<D> {}
