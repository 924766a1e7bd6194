-- The public keys that sign audit checkpoints (issues 3 and 4).
--
-- The signing key lives in the keyring; its public half is not secret and
-- is recorded here whenever the keyring is opened (and with each
-- checkpoint), so that `rempart audit public-key` and `rempart audit
-- verify` work offline without unsealing. A checkpoint names its key by
-- `key_id` (the first 8 bytes of SHA-256 of the public key). Rows are
-- written once and never changed.
CREATE TABLE audit_keys (
    key_id      BLOB PRIMARY KEY CHECK (length(key_id) = 8),
    public_key  BLOB NOT NULL CHECK (length(public_key) = 32),
    recorded_at INTEGER NOT NULL
);

-- System-wide data keys: a data key with no tenant (`tenant_id` NULL) seals
-- platform data that belongs to no tenant, such as the details of audit
-- events with no tenant (purpose `audit-details`). It is wrapped under a KEK
-- like any data key, so rotation, re-wrapping and retirement count it; at
-- most one per purpose. SQLite cannot drop NOT NULL in place: the table is
-- rebuilt with the same rows.
CREATE TABLE data_keys_0005 (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    tenant_id    BLOB REFERENCES tenants (id),
    environment  TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    kek_version  INTEGER NOT NULL CHECK (kek_version > 0),
    wrapped      BLOB NOT NULL,
    encryptions  INTEGER NOT NULL CHECK (encryptions >= 0),
    created_at   INTEGER NOT NULL,
    rewrapped_at INTEGER,
    UNIQUE (tenant_id, purpose)
);
INSERT INTO data_keys_0005 (id, tenant_id, environment, purpose, kek_version, wrapped, encryptions, created_at, rewrapped_at)
    SELECT id, tenant_id, environment, purpose, kek_version, wrapped, encryptions, created_at, rewrapped_at FROM data_keys;
DROP TABLE data_keys;
ALTER TABLE data_keys_0005 RENAME TO data_keys;
CREATE INDEX data_keys_version ON data_keys (environment, kek_version, id);
CREATE UNIQUE INDEX data_keys_system ON data_keys (purpose) WHERE tenant_id IS NULL;
