// keys.migrateKeys through @unkey/api, then verification of the imported keys. The migration
// itself comes from Keyway's own endpoint (migrations.createMigration), which the SDK does not
// know: with Unkey it is a support ticket.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { before, test } from "node:test";

import { createApi, rootKey, runId, serverURL, unkey, verify } from "./helpers.mjs";

let apiId;

before(async () => {
  apiId = await createApi(`sdk-ts-migrate-${runId}`);
});

async function createMigration(algorithm) {
  const res = await fetch(`${serverURL}/v2/migrations.createMigration`, {
    method: "POST",
    headers: { Authorization: `Bearer ${rootKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ algorithm }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.match(body.data.migrationId, /^mig_/);
  return body.data.migrationId;
}

const sha256 = (text, encoding) => createHash("sha256").update(text).digest(encoding);

test("sha256 hashes in base64 or hex verify directly", async () => {
  const migrationId = await createMigration("sha256");
  const existing = `sdkts_existing_${runId}`;
  const fresh = `sdkts_fresh_${runId}`;
  // Unkey answers `failed: null` when nothing failed, which this SDK refuses; Keyway answers [].
  const first = await unkey.keys.migrateKeys({ migrationId, apiId, keys: [{ hash: sha256(existing, "base64") }] });
  assert.deepEqual(first.data.failed, []);
  assert.equal((await verify(existing)).valid, true);

  const res = await unkey.keys.migrateKeys({
    migrationId,
    apiId,
    keys: [
      { hash: sha256(existing, "base64") },
      { hash: sha256(fresh, "hex"), name: "imported", externalId: `customer_${runId}`, permissions: ["docs.read"] },
    ],
  });
  assert.match(res.meta.requestId, /^req_/);
  assert.deepEqual(res.data.failed, [sha256(existing, "base64")]);
  assert.equal(res.data.migrated.length, 1);
  const [{ hash, keyId }] = res.data.migrated;
  assert.equal(hash, sha256(fresh, "hex"));

  const data = await verify(fresh, { permissions: "docs.read" });
  assert.equal(data.valid, true);
  assert.equal(data.keyId, keyId);
  assert.equal(data.name, "imported");
  assert.equal(data.identity.externalId, `customer_${runId}`);
});

test("a prefixed-api-key key is rehashed on its first verification with migrationId", async () => {
  const migrationId = await createMigration("github.com/seamapi/prefixed-api-key");
  const longToken = `LongToken${runId}`;
  const key = `re_live_Short${runId.slice(0, 4)}_${longToken}`;
  // The same hash twice: the repeat is reported, so `failed` is an array the SDK accepts.
  const hashed = sha256(longToken, "hex");
  const res = await unkey.keys.migrateKeys({ migrationId, apiId, keys: [{ hash: hashed }, { hash: hashed }] });
  assert.deepEqual(res.data.failed, [hashed]);
  const { keyId } = res.data.migrated[0];

  assert.equal((await verify(key)).code, "NOT_FOUND");
  const first = await verify(key, { migrationId });
  assert.equal(first.valid, true);
  assert.equal(first.keyId, keyId);
  assert.equal((await verify(key)).valid, true);
  const got = await unkey.keys.getKey({ keyId });
  assert.equal(got.data.start, "re_live_Shor");
});
