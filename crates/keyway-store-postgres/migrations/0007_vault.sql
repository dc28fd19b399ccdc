-- Recoverable keys (reference §7.5): the per-API opt-in, each workspace's data key wrapped under
-- the master key (named only by its fingerprint), and each recoverable key's encrypted plaintext.

ALTER TABLE apis ADD COLUMN recoverable BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE data_keys (
    id            TEXT COLLATE "C" PRIMARY KEY,
    workspace_id  TEXT COLLATE "C" NOT NULL UNIQUE,
    wrapped       BYTEA NOT NULL,
    master_key_id TEXT COLLATE "C" NOT NULL
);
-- Rotation walks the data keys not yet wrapped by the new master key.
CREATE INDEX data_keys_master_key ON data_keys (master_key_id, id);

CREATE TABLE encrypted_keys (
    key_id       TEXT COLLATE "C" PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    workspace_id TEXT COLLATE "C" NOT NULL,
    ciphertext   BYTEA NOT NULL,
    data_key_id  TEXT COLLATE "C" NOT NULL REFERENCES data_keys (id)
);
