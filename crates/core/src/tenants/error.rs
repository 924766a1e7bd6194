//! What the tenants domain can answer besides success.

use crate::kernel::error::{DomainError, ErrorKind, ProblemType};

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("a tenant named {name:?} already exists (names are compared without case)")]
    NameTaken { name: String },
}

impl DomainError for TenantError {
    fn problem_type(&self) -> ProblemType {
        match self {
            Self::NameTaken { .. } => {
                ProblemType::new(ErrorKind::Conflict, "name-taken", "Name already taken")
            }
        }
    }
}
