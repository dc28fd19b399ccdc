-- An API's IP allowlist (verify step 9.1) and the format of its new keys.

-- Comma-separated addresses and CIDR ranges in canonical form (`keyway_domain::ip_allowlist`);
-- empty = no restriction. Unkey keeps exact addresses the same way in `apis.ip_whitelist`.
ALTER TABLE apis ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '';
-- `plain` (Unkey's format) or `checksummed` (`keyway_domain::key_material::KeyFormat`).
ALTER TABLE apis ADD COLUMN key_format TEXT NOT NULL DEFAULT 'plain';
