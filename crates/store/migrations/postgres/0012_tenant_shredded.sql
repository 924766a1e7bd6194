-- When a tenant was crypto-shredded (its tenant key destroyed in the
-- keyring, its wrapped data keys deleted), in microseconds since the Unix
-- epoch like every other time; NULL while it is live. Recorded in the
-- shred's own transaction, so that every replica refuses the tenant's data
-- from then on (410 Gone), and no new data key is ever made for it.
ALTER TABLE tenants ADD COLUMN shredded_at BIGINT;
