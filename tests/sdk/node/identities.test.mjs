// Identities through @unkey/api: create, get, list, update, delete (§5.1).
// Expected values come from the wire contract (shared/reference/unkey-v2-api.md)
// or from the README's "Where Keyway differs from Unkey".
import assert from "node:assert/strict";
import { test } from "node:test";
import * as errors from "@unkey/api/models/errors";

import { ERRORS, expectError, runId, unkey } from "./helpers.mjs";

const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;

// Ratelimits come back in no documented order; index them by name (unique per identity).
function byName(ratelimits) {
  const out = new Map((ratelimits ?? []).map((rl) => [rl.name, rl]));
  assert.equal(out.size, (ratelimits ?? []).length, "ratelimit names must be unique per identity");
  return out;
}

test("identity lifecycle: create, get by id and externalId, update, delete", async () => {
  const externalId = `ts-${runId}-lifecycle`;
  const meta = { plan: "pro", seats: 3, flags: { beta: true } };

  const created = await unkey.identities.createIdentity({
    externalId,
    meta,
    ratelimits: [
      { name: "requests", limit: 10, duration: MINUTE_MS, autoApply: true },
      { name: "tokens", limit: 1000, duration: HOUR_MS },
    ],
  });
  assert.match(created.meta.requestId, /^req_/);
  const identityId = created.data.identityId;
  assert.match(identityId, /^id_/);

  let requestsRlId;
  for (const ref of [identityId, externalId]) {
    const got = await unkey.identities.getIdentity({ identity: ref });
    assert.match(got.meta.requestId, /^req_/);
    assert.equal(got.data.id, identityId);
    assert.equal(got.data.externalId, externalId);
    assert.deepEqual(got.data.meta, meta);
    const limits = byName(got.data.ratelimits);
    assert.deepEqual([...limits.keys()].sort(), ["requests", "tokens"]);
    const requests = limits.get("requests");
    assert.match(requests.id, /^rl_/);
    assert.equal(requests.limit, 10);
    assert.equal(requests.duration, MINUTE_MS);
    assert.equal(requests.autoApply, true);
    const tokens = limits.get("tokens");
    assert.match(tokens.id, /^rl_/);
    assert.equal(tokens.limit, 1000);
    assert.equal(tokens.duration, HOUR_MS);
    assert.equal(tokens.autoApply, false); // RatelimitRequest.autoApply defaults to false
    requestsRlId = requests.id;
  }

  // meta is replaced whole; ratelimits are a full replace by name, same-named ones keep their id.
  const newMeta = { plan: "enterprise" };
  const updated = await unkey.identities.updateIdentity({
    identity: externalId,
    meta: newMeta,
    ratelimits: [
      { name: "requests", limit: 20, duration: MINUTE_MS, autoApply: true },
      { name: "burst", limit: 5, duration: 1000 },
    ],
  });
  assert.match(updated.meta.requestId, /^req_/);
  assert.equal(updated.data.id, identityId);
  assert.equal(updated.data.externalId, externalId);
  assert.deepEqual(updated.data.meta, newMeta);
  let limits = byName(updated.data.ratelimits);
  assert.deepEqual([...limits.keys()].sort(), ["burst", "requests"]);
  assert.equal(limits.get("requests").id, requestsRlId);
  assert.equal(limits.get("requests").limit, 20);
  assert.match(limits.get("burst").id, /^rl_/);
  assert.equal(limits.get("burst").limit, 5);
  assert.equal(limits.get("burst").duration, 1000);
  assert.equal(limits.get("burst").autoApply, false);

  let identity = (await unkey.identities.getIdentity({ identity: identityId })).data;
  assert.deepEqual(identity.meta, newMeta);
  limits = byName(identity.ratelimits);
  assert.deepEqual([...limits.keys()].sort(), ["burst", "requests"]);
  assert.equal(limits.get("requests").id, requestsRlId);

  // [] deletes every limit; without meta the stored meta stays, and (README) the answer carries it.
  const cleared = (await unkey.identities.updateIdentity({ identity: identityId, ratelimits: [] })).data;
  assert.equal(cleared.ratelimits, undefined); // omitted when empty
  assert.deepEqual(cleared.meta, newMeta);
  identity = (await unkey.identities.getIdentity({ identity: identityId })).data;
  assert.equal(identity.ratelimits, undefined);
  assert.deepEqual(identity.meta, newMeta);

  // deleteIdentity answers `{meta}` only, with no data; the SDK must parse that.
  const deleted = await unkey.identities.deleteIdentity({ identity: externalId });
  assert.match(deleted.meta.requestId, /^req_/);
  assert.equal(deleted.data, undefined);

  const err = await expectError(unkey.identities.getIdentity({ identity: identityId }), errors.NotFoundErrorResponse);
  assert.equal(err.statusCode, 404);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/identity_not_found`);
  assert.equal(err.data$.error.detail, "This identity does not exist.");
  await expectError(unkey.identities.getIdentity({ identity: externalId }), errors.NotFoundErrorResponse);
  await expectError(
    unkey.identities.updateIdentity({ identity: identityId, meta: { x: 1 } }),
    errors.NotFoundErrorResponse,
  );

  // A second delete is a 404. @unkey/api 2.5.1 maps deleteIdentity's errors only when they are
  // `application/problem+json`, but sends `Accept: application/json`, for which the reference
  // answers `application/json` (§1.3): a user gets the generic APIError with the 404 body.
  const again = await expectError(unkey.identities.deleteIdentity({ identity: identityId }), errors.APIError);
  assert.equal(again.statusCode, 404);
  assert.match(again.contentType, /^application\/json/);
  const body = JSON.parse(again.body);
  assert.equal(body.error.type, `${ERRORS}/unkey/data/identity_not_found`);
  assert.match(body.meta.requestId, /^req_/);

  // The externalId can be used again.
  const reborn = (await unkey.identities.createIdentity({ externalId })).data.identityId;
  assert.notEqual(reborn, identityId);
  identity = (await unkey.identities.getIdentity({ identity: externalId })).data;
  assert.equal(identity.id, reborn);
  assert.equal(identity.meta, undefined); // stored as {}, omitted when empty
  assert.equal(identity.ratelimits, undefined);
});

test("a duplicate externalId is ConflictErrorResponse", async () => {
  const externalId = `ts-${runId}-dup`;
  await unkey.identities.createIdentity({ externalId });
  const err = await expectError(
    unkey.identities.createIdentity({ externalId, meta: { second: true } }),
    errors.ConflictErrorResponse,
  );
  assert.equal(err.statusCode, 409);
  assert.match(err.data$.meta.requestId, /^req_/);
  assert.equal(err.data$.error.status, 409);
  assert.equal(err.data$.error.title, "Conflicting Resource");
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/identity_already_exists`);
  assert.equal(err.data$.error.detail, `Identity with externalId '${externalId}' already exists in this workspace.`);
  assert.equal((await unkey.identities.getIdentity({ identity: externalId })).data.meta, undefined);
});

