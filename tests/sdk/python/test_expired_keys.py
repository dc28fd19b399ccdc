"""Expired keys are deleted some time after they expired (Keyway's README, "Expired keys").

tests/sdk/run starts the server with the default retention (30 days) and a
sweep every second, so a key that expired 31 days ago disappears within a
second or two while one that expired 29 days ago stays, still EXPIRED.
"""

import time

import pytest
from unkey.py import errors

from conftest import now_ms

DAY_MS = 86_400_000


def wait_until_not_found(unkey, key, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if unkey.keys.verify_key(key=key).data.code == "NOT_FOUND":
            return
        time.sleep(0.2)
    pytest.fail(f"the key was not swept within {seconds} s")


def test_keys_past_the_retention_are_deleted(unkey, api_id):
    old = unkey.keys.create_key(api_id=api_id, expires=now_ms() - 31 * DAY_MS).data
    recent = unkey.keys.create_key(api_id=api_id, expires=now_ms() - 29 * DAY_MS).data

    wait_until_not_found(unkey, old.key)
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.get_key(key_id=old.key_id)
    assert exc.value.data.error.type == "https://unkey.com/docs/errors/unkey/data/key_not_found"

    # Within the retention: still there, still telling its user why it fails.
    assert unkey.keys.verify_key(key=recent.key).data.code == "EXPIRED"
    listed = [k.key_id for k in unkey.apis.list_keys(api_id=api_id).result.data]
    assert recent.key_id in listed
    assert old.key_id not in listed
