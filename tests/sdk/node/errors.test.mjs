// The typed errors @unkey/api throws for Keyway's 400/401/403/404 answers (§1.2-§1.5, §10.4).
//
// The SDK maps an error to its typed class only when the status and the
// `application/json` content type match and the body parses with its zod
// schema, so reaching the typed class proves status, content type and shape.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as errors from "@unkey/api/models/errors";

import { ERRORS, client, createApi, createKey, expectError, mintRootKey, runId, unkey } from "./helpers.mjs";

let apiId;
let readOnly; // a root key that holds api.*.read_api and nothing else

before(async () => {
  apiId = await createApi(`sdk-ts-errors-${runId}`);
  readOnly = client((await mintRootKey(["api.*.read_api"], `sdk-ts-readonly-${runId}`)).key);
});

test("400: createApi with a 2-character name is BadRequestErrorResponse", async () => {
  const err = await expectError(unkey.apis.createApi({ name: "ab" }), errors.BadRequestErrorResponse);
  assert.equal(err.statusCode, 400);
  assert.match(err.contentType, /^application\/json/);
  assert.match(err.data$.meta.requestId, /^req_/);
  assert.equal(err.data$.error.status, 400);
  assert.equal(err.data$.error.title, "Bad Request");
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/application/invalid_input`);
  assert.ok(err.data$.error.detail);
  assert.ok(err.data$.error.errors.length >= 1);
  for (const e of err.data$.error.errors) {
    assert.ok(e.message && e.location);
  }
});

test("401: an unknown root key is UnauthorizedErrorResponse", async () => {
  const stranger = client("unkey_3ZthisRootKeyDoesNotExist");
  const err = await expectError(stranger.apis.createApi({ name: "never created" }), errors.UnauthorizedErrorResponse);
  assert.equal(err.statusCode, 401);
  assert.equal(err.data$.error.status, 401);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/authentication/key_not_found`);
  assert.match(err.data$.meta.requestId, /^req_/);
});

test("403: a root key without api.*.create_api is ForbiddenErrorResponse", async () => {
  const err = await expectError(readOnly.apis.createApi({ name: "not allowed to" }), errors.ForbiddenErrorResponse);
  assert.equal(err.statusCode, 403);
  assert.equal(err.data$.error.status, 403);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/authorization/insufficient_permissions`);
  assert.ok(err.data$.error.detail.includes("api.*.create_api"));
});

test("a read-only root key can read, and is masked where the reference masks", async () => {
  const { key } = await createKey({ apiId, name: "seen by a read-only root key" });
  assert.equal((await readOnly.apis.getApi({ apiId })).data.id, apiId);

  // §6.1: no verify permission gives 200 NOT_FOUND, never 403.
  const data = (await readOnly.keys.verifyKey({ key })).data;
  assert.equal(data.valid, false);
  assert.equal(data.code, "NOT_FOUND");
  assert.equal(data.keyId, undefined);

  // §3.1 / §4.3: createKey and listKeys without permission are masked as 404.
  const err = await expectError(readOnly.keys.createKey({ apiId }), errors.NotFoundErrorResponse);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/api_not_found`);
  await expectError(readOnly.apis.listKeys({ apiId }), errors.NotFoundErrorResponse);
});

test("404: getKey of an unknown key is NotFoundErrorResponse", async () => {
  const err = await expectError(unkey.keys.getKey({ keyId: "key_doesnotexist" }), errors.NotFoundErrorResponse);
  assert.equal(err.statusCode, 404);
  assert.equal(err.data$.error.status, 404);
  assert.equal(err.data$.error.title, "Not Found");
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/key_not_found`);
  assert.match(err.data$.meta.requestId, /^req_/);
});

test("404: getApi of an unknown API is NotFoundErrorResponse", async () => {
  const err = await expectError(unkey.apis.getApi({ apiId: "api_doesnotexist" }), errors.NotFoundErrorResponse);
  assert.equal(err.statusCode, 404);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/api_not_found`);
});
