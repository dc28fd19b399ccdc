// Key lifecycle through @unkey/api: create, verify, update, credits, delete.
// Expected values come from the wire contract (shared/reference/unkey-v2-api.md).
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as errors from "@unkey/api/models/errors";

import { createApi, createKey, expectError, nowMs, runId, unkey, verify } from "./helpers.mjs";

const HOUR_MS = 60 * 60 * 1000;
let apiId;

before(async () => {
  apiId = await createApi(`sdk-ts-${runId}`);
});

test("createKey then verifyKey is VALID with the key's data", async () => {
  const meta = { plan: "pro", seats: 3, flags: { beta: true } };
  const { keyId, key } = await createKey({
    apiId,
    name: "acme prod",
    meta,
    prefix: "sdkts",
    credits: { remaining: 10, refill: { interval: "daily", amount: 100 } },
  });
  // §7.1: prefix + "_" + base58 random part.
  assert.ok(key.startsWith("sdkts_"));
  assert.ok(key.length > "sdkts_".length + 16);

  let data = await verify(key);
  assert.equal(data.valid, true);
  assert.equal(data.code, "VALID");
  assert.equal(data.keyId, keyId);
  assert.equal(data.name, "acme prod");
  assert.deepEqual(data.meta, meta);
  assert.equal(data.enabled, true);
  assert.equal(data.credits, 9); // §6.4: cost 1 by default, remaining after the spend
  assert.equal(data.expires, undefined);

  data = await verify(key, { credits: { cost: 3 } });
  assert.equal(data.valid, true);
  assert.equal(data.credits, 6);

  const got = (await unkey.keys.getKey({ keyId })).data;
  assert.equal(got.keyId, keyId);
  assert.equal(got.name, "acme prod");
  assert.deepEqual(got.meta, meta);
  assert.equal(got.enabled, true);
  assert.ok(got.createdAt > 0);
  assert.equal(got.start, key.slice(0, "sdkts_".length + 4)); // §7.3
  assert.equal(got.credits.remaining, 6);
  assert.equal(got.credits.refill.interval, "daily");
  assert.equal(got.credits.refill.amount, 100);
  assert.equal(got.credits.refill.refillDay, undefined);
});

test("an unknown key verifies as NOT_FOUND with nothing else", async () => {
  const data = await verify("sdkts_thiskeydoesnotexist");
  assert.equal(data.valid, false);
  assert.equal(data.code, "NOT_FOUND");
  assert.equal(data.keyId, undefined);
  assert.equal(data.enabled, undefined);
});

test("a key created with expires in the past verifies as EXPIRED", async () => {
  const expires = nowMs() - 60_000;
  const { keyId, key } = await createKey({ apiId, name: "already expired", expires });
  const data = await verify(key);
  assert.equal(data.valid, false);
  assert.equal(data.code, "EXPIRED");
  assert.equal(data.keyId, keyId);
  assert.equal(data.expires, expires);
});

test("a key created disabled verifies as DISABLED", async () => {
  const { keyId, key } = await createKey({ apiId, name: "born disabled", enabled: false });
  const data = await verify(key);
  assert.equal(data.valid, false);
  assert.equal(data.code, "DISABLED");
  assert.equal(data.keyId, keyId);
  assert.equal(data.enabled, false);
});

test("the last credit is VALID, the next verify is USAGE_EXCEEDED, cost 0 passes", async () => {
  const { keyId, key } = await createKey({ apiId, name: "one credit", credits: { remaining: 1 } });

  const first = await verify(key);
  assert.equal(first.valid, true);
  assert.equal(first.code, "VALID");
  assert.equal(first.credits, 0);

  const second = await verify(key);
  assert.equal(second.valid, false);
  assert.equal(second.code, "USAGE_EXCEEDED");
  assert.equal(second.keyId, keyId);
  assert.equal(second.credits, 0);

  const free = await verify(key, { credits: { cost: 0 } });
  assert.equal(free.valid, true);
  assert.equal(free.credits, 0);
});

