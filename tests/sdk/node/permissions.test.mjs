// RBAC through @unkey/api: permissions, roles, their assignment to keys, and
// permission queries in verifyKey (§3.1, §3.10, §5.2, §6.2 steps 8/9.2, §6.5).
// Expected values come from the wire contract (shared/reference/unkey-v2-api.md).
//
// Permissions and roles are workspace-wide, so every slug and role name carries
// a prefix unique to its test.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import * as errors from "@unkey/api/models/errors";

import { ERRORS, createApi, createKey, expectError, runId, unkey, verify } from "./helpers.mjs";

// A random prefix for one test's slugs, role names and API name.
function newTag() {
  return `ts-${runId}-${randomUUID().slice(0, 6)}`;
}

// The slugs of a Permission[] answer, checking each element's shape on the way.
function slugs(permissions) {
  for (const p of permissions) {
    assert.match(p.id, /^perm_/);
    assert.ok(p.name);
  }
  return permissions.map((p) => p.slug);
}

function roleNames(roles) {
  for (const r of roles) {
    assert.match(r.id, /^role_/);
  }
  return roles.map((r) => r.name).sort();
}

const sorted = (list) => [...list].sort();

test("permission lifecycle: create, get by id and slug, list, delete, 409 on a duplicate slug", async () => {
  const tag = newTag();
  const slug = `${tag}.documents.read`;
  const created = await unkey.permissions.createPermission({
    name: `${tag} read documents`,
    slug,
    description: "Read any document",
  });
  assert.match(created.meta.requestId, /^req_/);
  const permissionId = created.data.permissionId;
  assert.match(permissionId, /^perm_/);

  // §5.2: `permission` matches the id or the slug.
  for (const ref of [permissionId, slug]) {
    const got = await unkey.permissions.getPermission({ permission: ref });
    assert.match(got.meta.requestId, /^req_/);
    assert.deepEqual(got.data, {
      id: permissionId,
      name: `${tag} read documents`,
      slug,
      description: "Read any document",
    });
  }

  // §5.2: a duplicate slug is a 409.
  const err = await expectError(
    unkey.permissions.createPermission({ name: "another name", slug }),
    errors.ConflictErrorResponse,
  );
  assert.equal(err.statusCode, 409);
  assert.equal(err.data$.error.status, 409);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/permission_already_exists`);
  assert.equal(err.data$.error.detail, `A permission with slug '${slug}' already exists in this workspace`);
  assert.match(err.data$.meta.requestId, /^req_/);

  // Two more under the same prefix, so listing by search spans pages.
  const everyone = new Map([[permissionId, slug]]);
  const others = [];
  for (const suffix of ["documents.write", "documents.delete"]) {
    const res = await unkey.permissions.createPermission({ name: `${tag} ${suffix}`, slug: `${tag}.${suffix}` });
    everyone.set(res.data.permissionId, `${tag}.${suffix}`);
    others.push(res.data.permissionId);
  }

  // §5.2 / §1.7: search is a substring match; pages are keyset-paginated on the id, ascending.
  let page = await unkey.permissions.listPermissions({ limit: 2, search: tag });
  const sizes = [];
  const seen = [];
  while (page) {
    assert.match(page.result.meta.requestId, /^req_/);
    sizes.push(page.result.data.length);
    for (const p of page.result.data) {
      seen.push(p.id);
      assert.equal(p.slug, everyone.get(p.id));
    }
    if (page.result.pagination.hasMore) {
      assert.ok(page.result.pagination.cursor);
    } else {
      assert.equal(page.result.pagination.cursor, undefined); // §1.3: omitted when hasMore is false
    }
    page = await page.next();
  }
  assert.deepEqual(sizes, [2, 1]);
  assert.deepEqual(seen, sorted(everyone.keys()));

  const listed = (await unkey.permissions.listPermissions({ search: slug })).result;
  assert.equal(listed.pagination.hasMore, false);
  assert.deepEqual(listed.data, [
    { id: permissionId, name: `${tag} read documents`, slug, description: "Read any document" },
  ]);
  // §2 Permission: description is omitted when there is none.
  const [write] = (await unkey.permissions.listPermissions({ search: `${tag}.documents.write` })).result.data;
  assert.equal(write.description, undefined);

  const res = await unkey.permissions.deletePermission({ permission: permissionId });
  assert.match(res.meta.requestId, /^req_/);

  // §5.2: after the (hard) delete the permission is a 404 by id and by slug.
  for (const ref of [permissionId, slug]) {
    const gone = await expectError(unkey.permissions.getPermission({ permission: ref }), errors.NotFoundErrorResponse);
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.data$.error.type, `${ERRORS}/unkey/data/permission_not_found`);
  }
  await expectError(unkey.permissions.deletePermission({ permission: permissionId }), errors.NotFoundErrorResponse);
  const rest = (await unkey.permissions.listPermissions({ search: tag })).result.data;
  assert.deepEqual(
    rest.map((p) => p.id),
    sorted(others),
  );

  // Deleting by slug works as well.
  await unkey.permissions.deletePermission({ permission: `${tag}.documents.write` });
  await expectError(
    unkey.permissions.getPermission({ permission: `${tag}.documents.write` }),
    errors.NotFoundErrorResponse,
  );

  // The slug is free again once its permission is gone.
  const again = await unkey.permissions.createPermission({ name: "back again", slug });
  assert.notEqual(again.data.permissionId, permissionId);
});

test("role lifecycle: create with permissions, get by id and name, list, setRolePermissions, delete", async () => {
  const tag = newTag();
  const [read, write, admin] = [`${tag}.read`, `${tag}.write`, `${tag}.admin`];
  const name = `${tag} editor`;

  // §5.2: missing slugs are auto-created (name = slug, no description).
  const created = await unkey.permissions.createRole({
    name,
    description: "Edits documents",
    permissions: [write, read],
  });
  assert.match(created.meta.requestId, /^req_/);
  const roleId = created.data.roleId;
  assert.match(roleId, /^role_/);
  const auto = (await unkey.permissions.getPermission({ permission: read })).data;
  assert.equal(auto.slug, read);
  assert.equal(auto.name, read);
  assert.equal(auto.description, undefined);

  // §5.2: `role` matches the id or the name; the role carries its permissions.
  for (const ref of [roleId, name]) {
    const got = await unkey.permissions.getRole({ role: ref });
    assert.match(got.meta.requestId, /^req_/);
    assert.equal(got.data.id, roleId);
    assert.equal(got.data.name, name);
    assert.equal(got.data.description, "Edits documents");
    assert.deepEqual(sorted(slugs(got.data.permissions)), [read, write]);
  }

  // §5.2: a duplicate role name is a 409.
  const err = await expectError(unkey.permissions.createRole({ name }), errors.ConflictErrorResponse);
  assert.equal(err.statusCode, 409);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/role_already_exists`);
  assert.equal(err.data$.error.detail, `A role with name '${name}' already exists in this workspace`);

  // A role without permissions omits `permissions` (§1.3: empty arrays are omitted).
  const bareId = (await unkey.permissions.createRole({ name: `${tag} bare` })).data.roleId;
  const bare = (await unkey.permissions.getRole({ role: bareId })).data;
  assert.equal(bare.permissions, undefined);
  assert.equal(bare.description, undefined);

  const listed = (await unkey.permissions.listRoles({ search: tag })).result;
  assert.match(listed.meta.requestId, /^req_/);
  assert.equal(listed.pagination.hasMore, false);
  assert.equal(listed.pagination.cursor, undefined);
  assert.deepEqual(
    listed.data.map((r) => r.id),
    sorted([roleId, bareId]), // §1.7: ascending ids
  );
  const editor = listed.data.find((r) => r.id === roleId);
  assert.equal(editor.name, name);
  assert.deepEqual(sorted(slugs(editor.permissions)), [read, write]);

  const first = (await unkey.permissions.listRoles({ search: tag, limit: 1 })).result;
  assert.equal(first.data.length, 1);
  assert.equal(first.pagination.hasMore, true);
  assert.ok(first.pagination.cursor);

  // §5.2: setRolePermissions replaces the direct set and answers it in sorted-slug order;
  // `admin` does not exist yet and is auto-created.
  const set = await unkey.permissions.setRolePermissions({ roleId, permissions: [write, admin] });
  assert.match(set.meta.requestId, /^req_/);
  assert.deepEqual(slugs(set.data), sorted([admin, write]));
  const after = (await unkey.permissions.getRole({ role: roleId })).data;
  assert.deepEqual(sorted(slugs(after.permissions)), sorted([admin, write]));
  assert.equal((await unkey.permissions.getPermission({ permission: admin })).data.name, admin);
  // The dropped permission still exists; only its link to the role is gone.
  assert.equal((await unkey.permissions.getPermission({ permission: read })).data.slug, read);

  // `[]` clears.
  const cleared = await unkey.permissions.setRolePermissions({ roleId, permissions: [] });
  assert.deepEqual(cleared.data, []);
  assert.equal((await unkey.permissions.getRole({ role: roleId })).data.permissions, undefined);

  const missing = await expectError(
    unkey.permissions.setRolePermissions({ roleId: "role_doesnotexist", permissions: [read] }),
    errors.NotFoundErrorResponse,
  );
  assert.equal(missing.data$.error.type, `${ERRORS}/unkey/data/role_not_found`);

  // deleteRole takes the id or the name.
  const del = await unkey.permissions.deleteRole({ role: roleId });
  assert.match(del.meta.requestId, /^req_/);
  await unkey.permissions.deleteRole({ role: `${tag} bare` });
  for (const ref of [roleId, name, bareId]) {
    const gone = await expectError(unkey.permissions.getRole({ role: ref }), errors.NotFoundErrorResponse);
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.data$.error.type, `${ERRORS}/unkey/data/role_not_found`);
  }
  assert.deepEqual((await unkey.permissions.listRoles({ search: tag })).result.data, []);
});

