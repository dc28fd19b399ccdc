-- Analytics storage on SQLite (its own file beside the main database): the layout the `keyway-analytics` query
-- rewrite assumes. Column names are those of Unkey's schema reference; every `time` is Unix ms (in
-- aggregates, the UTC start of the bucket). Aggregates keep the latency histogram (`latency_state`,
-- keyway_domain::analytics::LatencyHistogram) so p75/p99 stay mergeable; `latency_avg/p75/p99`
-- are recomputed from it on every merge. Tags are sorted and deduplicated before grouping. `app_id`
-- is always empty (Keyway has no gateway), so it is not part of the grouping key.

CREATE TABLE key_verifications (
    request_id    TEXT NOT NULL,
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    key_space_id  TEXT NOT NULL,
    identity_id   TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    region        TEXT NOT NULL,
    source        TEXT NOT NULL,
    app_id        TEXT NOT NULL DEFAULT '',
    outcome       TEXT NOT NULL,
    tags          TEXT NOT NULL DEFAULT '[]',
    spent_credits INTEGER NOT NULL,
    latency       REAL NOT NULL
);
CREATE INDEX key_verifications_workspace_time ON key_verifications (workspace_id, time);
-- Retention deletes by time alone, across workspaces.
CREATE INDEX key_verifications_time ON key_verifications (time);

CREATE TABLE key_verifications_per_minute (
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    key_space_id  TEXT NOT NULL,
    identity_id   TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    source        TEXT NOT NULL,
    app_id        TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    count         INTEGER NOT NULL,
    spent_credits INTEGER NOT NULL,
    latency_avg   REAL NOT NULL,
    latency_p75   REAL NOT NULL,
    latency_p99   REAL NOT NULL,
    latency_state BLOB NOT NULL,
    PRIMARY KEY (workspace_id, time, key_space_id, identity_id, external_id, key_id, outcome, source, tags)
);
CREATE INDEX key_verifications_per_minute_time ON key_verifications_per_minute (time);

CREATE TABLE key_verifications_per_hour (
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    key_space_id  TEXT NOT NULL,
    identity_id   TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    source        TEXT NOT NULL,
    app_id        TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    count         INTEGER NOT NULL,
    spent_credits INTEGER NOT NULL,
    latency_avg   REAL NOT NULL,
    latency_p75   REAL NOT NULL,
    latency_p99   REAL NOT NULL,
    latency_state BLOB NOT NULL,
    PRIMARY KEY (workspace_id, time, key_space_id, identity_id, external_id, key_id, outcome, source, tags)
);
CREATE INDEX key_verifications_per_hour_time ON key_verifications_per_hour (time);

CREATE TABLE key_verifications_per_day (
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    key_space_id  TEXT NOT NULL,
    identity_id   TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    source        TEXT NOT NULL,
    app_id        TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    count         INTEGER NOT NULL,
    spent_credits INTEGER NOT NULL,
    latency_avg   REAL NOT NULL,
    latency_p75   REAL NOT NULL,
    latency_p99   REAL NOT NULL,
    latency_state BLOB NOT NULL,
    PRIMARY KEY (workspace_id, time, key_space_id, identity_id, external_id, key_id, outcome, source, tags)
);
CREATE INDEX key_verifications_per_day_time ON key_verifications_per_day (time);

CREATE TABLE key_verifications_per_month (
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    key_space_id  TEXT NOT NULL,
    identity_id   TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    source        TEXT NOT NULL,
    app_id        TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    count         INTEGER NOT NULL,
    spent_credits INTEGER NOT NULL,
    latency_avg   REAL NOT NULL,
    latency_p75   REAL NOT NULL,
    latency_p99   REAL NOT NULL,
    latency_state BLOB NOT NULL,
    PRIMARY KEY (workspace_id, time, key_space_id, identity_id, external_id, key_id, outcome, source, tags)
);
CREATE INDEX key_verifications_per_month_time ON key_verifications_per_month (time);

CREATE TABLE ratelimits (
    request_id    TEXT NOT NULL,
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    namespace_id  TEXT NOT NULL,
    identifier    TEXT NOT NULL,
    passed        INTEGER NOT NULL,
    latency       REAL NOT NULL,
    override_id   TEXT NOT NULL,
    "limit"       INTEGER NOT NULL,
    remaining     INTEGER NOT NULL,
    reset_at      INTEGER NOT NULL,
    tokens        INTEGER NOT NULL
);
CREATE INDEX ratelimits_workspace_time ON ratelimits (workspace_id, time);
CREATE INDEX ratelimits_time ON ratelimits (time);

CREATE TABLE ratelimits_per_minute (
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    namespace_id  TEXT NOT NULL,
    identifier    TEXT NOT NULL,
    passed        INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    passed_tokens INTEGER NOT NULL,
    total_tokens  INTEGER NOT NULL,
    latency_avg   REAL NOT NULL,
    latency_p75   REAL NOT NULL,
    latency_p99   REAL NOT NULL,
    latency_state BLOB NOT NULL,
    PRIMARY KEY (workspace_id, namespace_id, time, identifier)
);
CREATE INDEX ratelimits_per_minute_time ON ratelimits_per_minute (time);

CREATE TABLE ratelimits_per_hour (
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    namespace_id  TEXT NOT NULL,
    identifier    TEXT NOT NULL,
    passed        INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    passed_tokens INTEGER NOT NULL,
    total_tokens  INTEGER NOT NULL,
    latency_avg   REAL NOT NULL,
    latency_p75   REAL NOT NULL,
    latency_p99   REAL NOT NULL,
    latency_state BLOB NOT NULL,
    PRIMARY KEY (workspace_id, namespace_id, time, identifier)
);
CREATE INDEX ratelimits_per_hour_time ON ratelimits_per_hour (time);

CREATE TABLE ratelimits_per_day (
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    namespace_id  TEXT NOT NULL,
    identifier    TEXT NOT NULL,
    passed        INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    passed_tokens INTEGER NOT NULL,
    total_tokens  INTEGER NOT NULL,
    latency_avg   REAL NOT NULL,
    latency_p75   REAL NOT NULL,
    latency_p99   REAL NOT NULL,
    latency_state BLOB NOT NULL,
    PRIMARY KEY (workspace_id, namespace_id, time, identifier)
);
CREATE INDEX ratelimits_per_day_time ON ratelimits_per_day (time);

CREATE TABLE ratelimits_per_month (
    time          INTEGER NOT NULL,
    workspace_id  TEXT NOT NULL,
    namespace_id  TEXT NOT NULL,
    identifier    TEXT NOT NULL,
    passed        INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    passed_tokens INTEGER NOT NULL,
    total_tokens  INTEGER NOT NULL,
    latency_avg   REAL NOT NULL,
    latency_p75   REAL NOT NULL,
    latency_p99   REAL NOT NULL,
    latency_state BLOB NOT NULL,
    PRIMARY KEY (workspace_id, namespace_id, time, identifier)
);
CREATE INDEX ratelimits_per_month_time ON ratelimits_per_month (time);
