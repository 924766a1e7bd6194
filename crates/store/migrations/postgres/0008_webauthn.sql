-- WebAuthn (issue 5, control AC-1): registered security keys and passkeys,
-- and ceremonies in progress. A credential holds a public key and its
-- signature counter, no secret. A ceremony's state (its challenge) is kept
-- here so that any replica can finish it; it is deleted when finished or
-- expired, so it is used at most once.

CREATE TABLE webauthn_credentials (
    id            UUID PRIMARY KEY,
    principal_id  UUID NOT NULL REFERENCES principals (id),
    credential_id BYTEA NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    counter       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX webauthn_credentials_principal ON webauthn_credentials (principal_id);

CREATE TABLE webauthn_ceremonies (
    id           UUID PRIMARY KEY,
    principal_id UUID NOT NULL REFERENCES principals (id),
    session_id   UUID NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    state        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies (expires_at);
