//! The audit log's proofs: the Merkle tree's inner nodes and the signed
//! checkpoints over it.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;
use crate::engine::{
    Columns, Db, EngineTx, Fetch as _, SqlRead, SqlWrite, Stmt, lookup_i64, to_i64, to_micros,
};

/// A signed checkpoint as stored. The `audit` crate defines its encoding
/// and verifies it; the store keeps the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRecord {
    /// 1-based position in the checkpoint chain.
    pub number: u64,
    /// Events covered (1 to `size`).
    pub size: u64,
    pub key_id: [u8; 8],
    pub root: [u8; 32],
    pub time: OffsetDateTime,
    pub prev_hash: [u8; 32],
    pub signature: Vec<u8>,
}

const INSERT_NODES: &str = "INSERT INTO audit_nodes (level, idx, hash) VALUES ";
const NODES: &str = "SELECT level, idx, hash FROM audit_nodes WHERE ";
const INSERT_CHECKPOINT: &str = "INSERT INTO audit_checkpoints \
                                 (number, size, key_id, root, time, prev_hash, signature) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7)";
const LAST_CHECKPOINT: &str = "SELECT number, size, key_id, root, time, prev_hash, signature \
                               FROM audit_checkpoints ORDER BY number DESC LIMIT 1";
const CHECKPOINTS_AFTER: &str = "SELECT number, size, key_id, root, time, prev_hash, signature \
                                 FROM audit_checkpoints WHERE number > $1 \
                                 ORDER BY number LIMIT $2";
const CHECKPOINT_OF_SIZE: &str = "SELECT number, size, key_id, root, time, prev_hash, \
                                  signature FROM audit_checkpoints WHERE size = $1";

fn checkpoint(row: &dyn Columns) -> Result<CheckpointRecord, StoreError> {
    Ok(CheckpointRecord {
        number: row.u64("number")?,
        size: row.u64("size")?,
        key_id: row.key_id("key_id")?,
        root: row.hash("root")?,
        time: row.time("time")?,
        prev_hash: row.hash("prev_hash")?,
        signature: row.bytes("signature")?,
    })
}

/// A Merkle level as stored (levels are small: one past every real level
/// finds nothing).
fn level(level: u32) -> i32 {
    i32::try_from(level).unwrap_or(i32::MAX)
}

/// The reads of the audit log's proofs.
#[async_trait]
pub trait CheckpointReadTx: SqlRead {
    /// The Merkle nodes asked for, in any order; missing ones are absent.
    async fn audit_nodes(
        &mut self,
        keys: &[(u32, u64)],
    ) -> Result<Vec<(u32, u64, [u8; 32])>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(200) {
            let mut stmt = Stmt::new(NODES);
            for (i, (node_level, index)) in chunk.iter().enumerate() {
                if i > 0 {
                    stmt.push(" OR ");
                }
                stmt.push("(level = ")
                    .push_bind(level(*node_level))
                    .push(" AND idx = ")
                    .push_bind(to_i64(*index)?)
                    .push(")");
            }
            let found = self
                .all(stmt, |row| {
                    Ok((
                        u32::try_from(row.i32("level")?)
                            .map_err(|_| StoreError::corrupt("negative Merkle level"))?,
                        row.u64("idx")?,
                        row.hash("hash")?,
                    ))
                })
                .await?;
            out.extend(found);
        }
        Ok(out)
    }

    /// The checkpoint with the highest number.
    async fn last_audit_checkpoint(&mut self) -> Result<Option<CheckpointRecord>, StoreError> {
        self.optional(Stmt::new(LAST_CHECKPOINT), checkpoint).await
    }

    /// Checkpoints numbered after `after_number`, in order.
    async fn audit_checkpoints(
        &mut self,
        after_number: u64,
        limit: u32,
    ) -> Result<Vec<CheckpointRecord>, StoreError> {
        let stmt = Stmt::new(CHECKPOINTS_AFTER)
            .bind(to_i64(after_number)?)
            .bind(i64::from(limit));
        self.all(stmt, checkpoint).await
    }

    /// The checkpoint of exactly `size` events.
    async fn audit_checkpoint_of_size(
        &mut self,
        size: u64,
    ) -> Result<Option<CheckpointRecord>, StoreError> {
        let Some(size) = lookup_i64(size) else {
            return Ok(None);
        };
        self.optional(Stmt::new(CHECKPOINT_OF_SIZE).bind(size), checkpoint)
            .await
    }
}

/// The writes of the audit log's proofs.
#[async_trait]
pub trait CheckpointTx: CheckpointReadTx + SqlWrite {
    /// Stores Merkle nodes `(level, index, hash)`; a node is written once,
    /// when the event that completes it is appended. Level 0 (leaves) is
    /// not stored since migration 0007: it is derived from the events.
    async fn insert_audit_nodes(
        &mut self,
        nodes: &[(u32, u64, [u8; 32])],
    ) -> Result<(), StoreError> {
        if nodes.is_empty() {
            return Ok(());
        }
        let mut stmt = Stmt::new(INSERT_NODES);
        for (i, (node_level, index, hash)) in nodes.iter().enumerate() {
            if i > 0 {
                stmt.push(", ");
            }
            stmt.push("(")
                .push_bind(level(*node_level))
                .push(", ")
                .push_bind(to_i64(*index)?)
                .push(", ")
                .push_bind(hash.as_slice())
                .push(")");
        }
        self.execute(stmt).await?;
        Ok(())
    }

    async fn insert_audit_checkpoint(&mut self, cp: &CheckpointRecord) -> Result<(), StoreError> {
        let stmt = Stmt::new(INSERT_CHECKPOINT)
            .bind(to_i64(cp.number)?)
            .bind(to_i64(cp.size)?)
            .bind(cp.key_id.as_slice())
            .bind(cp.root.as_slice())
            .bind(to_micros(cp.time)?)
            .bind(cp.prev_hash.as_slice())
            .bind(cp.signature.as_slice());
        self.execute(stmt).await?;
        Ok(())
    }
}

impl<D: Db> CheckpointReadTx for EngineTx<D> {}
impl<D: Db> CheckpointTx for EngineTx<D> {}
