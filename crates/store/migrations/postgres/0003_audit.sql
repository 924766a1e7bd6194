-- The audit log's Merkle tree and signed checkpoints (issue 4).
--
-- audit_nodes holds every perfect-subtree node of the RFC 6962 tree over the
-- event hashes, written in the transaction that appends the event that
-- completes it (docs/formats/audit.md section 2): a proof or a root reads
-- O(log^2 n) of them, never the events. Level 0 is the leaf hash.
CREATE TABLE audit_nodes (
    level INTEGER  NOT NULL CHECK (level >= 0 AND level < 64),
    idx   BIGINT NOT NULL CHECK (idx >= 0),
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints, numbered from 1 in the order they were made; each
-- chains to the previous one by prev_hash. Written while the audit head is
-- locked, so that replicas never fork the checkpoint chain.
CREATE TABLE audit_checkpoints (
    number    BIGINT PRIMARY KEY CHECK (number > 0),
    size      BIGINT NOT NULL UNIQUE CHECK (size >= 0),
    key_id    BYTEA NOT NULL,
    root      BYTEA NOT NULL,
    time      BIGINT NOT NULL,
    prev_hash BYTEA NOT NULL,
    signature BYTEA NOT NULL
);
