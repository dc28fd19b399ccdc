// APIs (keyspaces) through @unkey/api: getApi, listKeys pagination, deleteApi (§4).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as errors from "@unkey/api/models/errors";

import { createApi, createKey, expectError, runId, unkey, verify } from "./helpers.mjs";

test("listKeys with limit 1 pages through every key with hasMore and cursor", async () => {
  const apiId = await createApi(`sdk-ts-list-${runId}`);
  const created = [];
  for (let i = 0; i < 3; i++) {
    created.push((await createKey({ apiId, name: `list-${i}`, meta: { i } })).keyId);
  }

  // First page: one key, more to come, and a cursor to get them (§1.7).
  let page = await unkey.apis.listKeys({ apiId, limit: 1 });
  assert.equal(page.result.data.length, 1);
  assert.equal(page.result.pagination.hasMore, true);
  assert.ok(page.result.pagination.cursor);

  // The next page, asked for by hand with the returned cursor.
  const second = await unkey.apis.listKeys({ apiId, limit: 1, cursor: page.result.pagination.cursor });
  assert.equal(second.result.data.length, 1);
  assert.notEqual(second.result.data[0].keyId, page.result.data[0].keyId);

  // Walk every page with the SDK's own paginator; the last page has no cursor.
  const seen = [];
  while (page) {
    seen.push(...page.result.data.map((k) => k.keyId));
    if (!page.result.pagination.hasMore) {
      assert.equal(page.result.pagination.cursor, undefined);
    }
    page = await page.next();
  }
  assert.deepEqual(seen, [...created].sort()); // keyset-paginated by id, ascending

  const all = (await unkey.apis.listKeys({ apiId })).result;
  assert.equal(all.pagination.hasMore, false);
  assert.equal(all.pagination.cursor, undefined);
  const byId = new Map(all.data.map((k) => [k.keyId, k]));
  assert.deepEqual(new Set(byId.keys()), new Set(created));
  created.forEach((keyId, i) => {
    assert.equal(byId.get(keyId).name, `list-${i}`);
    assert.deepEqual(byId.get(keyId).meta, { i });
    assert.equal(byId.get(keyId).enabled, true);
    assert.ok(byId.get(keyId).createdAt > 0);
  });
});

test("listKeys filters by externalId", async () => {
  const apiId = await createApi(`sdk-ts-ext-${runId}`);
  const externalId = `user_${runId}`;
  const mine = new Set();
  for (let i = 0; i < 2; i++) {
    mine.add((await createKey({ apiId, externalId })).keyId);
  }
  await createKey({ apiId, name: "someone else" });

  let res = (await unkey.apis.listKeys({ apiId, externalId })).result;
  assert.deepEqual(new Set(res.data.map((k) => k.keyId)), mine);
  for (const item of res.data) {
    assert.equal(item.identity.externalId, externalId);
    assert.match(item.identity.id, /^id_/);
  }

  res = (await unkey.apis.listKeys({ apiId, externalId: "nobody_by_that_name" })).result;
  assert.deepEqual(res.data, []);
  assert.equal(res.pagination.hasMore, false);
});

test("getApi, then deleteApi makes the API and its keys disappear", async () => {
  const name = `sdk-ts-delete-${runId}`;
  const apiId = await createApi(name);

  const got = await unkey.apis.getApi({ apiId });
  assert.match(got.meta.requestId, /^req_/);
  assert.equal(got.data.id, apiId);
  assert.equal(got.data.name, name);

  const { key } = await createKey({ apiId, name: "lives in a doomed api" });
  assert.equal((await verify(key)).code, "VALID");

  const res = await unkey.apis.deleteApi({ apiId });
  assert.match(res.meta.requestId, /^req_/);

  const err = await expectError(unkey.apis.getApi({ apiId }), errors.NotFoundErrorResponse);
  assert.equal(err.statusCode, 404);
  assert.equal(err.data$.error.type, "https://unkey.com/docs/errors/unkey/data/api_not_found");

  const data = await verify(key);
  assert.equal(data.valid, false);
  assert.equal(data.code, "NOT_FOUND");

  // DESIGN rule 2: createKey into a deleted API is a 404.
  await expectError(unkey.keys.createKey({ apiId, name: "too late" }), errors.NotFoundErrorResponse);
  await expectError(unkey.apis.deleteApi({ apiId }), errors.NotFoundErrorResponse);
});
