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
