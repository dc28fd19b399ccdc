"""Identities through unkey-py: create, get, list, update, delete (§5.1).

Every expected value comes from the wire contract
(shared/reference/unkey-v2-api.md, sections in comments) or from a decision the
README documents under "Where Keyway differs from Unkey".
"""

import json

import pytest
from unkey.py import errors

ERRORS = "https://unkey.com/docs/errors"
MINUTE_MS = 60 * 1000
HOUR_MS = 60 * MINUTE_MS


def by_name(ratelimits):
    """Ratelimits come back in no documented order; index them by name (unique per identity)."""
    out = {rl.name: rl for rl in ratelimits or []}
    assert len(out) == len(ratelimits or []), "ratelimit names must be unique per identity"
    return out


def test_identity_lifecycle(unkey, run_id):
    external_id = f"py-{run_id}-lifecycle"
    meta = {"plan": "pro", "seats": 3, "flags": {"beta": True}}

    created = unkey.identities.create_identity(
        external_id=external_id,
        meta=meta,
        ratelimits=[
            {"name": "requests", "limit": 10, "duration": MINUTE_MS, "auto_apply": True},
            {"name": "tokens", "limit": 1000, "duration": HOUR_MS},
        ],
    )
    assert created.meta.request_id.startswith("req_")
    identity_id = created.data.identity_id
    assert identity_id.startswith("id_")

    # §5.1: `identity` is the internal id or the externalId; both give the same Identity.
    for ref in (identity_id, external_id):
        got = unkey.identities.get_identity(identity=ref)
        assert got.meta.request_id.startswith("req_")
        identity = got.data
        assert identity.id == identity_id
        assert identity.external_id == external_id
        assert identity.meta == meta
        limits = by_name(identity.ratelimits)
        assert set(limits) == {"requests", "tokens"}
        assert limits["requests"].id.startswith("rl_")
        assert limits["requests"].limit == 10
        assert limits["requests"].duration == MINUTE_MS
        assert limits["requests"].auto_apply is True
        assert limits["tokens"].id.startswith("rl_")
        assert limits["tokens"].limit == 1000
        assert limits["tokens"].duration == HOUR_MS
        # RatelimitRequest.autoApply defaults to false.
        assert limits["tokens"].auto_apply is False
    requests_rl_id = limits["requests"].id

    # updateIdentity: `meta` replaces the whole meta, `ratelimits` is a full replace by name:
    # an existing name is updated in place keeping its id, a new name is created, a missing name is deleted.
    new_meta = {"plan": "enterprise"}
    updated = unkey.identities.update_identity(
        identity=external_id,
        meta=new_meta,
        ratelimits=[
            {"name": "requests", "limit": 20, "duration": MINUTE_MS, "auto_apply": True},
            {"name": "burst", "limit": 5, "duration": 1000},
        ],
    )
    assert updated.meta.request_id.startswith("req_")
    data = updated.data
    assert data.id == identity_id
    assert data.external_id == external_id
    assert data.meta == new_meta
    limits = by_name(data.ratelimits)
    assert set(limits) == {"requests", "burst"}
    assert limits["requests"].id == requests_rl_id
    assert limits["requests"].limit == 20
    assert limits["requests"].auto_apply is True
    assert limits["burst"].id.startswith("rl_")
    assert limits["burst"].limit == 5
    assert limits["burst"].duration == 1000
    assert limits["burst"].auto_apply is False

    identity = unkey.identities.get_identity(identity=identity_id).data
    assert identity.meta == new_meta  # replaced, not merged
    assert set(by_name(identity.ratelimits)) == {"requests", "burst"}
    assert by_name(identity.ratelimits)["requests"].id == requests_rl_id

    # `ratelimits: []` deletes them all; without `meta` the stored meta is untouched, and
    # (README: updateIdentity answers with the identity as stored) the answer carries it.
    data = unkey.identities.update_identity(identity=identity_id, ratelimits=[]).data
    assert data.ratelimits is None  # omitted when empty
    assert data.meta == new_meta
    identity = unkey.identities.get_identity(identity=identity_id).data
    assert identity.ratelimits is None  # §5.1: omitted when empty
    assert identity.meta == new_meta

    # deleteIdentity: the response body is `{meta}` only, and the SDK parses it.
    deleted = unkey.identities.delete_identity(identity=external_id)
    assert deleted.meta.request_id.startswith("req_")

    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.identities.get_identity(identity=identity_id)
    err = exc.value
    assert err.status_code == 404
    assert err.data.error.type == f"{ERRORS}/unkey/data/identity_not_found"
    assert err.data.error.detail == "This identity does not exist."
    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.identities.get_identity(identity=external_id)
    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.identities.update_identity(identity=identity_id, meta={"x": 1})

    # A second delete is a 404 too. unkey-py 3.2.2 maps deleteIdentity's errors only when they are
    # `application/problem+json`, but it sends `Accept: application/json`, for which the reference
    # answers `application/json` (§1.3); so a user gets the SDK's generic APIError, with the 404 body.
    with pytest.raises(errors.APIError) as exc:
        unkey.identities.delete_identity(identity=identity_id)
    err = exc.value
    assert err.status_code == 404
    assert err.headers["content-type"].startswith("application/json")
    body = json.loads(err.body)
    assert body["error"]["type"] == f"{ERRORS}/unkey/data/identity_not_found"
    assert body["meta"]["requestId"].startswith("req_")

    # The externalId is free again once its identity is deleted.
    again = unkey.identities.create_identity(external_id=external_id).data.identity_id
    assert again.startswith("id_") and again != identity_id
    identity = unkey.identities.get_identity(identity=external_id).data
    assert identity.id == again
    assert identity.meta is None  # §5.1: stored meta defaults to {}, omitted when empty
    assert identity.ratelimits is None