test("updateKey changes name, meta, enabled and expires, and getKey reflects it", async () => {
  const { keyId, key } = await createKey({ apiId, name: "before", meta: { plan: "free" } });
  const getKey = async () => (await unkey.keys.getKey({ keyId })).data;

  const res = await unkey.keys.updateKey({ keyId, name: "after", meta: { plan: "enterprise", seats: 50 } });
  assert.match(res.meta.requestId, /^req_/);
  let got = await getKey();
  assert.equal(got.name, "after");
  assert.deepEqual(got.meta, { plan: "enterprise", seats: 50 });
  assert.ok(got.updatedAt >= got.createdAt);

  await unkey.keys.updateKey({ keyId, enabled: false });
  assert.equal((await getKey()).enabled, false);
  let data = await verify(key);
  assert.equal(data.code, "DISABLED");

  await unkey.keys.updateKey({ keyId, enabled: true });
  assert.equal((await getKey()).enabled, true);
  data = await verify(key);
  assert.equal(data.code, "VALID");
  assert.equal(data.name, "after");

  const future = nowMs() + HOUR_MS;
  await unkey.keys.updateKey({ keyId, expires: future });
  assert.equal((await getKey()).expires, future);
  assert.equal((await verify(key)).expires, future);

  // §3.5: null clears, omitted leaves unchanged.
  await unkey.keys.updateKey({ keyId, expires: null });
  got = await getKey();
  assert.equal(got.expires, undefined);
  assert.equal(got.name, "after");
  assert.equal((await verify(key)).code, "VALID");

  await unkey.keys.updateKey({ keyId, expires: nowMs() - 1_000 });
  assert.equal((await verify(key)).code, "EXPIRED");

  await unkey.keys.updateKey({ keyId, name: null, meta: null, expires: null });
  got = await getKey();
  assert.equal(got.name, undefined);
  assert.equal(got.meta, undefined);
  assert.equal(got.expires, undefined);
  assert.equal((await verify(key)).code, "VALID");
});

test("updateCredits set / increment / decrement return the new remaining", async () => {
  const { keyId, key } = await createKey({ apiId, name: "credits", credits: { remaining: 10 } });
  const update = async (operation, value) =>
    (await unkey.keys.updateCredits({ keyId, operation, value })).data;

  assert.equal((await update("set", 50)).remaining, 50);
  assert.equal((await update("increment", 5)).remaining, 55);
  assert.equal((await update("decrement", 10)).remaining, 45);

  let data = await verify(key);
  assert.equal(data.code, "VALID");
  assert.equal(data.credits, 44);
  assert.equal((await unkey.keys.getKey({ keyId })).data.credits.remaining, 44);

  assert.equal((await update("decrement", 1_000)).remaining, 0); // floored at 0 (§3.6)
  data = await verify(key);
  assert.equal(data.code, "USAGE_EXCEEDED");
  assert.equal(data.credits, 0);

  assert.equal((await update("increment", 2)).remaining, 2);
  data = await verify(key);
  assert.equal(data.code, "VALID");
  assert.equal(data.credits, 1);

  // set null = unlimited: remaining is null, verify carries no credits.
  assert.equal((await update("set", null)).remaining, null);
  data = await verify(key);
  assert.equal(data.code, "VALID");
  assert.equal(data.credits, undefined);
  assert.equal((await unkey.keys.getKey({ keyId })).data.credits, undefined);

  const err = await expectError(update("increment", 1), errors.BadRequestErrorResponse);
  assert.equal(err.statusCode, 400);
});

test("whoami returns the key's data; an unknown key is a 404", async () => {
  const { keyId, key } = await createKey({
    apiId,
    name: "who",
    meta: { team: "core" },
    credits: { remaining: 7 },
  });
  const data = (await unkey.keys.whoami({ key })).data;
  assert.equal(data.keyId, keyId);
  assert.equal(data.name, "who");
  assert.deepEqual(data.meta, { team: "core" });
  assert.equal(data.enabled, true);
  assert.equal(data.credits.remaining, 7);

  const err = await expectError(unkey.keys.whoami({ key: "sdkts_notakeyatall" }), errors.NotFoundErrorResponse);
  assert.equal(err.statusCode, 404);
});

test("deleteKey then verifyKey is NOT_FOUND", async () => {
  const { keyId, key } = await createKey({ apiId, name: "doomed" });
  assert.equal((await verify(key)).code, "VALID");

  const res = await unkey.keys.deleteKey({ keyId });
  assert.match(res.meta.requestId, /^req_/);

  const data = await verify(key);
  assert.equal(data.valid, false);
  assert.equal(data.code, "NOT_FOUND");
  assert.equal(data.keyId, undefined);

  const err = await expectError(unkey.keys.getKey({ keyId }), errors.NotFoundErrorResponse);
  assert.equal(err.statusCode, 404);
  assert.equal(err.data$.error.type, "https://unkey.com/docs/errors/unkey/data/key_not_found");
  await expectError(unkey.keys.deleteKey({ keyId }), errors.NotFoundErrorResponse);
});

test("a permanently deleted key is gone", async () => {
  const { keyId, key } = await createKey({ apiId, name: "gone for good" });
  await unkey.keys.deleteKey({ keyId, permanent: true });
  assert.equal((await verify(key)).code, "NOT_FOUND");
  await expectError(unkey.keys.getKey({ keyId }), errors.NotFoundErrorResponse);
});
