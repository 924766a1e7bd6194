-- Each tenant's own access settings (issue 5): a password policy that
-- tightens the staff-wide baseline (the strictest rule wins), the networks
-- its users may come from, and whether they must use a second factor.

CREATE TABLE tenant_access (
    tenant_id       UUID PRIMARY KEY REFERENCES tenants (id),
    password_policy TEXT,
    allow_list      TEXT,
    require_mfa     BOOLEAN NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- One counter, moved by every change that can end or narrow a credential
-- (a revoked token or session, a suspended account, a grant removed …).
-- Replicas cache authentication results and trust them only while the
-- counter has not moved: a revocation on one replica fails on the next
-- request to any other.
CREATE TABLE auth_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, epoch) VALUES (1, 0);