test("listIdentities paginates and searches", async () => {
  const prefix = `ts-${runId}-list`;
  const created = new Map();
  for (let i = 0; i < 5; i++) {
    const res = await unkey.identities.createIdentity({ externalId: `${prefix}-${i}`, meta: { i } });
    created.set(res.data.identityId, `${prefix}-${i}`);
  }
  await unkey.identities.createIdentity({ externalId: `ts-${runId}-other` });

  // §5.1: case-insensitive substring search on id or externalId, sorted by id.
  let page = await unkey.identities.listIdentities({ limit: 2, search: prefix.toUpperCase() });
  const sizes = [];
  const seen = [];
  while (page) {
    assert.match(page.result.meta.requestId, /^req_/);
    sizes.push(page.result.data.length);
    for (const identity of page.result.data) {
      seen.push(identity.id);
      assert.equal(identity.externalId, created.get(identity.id));
      assert.deepEqual(identity.meta, { i: Number(identity.externalId.split("-").pop()) });
    }
    if (page.result.pagination.hasMore) {
      assert.ok(page.result.pagination.cursor);
    } else {
      assert.equal(page.result.pagination.cursor, undefined);
    }
    page = await page.next();
  }
  assert.deepEqual(sizes, [2, 2, 1]);
  assert.deepEqual(seen, [...created.keys()].sort());

  const someId = [...created.keys()].sort()[3];
  const found = (await unkey.identities.listIdentities({ search: someId })).result;
  assert.deepEqual(
    found.data.map((i) => i.id),
    [someId],
  );

  const empty = (await unkey.identities.listIdentities({ search: `${prefix}-nothing-matches` })).result;
  assert.deepEqual(empty.data, []);
  assert.equal(empty.pagination.hasMore, false);

  await unkey.identities.deleteIdentity({ identity: `${prefix}-0` });
  const rest = (await unkey.identities.listIdentities({ search: prefix })).result;
  assert.deepEqual(new Set(rest.data.map((i) => i.externalId)), new Set([1, 2, 3, 4].map((i) => `${prefix}-${i}`)));
});
