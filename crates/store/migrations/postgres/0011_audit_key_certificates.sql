-- Rotations of the audit signing key.
--
-- When the key that signs audit checkpoints changes, the old key certifies
-- the new one: an Ed25519 signature by `certified_by` over the new public
-- key (docs/formats/audit.md section 3.3). Exports carry the certificates,
-- so that a verifier holding only the first key follows the chain to every
-- later one. Rows are written once and never changed; the order of
-- `recorded_at` is the order of the rotations.
CREATE TABLE audit_key_certificates (
    key_id       BYTEA PRIMARY KEY CHECK (octet_length(key_id) = 8),
    public_key   BYTEA NOT NULL CHECK (octet_length(public_key) = 32),
    certified_by BYTEA NOT NULL CHECK (octet_length(certified_by) = 8),
    certificate  BYTEA NOT NULL CHECK (octet_length(certificate) = 64),
    recorded_at  BIGINT NOT NULL
);
