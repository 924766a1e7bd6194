//! What the vault domain can answer besides success.

use rempart_model::vault::{RecordError, SchemaError};

use crate::kernel::error::{DomainError, ErrorKind, FieldReason, ProblemType};

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("no collection named {name:?} in this tenant")]
    UnknownCollection { name: String },
    #[error("a collection named {name:?} already exists in this tenant")]
    CollectionExists { name: String },
    #[error("no such record")]
    UnknownRecord,
    #[error("the schema is not valid: {0}")]
    Schema(#[from] SchemaError),
    #[error("the record does not fit the collection's schema: {0}")]
    Record(#[from] RecordError),
    #[error(
        "the record changed since version {expected} was read (it is at version {current}): read \
         it again and reapply the change"
    )]
    Stale { expected: u64, current: u64 },
    #[error(
        "the collection's schema changed since version {expected} was read (it is at version \
         {current})"
    )]
    StaleSchema { expected: u32, current: u32 },
    #[error(
        "reading sensitive personal data in clear needs a stated purpose (?purpose=…), or leave \
         the sensitive fields out (?fields=…)"
    )]
    PurposeRequired,
    #[error(
        "field {field:?} is not searchable: only fields declared `searchable` can be looked up"
    )]
    NotSearchable { field: String },
    #[error("a subject identifier is 1 to 200 characters, without control characters")]
    InvalidSubject,
    #[error("a stored value does not open: the record is damaged or was tampered with")]
    Tampered,
    #[error("no such token")]
    UnknownToken,
}

impl DomainError for VaultError {
    fn problem_type(&self) -> ProblemType {
        use ErrorKind as K;
        match self {
            Self::UnknownCollection { .. } => {
                ProblemType::new(K::NotFound, "unknown-collection", "No such collection")
            }
            Self::CollectionExists { .. } => ProblemType::new(
                K::Conflict,
                "collection-exists",
                "Collection already exists",
            ),
            Self::UnknownRecord => {
                ProblemType::new(K::NotFound, "unknown-record", "No such record")
            }
            Self::Schema(_) => ProblemType::new(K::Invalid, "invalid-schema", "Invalid schema"),
            Self::Record(_) => ProblemType::new(
                K::Invalid,
                "invalid-record",
                "The record does not fit its schema",
            ),
            Self::Stale { .. } | Self::StaleSchema { .. } => ProblemType::new(
                K::PreconditionFailed,
                "stale-version",
                "Changed since it was read",
            ),
            Self::PurposeRequired => {
                ProblemType::new(K::Forbidden, "purpose-required", "A purpose is required")
            }
            Self::NotSearchable { .. } => {
                ProblemType::new(K::Invalid, "not-searchable", "Field not searchable")
            }
            Self::InvalidSubject => {
                ProblemType::new(K::Invalid, "invalid-subject", "Invalid subject identifier")
            }
            Self::Tampered => {
                ProblemType::new(K::Internal, "tampered", "Stored data does not authenticate")
            }
            Self::UnknownToken => ProblemType::new(K::NotFound, "unknown-token", "No such token"),
        }
    }

    fn field_reasons(&self) -> Vec<FieldReason> {
        match self {
            Self::Record(RecordError::Fields(errors)) => errors
                .iter()
                .map(|e| FieldReason {
                    field: e.field.clone(),
                    message: e.reason.clone(),
                })
                .collect(),
            Self::Schema(SchemaError::Field { field, reason }) => vec![FieldReason {
                field: field.clone(),
                message: reason.clone(),
            }],
            _ => Vec::new(),
        }
    }
}
