-- Keyway's initial schema. Times are Unix milliseconds; booleans are 0/1; JSON is TEXT.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    enabled     INTEGER NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
-- At most one default workspace, whoever races to create it.
CREATE UNIQUE INDEX workspaces_single_default ON workspaces (is_default) WHERE is_default = 1;

CREATE TABLE apis (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    keyspace_id  TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE INDEX apis_workspace ON apis (workspace_id, id);

CREATE TABLE identities (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    external_id  TEXT NOT NULL,
    meta         TEXT,
    deleted      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
-- A deleted identity frees its external id for a new one.
CREATE UNIQUE INDEX identities_live_external_id ON identities (workspace_id, external_id) WHERE deleted = 0;

CREATE TABLE keys (
    id             TEXT PRIMARY KEY NOT NULL,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id),
    api_id         TEXT NOT NULL REFERENCES apis (id),
    keyspace_id    TEXT NOT NULL,
    -- Unique across live and soft-deleted keys: a deleted key's hash is never reissued.
    hash           TEXT NOT NULL UNIQUE,
    start          TEXT NOT NULL,
    name           TEXT,
    meta           TEXT,
    identity_id    TEXT REFERENCES identities (id),
    enabled        INTEGER NOT NULL,
    expires        INTEGER,
    -- NULL remaining = unlimited credits.
    remaining      INTEGER,
    refill_amount  INTEGER,
    -- NULL with a refill amount = daily refill.
    refill_day     INTEGER,
    -- UTC date (YYYY-MM-DD) of the last refill run that handled this key: makes the job idempotent.
    last_refill_on TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER,
    last_used_at   INTEGER,
    deleted_at     INTEGER
);
CREATE INDEX keys_api_live ON keys (api_id, deleted_at, id);
CREATE INDEX keys_identity ON keys (identity_id);
CREATE INDEX keys_workspace ON keys (workspace_id);
CREATE INDEX keys_refillable ON keys (refill_amount) WHERE refill_amount IS NOT NULL AND deleted_at IS NULL;

-- No foreign key to workspaces: a root key's record tells its caller when the workspace is gone.
CREATE TABLE root_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    -- Unique across live and deleted root keys, as for keys.
    hash         TEXT NOT NULL UNIQUE,
    start        TEXT NOT NULL,
    "end"        TEXT NOT NULL,
    name         TEXT,
    permissions  TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    expires      INTEGER,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    deleted_at   INTEGER
);
CREATE INDEX root_keys_workspace ON root_keys (workspace_id, deleted_at, id);

-- seq gives "oldest first" without trusting callers' clocks.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    event        TEXT NOT NULL,
    description  TEXT NOT NULL,
    actor        TEXT NOT NULL,
    targets      TEXT NOT NULL,
    time         INTEGER NOT NULL,
    request_id   TEXT NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log (workspace_id, seq);