test("a key's permissions and roles: createKey, getKey, add/remove/set permissions and roles", async () => {
  const tag = newTag();
  const apiId = await createApi(`sdk-ts-rbac-${tag}`);
  const [pA, pB, pC, pD] = ["a", "b", "c", "d"].map((x) => `${tag}.${x}`);
  const [pRole, pR2] = [`${tag}.via.reader`, `${tag}.via.auditor`];
  const [reader, auditor] = [`${tag} reader`, `${tag} auditor`];
  await unkey.permissions.createRole({ name: reader, permissions: [pRole] });
  await unkey.permissions.createRole({ name: auditor, permissions: [pR2, pA] });

  // §3.1: roles must exist; the whole create is rolled back otherwise.
  let err = await expectError(
    unkey.keys.createKey({ apiId, roles: [reader, `${tag} nobody`], permissions: [`${tag}.never`] }),
    errors.NotFoundErrorResponse,
  );
  assert.equal(err.statusCode, 404);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/role_not_found`);
  assert.equal(err.data$.error.detail, `Role '${tag} nobody' was not found.`);
  assert.deepEqual((await unkey.permissions.listPermissions({ search: `${tag}.never` })).result.data, []);

  // §3.1: permission slugs are auto-created, roles are attached by name.
  const { keyId } = await createKey({ apiId, name: "rbac", permissions: [pA, pB], roles: [reader] });
  assert.equal((await unkey.permissions.getPermission({ permission: pB })).data.name, pB);

  // §2 KeyResponseData: permissions = direct + via roles, de-duplicated; roles = names.
  const getKey = async () => (await unkey.keys.getKey({ keyId })).data;
  const keyPerms = async () => sorted((await getKey()).permissions ?? []);
  let got = await getKey();
  assert.deepEqual(sorted(got.permissions), sorted([pA, pB, pRole]));
  assert.deepEqual(got.roles, [reader]);

  // §3.10 addPermissions: answers the key's full direct set; already-held slugs are skipped.
  let res = await unkey.keys.addPermissions({ keyId, permissions: [pC, pA] });
  assert.match(res.meta.requestId, /^req_/);
  assert.deepEqual(sorted(slugs(res.data)), [pA, pB, pC]);
  assert.deepEqual(await keyPerms(), sorted([pA, pB, pC, pRole]));

  // removePermissions: answers the direct permissions left.
  res = await unkey.keys.removePermissions({ keyId, permissions: [pB] });
  assert.match(res.meta.requestId, /^req_/);
  assert.deepEqual(sorted(slugs(res.data)), [pA, pC]);
  // A permission that exists but is not on the key is ignored; an unknown slug is a 404.
  res = await unkey.keys.removePermissions({ keyId, permissions: [pB] });
  assert.deepEqual(sorted(slugs(res.data)), [pA, pC]);
  err = await expectError(
    unkey.keys.removePermissions({ keyId, permissions: [`${tag}.never.created`] }),
    errors.NotFoundErrorResponse,
  );
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/permission_not_found`);

  // setPermissions: replaces the direct set (auto-creating `d`).
  res = await unkey.keys.setPermissions({ keyId, permissions: [pD, pA] });
  assert.match(res.meta.requestId, /^req_/);
  assert.deepEqual(sorted(slugs(res.data)), [pA, pD]);
  assert.deepEqual(await keyPerms(), sorted([pA, pD, pRole]));

  // addRoles: every role on the key after the call, each with its permissions.
  res = await unkey.keys.addRoles({ keyId, roles: [auditor, reader] });
  assert.match(res.meta.requestId, /^req_/);
  assert.deepEqual(roleNames(res.data), sorted([auditor, reader]));
  const byName = new Map(res.data.map((r) => [r.name, r]));
  assert.deepEqual(sorted(slugs(byName.get(auditor).permissions)), sorted([pA, pR2]));
  assert.deepEqual(slugs(byName.get(reader).permissions), [pRole]);
  got = await getKey();
  assert.deepEqual(sorted(got.roles), sorted([auditor, reader]));
  // pA is held directly and through `auditor`: getKey lists it once.
  assert.deepEqual(sorted(got.permissions), sorted([pA, pD, pRole, pR2]));

  // removeRoles: the roles left.
  res = await unkey.keys.removeRoles({ keyId, roles: [reader] });
  assert.match(res.meta.requestId, /^req_/);
  assert.deepEqual(roleNames(res.data), [auditor]);
  assert.deepEqual(await keyPerms(), sorted([pA, pD, pR2]));
  err = await expectError(unkey.keys.removeRoles({ keyId, roles: [`${tag} nobody`] }), errors.NotFoundErrorResponse);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/role_not_found`);

  // setRoles: the final set.
  res = await unkey.keys.setRoles({ keyId, roles: [reader] });
  assert.match(res.meta.requestId, /^req_/);
  assert.deepEqual(roleNames(res.data), [reader]);
  assert.deepEqual(slugs(res.data[0].permissions), [pRole]);
  got = await getKey();
  assert.deepEqual(got.roles, [reader]);
  assert.deepEqual(sorted(got.permissions), sorted([pA, pD, pRole]));

  err = await expectError(unkey.keys.addRoles({ keyId, roles: [`${tag} nobody`] }), errors.NotFoundErrorResponse);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/role_not_found`);
  assert.deepEqual(roleNames((await unkey.keys.setRoles({ keyId, roles: [reader] })).data), [reader]);

  // `[]` clears both; §1.3: getKey then omits the empty arrays.
  assert.deepEqual((await unkey.keys.setPermissions({ keyId, permissions: [] })).data, []);
  assert.deepEqual((await unkey.keys.setRoles({ keyId, roles: [] })).data, []);
  got = await getKey();
  assert.equal(got.permissions, undefined);
  assert.equal(got.roles, undefined);

  // §3.10: the family answers 404 key_not_found for an unknown key.
  err = await expectError(
    unkey.keys.addPermissions({ keyId: "key_doesnotexist", permissions: [pA] }),
    errors.NotFoundErrorResponse,
  );
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/key_not_found`);
});

test("verifyKey with a permissions query: AND, OR, parentheses, syntax errors, and fresh removals", async () => {
  const tag = newTag();
  const apiId = await createApi(`sdk-ts-rbac-${tag}`);
  const [a, b, r] = [`${tag}.a`, `${tag}.b`, `${tag}.r`];
  const [missing, x, y] = [`${tag}.missing`, `${tag}.x`, `${tag}.y`];
  const role = `${tag} role`;
  await unkey.permissions.createRole({ name: role, permissions: [r] });
  const { keyId, key } = await createKey({ apiId, name: "queried", permissions: [a, b], roles: [role] });

  // §6.5: a leaf is true iff the key holds exactly that slug, directly or through a role.
  let data = await verify(key, { permissions: `${a} AND ${b}` });
  assert.equal(data.valid, true);
  assert.equal(data.code, "VALID");
  assert.equal(data.keyId, keyId);
  // §6.3: permissions (direct + via roles) and role names are returned.
  assert.deepEqual(new Set(data.permissions), new Set([a, b, r]));
  assert.deepEqual(data.roles, [role]);

  data = await verify(key, { permissions: `${a} AND ${missing}` });
  assert.equal(data.valid, false);
  assert.equal(data.code, "INSUFFICIENT_PERMISSIONS");
  assert.equal(data.keyId, keyId); // §6.3: a found key still carries its fields

  data = await verify(key, { permissions: `(${x} OR ${a}) AND (${b} OR ${y})` });
  assert.equal(data.valid, true);
  assert.equal(data.code, "VALID");

  assert.equal((await verify(key, { permissions: `${a} AND ${r}` })).code, "VALID");
  // AND binds tighter than OR: `x OR a AND missing` = `x OR (a AND missing)`.
  assert.equal((await verify(key, { permissions: `${x} OR ${a} AND ${missing}` })).code, "INSUFFICIENT_PERMISSIONS");
  // The keywords are case-insensitive.
  assert.equal((await verify(key, { permissions: `${x} or ${a}` })).code, "VALID");
  // No query at all: nothing to check.
  assert.equal((await verify(key)).code, "VALID");

  // §6.2 step 8 / §6.5: a syntax error is an HTTP 400, not a verification outcome.
  for (const query of [`${a} AND`, `(${a} OR ${b}`, `AND ${a}`, `${a} @ ${b}`, "()"]) {
    const err = await expectError(unkey.keys.verifyKey({ key, permissions: query }), errors.BadRequestErrorResponse);
    assert.equal(err.statusCode, 400, query);
    const e = err.data$.error;
    assert.ok(e.type.endsWith("permissions_query_syntax_error"), `${query}: ${e.type}`);
    assert.equal(e.type, `${ERRORS}/user/bad_request/permissions_query_syntax_error`);
    assert.equal(e.status, 400);
    assert.ok(e.detail);
    assert.deepEqual(e.errors, []); // §1.3: a handler's 400 always carries `errors: []`
  }

  // §3.10: the assignment endpoints invalidate the verification cache before answering,
  // so the very next verify reflects a removal.
  await unkey.keys.removePermissions({ keyId, permissions: [b] });
  data = await verify(key, { permissions: `${a} AND ${b}` });
  assert.equal(data.valid, false);
  assert.equal(data.code, "INSUFFICIENT_PERMISSIONS");
  assert.deepEqual(new Set(data.permissions), new Set([a, r]));
  assert.equal((await verify(key, { permissions: a })).code, "VALID");

  await unkey.keys.removeRoles({ keyId, roles: [role] });
  data = await verify(key, { permissions: r });
  assert.equal(data.code, "INSUFFICIENT_PERMISSIONS");
  assert.equal(data.roles, undefined);

  await unkey.keys.addPermissions({ keyId, permissions: [b] });
  assert.equal((await verify(key, { permissions: `${a} AND ${b}` })).code, "VALID");
});

test("`*` in a permission is a literal character, not a wildcard", async () => {
  // §6.5 / §14.1 (and the README).
  const tag = newTag();
  const apiId = await createApi(`sdk-ts-rbac-${tag}`);
  const [star, read] = [`${tag}.documents.*`, `${tag}.documents.read`];
  const { key } = await createKey({ apiId, permissions: [star] });
  assert.equal((await verify(key, { permissions: read })).code, "INSUFFICIENT_PERMISSIONS");
  assert.equal((await verify(key, { permissions: star })).code, "VALID");
});
