"""Small wire details a client written for Unkey relies on (§3.1, §3.5, §5.1, §5.2, §10.4)."""

import json

import pytest
from unkey.py import Unkey, errors

ERRORS = "https://unkey.com/docs/errors"


def test_create_key_404_is_the_same_for_a_missing_api_and_a_denied_one(unkey, api_id, server_url, run_id):
    missing = "api_doesnotexist1"
    with pytest.raises(errors.NotFoundErrorResponse) as real:
        unkey.keys.create_key(api_id=missing)
    created = unkey.root_keys.create_key(permissions=["api.*.read_api"], name=f"sdk-py-masked-{run_id}")
    try:
        with Unkey(root_key=created.data.key, server_url=server_url) as limited:
            with pytest.raises(errors.NotFoundErrorResponse) as masked:
                limited.keys.create_key(api_id=api_id)
    finally:
        unkey.root_keys.delete_key(key_id=created.data.key_id)
    for err in (real.value, masked.value):
        assert err.data.error.type == f"{ERRORS}/unkey/data/api_not_found"
        assert err.data.error.detail == "The specified API was not found."
        assert err.data.error.title == "Not Found"


def test_identity_lookups_of_any_length_are_404(unkey):
    missing = "x" * 300
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.identities.get_identity(identity=missing)
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/identity_not_found"
    assert exc.value.data.error.detail == "This identity does not exist."
    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.identities.update_identity(identity=missing, meta={"a": 1})
    # unkey-py maps deleteIdentity's errors only as `application/problem+json` (see
    # test_identities.py): the 404 reaches the user as the generic APIError with the same body.
    with pytest.raises(errors.APIError) as exc:
        unkey.identities.delete_identity(identity=missing)
    assert exc.value.status_code == 404
    assert json.loads(exc.value.body)["error"]["type"] == f"{ERRORS}/unkey/data/identity_not_found"


def test_a_blank_search_is_no_filter(unkey, run_id):
    slug = f"sdk-py-blank-{run_id}.read"
    unkey.permissions.create_permission(name=slug, slug=slug)
    role = f"sdk-py-blank-{run_id}"
    unkey.permissions.create_role(name=role)
    unkey.identities.create_identity(external_id=f"sdk-py-blank-{run_id}")

    # Each list holds at least the one just created; a blank search must not hide it.
    assert unkey.permissions.list_permissions(search="   ").result.data
    assert unkey.permissions.list_roles(search="   ").result.data
    assert unkey.identities.list_identities(search="   ").result.data
    assert [p.slug for p in unkey.permissions.list_permissions(search=f"  {slug} ").result.data] == [slug]
    assert [r.name for r in unkey.permissions.list_roles(search=f" {role}  ").result.data] == [role]


def test_update_key_with_null_ratelimits_is_a_400_and_writes_nothing(unkey, api_id):
    # unkey-py 3.2.2 declares `ratelimits` nullable and sends an explicit None as `null`; the
    # reference's schema does not allow it (§3.5), so it is refused rather than read as "omitted".
    limit = {"name": "burst", "limit": 5, "duration": 60000, "auto_apply": True}
    key_id = unkey.keys.create_key(api_id=api_id, ratelimits=[limit]).data.key_id
    with pytest.raises(errors.BadRequestErrorResponse) as exc:
        unkey.keys.update_key(key_id=key_id, name="renamed", ratelimits=None)
    assert exc.value.data.error.type == f"{ERRORS}/unkey/application/invalid_input"
    assert [e.location for e in exc.value.data.error.errors] == ["/properties/ratelimits/type"]
    key = unkey.keys.get_key(key_id=key_id).data
    assert key.name is None
    assert [r.name for r in key.ratelimits] == ["burst"]
