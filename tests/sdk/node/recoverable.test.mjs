// Recoverable keys through @unkey/api: createKey(recoverable), getKey(decrypt), listKeys(decrypt).
// tests/sdk/run starts the server with a throwaway KEYWAY_MASTER_KEY. Opting an API in is
// Keyway's extension of createApi (Unkey does it in its dashboard), so that call is made by hand.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as errors from "@unkey/api/models/errors";

import { ERRORS, createApi, createKey, expectError, rootKey, runId, serverURL, unkey } from "./helpers.mjs";

let recoverableApiId;

before(async () => {
  const res = await fetch(`${serverURL}/v2/apis.createApi`, {
    method: "POST",
    headers: { Authorization: `Bearer ${rootKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: `sdk-ts-vault-${runId}`, recoverable: true }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  recoverableApiId = body.data.apiId;
});

test("getKey with decrypt returns the plaintext of a recoverable key", async () => {
  const { keyId, key } = await createKey({ apiId: recoverableApiId, prefix: "vault", recoverable: true });
  const got = await unkey.keys.getKey({ keyId, decrypt: true });
  assert.equal(got.data.keyId, keyId);
  assert.equal(got.data.plaintext, key);
  const plain = await unkey.keys.getKey({ keyId });
  assert.equal(plain.data.plaintext, undefined);
});

test("listKeys with decrypt returns plaintexts of recoverable keys only", async () => {
  const recoverable = await createKey({ apiId: recoverableApiId, recoverable: true });
  const plain = await createKey({ apiId: recoverableApiId });
  const page = await unkey.apis.listKeys({ apiId: recoverableApiId, decrypt: true });
  const byId = new Map(page.result.data.map((k) => [k.keyId, k.plaintext]));
  assert.equal(byId.get(recoverable.keyId), recoverable.key);
  assert.equal(byId.get(plain.keyId), undefined);
});

test("createKey recoverable in an API that did not opt in is 412", async () => {
  const apiId = await createApi(`sdk-ts-plain-${runId}`);
  // @unkey/api 2.5.1 has no typed class for a 412 from createKey: it throws its generic APIError.
  const err = await expectError(unkey.keys.createKey({ apiId, recoverable: true }), errors.APIError);
  assert.equal(err.statusCode, 412);
  const body = JSON.parse(err.body);
  assert.equal(body.error.type, `${ERRORS}/unkey/application/precondition_failed`);
  assert.equal(body.error.detail, "This API does not support key encryption.");
});
