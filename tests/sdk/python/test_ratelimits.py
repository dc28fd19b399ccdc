"""Rate limits through unkey-py: limits on keys and identities in keys.verifyKey (§6.6, §6.7)
and the standalone ratelimit API with its overrides (§5.3, §9).

Windows are fixed and aligned to the Unix epoch (§9.1), so a test counting
requests inside one window uses hour-long windows: the chance that a run
straddles a window boundary is then negligible. `reset` is the end of the
current window in Unix ms.
"""

import json

import pytest
from unkey.py import errors

from conftest import now_ms

ERRORS = "https://unkey.com/docs/errors"
MINUTE_MS = 60 * 1000
HOUR_MS = 60 * MINUTE_MS


def assert_window_end(reset, duration, before, after):
    """§9.1: reset = (floor(now / duration) + 1) * duration for some `now` in [before, after]."""
    assert reset % duration == 0, reset
    assert (before // duration + 1) * duration <= reset <= (after // duration + 1) * duration, (before, reset, after)


def verify(unkey, key, **kwargs):
    res = unkey.keys.verify_key(key=key, **kwargs)
    assert res.meta.request_id.startswith("req_")
    return res.data


# --- rate limits in verifyKey -------------------------------------------------------


def test_auto_applied_key_limit_until_rate_limited(unkey, api_id):
    created = unkey.keys.create_key(
        api_id=api_id,
        name="three an hour",
        credits={"remaining": 10},
        ratelimits=[{"name": "requests", "limit": 3, "duration": HOUR_MS, "auto_apply": True}],
    ).data
    key_id, key = created.key_id, created.key

    # getKey shows the config (§3.3, RatelimitResponse).
    [config] = unkey.keys.get_key(key_id=key_id).data.ratelimits
    assert config.id.startswith("rl_")
    assert config.name == "requests"
    assert config.limit == 3
    assert config.duration == HOUR_MS
    assert config.auto_apply is True

    resets = set()
    for expected_remaining in (2, 1, 0):
        before = now_ms()
        data = verify(unkey, key)
        after = now_ms()
        assert data.valid is True
        assert data.code == "VALID"
        [rl] = data.ratelimits
        assert rl.id == config.id
        assert rl.name == "requests"
        assert rl.limit == 3
        assert rl.duration == HOUR_MS
        assert rl.remaining == expected_remaining
        assert rl.exceeded is False
        assert rl.auto_apply is True
        assert_window_end(rl.reset, HOUR_MS, before, after)
        resets.add(rl.reset)

    before = now_ms()
    data = verify(unkey, key)
    after = now_ms()
    assert data.valid is False
    assert data.code == "RATE_LIMITED"
    assert data.key_id == key_id
    [rl] = data.ratelimits
    assert rl.name == "requests"
    assert rl.limit == 3
    assert rl.remaining == 0
    assert rl.exceeded is True
    assert_window_end(rl.reset, HOUR_MS, before, after)
    resets.add(rl.reset)
    assert len(resets) == 1  # one window

    # §6.2: a RATE_LIMITED verification spends no credits (3 spent by the 3 valid ones).
    assert unkey.keys.get_key(key_id=key_id).data.credits.remaining == 7


def test_identity_limit_is_shared_by_its_keys(unkey, api_id, run_id):
    external_id = f"py-{run_id}-shared"
    identity_id = unkey.identities.create_identity(
        external_id=external_id,
        meta={"team": "a"},
        ratelimits=[{"name": "shared", "limit": 3, "duration": HOUR_MS, "auto_apply": True}],
    ).data.identity_id
    [identity_rl] = unkey.identities.get_identity(identity=identity_id).data.ratelimits

    key_a = unkey.keys.create_key(api_id=api_id, name="a", external_id=external_id).data
    key_b = unkey.keys.create_key(api_id=api_id, name="b", external_id=external_id).data

    # getKey shows the linked identity.
    got = unkey.keys.get_key(key_id=key_a.key_id).data
    assert got.identity.id == identity_id
    assert got.identity.external_id == external_id

    # §6.7: one bucket, keyed by the identity, whichever key is used.
    for key, expected_remaining in ((key_a.key, 2), (key_b.key, 1), (key_a.key, 0)):
        data = verify(unkey, key)
        assert data.valid is True
        assert data.identity.id == identity_id
        assert data.identity.external_id == external_id
        assert data.identity.meta == {"team": "a"}
        [rl] = data.ratelimits
        assert rl.id == identity_rl.id
        assert rl.name == "shared"
        assert rl.limit == 3
        assert rl.remaining == expected_remaining
        assert rl.exceeded is False
        assert rl.auto_apply is True

    for key in (key_b.key, key_a.key):
        data = verify(unkey, key)
        assert data.valid is False
        assert data.code == "RATE_LIMITED"
        [rl] = data.ratelimits
        assert rl.name == "shared"
        assert rl.exceeded is True
        assert rl.remaining == 0

    # §6.6.1 / §6.7: a key-level limit with the same name wins for that key, with its own bucket.
    key_c = unkey.keys.create_key(
        api_id=api_id,
        name="c",
        external_id=external_id,
        ratelimits=[{"name": "shared", "limit": 5, "duration": HOUR_MS, "auto_apply": True}],
    ).data
    data = verify(unkey, key_c.key)
    assert data.valid is True
    [rl] = data.ratelimits
    assert rl.name == "shared"
    assert rl.limit == 5
    assert rl.remaining == 4
    assert rl.id != identity_rl.id
    # ... and the identity's bucket is still exhausted for the others.
    assert verify(unkey, key_b.key).code == "RATE_LIMITED"

    # §6.6.3: an unknown requested name on a key with an identity is a 412 naming both.
    with pytest.raises(errors.UnkeyError) as exc:
        verify(unkey, key_a.key, ratelimits=[{"name": "nothing"}])
    err = exc.value
    assert err.status_code == 412
    body = json.loads(err.body)
    assert body["error"]["type"] == f"{ERRORS}/unkey/application/precondition_failed"
    assert body["error"]["detail"] == (
        f"ratelimit 'nothing' was requested but does not exist for key '{key_a.key_id}' "
        f"nor identity: '{identity_id}' external ID: '{external_id}'"
    )


def test_unknown_requested_ratelimit_is_412(unkey, api_id):
    created = unkey.keys.create_key(api_id=api_id, name="no limits").data
    # unkey-py 3.2.2 has no typed class for a 412 from verifyKey, so it raises its generic
    # APIError (an UnkeyError) carrying the status and the body.
    with pytest.raises(errors.APIError) as exc:
        verify(unkey, created.key, ratelimits=[{"name": "nothing"}])
    err = exc.value
    assert err.status_code == 412
    assert err.headers["content-type"].startswith("application/json")
    body = json.loads(err.body)
    assert body["meta"]["requestId"].startswith("req_")
    assert body["error"]["status"] == 412
    assert body["error"]["title"] == "Precondition Failed"
    assert body["error"]["type"] == f"{ERRORS}/unkey/application/precondition_failed"
    assert body["error"]["detail"] == (
        f"ratelimit 'nothing' was requested but does not exist for key '{created.key_id}' "
        "and there is no identity connected."
    )


def test_requested_and_inline_limits(unkey, api_id):
    created = unkey.keys.create_key(
        api_id=api_id,
        name="on demand",
        ratelimits=[{"name": "expensive", "limit": 5, "duration": HOUR_MS}],  # autoApply false
    ).data
    key = created.key

    # Not auto-applied: a plain verification checks nothing.
    data = verify(unkey, key)
    assert data.valid is True
    assert data.ratelimits is None

    # Requested by name, with a cost (§6.6.3).
    data = verify(unkey, key, ratelimits=[{"name": "expensive", "cost": 4}])
    assert data.valid is True
    [rl] = data.ratelimits
    assert rl.name == "expensive"
    assert rl.limit == 5
    assert rl.remaining == 1
    assert rl.auto_apply is False
    assert rl.exceeded is False
    data = verify(unkey, key, ratelimits=[{"name": "expensive", "cost": 2}])
    assert data.code == "RATE_LIMITED"
    assert data.ratelimits[0].exceeded is True

    # Inline: limit and duration given, identifier = the key id, id "" (§6.6.3).
    for expected_remaining in (1, 0):
        before = now_ms()
        data = verify(unkey, key, ratelimits=[{"name": "inline", "limit": 2, "duration": HOUR_MS}])
        after = now_ms()
        assert data.valid is True
        [rl] = data.ratelimits
        assert rl.id == ""
        assert rl.name == "inline"
        assert rl.limit == 2
        assert rl.duration == HOUR_MS
        assert rl.remaining == expected_remaining
        assert rl.exceeded is False
        assert rl.auto_apply is False
        assert_window_end(rl.reset, HOUR_MS, before, after)
    data = verify(unkey, key, ratelimits=[{"name": "inline", "limit": 2, "duration": HOUR_MS}])
    assert data.valid is False
    assert data.code == "RATE_LIMITED"
    [rl] = data.ratelimits
    assert rl.exceeded is True
    assert rl.remaining == 0


def test_several_limits_in_verify_count_all_or_nothing(unkey, api_id):
    created = unkey.keys.create_key(
        api_id=api_id,
        name="two limits",
        ratelimits=[
            {"name": "small", "limit": 2, "duration": HOUR_MS, "auto_apply": True},
            {"name": "large", "limit": 5, "duration": HOUR_MS, "auto_apply": True},
        ],
    ).data
    for small, large in ((1, 4), (0, 3)):
        data = verify(unkey, created.key)
        assert data.valid is True
        limits = {rl.name: rl for rl in data.ratelimits}
        assert limits["small"].remaining == small
        assert limits["large"].remaining == large

    # §6.6.5 / §9.4: "small" is exceeded, so "large" is not counted either ...
    large_remaining = []
    for _ in range(2):
        data = verify(unkey, created.key)
        assert data.valid is False
        assert data.code == "RATE_LIMITED"
        limits = {rl.name: rl for rl in data.ratelimits}
        assert limits["small"].exceeded is True
        assert limits["small"].remaining == 0
        assert limits["large"].exceeded is False
        large_remaining.append(limits["large"].remaining)
    assert large_remaining[0] == large_remaining[1], "a failed batch consumed the limit that passed"
    # ... and a check that passed on its own reports `remaining` as if it had not been consumed
    # (the cost is added back): still 2 of 5 used, so 3.
    assert large_remaining == [3, 3]


# --- the standalone ratelimit API ---------------------------------------------------------


def test_limit_creates_the_namespace_and_counts(unkey, run_id):
    namespace = f"py-{run_id}-limit"

    # §5.3: the namespace does not exist yet, so it has no overrides to list and cannot take one.
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.ratelimit.list_overrides(namespace=namespace)
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/ratelimit_namespace_not_found"
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.ratelimit.set_override(namespace=namespace, identifier="x", limit=1, duration=MINUTE_MS)
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/ratelimit_namespace_not_found"
    assert exc.value.data.error.detail == "This namespace does not exist."

    resets = set()
    for expected_remaining in (2, 1, 0):
        before = now_ms()
        res = unkey.ratelimit.limit(namespace=namespace, identifier="user_1", limit=3, duration=HOUR_MS)
        after = now_ms()
        assert res.meta.request_id.startswith("req_")
        assert res.data.success is True
        assert res.data.limit == 3
        assert res.data.remaining == expected_remaining
        assert res.data.override_id is None
        assert_window_end(res.data.reset, HOUR_MS, before, after)
        resets.add(res.data.reset)

    # Denied: still 200, success false (§5.3).
    res = unkey.ratelimit.limit(namespace=namespace, identifier="user_1", limit=3, duration=HOUR_MS)
    assert res.data.success is False
    assert res.data.limit == 3
    assert res.data.remaining == 0
    resets.add(res.data.reset)
    assert len(resets) == 1

    # §9.1: cost 0 at exactly the limit passes with remaining 0 and consumes nothing.
    res = unkey.ratelimit.limit(namespace=namespace, identifier="user_1", limit=3, duration=HOUR_MS, cost=0)
    assert res.data.success is True
    assert res.data.remaining == 0

    # Identifiers are independent; a cost is counted whole.
    res = unkey.ratelimit.limit(namespace=namespace, identifier="user_2", limit=3, duration=HOUR_MS, cost=2)
    assert res.data.success is True
    assert res.data.remaining == 1
    res = unkey.ratelimit.limit(namespace=namespace, identifier="user_2", limit=3, duration=HOUR_MS, cost=2)
    assert res.data.success is False

    # The namespace now exists: it lists (no) overrides.
    listed = unkey.ratelimit.list_overrides(namespace=namespace).result
    assert listed.data == []
    assert listed.pagination.has_more is False


def test_multi_limit_is_all_or_nothing(unkey, run_id):
    ns_a = f"py-{run_id}-multi-a"
    ns_b = f"py-{run_id}-multi-b"
    batch = [
        {"namespace": ns_a, "identifier": "loose", "limit": 5, "duration": HOUR_MS},
        {"namespace": ns_b, "identifier": "tight", "limit": 1, "duration": HOUR_MS},
    ]

    before = now_ms()
    res = unkey.ratelimit.multi_limit(request=batch)
    after = now_ms()
    assert res.meta.request_id.startswith("req_")
    assert res.data.passed is True
    loose, tight = res.data.limits  # request order
    assert (loose.namespace, loose.identifier, loose.limit, loose.remaining, loose.passed) == (ns_a, "loose", 5, 4, True)
    assert (tight.namespace, tight.identifier, tight.limit, tight.remaining, tight.passed) == (ns_b, "tight", 1, 0, True)
    assert loose.override_id is None
    assert_window_end(loose.reset, HOUR_MS, before, after)
    assert_window_end(tight.reset, HOUR_MS, before, after)

    for _ in range(2):
        res = unkey.ratelimit.multi_limit(request=batch)
        assert res.data.passed is False
        loose, tight = res.data.limits
        assert tight.passed is False
        assert tight.remaining == 0
        # It would have passed alone, and (§5.3, §9.4) reports `remaining` as if it had not been
        # consumed: the cost is added back, so 5 - 1 (the first batch) = 4.
        assert loose.passed is True
        assert loose.remaining == 4

    # ... and it was not: only the first batch counted (cost 0 reads without consuming).
    res = unkey.ratelimit.limit(namespace=ns_a, identifier="loose", limit=5, duration=HOUR_MS, cost=0)
    assert res.data.success is True
    assert res.data.remaining == 4


def test_overrides_and_their_precedence(unkey, run_id):
    namespace = f"py-{run_id}-overrides"
    # The namespace is created by its first limit call.
    assert unkey.ratelimit.limit(namespace=namespace, identifier="warmup", limit=100, duration=HOUR_MS).data.success

    def set_override(identifier, limit, duration):
        res = unkey.ratelimit.set_override(namespace=namespace, identifier=identifier, limit=limit, duration=duration)
        assert res.meta.request_id.startswith("req_")
        assert res.data.override_id.startswith("rlor_")
        return res.data.override_id

    exact = set_override("alice@acme.com", 10, HOUR_MS)
    domain = set_override("*@acme.com", 5, HOUR_MS)
    a_domain = set_override("a*@acme.com", 7, HOUR_MS)
    everyone = set_override("*", 2, MINUTE_MS)

    # README "Override precedence": exact first, then the wildcard with the longest literal part.
    def limit(identifier):
        before = now_ms()
        data = unkey.ratelimit.limit(namespace=namespace, identifier=identifier, limit=100, duration=HOUR_MS).data
        return data, before, now_ms()

    for identifier, override_id, expected_limit in (
        ("alice@acme.com", exact, 10),
        ("anna@acme.com", a_domain, 7),
        ("bob@acme.com", domain, 5),
        ("bob@other.com", everyone, 2),
    ):
        data, _, _ = limit(identifier)
        assert data.success is True
        assert data.override_id == override_id, identifier
        assert data.limit == expected_limit, identifier
        assert data.remaining == expected_limit - 1, identifier

    # §5.3 step 5: an override replaces the duration too; the window is the override's.
    data, before, after = limit("carol@other.com")
    assert data.override_id == everyone
    assert_window_end(data.reset, MINUTE_MS, before, after)

    # getOverride matches like a limit call (§5.3).
    for identifier, expected in (
        ("alice@acme.com", ("alice@acme.com", exact, 10, HOUR_MS)),
        ("anna@acme.com", ("a*@acme.com", a_domain, 7, HOUR_MS)),
        ("bob@acme.com", ("*@acme.com", domain, 5, HOUR_MS)),
        ("*@acme.com", ("*@acme.com", domain, 5, HOUR_MS)),
        ("bob@other.com", ("*", everyone, 2, MINUTE_MS)),
    ):
        res = unkey.ratelimit.get_override(namespace=namespace, identifier=identifier)
        assert res.meta.request_id.startswith("req_")
        got = res.data
        assert (got.identifier, got.override_id, got.limit, got.duration) == expected, identifier

    # setOverride is an upsert that keeps the override's id.
    assert set_override("*@acme.com", 4, HOUR_MS) == domain
    assert unkey.ratelimit.get_override(namespace=namespace, identifier="*@acme.com").data.limit == 4

    # listOverrides: every override, by id ascending, paginated.
    page = unkey.ratelimit.list_overrides(namespace=namespace, limit=3)
    listed = []
    while page is not None:
        assert page.result.meta.request_id.startswith("req_")
        listed.extend(page.result.data)
        if not page.result.pagination.has_more:
            assert page.result.pagination.cursor is None
        page = page.next()
    assert [o.override_id for o in listed] == sorted([exact, domain, a_domain, everyone])
    assert {o.override_id: (o.identifier, o.limit, o.duration) for o in listed} == {
        exact: ("alice@acme.com", 10, HOUR_MS),
        domain: ("*@acme.com", 4, HOUR_MS),
        a_domain: ("a*@acme.com", 7, HOUR_MS),
        everyone: ("*", 2, MINUTE_MS),
    }

    # deleteOverride takes the exact pattern, never a match.
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.ratelimit.delete_override(namespace=namespace, identifier="bob@acme.com")
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/ratelimit_override_not_found"
    assert exc.value.data.error.detail == "This override does not exist."
    res = unkey.ratelimit.delete_override(namespace=namespace, identifier="*@acme.com")
    assert res.meta.request_id.startswith("req_")
    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.ratelimit.delete_override(namespace=namespace, identifier="*@acme.com")

    # With *@acme.com gone, bob falls through to "*"; anna still has a*@acme.com.
    assert unkey.ratelimit.get_override(namespace=namespace, identifier="bob@acme.com").data.override_id == everyone
    data, _, _ = limit("bert@acme.com")
    assert (data.override_id, data.limit) == (everyone, 2)
    assert {o.identifier for o in unkey.ratelimit.list_overrides(namespace=namespace).result.data} == {
        "alice@acme.com",
        "a*@acme.com",
        "*",
    }

    # README: setOverride after deleteOverride makes it live again.
    revived = set_override("*@acme.com", 6, HOUR_MS)
    data, _, _ = limit("bill@acme.com")
    assert (data.override_id, data.limit, data.remaining) == (revived, 6, 5)
    assert unkey.ratelimit.get_override(namespace=namespace, identifier="bill@acme.com").data.override_id == revived


def test_override_with_limit_zero_always_denies(unkey, run_id):
    namespace = f"py-{run_id}-blocked"
    unkey.ratelimit.limit(namespace=namespace, identifier="someone", limit=10, duration=HOUR_MS)
    override_id = unkey.ratelimit.set_override(
        namespace=namespace, identifier="blocked-*", limit=0, duration=MINUTE_MS
    ).data.override_id

    # README: limit 0 always denies (Unkey answers 500), even a cost-0 check.
    for cost in (1, 0):
        data = unkey.ratelimit.limit(
            namespace=namespace, identifier="blocked-user", limit=10, duration=HOUR_MS, cost=cost
        ).data
        assert data.success is False
        assert data.limit == 0
        assert data.remaining == 0
        assert data.override_id == override_id

    # multiLimit too, and the whole batch fails.
    res = unkey.ratelimit.multi_limit(
        request=[
            {"namespace": namespace, "identifier": "someone", "limit": 10, "duration": HOUR_MS},
            {"namespace": namespace, "identifier": "blocked-user", "limit": 10, "duration": HOUR_MS},
        ]
    ).data
    assert res.passed is False
    assert res.limits[0].passed is True
    assert res.limits[1].passed is False
    assert res.limits[1].override_id == override_id

    # Others in the namespace are unaffected: "someone" has used 1 of 10.
    data = unkey.ratelimit.limit(namespace=namespace, identifier="someone", limit=10, duration=HOUR_MS).data
    assert data.success is True
    assert data.remaining == 8
    assert data.override_id is None

    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.ratelimit.get_override(namespace=namespace, identifier="someone")
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/ratelimit_override_not_found"
