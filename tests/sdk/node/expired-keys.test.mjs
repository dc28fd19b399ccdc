// Expired keys are deleted some time after they expired (Keyway's README,
// "Expired keys"). tests/sdk/run starts the server with the default retention
// (30 days) and a sweep every second, so a key that expired 31 days ago goes
// within a second or two while one that expired 29 days ago stays, EXPIRED.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as errors from "@unkey/api/models/errors";
import { ERRORS, createApi, createKey, expectError, nowMs, runId, unkey, verify } from "./helpers.mjs";

const DAY_MS = 86_400_000;

async function waitUntilNotFound(key, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if ((await verify(key)).code === "NOT_FOUND") {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`the key was not swept within ${seconds} s`);
}

test("keys past the retention are deleted, the others kept", async () => {
  const apiId = await createApi(`ts-expired-${runId}`);
  const old = await createKey({ apiId, expires: nowMs() - 31 * DAY_MS });
  const recent = await createKey({ apiId, expires: nowMs() - 29 * DAY_MS });

  await waitUntilNotFound(old.key);
  const err = await expectError(unkey.keys.getKey({ keyId: old.keyId }), errors.NotFoundErrorResponse);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/key_not_found`);

  assert.equal((await verify(recent.key)).code, "EXPIRED");
  const listed = (await unkey.apis.listKeys({ apiId })).result.data.map((k) => k.keyId);
  assert.ok(listed.includes(recent.keyId));
  assert.ok(!listed.includes(old.keyId));
});
