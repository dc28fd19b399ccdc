// Rate limits through @unkey/api: limits on keys and identities in keys.verifyKey
// (§6.6, §6.7) and the standalone ratelimit API with overrides (§5.3, §9).
//
// Windows are fixed and aligned to the Unix epoch (§9.1), so tests that count
// requests inside one window use hour-long windows: a run straddling a window
// boundary is then negligible. `reset` is the end of the current window in Unix ms.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as errors from "@unkey/api/models/errors";

import { ERRORS, createApi, createKey, expectError, nowMs, runId, unkey, verify } from "./helpers.mjs";

const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;
let apiId;

before(async () => {
  apiId = await createApi(`sdk-ts-rl-${runId}`);
});

// §9.1: reset = (floor(now / duration) + 1) * duration for some `now` in [t0, t1].
function assertWindowEnd(reset, duration, t0, t1) {
  assert.equal(reset % duration, 0, `reset ${reset} is not a window end`);
  const lo = (Math.floor(t0 / duration) + 1) * duration;
  const hi = (Math.floor(t1 / duration) + 1) * duration;
  assert.ok(lo <= reset && reset <= hi, `reset ${reset} not in [${lo}, ${hi}]`);
}

function byName(ratelimits) {
  return new Map(ratelimits.map((rl) => [rl.name, rl]));
}

// --- rate limits in verifyKey -------------------------------------------------------

test("an auto-applied key limit: VALID until RATE_LIMITED, with ratelimits[] filled in", async () => {
  const { keyId, key } = await createKey({
    apiId,
    name: "three an hour",
    credits: { remaining: 10 },
    ratelimits: [{ name: "requests", limit: 3, duration: HOUR_MS, autoApply: true }],
  });
  const [config] = (await unkey.keys.getKey({ keyId })).data.ratelimits;
  assert.match(config.id, /^rl_/);
  assert.equal(config.name, "requests");
  assert.equal(config.limit, 3);
  assert.equal(config.duration, HOUR_MS);
  assert.equal(config.autoApply, true);

  const resets = new Set();
  for (const remaining of [2, 1, 0]) {
    const t0 = nowMs();
    const data = await verify(key);
    const t1 = nowMs();
    assert.equal(data.valid, true);
    assert.equal(data.code, "VALID");
    assert.equal(data.ratelimits.length, 1);
    const [rl] = data.ratelimits;
    assert.equal(rl.id, config.id);
    assert.equal(rl.name, "requests");
    assert.equal(rl.limit, 3);
    assert.equal(rl.duration, HOUR_MS);
    assert.equal(rl.remaining, remaining);
    assert.equal(rl.exceeded, false);
    assert.equal(rl.autoApply, true);
    assertWindowEnd(rl.reset, HOUR_MS, t0, t1);
    resets.add(rl.reset);
  }

  const data = await verify(key);
  assert.equal(data.valid, false);
  assert.equal(data.code, "RATE_LIMITED");
  assert.equal(data.keyId, keyId);
  const [rl] = data.ratelimits;
  assert.equal(rl.name, "requests");
  assert.equal(rl.limit, 3);
  assert.equal(rl.remaining, 0);
  assert.equal(rl.exceeded, true);
  resets.add(rl.reset);
  assert.equal(resets.size, 1);

  // §6.2: RATE_LIMITED spends no credits.
  assert.equal((await unkey.keys.getKey({ keyId })).data.credits.remaining, 7);
});

