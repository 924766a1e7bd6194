-- Identity (issue 5): accounts, passwords and their history, TOTP and
-- recovery codes, login throttling, sessions, scoped API tokens, custom
-- roles. Every secret is stored hashed (SHA-256 for random bearer secrets,
-- Argon2id PHC strings for passwords) or sealed by the keyring (TOTP
-- secrets); nothing here can be replayed as read.

ALTER TABLE principals ADD COLUMN kind TEXT NOT NULL DEFAULT 'staff'
    CHECK (kind IN ('staff', 'tenant_user', 'service'));
ALTER TABLE principals ADD COLUMN tenant_id UUID REFERENCES tenants (id);
ALTER TABLE principals ADD COLUMN email TEXT;
ALTER TABLE principals ADD COLUMN display_name TEXT;
ALTER TABLE principals ADD COLUMN break_glass BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX principals_tenant ON principals (tenant_id);

CREATE TABLE passwords (
    principal_id UUID PRIMARY KEY REFERENCES principals (id),
    hash         TEXT NOT NULL,
    changed_at   BIGINT NOT NULL,
    must_change  BOOLEAN NOT NULL
);

CREATE TABLE password_history (
    principal_id UUID NOT NULL REFERENCES principals (id),
    hash         TEXT NOT NULL,
    set_at       BIGINT NOT NULL
);
CREATE INDEX password_history_principal ON password_history (principal_id, set_at);

CREATE TABLE totp_credentials (
    principal_id UUID PRIMARY KEY REFERENCES principals (id),
    secret       BYTEA NOT NULL,
    last_step    BIGINT,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT
);

CREATE TABLE recovery_codes (
    id           UUID PRIMARY KEY,
    principal_id UUID NOT NULL REFERENCES principals (id),
    code_hash    BYTEA NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX recovery_codes_principal ON recovery_codes (principal_id);

CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT,
    lockouts     BIGINT NOT NULL
);

CREATE TABLE sessions (
    id               UUID PRIMARY KEY,
    principal_id     UUID NOT NULL REFERENCES principals (id),
    secret_hash      BYTEA NOT NULL UNIQUE,
    stage            TEXT NOT NULL
        CHECK (stage IN ('second_factor', 'enrol_mfa', 'change_password', 'full')),
    created_at       BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    authenticated_at BIGINT NOT NULL,
    revoked_at       BIGINT,
    source           TEXT
);
CREATE INDEX sessions_principal ON sessions (principal_id);

ALTER TABLE api_tokens ADD COLUMN tenant_id UUID REFERENCES tenants (id);
ALTER TABLE api_tokens ADD COLUMN permissions TEXT;
ALTER TABLE api_tokens ADD COLUMN allow_list TEXT;
CREATE INDEX api_tokens_principal ON api_tokens (principal_id);

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    permissions TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

ALTER TABLE grants ADD COLUMN granted_by UUID;
