"""APIs (keyspaces) through unkey-py: getApi, listKeys pagination, deleteApi (§4)."""

import pytest
from unkey.py import errors


def test_list_keys_paginates_with_limit_one(unkey, run_id):
    api_id = unkey.apis.create_api(name=f"sdk-py-list-{run_id}").data.api_id
    created = [
        unkey.keys.create_key(api_id=api_id, name=f"list-{i}", meta={"i": i}).data.key_id for i in range(3)
    ]

    # First page: one key, more to come, and a cursor to get them (§1.7).
    page = unkey.apis.list_keys(api_id=api_id, limit=1)
    assert len(page.result.data) == 1
    assert page.result.pagination.has_more is True
    assert page.result.pagination.cursor

    # The next page, asked for by hand with the returned cursor.
    second = unkey.apis.list_keys(api_id=api_id, limit=1, cursor=page.result.pagination.cursor)
    assert len(second.result.data) == 1
    assert second.result.data[0].key_id != page.result.data[0].key_id

    # Walk every page with the SDK's own pager; the last page has no cursor.
    seen = []
    while page is not None:
        seen.extend(item.key_id for item in page.result.data)
        if not page.result.pagination.has_more:
            assert page.result.pagination.cursor is None
        page = page.next()
    assert seen == sorted(created)  # keyset-paginated by id, ascending

    # Items are KeyResponseData (§2).
    everything = unkey.apis.list_keys(api_id=api_id).result
    assert everything.pagination.has_more is False
    assert everything.pagination.cursor is None
    by_id = {item.key_id: item for item in everything.data}
    assert set(by_id) == set(created)
    for i, key_id in enumerate(created):
        assert by_id[key_id].name == f"list-{i}"
        assert by_id[key_id].meta == {"i": i}
        assert by_id[key_id].enabled is True
        assert by_id[key_id].created_at > 0


def test_list_keys_filters_by_external_id(unkey, run_id):
    api_id = unkey.apis.create_api(name=f"sdk-py-ext-{run_id}").data.api_id
    external_id = f"user_{run_id}"
    mine = {unkey.keys.create_key(api_id=api_id, external_id=external_id).data.key_id for _ in range(2)}
    unkey.keys.create_key(api_id=api_id, name="someone else")

    res = unkey.apis.list_keys(api_id=api_id, external_id=external_id).result
    assert {item.key_id for item in res.data} == mine
    for item in res.data:
        assert item.identity.external_id == external_id
        assert item.identity.id.startswith("id_")

    # §4.3: an unknown externalId is an empty page, not an error.
    res = unkey.apis.list_keys(api_id=api_id, external_id="nobody_by_that_name").result
    assert res.data == []
    assert res.pagination.has_more is False


def test_get_api_then_delete_api(unkey, run_id):
    name = f"sdk-py-delete-{run_id}"
    api_id = unkey.apis.create_api(name=name).data.api_id
    assert api_id.startswith("api_")

    got = unkey.apis.get_api(api_id=api_id)
    assert got.meta.request_id.startswith("req_")
    assert got.data.id == api_id
    assert got.data.name == name

    key = unkey.keys.create_key(api_id=api_id, name="lives in a doomed api").data.key
    assert unkey.keys.verify_key(key=key).data.code == "VALID"

    res = unkey.apis.delete_api(api_id=api_id)
    assert res.meta.request_id.startswith("req_")

    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.apis.get_api(api_id=api_id)
    assert exc.value.status_code == 404
    assert exc.value.data.error.type == "https://unkey.com/docs/errors/unkey/data/api_not_found"

    # §4.4: keys of a deleted API verify as NOT_FOUND.
    data = unkey.keys.verify_key(key=key).data
    assert data.valid is False
    assert data.code == "NOT_FOUND"

    # DESIGN rule 2: createKey into a deleted API is a 404.
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.create_key(api_id=api_id, name="too late")
    assert exc.value.status_code == 404

    with pytest.raises(errors.NotFoundErrorResponse):
        unkey.apis.delete_api(api_id=api_id)
