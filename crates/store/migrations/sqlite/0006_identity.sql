-- Identity (issue 5): accounts, passwords and their history, TOTP and
-- recovery codes, login throttling, sessions, scoped API tokens, custom
-- roles. Every secret is stored hashed (SHA-256 for random bearer secrets,
-- Argon2id PHC strings for passwords) or sealed by the keyring (TOTP
-- secrets); nothing here can be replayed as read.

ALTER TABLE principals ADD COLUMN kind TEXT NOT NULL DEFAULT 'staff'
    CHECK (kind IN ('staff', 'tenant_user', 'service'));
ALTER TABLE principals ADD COLUMN tenant_id BLOB REFERENCES tenants (id);
ALTER TABLE principals ADD COLUMN email TEXT;
ALTER TABLE principals ADD COLUMN display_name TEXT;
ALTER TABLE principals ADD COLUMN break_glass BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX principals_tenant ON principals (tenant_id);

CREATE TABLE passwords (
    principal_id BLOB PRIMARY KEY REFERENCES principals (id),
    hash         TEXT NOT NULL,
    changed_at   INTEGER NOT NULL,
    must_change  BOOLEAN NOT NULL
);

CREATE TABLE password_history (
    principal_id BLOB NOT NULL REFERENCES principals (id),
    hash         TEXT NOT NULL,
    set_at       INTEGER NOT NULL
);
CREATE INDEX password_history_principal ON password_history (principal_id, set_at);

CREATE TABLE totp_credentials (
    principal_id BLOB PRIMARY KEY REFERENCES principals (id),
    secret       BLOB NOT NULL,
    last_step    INTEGER,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER
);

CREATE TABLE recovery_codes (
    id           BLOB PRIMARY KEY,
    principal_id BLOB NOT NULL REFERENCES principals (id),
    code_hash    BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    used_at      INTEGER
);
CREATE INDEX recovery_codes_principal ON recovery_codes (principal_id);

CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER,
    lockouts     INTEGER NOT NULL
);

CREATE TABLE sessions (
    id               BLOB PRIMARY KEY,
    principal_id     BLOB NOT NULL REFERENCES principals (id),
    secret_hash      BLOB NOT NULL UNIQUE,
    stage            TEXT NOT NULL
        CHECK (stage IN ('second_factor', 'enrol_mfa', 'change_password', 'full')),
    created_at       INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    authenticated_at INTEGER NOT NULL,
    revoked_at       INTEGER,
    source           TEXT
);
CREATE INDEX sessions_principal ON sessions (principal_id);

ALTER TABLE api_tokens ADD COLUMN tenant_id BLOB REFERENCES tenants (id);
ALTER TABLE api_tokens ADD COLUMN permissions TEXT;
ALTER TABLE api_tokens ADD COLUMN allow_list TEXT;
CREATE INDEX api_tokens_principal ON api_tokens (principal_id);

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    permissions TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

ALTER TABLE grants ADD COLUMN granted_by BLOB;
