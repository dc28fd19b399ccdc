"""keys.rerollKey and revoking a customer's keys, through unkey-py.

§3.8: the answer is the new key's id and plaintext. Where Keyway differs from
Unkey (README): the new key keeps the whole prefix and byte length, and the old
key's expiry is exact and seen by the very next verification.
"""

import time

import pytest
from unkey.py import errors

from conftest import now_ms


def create_key(unkey, api_id, **kwargs):
    data = unkey.keys.create_key(api_id=api_id, **kwargs).data
    return data.key_id, data.key


def test_reroll_keeps_prefix_and_configuration_and_both_keys_work(unkey, api_id, run_id):
    old_id, old_key = create_key(
        unkey,
        api_id,
        prefix="sk_live",
        name="rotating",
        meta={"plan": "pro"},
        external_id=f"cust-{run_id}",
        permissions=["docs.read"],
        credits={"remaining": 10},
    )
    res = unkey.keys.reroll_key(key_id=old_id, expiration=60_000)
    assert res.meta.request_id.startswith("req_")
    new_id, new_key = res.data.key_id, res.data.key
    assert new_id.startswith("key_") and new_id != old_id
    assert new_key.startswith("sk_live_"), "the whole prefix"

    got = unkey.keys.get_key(key_id=new_id).data
    assert got.name == "rotating"
    assert got.meta == {"plan": "pro"}
    assert got.identity.external_id == f"cust-{run_id}"
    assert got.permissions == ["docs.read"]
    assert got.credits.remaining == 10
    assert got.start.startswith("sk_live_")

    old = unkey.keys.get_key(key_id=old_id).data
    assert now_ms() < old.expires <= now_ms() + 60_000

    for key in (old_key, new_key):
        data = unkey.keys.verify_key(key=key).data
        assert data.code == "VALID", data
    assert unkey.keys.verify_key(key=new_key, permissions="docs.read").data.code == "VALID"


def test_reroll_with_zero_expiration_retires_the_old_key_at_once(unkey, api_id):
    old_id, old_key = create_key(unkey, api_id, prefix="pk")
    assert unkey.keys.verify_key(key=old_key).data.code == "VALID"
    new_key = unkey.keys.reroll_key(key_id=old_id, expiration=0).data.key
    expires = unkey.keys.get_key(key_id=old_id).data.expires
    # Wait on the clock, not on the server: the expiry is the reroll's own millisecond.
    while now_ms() <= expires:
        time.sleep(0.001)
    assert unkey.keys.verify_key(key=old_key).data.code == "EXPIRED"
    assert unkey.keys.verify_key(key=new_key).data.code == "VALID"


def test_reroll_unknown_key_is_404(unkey):
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.reroll_key(key_id="key_doesnotexist", expiration=0)
    assert exc.value.data.error.type == "https://unkey.com/docs/errors/unkey/data/key_not_found"


def test_revoke_a_customer_by_listing_and_deleting_their_keys(unkey, run_id):
    customer = f"revoked-{run_id}"
    apis = [unkey.apis.create_api(name=f"sdk-py-revoke-{run_id}-{i}").data.api_id for i in range(2)]
    keys = [create_key(unkey, api, external_id=customer)[1] for api in apis + apis]
    _, bystander = create_key(unkey, apis[0], external_id=f"other-{run_id}")

    deleted = 0
    for api in apis:
        page = unkey.apis.list_keys(api_id=api, external_id=customer)
        for key in page.result.data:
            assert key.identity.external_id == customer
            unkey.keys.delete_key(key_id=key.key_id)
            deleted += 1
    assert deleted == len(keys)
    for key in keys:
        assert unkey.keys.verify_key(key=key).data.code == "NOT_FOUND"
    assert unkey.keys.verify_key(key=bystander).data.code == "VALID"
