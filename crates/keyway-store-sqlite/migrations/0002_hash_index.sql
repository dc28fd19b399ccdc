-- The verify path streams key hashes in creation order into its in-memory filter.
CREATE INDEX keys_created ON keys (created_at, id);
CREATE INDEX root_keys_created ON root_keys (created_at, id);
