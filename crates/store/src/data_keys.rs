//! Stored data keys: wrapped bytes only (invariant 4). The store never sees
//! a data key in the clear; it keeps what the keyring wrapped, scoped by
//! tenant like all tenant data (invariant 2).

use rempart_model::{Environment, TenantId};
use time::OffsetDateTime;

/// Length of a data key id (the id written in every envelope).
pub const DATA_KEY_ID_LEN: usize = 16;

/// One wrapped data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRecord {
    pub id: [u8; DATA_KEY_ID_LEN],
    /// The owning tenant; `None` for a system-wide key (data of no tenant).
    pub tenant: Option<TenantId>,
    pub environment: Environment,
    pub purpose: String,
    /// The KEK version that wrapped it (also in the wrapped header).
    pub kek_version: u32,
    /// The wrapped key, as the keyring produced it.
    pub wrapped: Vec<u8>,
    /// Encryptions performed with it, for the usage bound.
    pub encryptions: u64,
    pub created_at: OffsetDateTime,
    pub rewrapped_at: Option<OffsetDateTime>,
}

/// How many data keys one KEK version of one environment wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyVersionCount {
    pub environment: String,
    pub kek_version: u32,
    pub data_keys: u64,
}
