// Shared setup for the @unkey/api compatibility tests.
//
// These tests talk to a running `keyway serve` exactly as a user of the
// official TypeScript SDK would: the only Keyway-specific thing is serverURL.
// tests/sdk/run starts the server and exports KEYWAY_URL and KEYWAY_ROOT_KEY.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Unkey } from "@unkey/api";

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run the SDK tests through tests/sdk/run`);
  }
  return value;
}

export const serverURL = required("KEYWAY_URL");
export const rootKey = required("KEYWAY_ROOT_KEY");
export const unkey = new Unkey({ rootKey, serverURL });
export const runId = randomUUID().slice(0, 8);
export const ERRORS = "https://unkey.com/docs/errors";

export function client(key) {
  return new Unkey({ rootKey: key, serverURL });
}

export function nowMs() {
  return Date.now();
}

// Awaits `promise`, asserts that it rejects with an instance of ErrorClass,
// and returns the error so the caller can look at its parsed body.
export async function expectError(promise, ErrorClass) {
  let result;
  try {
    result = await promise;
  } catch (err) {
    assert.ok(
      err instanceof ErrorClass,
      `expected ${ErrorClass.name}, got ${err?.constructor?.name}: ${err?.message}`,
    );
    return err;
  }
  assert.fail(`expected ${ErrorClass.name}, but the call succeeded: ${JSON.stringify(result)}`);
}

export async function createApi(name) {
  const res = await unkey.apis.createApi({ name });
  assert.match(res.meta.requestId, /^req_/);
  assert.match(res.data.apiId, /^api_/);
  return res.data.apiId;
}

export async function createKey(request) {
  const res = await unkey.keys.createKey(request);
  assert.match(res.meta.requestId, /^req_/);
  assert.match(res.data.keyId, /^key_/);
  assert.ok(res.data.key);
  return res.data;
}

export async function verify(key, extra = {}) {
  const res = await unkey.keys.verifyKey({ key, ...extra });
  assert.match(res.meta.requestId, /^req_/);
  return res.data;
}

// rootKeys.* is not in @unkey/api 2.5.1 (it is in unkey-py 3.2.2), so minting
// a root key with fewer permissions is the one call made without the SDK.
export async function mintRootKey(permissions, name) {
  const res = await fetch(`${serverURL}/v2/rootKeys.createKey`, {
    method: "POST",
    headers: { Authorization: `Bearer ${rootKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ permissions, name }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.data;
}
