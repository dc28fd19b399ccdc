-- Rate limits configured on keys and identities, and the namespaces and overrides of the
-- standalone ratelimit API. Names and identifiers use the "C" collation like ids: they are
-- matched byte for byte, and configs are returned ordered by name in byte order.

-- A row belongs to exactly one key or one identity. The unique constraints lead with the owner,
-- so they also serve the lookups of an owner's configs; NULLs are distinct, so a key's configs
-- and an identity's never collide.
CREATE TABLE ratelimits (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    key_id       TEXT COLLATE "C",
    identity_id  TEXT COLLATE "C",
    name         TEXT COLLATE "C" NOT NULL,
    "limit"      BIGINT NOT NULL,
    duration     BIGINT NOT NULL,
    auto_apply   BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT,
    CONSTRAINT ratelimits_key_name UNIQUE (key_id, name),
    CONSTRAINT ratelimits_identity_name UNIQUE (identity_id, name),
    CONSTRAINT ratelimits_one_owner CHECK ((key_id IS NULL) <> (identity_id IS NULL))
);

-- Soft-deleted namespaces keep their name: creating one with that name again finds the deleted
-- one (and the API answers 410), as in Unkey.
CREATE TABLE ratelimit_namespaces (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT,
    deleted_at   BIGINT,
    CONSTRAINT ratelimit_namespaces_name UNIQUE (workspace_id, name)
);

-- Unique over deleted overrides too: setting a deleted identifier again revives its row.
CREATE TABLE ratelimit_overrides (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    namespace_id TEXT COLLATE "C" NOT NULL,
    identifier   TEXT COLLATE "C" NOT NULL,
    "limit"      BIGINT NOT NULL,
    duration     BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT,
    deleted_at   BIGINT,
    CONSTRAINT ratelimit_overrides_identifier UNIQUE (namespace_id, identifier)
);
-- Matching and listing read a namespace's live overrides in id order.
CREATE INDEX ratelimit_overrides_live ON ratelimit_overrides (namespace_id, id) WHERE deleted_at IS NULL;
