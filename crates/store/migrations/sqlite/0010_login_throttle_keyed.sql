-- The login throttle is keyed by a keyed hash (HMAC-SHA256 under the
-- login-name key beside the keyring) of the typed name from now on, so
-- that a password typed into the name field is never stored. Rows keyed
-- by names in clear are dropped, not converted: they are transient
-- failure counters (forgotten after a day idle), and their clear names
-- are what must go. Lockouts in force at the upgrade are lifted.
DELETE FROM login_throttle;

-- The check value (an HMAC of a fixed label) of the login-name key the
-- replicas share: a replica started with another key refuses to start.
CREATE TABLE login_key_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    check_value TEXT NOT NULL
);
