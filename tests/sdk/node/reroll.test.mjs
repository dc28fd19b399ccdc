// keys.rerollKey through @unkey/api (§3.8), with Keyway's differences (README):
// the whole prefix and byte length are kept, the old key's expiry is exact.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as errors from "@unkey/api/models/errors";

import { createApi, createKey, expectError, nowMs, runId, unkey, verify } from "./helpers.mjs";

let apiId;

before(async () => {
  apiId = await createApi(`sdk-ts-reroll-${runId}`);
});

test("rerollKey keeps the prefix and configuration, and both keys work during the overlap", async () => {
  const old = await createKey({
    apiId,
    prefix: "sk_live",
    name: "rotating",
    meta: { plan: "pro" },
    externalId: `cust-${runId}`,
    credits: { remaining: 10 },
  });
  const res = await unkey.keys.rerollKey({ keyId: old.keyId, expiration: 60_000 });
  assert.match(res.meta.requestId, /^req_/);
  assert.match(res.data.keyId, /^key_/);
  assert.notEqual(res.data.keyId, old.keyId);
  assert.ok(res.data.key.startsWith("sk_live_"), res.data.key);

  const copy = (await unkey.keys.getKey({ keyId: res.data.keyId })).data;
  assert.equal(copy.name, "rotating");
  assert.deepEqual(copy.meta, { plan: "pro" });
  assert.equal(copy.identity.externalId, `cust-${runId}`);
  assert.equal(copy.credits.remaining, 10);

  const retired = (await unkey.keys.getKey({ keyId: old.keyId })).data;
  assert.ok(retired.expires > nowMs() && retired.expires <= nowMs() + 60_000);
  assert.equal((await verify(old.key)).code, "VALID");
  assert.equal((await verify(res.data.key)).code, "VALID");
});

test("rerollKey with expiration 0 retires the old key on the next verification", async () => {
  const old = await createKey({ apiId, prefix: "pk" });
  assert.equal((await verify(old.key)).code, "VALID");
  const { key } = (await unkey.keys.rerollKey({ keyId: old.keyId, expiration: 0 })).data;
  const { expires } = (await unkey.keys.getKey({ keyId: old.keyId })).data;
  // Wait on the clock, not on the server: the expiry is the reroll's own millisecond.
  while (nowMs() <= expires) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.equal((await verify(old.key)).code, "EXPIRED");
  assert.equal((await verify(key)).code, "VALID");
});

test("rerollKey of an unknown key is 404 key_not_found", async () => {
  const err = await expectError(
    unkey.keys.rerollKey({ keyId: "key_doesnotexist", expiration: 0 }),
    errors.NotFoundErrorResponse,
  );
  assert.equal(err.data$.error.type, "https://unkey.com/docs/errors/unkey/data/key_not_found");
});
