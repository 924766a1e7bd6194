-- Foundation schema: tenants, principals and their grants, API tokens, the
-- bootstrap credential, and the audit log with its head row.
-- Secrets are stored only as SHA-256 hashes of high-entropy random values.
-- Times are BIGINT microseconds since the Unix epoch (UTC) on both engines:
-- exact, ordered, and the same value the audit hash covers.

CREATE TABLE tenants (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    region      TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE principals (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,
    state      TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'terminated')),
    created_at BIGINT NOT NULL
);

CREATE TABLE grants (
    id           UUID PRIMARY KEY,
    principal_id UUID NOT NULL REFERENCES principals (id),
    role         TEXT NOT NULL,
    scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('global', 'tenant', 'environment')),
    scope_value  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT
);
CREATE INDEX grants_principal ON grants (principal_id);

CREATE TABLE api_tokens (
    id           UUID PRIMARY KEY,
    principal_id UUID NOT NULL REFERENCES principals (id),
    token_hash   BYTEA NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

CREATE TABLE bootstrap_credentials (
    id          UUID PRIMARY KEY,
    secret_hash BYTEA NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY CHECK (seq > 0),
    time       BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    tenant_id  UUID,
    outcome    TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
    request_id TEXT,
    source     TEXT,
    details    BYTEA,
    prev_hash  BYTEA NOT NULL,
    hash       BYTEA NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, seq);

-- One row: the last appended event. Appending locks it (SELECT ... FOR
-- UPDATE), so that concurrent writers on one database extend one chain.
CREATE TABLE audit_head (
    id   SMALLINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
