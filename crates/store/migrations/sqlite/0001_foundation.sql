-- Foundation schema: tenants, principals and their grants, API tokens, the
-- bootstrap credential, and the audit log with its head row.
-- Secrets are stored only as SHA-256 hashes of high-entropy random values.
-- Times are INTEGER microseconds since the Unix epoch (UTC) on both engines:
-- exact, ordered, and the same value the audit hash covers.

CREATE TABLE tenants (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    region      TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE principals (
    id         BLOB PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL UNIQUE,
    state      TEXT NOT NULL CHECK (state IN ('active', 'suspended', 'terminated')),
    created_at INTEGER NOT NULL
);

CREATE TABLE grants (
    id           BLOB PRIMARY KEY,
    principal_id BLOB NOT NULL REFERENCES principals (id),
    role         TEXT NOT NULL,
    scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('global', 'tenant', 'environment')),
    scope_value  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER
);
CREATE INDEX grants_principal ON grants (principal_id);

CREATE TABLE api_tokens (
    id           BLOB PRIMARY KEY,
    principal_id BLOB NOT NULL REFERENCES principals (id),
    token_hash   BLOB NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

CREATE TABLE bootstrap_credentials (
    id          BLOB PRIMARY KEY,
    secret_hash BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY CHECK (seq > 0),
    time       INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT,
    tenant_id  BLOB,
    outcome    TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
    request_id TEXT,
    source     TEXT,
    details    BLOB,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, seq);

-- One row: the last appended event. Appending runs in a BEGIN IMMEDIATE transaction, so
-- that writers on one database extend one chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
