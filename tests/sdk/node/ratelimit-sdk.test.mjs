// The standalone ratelimit SDK, @unkey/ratelimit, against Keyway (§5.3, §9.1).
//
// `baseUrl` is handed to @unkey/api as its `serverURL`, which appends
// `/v2/ratelimit.limit` itself; so it is the bare server URL, exactly like the
// serverURL of the other tests.
//
// This file waits on the clock on purpose: what it tests is a one-second window
// ending and letting the identifier through again. The waits are computed from
// the `reset` the server returned, and bounded.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Overrides, Ratelimit } from "@unkey/ratelimit";

import { rootKey, runId, serverURL } from "./helpers.mjs";

const WINDOW_MS = 1000;

// Waits, if needed, so that the next few requests fall inside one 1 s window:
// at most ~300 ms, only when the current window is about to end.
async function startOfAWindow() {
  const into = Date.now() % WINDOW_MS;
  if (into > WINDOW_MS - 300) {
    await sleep(WINDOW_MS - into + 10);
  }
}

test("Ratelimit.limit: passes `limit` times, is denied, passes again after the window", async () => {
  const limiter = new Ratelimit({
    rootKey,
    baseUrl: serverURL,
    namespace: `ts-${runId}-sdk`,
    limit: 3,
    duration: "1s",
  });
  const identifier = "user_1";

  await startOfAWindow();
  const t0 = Date.now();
  const windowEnd = (Math.floor(t0 / WINDOW_MS) + 1) * WINDOW_MS;
  for (const remaining of [2, 1, 0]) {
    const res = await limiter.limit(identifier);
    assert.equal(res.success, true);
    assert.equal(res.limit, 3);
    assert.equal(res.remaining, remaining);
    assert.equal(res.reset, windowEnd); // §9.1: the end of the current 1 s window, Unix ms
    assert.equal(res.overrideId, undefined);
  }
  const denied = await limiter.limit(identifier);
  assert.ok(Date.now() < windowEnd, "the test machine was too slow to stay inside one 1 s window");
  assert.equal(denied.success, false);
  assert.equal(denied.limit, 3);
  assert.equal(denied.remaining, 0);
  assert.equal(denied.reset, windowEnd);

  // Wait for the window to end, as the SDK's `reset` says.
  const wait = denied.reset - Date.now() + 20;
  assert.ok(wait <= WINDOW_MS + 20, `reset ${denied.reset} is more than one window away`);
  await sleep(Math.max(wait, 0));

  const tBefore = Date.now();
  const again = await limiter.limit(identifier);
  const tAfter = Date.now();
  assert.equal(again.success, true);
  assert.equal(again.limit, 3);
  assert.equal(again.reset, windowEnd + WINDOW_MS);
  // §9.1: the previous window (3 counted; the denial counted nothing) still weighs in by the part of
  // it inside the sliding window: remaining = 3 - (floor(3 * (1 - elapsed)) + 1).
  const remainingAt = (t) => {
    const elapsed = (t - windowEnd) / WINDOW_MS;
    return Math.max(0, 3 - (Math.floor(3 * (1 - elapsed)) + 1));
  };
  assert.ok(
    remainingAt(tBefore) <= again.remaining && again.remaining <= remainingAt(tAfter),
    `remaining ${again.remaining} outside [${remainingAt(tBefore)}, ${remainingAt(tAfter)}]`,
  );
});

test("Ratelimit.limit with a cost and a per-call limit", async () => {
  const limiter = new Ratelimit({
    rootKey,
    baseUrl: serverURL,
    namespace: `ts-${runId}-sdk-cost`,
    limit: 10,
    duration: 60 * 60 * 1000, // milliseconds work too
  });
  let res = await limiter.limit("user_1", { cost: 4 });
  assert.equal(res.success, true);
  assert.equal(res.limit, 10);
  assert.equal(res.remaining, 6);
  res = await limiter.limit("user_1", { cost: 7 });
  assert.equal(res.success, false);
  assert.equal(res.remaining, 0);

  // `limit` in the options replaces the configured one for this call.
  res = await limiter.limit("user_2", { limit: { limit: 2, duration: "1h" } });
  assert.equal(res.success, true);
  assert.equal(res.limit, 2);
  assert.equal(res.remaining, 1);
});

test("Overrides from @unkey/ratelimit change what Ratelimit.limit decides", async () => {
  const namespace = `ts-${runId}-sdk-overrides`;
  const limiter = new Ratelimit({ rootKey, baseUrl: serverURL, namespace, limit: 100, duration: "1h" });
  assert.equal((await limiter.limit("warmup")).success, true); // creates the namespace

  const overrides = new Overrides({ rootKey, baseUrl: serverURL });
  const set = await overrides.setOverride({ namespace, identifier: "vip-*", limit: 1000, duration: 60 * 60 * 1000 });
  const overrideId = set.data.overrideId;
  assert.match(overrideId, /^rlor_/);

  const res = await limiter.limit("vip-anna");
  assert.equal(res.success, true);
  assert.equal(res.limit, 1000);
  assert.equal(res.remaining, 999);
  assert.equal(res.overrideId, overrideId);

  const got = await overrides.getOverride({ namespace, identifier: "vip-anna" });
  assert.equal(got.data.overrideId, overrideId);
  assert.equal(got.data.identifier, "vip-*");

  await overrides.deleteOverride({ namespace, identifier: "vip-*" });
  const plain = await limiter.limit("vip-anna");
  assert.equal(plain.limit, 100);
  assert.equal(plain.overrideId, undefined);
});
