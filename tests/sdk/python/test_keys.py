"""Key lifecycle through unkey-py: create, verify, update, credits, delete.

Every assertion is on the SDK's parsed result objects, and every expected value
comes from the wire contract (shared/reference/unkey-v2-api.md, sections in
comments), so a failure here means a user of unkey-py would see a difference.
"""

import pytest
from unkey.py import errors

from conftest import now_ms

HOUR_MS = 60 * 60 * 1000


def create_key(unkey, api_id, **kwargs):
    res = unkey.keys.create_key(api_id=api_id, **kwargs)
    assert res.meta.request_id.startswith("req_")
    assert res.data.key_id.startswith("key_")
    assert res.data.key
    return res.data.key_id, res.data.key


def verify(unkey, key, **kwargs):
    res = unkey.keys.verify_key(key=key, **kwargs)
    assert res.meta.request_id.startswith("req_")
    return res.data


def test_create_key_and_verify_valid(unkey, api_id):
    meta = {"plan": "pro", "seats": 3, "flags": {"beta": True}}
    key_id, key = create_key(
        unkey,
        api_id,
        name="acme prod",
        meta=meta,
        prefix="sdkpy",
        credits={"remaining": 10, "refill": {"interval": "daily", "amount": 100}},
    )
    # §7.1: prefix + "_" + base58 random part.
    assert key.startswith("sdkpy_")
    assert len(key) > len("sdkpy_") + 16

    data = verify(unkey, key)
    assert data.valid is True
    assert data.code == "VALID"
    assert data.key_id == key_id
    assert data.name == "acme prod"
    assert data.meta == meta
    assert data.enabled is True
    # §6.4: cost defaults to 1; `credits` is the remaining balance after the spend.
    assert data.credits == 9
    assert data.expires is None

    # An explicit cost is spent exactly.
    data = verify(unkey, key, credits={"cost": 3})
    assert data.valid is True
    assert data.credits == 6

    # §3.3 / §2 KeyResponseData through getKey.
    got = unkey.keys.get_key(key_id=key_id).data
    assert got.key_id == key_id
    assert got.name == "acme prod"
    assert got.meta == meta
    assert got.enabled is True
    assert got.created_at > 0
    # §7.3: start = prefix + "_" + the first 4 characters of the random part.
    assert got.start == key[: len("sdkpy_") + 4]
    assert got.credits.remaining == 6
    assert got.credits.refill.interval == "daily"
    assert got.credits.refill.amount == 100
    assert got.credits.refill.refill_day is None


def test_verify_unknown_key_is_not_found(unkey):
    data = verify(unkey, "sdkpy_thiskeydoesnotexist")
    assert data.valid is False
    assert data.code == "NOT_FOUND"
    # §6.3: a hash miss carries only valid and code.
    assert data.key_id is None
    assert data.enabled is None


def test_verify_expired(unkey, api_id):
    expires = now_ms() - 60_000
    key_id, key = create_key(unkey, api_id, name="already expired", expires=expires)
    data = verify(unkey, key)
    assert data.valid is False
    assert data.code == "EXPIRED"
    # §6.3: invalid outcomes of a found key still carry its fields.
    assert data.key_id == key_id
    assert data.expires == expires


def test_verify_disabled(unkey, api_id):
    key_id, key = create_key(unkey, api_id, name="born disabled", enabled=False)
    data = verify(unkey, key)
    assert data.valid is False
    assert data.code == "DISABLED"
    assert data.key_id == key_id
    assert data.enabled is False


def test_verify_usage_exceeded(unkey, api_id):
    key_id, key = create_key(unkey, api_id, name="one credit", credits={"remaining": 1})

    first = verify(unkey, key)
    assert first.valid is True
    assert first.code == "VALID"
    assert first.credits == 0

    second = verify(unkey, key)
    assert second.valid is False
    assert second.code == "USAGE_EXCEEDED"
    assert second.key_id == key_id
    assert second.credits == 0

    # §6.4: cost 0 always passes, even with nothing left, and spends nothing.
    free = verify(unkey, key, credits={"cost": 0})
    assert free.valid is True
    assert free.code == "VALID"
    assert free.credits == 0


