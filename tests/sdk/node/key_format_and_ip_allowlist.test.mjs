// Keyway's extensions seen through @unkey/api: a checksummed key (from an API created with
// `keyFormat: "checksummed"`) verifies through the SDK unchanged, a mistyped one is NOT_FOUND,
// and an API's IP allowlist comes back as the FORBIDDEN code. The extension endpoints are not in
// the SDK, so they are called with plain fetch.
import assert from "node:assert/strict";
import { test } from "node:test";

import { rootKey, runId, serverURL, unkey } from "./helpers.mjs";

async function extension(op, body) {
  const res = await fetch(`${serverURL}/v2/${op}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${rootKey}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text).data;
}

test("checksummed keys verify through the SDK; a mistyped one is NOT_FOUND", async () => {
  const { apiId } = await extension("apis.createApi", { name: `sdk-ts-checksummed-${runId}`, keyFormat: "checksummed" });
  const { key } = (await unkey.keys.createKey({ apiId, prefix: "sk_live" })).data;
  assert.ok(key.startsWith("sk_live_"), key);
  assert.equal(key.slice(-10, -6), "_kw1");

  const valid = (await unkey.keys.verifyKey({ key })).data;
  assert.equal(valid.valid, true);
  assert.equal(valid.code, "VALID");

  const typo = key.slice(0, 8) + (key[8] === "x" ? "y" : "x") + key.slice(9);
  const mistyped = (await unkey.keys.verifyKey({ key: typo })).data;
  assert.equal(mistyped.valid, false);
  assert.equal(mistyped.code, "NOT_FOUND");
});

test("an IP allowlist answers FORBIDDEN as a code and spends nothing", async () => {
  const { apiId } = (await unkey.apis.createApi({ name: `sdk-ts-allowlist-${runId}` })).data;
  const { key } = (await unkey.keys.createKey({ apiId, credits: { remaining: 3 } })).data;

  await extension("apis.setIpAllowlist", { apiId, ipAllowlist: ["10.0.0.0/8"] });
  const refused = (await unkey.keys.verifyKey({ key })).data;
  assert.equal(refused.valid, false);
  assert.equal(refused.code, "FORBIDDEN");
  assert.equal(refused.credits, 3);

  await extension("apis.setIpAllowlist", { apiId, ipAllowlist: ["127.0.0.0/8", "::1"] });
  const admitted = (await unkey.keys.verifyKey({ key })).data;
  assert.equal(admitted.valid, true);
  assert.equal(admitted.credits, 2);
});
