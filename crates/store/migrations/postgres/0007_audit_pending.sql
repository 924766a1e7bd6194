-- Group commit of the audit log (issue 4's append cost).
--
-- An action's transaction records its audit event in audit_pending, with no
-- lock on the chain's head, so that concurrent writers commit together. A
-- sequencer (any replica, under the head lock) moves pending events into
-- audit_events in batches, in `id` order: it gives each its seq, prev_hash
-- and hash, stores the Merkle nodes, signs due checkpoints and deletes the
-- pending rows, in one transaction. Invariant 1 holds: the action and its
-- pending event commit together or not at all. Details are stored sealed
-- only, bound to event_id (never plaintext, here or anywhere).
CREATE TABLE audit_pending (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   UUID NOT NULL,
    time       BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    tenant_id  UUID,
    outcome    TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
    request_id TEXT,
    source     TEXT,
    details    BYTEA
);

-- From this migration on, audit_nodes holds the nodes above the leaves only:
-- a leaf (level 0) is leaf_hash of its event's hash, read from audit_events.
-- The level-0 rows written before are left as they are and no longer read.
--
-- The random id of an event of encoding version 2 (docs/formats/audit.md
-- section 1.1), hashed with it; NULL for the events of version 1.
ALTER TABLE audit_events ADD COLUMN event_id UUID;
