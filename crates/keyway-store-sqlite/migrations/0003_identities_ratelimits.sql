-- Identities become editable, keys and identities get named rate limits, and the standalone
-- ratelimit API gets its namespaces and overrides.

ALTER TABLE identities ADD COLUMN updated_at INTEGER;

-- A rate limit belongs to exactly one key or one identity. The cascades remove a key's limits when
-- it is deleted permanently and an identity's when its older deleted row is purged.
CREATE TABLE ratelimits (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    key_id       TEXT REFERENCES keys (id) ON DELETE CASCADE,
    identity_id  TEXT REFERENCES identities (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    "limit"      INTEGER NOT NULL,
    -- Window length in milliseconds.
    duration     INTEGER NOT NULL,
    auto_apply   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER,
    CHECK ((key_id IS NULL) <> (identity_id IS NULL)),
    -- Also the indexes that load an owner's limits in name order.
    UNIQUE (key_id, name),
    UNIQUE (identity_id, name)
);

CREATE TABLE ratelimit_namespaces (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    -- Case-sensitive, as every TEXT comparison in SQLite is by default.
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER,
    deleted_at   INTEGER,
    UNIQUE (workspace_id, name)
);

CREATE TABLE ratelimit_overrides (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    namespace_id TEXT NOT NULL REFERENCES ratelimit_namespaces (id),
    -- An exact identifier or a pattern with `*`.
    identifier   TEXT NOT NULL,
    "limit"      INTEGER NOT NULL,
    duration     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER,
    deleted_at   INTEGER,
    -- Deleted rows included: setting a deleted identifier again brings its row back to life.
    UNIQUE (namespace_id, identifier)
);
CREATE INDEX ratelimit_overrides_live ON ratelimit_overrides (namespace_id, deleted_at, id);

-- listIdentities: a workspace's live identities in id order.
CREATE INDEX identities_workspace_live ON identities (workspace_id, deleted, id);