test("an identity's limit is shared by every key linked through externalId", async () => {
  const externalId = `ts-${runId}-shared`;
  const identityId = (
    await unkey.identities.createIdentity({
      externalId,
      meta: { team: "a" },
      ratelimits: [{ name: "shared", limit: 3, duration: HOUR_MS, autoApply: true }],
    })
  ).data.identityId;
  const [identityRl] = (await unkey.identities.getIdentity({ identity: identityId })).data.ratelimits;

  const a = await createKey({ apiId, name: "a", externalId });
  const b = await createKey({ apiId, name: "b", externalId });
  const got = (await unkey.keys.getKey({ keyId: b.keyId })).data;
  assert.equal(got.identity.id, identityId);
  assert.equal(got.identity.externalId, externalId);

  for (const [key, remaining] of [
    [a.key, 2],
    [b.key, 1],
    [a.key, 0],
  ]) {
    const data = await verify(key);
    assert.equal(data.valid, true);
    assert.equal(data.identity.id, identityId);
    assert.equal(data.identity.externalId, externalId);
    assert.deepEqual(data.identity.meta, { team: "a" });
    const [rl] = data.ratelimits;
    assert.equal(rl.id, identityRl.id);
    assert.equal(rl.name, "shared");
    assert.equal(rl.limit, 3);
    assert.equal(rl.remaining, remaining);
    assert.equal(rl.exceeded, false);
    assert.equal(rl.autoApply, true);
  }
  for (const key of [b.key, a.key]) {
    const data = await verify(key);
    assert.equal(data.valid, false);
    assert.equal(data.code, "RATE_LIMITED");
    assert.equal(data.ratelimits[0].exceeded, true);
    assert.equal(data.ratelimits[0].remaining, 0);
  }

  // A key-level limit of the same name wins for that key, in its own bucket (§6.6.1, §6.7).
  const c = await createKey({
    apiId,
    externalId,
    ratelimits: [{ name: "shared", limit: 5, duration: HOUR_MS, autoApply: true }],
  });
  const data = await verify(c.key);
  assert.equal(data.valid, true);
  assert.equal(data.ratelimits[0].limit, 5);
  assert.equal(data.ratelimits[0].remaining, 4);
  assert.notEqual(data.ratelimits[0].id, identityRl.id);
  assert.equal((await verify(a.key)).code, "RATE_LIMITED");
});

test("a requested ratelimit that does not exist is a 412", async () => {
  const { keyId, key } = await createKey({ apiId, name: "no limits" });
  // @unkey/api 2.5.1 has no typed class for a 412 from verifyKey: it throws its generic APIError.
  const err = await expectError(unkey.keys.verifyKey({ key, ratelimits: [{ name: "nothing" }] }), errors.APIError);
  assert.equal(err.statusCode, 412);
  assert.match(err.contentType, /^application\/json/);
  const body = JSON.parse(err.body);
  assert.match(body.meta.requestId, /^req_/);
  assert.equal(body.error.status, 412);
  assert.equal(body.error.title, "Precondition Failed");
  assert.equal(body.error.type, `${ERRORS}/unkey/application/precondition_failed`);
  assert.equal(
    body.error.detail,
    `ratelimit 'nothing' was requested but does not exist for key '${keyId}' and there is no identity connected.`,
  );
});

test("requested and inline limits in verifyKey", async () => {
  const { key } = await createKey({
    apiId,
    ratelimits: [{ name: "expensive", limit: 5, duration: HOUR_MS }], // not auto-applied
  });
  let data = await verify(key);
  assert.equal(data.valid, true);
  assert.equal(data.ratelimits, undefined);

  data = await verify(key, { ratelimits: [{ name: "expensive", cost: 4 }] });
  assert.equal(data.valid, true);
  assert.equal(data.ratelimits[0].name, "expensive");
  assert.equal(data.ratelimits[0].remaining, 1);
  assert.equal(data.ratelimits[0].autoApply, false);
  data = await verify(key, { ratelimits: [{ name: "expensive", cost: 2 }] });
  assert.equal(data.code, "RATE_LIMITED");

  // Inline: limit + duration, counted against the key id, id "" (§6.6.3).
  for (const remaining of [1, 0]) {
    const t0 = nowMs();
    data = await verify(key, { ratelimits: [{ name: "inline", limit: 2, duration: HOUR_MS }] });
    const t1 = nowMs();
    assert.equal(data.valid, true);
    const [rl] = data.ratelimits;
    assert.equal(rl.id, "");
    assert.equal(rl.name, "inline");
    assert.equal(rl.limit, 2);
    assert.equal(rl.duration, HOUR_MS);
    assert.equal(rl.remaining, remaining);
    assert.equal(rl.exceeded, false);
    assert.equal(rl.autoApply, false);
    assertWindowEnd(rl.reset, HOUR_MS, t0, t1);
  }
  data = await verify(key, { ratelimits: [{ name: "inline", limit: 2, duration: HOUR_MS }] });
  assert.equal(data.valid, false);
  assert.equal(data.code, "RATE_LIMITED");
  assert.equal(data.ratelimits[0].exceeded, true);
});

