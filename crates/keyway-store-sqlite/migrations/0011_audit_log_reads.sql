-- Reading the audit log (auditLogs.list, `keyway audit`): filtered by event, actor or target, and
-- paged newest first by (time, id). The actor's id gets a column of its own so that it can be
-- indexed; targets, a list per event, get a table with one row per (event, target).
ALTER TABLE audit_log ADD COLUMN actor_id TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET actor_id = COALESCE(json_extract(actor, '$.id'), '');

CREATE TABLE audit_log_targets (
    workspace_id TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    audit_id     TEXT NOT NULL
);
INSERT INTO audit_log_targets (workspace_id, target_id, audit_id)
SELECT a.workspace_id, json_extract(t.value, '$.id'), a.id
  FROM audit_log a, json_each(a.targets) AS t
 WHERE json_extract(t.value, '$.id') IS NOT NULL;

CREATE INDEX audit_log_targets_target ON audit_log_targets (workspace_id, target_id, audit_id);
CREATE INDEX audit_log_time ON audit_log (workspace_id, time, id);
CREATE INDEX audit_log_event ON audit_log (workspace_id, event, time, id);
CREATE INDEX audit_log_actor ON audit_log (workspace_id, actor_id, time, id);
