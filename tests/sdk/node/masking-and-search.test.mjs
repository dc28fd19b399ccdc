// Small wire details a client written for Unkey relies on (§3.1, §5.1, §5.2, §10.4).
import assert from "node:assert/strict";
import { test } from "node:test";
import * as errors from "@unkey/api/models/errors";
import { ERRORS, client, createApi, expectError, mintRootKey, runId, unkey } from "./helpers.mjs";

test("createKey answers the same 404 for a missing API and for one it may not use", async () => {
  const apiId = await createApi(`ts-masked-${runId}`);
  const real = await expectError(unkey.keys.createKey({ apiId: "api_doesnotexist1" }), errors.NotFoundErrorResponse);
  const limited = client((await mintRootKey(["api.*.read_api"], `ts-masked-${runId}`)).key);
  const masked = await expectError(limited.keys.createKey({ apiId }), errors.NotFoundErrorResponse);
  for (const err of [real, masked]) {
    assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/api_not_found`);
    assert.equal(err.data$.error.detail, "The specified API was not found.");
    assert.equal(err.data$.error.title, "Not Found");
  }
});

test("identity lookups of any length are 404 identity_not_found", async () => {
  const identity = "x".repeat(300);
  const err = await expectError(unkey.identities.getIdentity({ identity }), errors.NotFoundErrorResponse);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/identity_not_found`);
  assert.equal(err.data$.error.detail, "This identity does not exist.");
  await expectError(unkey.identities.updateIdentity({ identity, meta: { a: 1 } }), errors.NotFoundErrorResponse);
  // @unkey/api maps deleteIdentity's errors only as application/problem+json (see
  // identities.test.mjs): the 404 reaches the user as the generic APIError.
  const deleted = await expectError(unkey.identities.deleteIdentity({ identity }), errors.APIError);
  assert.equal(deleted.statusCode, 404);
  assert.equal(JSON.parse(deleted.body).error.type, `${ERRORS}/unkey/data/identity_not_found`);
});

test("a blank search is no filter, and surrounding spaces are ignored", async () => {
  const slug = `ts-blank-${runId}.read`;
  const role = `ts-blank-${runId}`;
  await unkey.permissions.createPermission({ name: slug, slug });
  await unkey.permissions.createRole({ name: role });
  await unkey.identities.createIdentity({ externalId: `ts-blank-${runId}` });

  assert.ok((await unkey.permissions.listPermissions({ search: "   " })).result.data.length > 0);
  assert.ok((await unkey.permissions.listRoles({ search: "   " })).result.data.length > 0);
  assert.ok((await unkey.identities.listIdentities({ search: "   " })).result.data.length > 0);
  const permissions = (await unkey.permissions.listPermissions({ search: `  ${slug} ` })).result.data;
  assert.deepEqual(permissions.map((p) => p.slug), [slug]);
  const roles = (await unkey.permissions.listRoles({ search: ` ${role}  ` })).result.data;
  assert.deepEqual(roles.map((r) => r.name), [role]);
});