test("several limits in one verification count all or nothing", async () => {
  const { key } = await createKey({
    apiId,
    ratelimits: [
      { name: "small", limit: 2, duration: HOUR_MS, autoApply: true },
      { name: "large", limit: 5, duration: HOUR_MS, autoApply: true },
    ],
  });
  for (const [small, large] of [
    [1, 4],
    [0, 3],
  ]) {
    const data = await verify(key);
    assert.equal(data.valid, true);
    const limits = byName(data.ratelimits);
    assert.equal(limits.get("small").remaining, small);
    assert.equal(limits.get("large").remaining, large);
  }
  // §6.6.5 / §9.4: "small" fails, so "large" is not counted, and reports remaining as if
  // not consumed (cost added back): 2 of 5 used, so 3, on every failed attempt.
  for (let i = 0; i < 2; i++) {
    const data = await verify(key);
    assert.equal(data.code, "RATE_LIMITED");
    const limits = byName(data.ratelimits);
    assert.equal(limits.get("small").exceeded, true);
    assert.equal(limits.get("large").exceeded, false);
    assert.equal(limits.get("large").remaining, 3);
  }
});

// --- the standalone ratelimit API ---------------------------------------------------------

test("ratelimit.limit creates its namespace and counts", async () => {
  const namespace = `ts-${runId}-limit`;
  let err = await expectError(unkey.ratelimit.listOverrides({ namespace }), errors.NotFoundErrorResponse);
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/ratelimit_namespace_not_found`);
  err = await expectError(
    unkey.ratelimit.setOverride({ namespace, identifier: "x", limit: 1, duration: MINUTE_MS }),
    errors.NotFoundErrorResponse,
  );
  assert.equal(err.data$.error.detail, "This namespace does not exist.");

  const resets = new Set();
  for (const remaining of [2, 1, 0]) {
    const t0 = nowMs();
    const res = await unkey.ratelimit.limit({ namespace, identifier: "user_1", limit: 3, duration: HOUR_MS });
    const t1 = nowMs();
    assert.match(res.meta.requestId, /^req_/);
    assert.equal(res.data.success, true);
    assert.equal(res.data.limit, 3);
    assert.equal(res.data.remaining, remaining);
    assert.equal(res.data.overrideId, undefined);
    assertWindowEnd(res.data.reset, HOUR_MS, t0, t1);
    resets.add(res.data.reset);
  }
  let res = await unkey.ratelimit.limit({ namespace, identifier: "user_1", limit: 3, duration: HOUR_MS });
  assert.equal(res.data.success, false); // still a 200
  assert.equal(res.data.limit, 3);
  assert.equal(res.data.remaining, 0);
  resets.add(res.data.reset);
  assert.equal(resets.size, 1);

  res = await unkey.ratelimit.limit({ namespace, identifier: "user_1", limit: 3, duration: HOUR_MS, cost: 0 });
  assert.equal(res.data.success, true); // §9.1: cost 0 at exactly the limit passes
  assert.equal(res.data.remaining, 0);

  const listed = (await unkey.ratelimit.listOverrides({ namespace })).result;
  assert.deepEqual(listed.data, []);
  assert.equal(listed.pagination.hasMore, false);
});

test("ratelimit.multiLimit is all or nothing", async () => {
  const nsA = `ts-${runId}-multi-a`;
  const nsB = `ts-${runId}-multi-b`;
  const batch = [
    { namespace: nsA, identifier: "loose", limit: 5, duration: HOUR_MS },
    { namespace: nsB, identifier: "tight", limit: 1, duration: HOUR_MS },
  ];
  const t0 = nowMs();
  let res = await unkey.ratelimit.multiLimit(batch);
  const t1 = nowMs();
  assert.match(res.meta.requestId, /^req_/);
  assert.equal(res.data.passed, true);
  let [loose, tight] = res.data.limits;
  assert.deepEqual(
    [loose.namespace, loose.identifier, loose.limit, loose.remaining, loose.passed],
    [nsA, "loose", 5, 4, true],
  );
  assert.deepEqual(
    [tight.namespace, tight.identifier, tight.limit, tight.remaining, tight.passed],
    [nsB, "tight", 1, 0, true],
  );
  assertWindowEnd(loose.reset, HOUR_MS, t0, t1);

  for (let i = 0; i < 2; i++) {
    res = await unkey.ratelimit.multiLimit(batch);
    assert.equal(res.data.passed, false);
    [loose, tight] = res.data.limits;
    assert.equal(tight.passed, false);
    assert.equal(tight.remaining, 0);
    assert.equal(loose.passed, true);
    // §5.3 / §9.4: reported as if not consumed (the cost is added back): 5 - 1 = 4.
    assert.equal(loose.remaining, 4);
  }
  res = await unkey.ratelimit.limit({ namespace: nsA, identifier: "loose", limit: 5, duration: HOUR_MS, cost: 0 });
  assert.equal(res.data.remaining, 4); // only the first batch counted
});

test("overrides: set, get, list, delete, and wildcard precedence", async () => {
  const namespace = `ts-${runId}-overrides`;
  assert.equal(
    (await unkey.ratelimit.limit({ namespace, identifier: "warmup", limit: 100, duration: HOUR_MS })).data.success,
    true,
  );
  async function setOverride(identifier, limit, duration) {
    const res = await unkey.ratelimit.setOverride({ namespace, identifier, limit, duration });
    assert.match(res.meta.requestId, /^req_/);
    assert.match(res.data.overrideId, /^rlor_/);
    return res.data.overrideId;
  }
  async function limit(identifier) {
    const t0 = nowMs();
    const data = (await unkey.ratelimit.limit({ namespace, identifier, limit: 100, duration: HOUR_MS })).data;
    return { data, t0, t1: nowMs() };
  }

  const exact = await setOverride("alice@acme.com", 10, HOUR_MS);
  const domain = await setOverride("*@acme.com", 5, HOUR_MS);
  const aDomain = await setOverride("a*@acme.com", 7, HOUR_MS);
  const everyone = await setOverride("*", 2, MINUTE_MS);

  // README "Override precedence": exact, then the wildcard with the longest literal part.
  for (const [identifier, overrideId, expected] of [
    ["alice@acme.com", exact, 10],
    ["anna@acme.com", aDomain, 7],
    ["bob@acme.com", domain, 5],
    ["bob@other.com", everyone, 2],
  ]) {
    const { data } = await limit(identifier);
    assert.equal(data.success, true, identifier);
    assert.equal(data.overrideId, overrideId, identifier);
    assert.equal(data.limit, expected, identifier);
    assert.equal(data.remaining, expected - 1, identifier);
  }
  // The override's duration replaces the request's.
  const { data, t0, t1 } = await limit("carol@other.com");
  assert.equal(data.overrideId, everyone);
  assertWindowEnd(data.reset, MINUTE_MS, t0, t1);

  for (const [identifier, expected] of [
    ["alice@acme.com", ["alice@acme.com", exact, 10, HOUR_MS]],
    ["anna@acme.com", ["a*@acme.com", aDomain, 7, HOUR_MS]],
    ["bob@acme.com", ["*@acme.com", domain, 5, HOUR_MS]],
    ["bob@other.com", ["*", everyone, 2, MINUTE_MS]],
  ]) {
    const res = await unkey.ratelimit.getOverride({ namespace, identifier });
    assert.match(res.meta.requestId, /^req_/);
    const got = res.data;
    assert.deepEqual([got.identifier, got.overrideId, got.limit, got.duration], expected, identifier);
  }

  assert.equal(await setOverride("*@acme.com", 4, HOUR_MS), domain); // upsert keeps the id

  let page = await unkey.ratelimit.listOverrides({ namespace, limit: 3 });
  const listed = [];
  while (page) {
    listed.push(...page.result.data);
    if (!page.result.pagination.hasMore) {
      assert.equal(page.result.pagination.cursor, undefined);
    }
    page = await page.next();
  }
  assert.deepEqual(
    listed.map((o) => o.overrideId),
    [exact, domain, aDomain, everyone].sort(),
  );
  assert.deepEqual(
    Object.fromEntries(listed.map((o) => [o.overrideId, [o.identifier, o.limit, o.duration]])),
    {
      [exact]: ["alice@acme.com", 10, HOUR_MS],
      [domain]: ["*@acme.com", 4, HOUR_MS],
      [aDomain]: ["a*@acme.com", 7, HOUR_MS],
      [everyone]: ["*", 2, MINUTE_MS],
    },
  );

  // deleteOverride takes the exact pattern.
  const err = await expectError(
    unkey.ratelimit.deleteOverride({ namespace, identifier: "bob@acme.com" }),
    errors.NotFoundErrorResponse,
  );
  assert.equal(err.data$.error.type, `${ERRORS}/unkey/data/ratelimit_override_not_found`);
  const del = await unkey.ratelimit.deleteOverride({ namespace, identifier: "*@acme.com" });
  assert.match(del.meta.requestId, /^req_/);
  await expectError(unkey.ratelimit.deleteOverride({ namespace, identifier: "*@acme.com" }), errors.NotFoundErrorResponse);
  assert.equal((await unkey.ratelimit.getOverride({ namespace, identifier: "bob@acme.com" })).data.overrideId, everyone);
  assert.equal((await limit("bert@acme.com")).data.limit, 2);

  // README: setOverride after deleteOverride makes it live again.
  const revived = await setOverride("*@acme.com", 6, HOUR_MS);
  const after = (await limit("bill@acme.com")).data;
  assert.deepEqual([after.overrideId, after.limit, after.remaining], [revived, 6, 5]);
});

test("an override with limit 0 always denies", async () => {
  const namespace = `ts-${runId}-blocked`;
  await unkey.ratelimit.limit({ namespace, identifier: "someone", limit: 10, duration: HOUR_MS });
  const overrideId = (
    await unkey.ratelimit.setOverride({ namespace, identifier: "blocked-*", limit: 0, duration: MINUTE_MS })
  ).data.overrideId;

  for (const cost of [1, 0]) {
    const data = (
      await unkey.ratelimit.limit({ namespace, identifier: "blocked-user", limit: 10, duration: HOUR_MS, cost })
    ).data;
    assert.equal(data.success, false);
    assert.equal(data.limit, 0);
    assert.equal(data.remaining, 0);
    assert.equal(data.overrideId, overrideId);
  }
  const data = (await unkey.ratelimit.limit({ namespace, identifier: "someone", limit: 10, duration: HOUR_MS })).data;
  assert.equal(data.success, true);
  assert.equal(data.remaining, 8);
  await expectError(unkey.ratelimit.getOverride({ namespace, identifier: "someone" }), errors.NotFoundErrorResponse);
});
