-- The expired-key sweep finds live keys by expiry without reading the others.
CREATE INDEX keys_expiring ON keys (expires, id) WHERE expires IS NOT NULL AND deleted_at IS NULL;
