-- Customers' permissions and roles, and their links to keys and to each other.

-- Slugs and role names are unique per workspace ignoring case. The folded text
-- (`keyway_store::fold_case`, Unicode lowercase) is stored beside the original and carries the
-- unique index, because SQLite's NOCASE only folds ASCII and every adapter must agree.
CREATE TABLE permissions (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    -- Compared exactly at verification; the folded copy is for uniqueness and lookups only.
    slug         TEXT NOT NULL,
    slug_folded  TEXT NOT NULL,
    description  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER,
    UNIQUE (workspace_id, slug_folded)
);
-- listPermissions: a workspace's permissions in id order.
CREATE INDEX permissions_workspace ON permissions (workspace_id, id);

CREATE TABLE roles (
    id           TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    name_folded  TEXT NOT NULL,
    description  TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER,
    UNIQUE (workspace_id, name_folded)
);
CREATE INDEX roles_workspace ON roles (workspace_id, id);

-- Links are hard-deleted with either end: a key deleted permanently, a permission or role deleted.
-- Each primary key serves the forward lookup (a key's permissions, a key's roles, a role's
-- permissions); the indexes after each table serve the reverse ones, which find the keys whose
-- cached records a deletion or a change of a role must invalidate.
CREATE TABLE keys_permissions (
    key_id        TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    permission_id TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (key_id, permission_id)
);
CREATE INDEX keys_permissions_permission ON keys_permissions (permission_id);

CREATE TABLE keys_roles (
    key_id       TEXT NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    role_id      TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (key_id, role_id)
);
CREATE INDEX keys_roles_role ON keys_roles (role_id);

CREATE TABLE roles_permissions (
    role_id       TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX roles_permissions_permission ON roles_permissions (permission_id);