def test_duplicate_external_id_is_conflict(unkey, run_id):
    external_id = f"py-{run_id}-dup"
    unkey.identities.create_identity(external_id=external_id)
    with pytest.raises(errors.ConflictErrorResponse) as exc:
        unkey.identities.create_identity(external_id=external_id, meta={"second": True})
    err = exc.value
    assert err.status_code == 409
    assert err.data.meta.request_id.startswith("req_")
    assert err.data.error.status == 409
    assert err.data.error.title == "Conflicting Resource"
    assert err.data.error.type == f"{ERRORS}/unkey/data/identity_already_exists"
    assert err.data.error.detail == f"Identity with externalId '{external_id}' already exists in this workspace."
    # The first identity is untouched.
    assert unkey.identities.get_identity(identity=external_id).data.meta is None


def test_list_identities_paginates_and_searches(unkey, run_id):
    prefix = f"py-{run_id}-list"
    created = {}
    for i in range(5):
        res = unkey.identities.create_identity(external_id=f"{prefix}-{i}", meta={"i": i})
        created[res.data.identity_id] = f"{prefix}-{i}"
    unkey.identities.create_identity(external_id=f"py-{run_id}-other")

    # §5.1: search is a case-insensitive substring match on id or externalId; pages are sorted by id.
    page = unkey.identities.list_identities(limit=2, search=prefix.upper())
    assert page.result.meta.request_id.startswith("req_")
    sizes = []
    seen = []
    while page is not None:
        sizes.append(len(page.result.data))
        for identity in page.result.data:
            seen.append(identity.id)
            assert identity.external_id == created[identity.id]
            assert identity.meta == {"i": int(identity.external_id.rsplit("-", 1)[1])}
        if page.result.pagination.has_more:
            assert page.result.pagination.cursor
        else:
            assert page.result.pagination.cursor is None  # §1.3: omitted when hasMore is false
        page = page.next()
    assert sizes == [2, 2, 1]
    assert seen == sorted(created)

    # Searching by an internal id finds that identity alone.
    some_id = sorted(created)[3]
    found = unkey.identities.list_identities(search=some_id).result
    assert [identity.id for identity in found.data] == [some_id]
    assert found.pagination.has_more is False

    # A search that matches nothing is an empty page, not an error.
    empty = unkey.identities.list_identities(search=f"{prefix}-nothing-matches").result
    assert empty.data == []
    assert empty.pagination.has_more is False

    # Deleted identities are not listed.
    unkey.identities.delete_identity(identity=f"{prefix}-0")
    remaining = unkey.identities.list_identities(search=prefix).result
    assert {identity.external_id for identity in remaining.data} == {f"{prefix}-{i}" for i in range(1, 5)}
