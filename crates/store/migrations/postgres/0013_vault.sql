-- The customer-data vault: collections with versioned schemas, records
-- whose confidential and personal fields are stored only as envelopes
-- sealed under the tenant's data keys (controls DS-1, NS-2), blind-index
-- entries for exact-match search (a few bits of a keyed hash, never the
-- value), the sealed keys of those indexes and of subject fingerprints,
-- tokens, and the disposal register of crypto-shredding (control DS-6).

CREATE TABLE vault_collections (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    version    BIGINT NOT NULL CHECK (version > 0),
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE vault_schemas (
    collection_id UUID NOT NULL REFERENCES vault_collections (id),
    version       BIGINT NOT NULL CHECK (version > 0),
    fields        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (collection_id, version)
);

-- A data subject: the keyed hash of its identifier, and the purpose of the
-- data key that seals its records (random, so that the key's name confirms
-- nothing once the subject is erased and the key destroyed).
CREATE TABLE vault_subjects (
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    fingerprint BYTEA NOT NULL,
    key_purpose TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, fingerprint)
);

-- `fields` is a JSON object: {"name": {"v": <clear value>}} for public and
-- internal fields, {"name": {"c": "<base64 envelope>"}} for the others.
-- `subject` is a keyed hash of the data subject's identifier.
CREATE TABLE vault_records (
    id             UUID PRIMARY KEY,
    tenant_id      UUID NOT NULL REFERENCES tenants (id),
    collection_id  UUID NOT NULL REFERENCES vault_collections (id),
    subject        BYTEA,
    version        BIGINT NOT NULL CHECK (version > 0),
    schema_version BIGINT NOT NULL,
    fields         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX vault_records_list ON vault_records (tenant_id, collection_id, id);
CREATE INDEX vault_records_subject ON vault_records (tenant_id, subject);

CREATE TABLE vault_index (
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    collection_id UUID NOT NULL REFERENCES vault_collections (id),
    field         TEXT NOT NULL,
    generation    BIGINT NOT NULL,
    entry         BIGINT NOT NULL,
    record_id     UUID NOT NULL REFERENCES vault_records (id),
    PRIMARY KEY (record_id, field, generation)
);
CREATE INDEX vault_index_lookup ON vault_index (tenant_id, collection_id, field, generation, entry);

-- Keys of blind indexes, subject fingerprints and deterministic tokens:
-- 32 random bytes each, sealed under the tenant's `vault-keys` data key.
CREATE TABLE vault_keys (
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    scope      TEXT NOT NULL,
    generation BIGINT NOT NULL CHECK (generation > 0),
    bits       BIGINT NOT NULL,
    sealed     BYTEA NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('active', 'filling', 'retired')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope, generation)
);

CREATE TABLE vault_tokens (
    token         TEXT PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    collection_id UUID NOT NULL REFERENCES vault_collections (id),
    field         TEXT NOT NULL,
    subject       BYTEA,
    sealed        BYTEA NOT NULL,
    fingerprint   BYTEA,
    created_at    BIGINT NOT NULL,
    UNIQUE (tenant_id, collection_id, field, fingerprint)
);
CREATE INDEX vault_tokens_subject ON vault_tokens (tenant_id, subject);

-- What crypto-shredding destroyed, and when: never the destroyed values,
-- nor anything that would confirm them.
CREATE TABLE vault_disposals (
    id             UUID PRIMARY KEY,
    tenant_id      UUID NOT NULL REFERENCES tenants (id),
    kind           TEXT NOT NULL CHECK (kind IN ('record', 'subject', 'tenant')),
    what           TEXT NOT NULL,
    records        BIGINT NOT NULL,
    keys_destroyed BIGINT NOT NULL,
    disposed_at    BIGINT NOT NULL,
    disposed_by    TEXT NOT NULL
);
CREATE INDEX vault_disposals_tenant ON vault_disposals (tenant_id, disposed_at);
