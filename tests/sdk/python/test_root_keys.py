"""rootKeys.* through unkey-py: create, list, update, reroll, delete.

Request and response shapes are unkey-py 3.2.2's `models/v2rootkeys*.py`; the
permission strings are Keyway's tuple vocabulary (§10.2).
"""

import pytest
from unkey.py import Unkey, errors

from conftest import now_ms

ERRORS = "https://unkey.com/docs/errors"


def list_all_root_keys(unkey):
    """Every root key, walked two per page with the SDK's pager."""
    found = []
    page = unkey.root_keys.list_keys(limit=2)
    while page is not None:
        assert len(page.result.data) <= 2
        found.extend(page.result.data)
        if not page.result.pagination.has_more:
            assert page.result.pagination.cursor is None
        page = page.next()
    ids = [k.key_id for k in found]
    assert len(ids) == len(set(ids)), "pagination returned a root key twice"
    return {k.key_id: k for k in found}


def test_root_keys_lifecycle(unkey, server_url, run_id):
    name = f"sdk-py-root-{run_id}"
    perms = ["api.*.create_api", "api.*.read_api"]

    created = unkey.root_keys.create_key(permissions=perms, name=name)
    assert created.meta.request_id.startswith("req_")
    key_id, secret = created.data.key_id, created.data.key
    assert key_id and secret

    # The new root key authenticates and holds exactly what it was given.
    with Unkey(root_key=secret, server_url=server_url) as child:
        api_id = child.apis.create_api(name=f"sdk-py-by-child-{run_id}").data.api_id
        assert child.apis.get_api(api_id=api_id).data.id == api_id
        with pytest.raises(errors.ForbiddenErrorResponse):
            child.apis.delete_api(api_id=api_id)

    listed = list_all_root_keys(unkey)
    assert key_id in listed
    row = listed[key_id]
    assert row.name == name
    assert row.enabled is True
    assert row.expires is None
    assert sorted(row.permissions) == sorted(perms)
    assert row.created_at > 0
    assert row.last_used_at >= 0
    assert row.start and secret.startswith(row.start)
    assert secret.endswith(row.end)

    # Rename and disable: a disabled root key is refused with 403 key_disabled (§1.2).
    unkey.root_keys.update_key(key_id=key_id, name=f"{name}-renamed", enabled=False)
    row = list_all_root_keys(unkey)[key_id]
    assert row.name == f"{name}-renamed"
    assert row.enabled is False
    with Unkey(root_key=secret, server_url=server_url) as child:
        with pytest.raises(errors.ForbiddenErrorResponse) as exc:
            child.apis.get_api(api_id=api_id)
        assert exc.value.data.error.type == f"{ERRORS}/unkey/authorization/key_disabled"

    # Enable again, narrow the permissions, clear the name.
    unkey.root_keys.update_key(key_id=key_id, enabled=True, permissions=["api.*.read_api"], name=None)
    row = list_all_root_keys(unkey)[key_id]
    assert row.enabled is True
    assert row.permissions == ["api.*.read_api"]
    assert row.name is None
    with Unkey(root_key=secret, server_url=server_url) as child:
        assert child.apis.get_api(api_id=api_id).data.id == api_id
        with pytest.raises(errors.ForbiddenErrorResponse):
            child.apis.create_api(name="no longer allowed")

    # Reroll, revoking the original at once (expiration 0).
    rolled = unkey.root_keys.reroll_key(key_id=key_id, expiration=0)
    new_id, new_secret = rolled.data.key_id, rolled.data.key
    assert new_id != key_id
    assert new_secret != secret
    with Unkey(root_key=new_secret, server_url=server_url) as child:
        assert child.apis.get_api(api_id=api_id).data.id == api_id
        with pytest.raises(errors.ForbiddenErrorResponse):
            child.apis.create_api(name="still not allowed")
    with Unkey(root_key=secret, server_url=server_url) as old:
        with pytest.raises((errors.UnauthorizedErrorResponse, errors.ForbiddenErrorResponse)):
            old.apis.get_api(api_id=api_id)

    listed = list_all_root_keys(unkey)
    assert listed[new_id].permissions == ["api.*.read_api"]
    assert listed[new_id].enabled is True
    if key_id in listed:  # an expired original may still be listed, with its expiry
        assert listed[key_id].expires is not None
        assert listed[key_id].expires <= now_ms()

    # Delete: the secret stops authenticating (401) and the key leaves the list.
    unkey.root_keys.delete_key(key_id=new_id)
    with Unkey(root_key=new_secret, server_url=server_url) as child:
        with pytest.raises(errors.UnauthorizedErrorResponse) as exc:
            child.apis.get_api(api_id=api_id)
        assert exc.value.status_code == 401
    assert new_id not in list_all_root_keys(unkey)

    unkey.apis.delete_api(api_id=api_id)


def test_root_key_cannot_grant_more_than_it_holds(unkey, server_url, run_id):
    limited = unkey.root_keys.create_key(permissions=["api.*.read_api"], name=f"sdk-py-small-{run_id}")
    with Unkey(root_key=limited.data.key, server_url=server_url) as child:
        with pytest.raises(errors.ForbiddenErrorResponse) as exc:
            child.root_keys.create_key(permissions=["api.*.create_api"])
        assert exc.value.status_code == 403
    unkey.root_keys.delete_key(key_id=limited.data.key_id)


def test_root_key_with_expiry(unkey, server_url, run_id):
    expires = now_ms() + 60 * 60 * 1000
    created = unkey.root_keys.create_key(permissions=["api.*.read_api"], name=f"sdk-py-exp-{run_id}", expires=expires)
    row = list_all_root_keys(unkey)[created.data.key_id]
    assert row.expires == expires
    unkey.root_keys.delete_key(key_id=created.data.key_id)
