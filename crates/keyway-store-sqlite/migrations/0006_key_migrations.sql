-- Keys imported by hash from another system (keys.migrateKeys). A key whose hash is not yet in
-- Keyway's format names its migration until its first verification rehashes it.
CREATE TABLE key_migrations (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    algorithm    TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);

ALTER TABLE keys ADD COLUMN pending_migration_id TEXT REFERENCES key_migrations (id);
-- A verification naming a migration finds its candidates by `start` (a prefix of the presented
-- key) through this index; the prefixed-api-key lookup goes by hash, which is indexed already.
CREATE INDEX keys_pending_start ON keys (pending_migration_id, start) WHERE pending_migration_id IS NOT NULL;
