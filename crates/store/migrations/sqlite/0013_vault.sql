-- The customer-data vault: collections with versioned schemas, records
-- whose confidential and personal fields are stored only as envelopes
-- sealed under the tenant's data keys (controls DS-1, NS-2), blind-index
-- entries for exact-match search (a few bits of a keyed hash, never the
-- value), the sealed keys of those indexes and of subject fingerprints,
-- tokens, and the disposal register of crypto-shredding (control DS-6).

CREATE TABLE vault_collections (
    id         BLOB PRIMARY KEY,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE vault_schemas (
    collection_id BLOB NOT NULL REFERENCES vault_collections (id),
    version       INTEGER NOT NULL CHECK (version > 0),
    fields        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (collection_id, version)
);

-- A data subject: the keyed hash of its identifier, and the purpose of the
-- data key that seals its records (random, so that the key's name confirms
-- nothing once the subject is erased and the key destroyed).
CREATE TABLE vault_subjects (
    tenant_id   BLOB NOT NULL REFERENCES tenants (id),
    fingerprint BLOB NOT NULL,
    key_purpose TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, fingerprint)
);

-- `fields` is a JSON object: {"name": {"v": <clear value>}} for public and
-- internal fields, {"name": {"c": "<base64 envelope>"}} for the others.
-- `subject` is a keyed hash of the data subject's identifier.
CREATE TABLE vault_records (
    id             BLOB PRIMARY KEY,
    tenant_id      BLOB NOT NULL REFERENCES tenants (id),
    collection_id  BLOB NOT NULL REFERENCES vault_collections (id),
    subject        BLOB,
    version        INTEGER NOT NULL CHECK (version > 0),
    schema_version INTEGER NOT NULL,
    fields         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX vault_records_list ON vault_records (tenant_id, collection_id, id);
CREATE INDEX vault_records_subject ON vault_records (tenant_id, subject);

CREATE TABLE vault_index (
    tenant_id     BLOB NOT NULL REFERENCES tenants (id),
    collection_id BLOB NOT NULL REFERENCES vault_collections (id),
    field         TEXT NOT NULL,
    generation    INTEGER NOT NULL,
    entry         INTEGER NOT NULL,
    record_id     BLOB NOT NULL REFERENCES vault_records (id),
    PRIMARY KEY (record_id, field, generation)
);
CREATE INDEX vault_index_lookup ON vault_index (tenant_id, collection_id, field, generation, entry);

-- Keys of blind indexes, subject fingerprints and deterministic tokens:
-- 32 random bytes each, sealed under the tenant's `vault-keys` data key.
CREATE TABLE vault_keys (
    tenant_id  BLOB NOT NULL REFERENCES tenants (id),
    scope      TEXT NOT NULL,
    generation INTEGER NOT NULL CHECK (generation > 0),
    bits       INTEGER NOT NULL,
    sealed     BLOB NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('active', 'filling', 'retired')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, scope, generation)
);

CREATE TABLE vault_tokens (
    token         TEXT PRIMARY KEY,
    tenant_id     BLOB NOT NULL REFERENCES tenants (id),
    collection_id BLOB NOT NULL REFERENCES vault_collections (id),
    field         TEXT NOT NULL,
    subject       BLOB,
    sealed        BLOB NOT NULL,
    fingerprint   BLOB,
    created_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, collection_id, field, fingerprint)
);
CREATE INDEX vault_tokens_subject ON vault_tokens (tenant_id, subject);

-- What crypto-shredding destroyed, and when: never the destroyed values,
-- nor anything that would confirm them.
CREATE TABLE vault_disposals (
    id             BLOB PRIMARY KEY,
    tenant_id      BLOB NOT NULL REFERENCES tenants (id),
    kind           TEXT NOT NULL CHECK (kind IN ('record', 'subject', 'tenant')),
    what           TEXT NOT NULL,
    records        INTEGER NOT NULL,
    keys_destroyed INTEGER NOT NULL,
    disposed_at    INTEGER NOT NULL,
    disposed_by    TEXT NOT NULL
);
CREATE INDEX vault_disposals_tenant ON vault_disposals (tenant_id, disposed_at);