def test_update_key_and_get_key_reflects_it(unkey, api_id):
    key_id, key = create_key(unkey, api_id, name="before", meta={"plan": "free"})

    res = unkey.keys.update_key(key_id=key_id, name="after", meta={"plan": "enterprise", "seats": 50})
    assert res.meta.request_id.startswith("req_")
    got = unkey.keys.get_key(key_id=key_id).data
    assert got.name == "after"
    assert got.meta == {"plan": "enterprise", "seats": 50}
    assert got.updated_at is not None and got.updated_at >= got.created_at

    # Disabling is seen by the very next verification (cache invalidated before the answer).
    unkey.keys.update_key(key_id=key_id, enabled=False)
    assert unkey.keys.get_key(key_id=key_id).data.enabled is False
    data = verify(unkey, key)
    assert data.code == "DISABLED"
    assert data.valid is False

    unkey.keys.update_key(key_id=key_id, enabled=True)
    assert unkey.keys.get_key(key_id=key_id).data.enabled is True
    data = verify(unkey, key)
    assert data.code == "VALID"
    assert data.name == "after"
    assert data.meta == {"plan": "enterprise", "seats": 50}

    # expires: a value sets it ...
    future = now_ms() + HOUR_MS
    unkey.keys.update_key(key_id=key_id, expires=future)
    assert unkey.keys.get_key(key_id=key_id).data.expires == future
    data = verify(unkey, key)
    assert data.code == "VALID"
    assert data.expires == future

    # ... null clears it (§3.5 three-state fields) ...
    unkey.keys.update_key(key_id=key_id, expires=None)
    got = unkey.keys.get_key(key_id=key_id).data
    assert got.expires is None
    assert got.name == "after"  # omitted fields are unchanged
    assert verify(unkey, key).expires is None

    # ... and a past value expires the key at once.
    unkey.keys.update_key(key_id=key_id, expires=now_ms() - 1_000)
    assert verify(unkey, key).code == "EXPIRED"

    # null clears name and meta; cleared optional fields are omitted (§1.3).
    unkey.keys.update_key(key_id=key_id, name=None, meta=None, expires=None)
    got = unkey.keys.get_key(key_id=key_id).data
    assert got.name is None
    assert got.meta is None
    assert got.expires is None
    assert verify(unkey, key).code == "VALID"


def test_update_credits_set_increment_decrement(unkey, api_id):
    key_id, key = create_key(unkey, api_id, name="credits", credits={"remaining": 10})

    res = unkey.keys.update_credits(key_id=key_id, operation="set", value=50)
    assert res.data.remaining == 50
    res = unkey.keys.update_credits(key_id=key_id, operation="increment", value=5)
    assert res.data.remaining == 55
    res = unkey.keys.update_credits(key_id=key_id, operation="decrement", value=10)
    assert res.data.remaining == 45

    # The very next verification sees the new balance (DESIGN rule 2: no stale counter).
    data = verify(unkey, key)
    assert data.code == "VALID"
    assert data.credits == 44
    assert unkey.keys.get_key(key_id=key_id).data.credits.remaining == 44

    # §3.6: decrement is floored at 0.
    res = unkey.keys.update_credits(key_id=key_id, operation="decrement", value=1_000)
    assert res.data.remaining == 0
    data = verify(unkey, key)
    assert data.code == "USAGE_EXCEEDED"
    assert data.credits == 0

    res = unkey.keys.update_credits(key_id=key_id, operation="increment", value=2)
    assert res.data.remaining == 2
    data = verify(unkey, key)
    assert data.code == "VALID"
    assert data.credits == 1

    # set null = unlimited: remaining is serialised as null, verify carries no credits.
    res = unkey.keys.update_credits(key_id=key_id, operation="set", value=None)
    assert res.data.remaining is None
    data = verify(unkey, key)
    assert data.code == "VALID"
    assert data.credits is None
    assert unkey.keys.get_key(key_id=key_id).data.credits is None

    # §3.6: increment on an unlimited key is a 400.
    with pytest.raises(errors.BadRequestErrorResponse) as exc:
        unkey.keys.update_credits(key_id=key_id, operation="increment", value=1)
    assert exc.value.status_code == 400


def test_whoami(unkey, api_id):
    key_id, key = create_key(unkey, api_id, name="who", meta={"team": "core"}, credits={"remaining": 7})
    data = unkey.keys.whoami(key=key).data
    assert data.key_id == key_id
    assert data.name == "who"
    assert data.meta == {"team": "core"}
    assert data.enabled is True
    assert data.credits.remaining == 7
    assert data.plaintext is None

    # §3.4: an unknown key is a 404.
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.whoami(key="sdkpy_notakeyatall")
    assert exc.value.status_code == 404


def test_delete_key_then_verify_not_found(unkey, api_id):
    key_id, key = create_key(unkey, api_id, name="doomed")
    assert verify(unkey, key).code == "VALID"

    res = unkey.keys.delete_key(key_id=key_id)
    assert res.meta.request_id.startswith("req_")

    data = verify(unkey, key)
    assert data.valid is False
    assert data.code == "NOT_FOUND"
    assert data.key_id is None

    # §3: a deleted key is a 404 for every key endpoint.
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.get_key(key_id=key_id)
    assert exc.value.status_code == 404
    assert exc.value.data.error.type == "https://unkey.com/docs/errors/unkey/data/key_not_found"
    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.keys.delete_key(key_id=key_id)


def test_permanent_delete(unkey, api_id):
    key_id, key = create_key(unkey, api_id, name="gone for good")
    unkey.keys.delete_key(key_id=key_id, permanent=True)
    assert verify(unkey, key).code == "NOT_FOUND"
    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.keys.get_key(key_id=key_id)
