-- Continuous shipping of the audit log to external sinks (issue 4).
--
-- One row per sink: how far the sink has acknowledged (the last event
-- `seq` and the last checkpoint `number` it answered 2xx for), and a lease
-- so that at most one replica ships to it at a time. The cursor moves only
-- with the lease held and from the value the shipper read, so a replica
-- that lost its lease cannot move it.
CREATE TABLE audit_shipping (
    sink               TEXT PRIMARY KEY,
    shipped_seq        BIGINT NOT NULL DEFAULT 0 CHECK (shipped_seq >= 0),
    shipped_checkpoint BIGINT NOT NULL DEFAULT 0 CHECK (shipped_checkpoint >= 0),
    lease_holder       TEXT,
    lease_until        BIGINT,
    shipped_at         BIGINT
);
