-- Keys imported by hash from another system (keys.migrateKeys). A key whose hash is not yet in
-- Keyway's format names its migration until its first verification rehashes it.
CREATE TABLE key_migrations (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    algorithm    TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

ALTER TABLE keys ADD COLUMN pending_migration_id TEXT COLLATE "C";
-- A verification naming a migration finds its candidates by `start` (a prefix of the presented
-- key) through this index; the prefixed-api-key lookup goes by hash, which is indexed already.
CREATE INDEX keys_pending_start ON keys (pending_migration_id, start) WHERE pending_migration_id IS NOT NULL;
