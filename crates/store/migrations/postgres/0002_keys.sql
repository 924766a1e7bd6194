-- Data keys (issue 3): each tenant's data keys, stored only wrapped under the
-- keyring's key-encryption key (KEK) of the tenant's environment and bound to
-- the tenant key. The wrapped bytes are safe at rest: without the sealed
-- keyring they are noise. `kek_version` repeats the version in the wrapped
-- header so that rotation can find what still needs re-wrapping;
-- `encryptions` is the usage count the keyring checks against its bound.

CREATE TABLE data_keys (
    id           BYTEA PRIMARY KEY CHECK (length(id) = 16),
    tenant_id    UUID NOT NULL REFERENCES tenants (id),
    environment  TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    kek_version  BIGINT NOT NULL CHECK (kek_version > 0),
    wrapped      BYTEA NOT NULL,
    encryptions  BIGINT NOT NULL CHECK (encryptions >= 0),
    created_at   BIGINT NOT NULL,
    rewrapped_at BIGINT,
    UNIQUE (tenant_id, purpose)
);
CREATE INDEX data_keys_version ON data_keys (environment, kek_version, id);
