-- The public keys that sign audit checkpoints (issues 3 and 4).
--
-- The signing key lives in the keyring; its public half is not secret and
-- is recorded here whenever the keyring is opened (and with each
-- checkpoint), so that `rempart audit public-key` and `rempart audit
-- verify` work offline without unsealing. A checkpoint names its key by
-- `key_id` (the first 8 bytes of SHA-256 of the public key). Rows are
-- written once and never changed.
CREATE TABLE audit_keys (
    key_id      BYTEA PRIMARY KEY CHECK (octet_length(key_id) = 8),
    public_key  BYTEA NOT NULL CHECK (octet_length(public_key) = 32),
    recorded_at BIGINT NOT NULL
);

-- System-wide data keys: a data key with no tenant (`tenant_id` NULL) seals
-- platform data that belongs to no tenant, such as the details of audit
-- events with no tenant (purpose `audit-details`). It is wrapped under a KEK
-- like any data key, so rotation, re-wrapping and retirement count it; at
-- most one per purpose.
ALTER TABLE data_keys ALTER COLUMN tenant_id DROP NOT NULL;
CREATE UNIQUE INDEX data_keys_system ON data_keys (purpose) WHERE tenant_id IS NULL;
