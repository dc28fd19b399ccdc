-- Keyway's PostgreSQL schema. Times are Unix milliseconds (BIGINT). JSON is kept as TEXT: nothing
-- queries into it, and TEXT round-trips exactly (JSONB rejects "\u0000" and rewrites documents).
-- Ids use the "C" collation so that pages ordered by id follow byte order whatever the database's
-- default collation is, as cursors minted by other nodes and by Rust code expect.

CREATE TABLE workspaces (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL,
    is_default  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);
-- At most one default workspace: nodes that bootstrap at the same time race on this index.
CREATE UNIQUE INDEX workspaces_single_default ON workspaces (is_default) WHERE is_default;

CREATE TABLE apis (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    name         TEXT NOT NULL,
    keyspace_id  TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    deleted_at   BIGINT
);
CREATE INDEX apis_workspace ON apis (workspace_id);

CREATE TABLE identities (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    external_id  TEXT NOT NULL,
    meta         TEXT,
    deleted      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL
);
-- Deleted identities keep their external id; only one live identity may hold it.
CREATE UNIQUE INDEX identities_live_external_id ON identities (workspace_id, external_id) WHERE NOT deleted;

CREATE TABLE keys (
    id             TEXT COLLATE "C" PRIMARY KEY,
    workspace_id   TEXT COLLATE "C" NOT NULL,
    api_id         TEXT COLLATE "C" NOT NULL,
    keyspace_id    TEXT COLLATE "C" NOT NULL,
    -- Unique over soft-deleted keys too, so a deleted key's hash can never be issued again.
    hash           TEXT COLLATE "C" NOT NULL UNIQUE,
    start          TEXT NOT NULL,
    name           TEXT,
    meta           TEXT,
    identity_id    TEXT COLLATE "C",
    enabled        BOOLEAN NOT NULL,
    expires        BIGINT,
    -- NULL means unlimited.
    remaining      BIGINT,
    -- NULL means no refill; refill_day NULL with an amount means daily.
    refill_amount  BIGINT,
    refill_day     SMALLINT,
    -- UTC midnight (ms) of the date of the last refill: the refill job's idempotency marker.
    last_refill_at BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT,
    last_used_at   BIGINT,
    deleted_at     BIGINT
);
CREATE INDEX keys_live_by_api ON keys (api_id, id) WHERE deleted_at IS NULL;
CREATE INDEX keys_by_identity ON keys (identity_id);
CREATE INDEX keys_refillable ON keys (id) WHERE refill_amount IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE root_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    -- Unique over deleted root keys too: deletion is soft so the hash stays reserved.
    hash         TEXT COLLATE "C" NOT NULL UNIQUE,
    start        TEXT NOT NULL,
    "end"        TEXT NOT NULL,
    name         TEXT,
    permissions  TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    expires      BIGINT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    deleted_at   BIGINT
);
CREATE INDEX root_keys_live_by_workspace ON root_keys (workspace_id, id) WHERE deleted_at IS NULL;

CREATE TABLE audit_log (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT COLLATE "C" NOT NULL,
    workspace_id TEXT COLLATE "C" NOT NULL,
    event        TEXT NOT NULL,
    description  TEXT NOT NULL,
    actor        TEXT NOT NULL,
    targets      TEXT NOT NULL,
    time         BIGINT NOT NULL,
    request_id   TEXT NOT NULL
);
CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, seq);
