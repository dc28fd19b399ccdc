-- Customers' permissions and roles, and their links to keys and to each other.
--
-- Slugs and role names are unique per workspace ignoring case. The folded text (Rust's
-- `fold_case`) is stored beside the original under the unique constraint, so the rule does not
-- depend on the database's collation and every node folds the same way. Slugs and role names use
-- the "C" collation because keys and roles list them in byte order.
--
-- Like the rest of the schema, the link tables have no foreign keys: the adapter deletes a key's,
-- permission's or role's links in the transaction that deletes it, and a write that links a
-- permission or role holds a `FOR KEY SHARE` lock on it (what a foreign key check would take), so
-- a concurrent delete cannot leave a link behind.

CREATE TABLE permissions (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    name         TEXT NOT NULL,
    slug         TEXT COLLATE "C" NOT NULL,
    slug_folded  TEXT COLLATE "C" NOT NULL,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT,
    CONSTRAINT permissions_slug UNIQUE (workspace_id, slug_folded)
);
CREATE INDEX permissions_by_workspace ON permissions (workspace_id, id);

CREATE TABLE roles (
    id           TEXT COLLATE "C" PRIMARY KEY,
    workspace_id TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    name_folded  TEXT COLLATE "C" NOT NULL,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT,
    CONSTRAINT roles_name UNIQUE (workspace_id, name_folded)
);
CREATE INDEX roles_by_workspace ON roles (workspace_id, id);

-- Each primary key leads with the owner, serving the reads of a key's or role's links (the
-- verify lookup among them); the second index serves the reverse lookups of deletes.
CREATE TABLE keys_permissions (
    key_id        TEXT COLLATE "C" NOT NULL,
    permission_id TEXT COLLATE "C" NOT NULL,
    workspace_id  TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (key_id, permission_id)
);
CREATE INDEX keys_permissions_by_permission ON keys_permissions (permission_id, key_id);

CREATE TABLE keys_roles (
    key_id       TEXT COLLATE "C" NOT NULL,
    role_id      TEXT COLLATE "C" NOT NULL,
    workspace_id TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (key_id, role_id)
);
CREATE INDEX keys_roles_by_role ON keys_roles (role_id, key_id);

CREATE TABLE roles_permissions (
    role_id       TEXT COLLATE "C" NOT NULL,
    permission_id TEXT COLLATE "C" NOT NULL,
    workspace_id  TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX roles_permissions_by_permission ON roles_permissions (permission_id, role_id);
