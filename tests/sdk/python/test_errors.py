"""The typed errors unkey-py raises for Keyway's 400/401/403/404 answers (§1.2-§1.5, §10.4).

unkey-py only maps an error to its typed class when the status and the
`application/json` content type match, and parses the body with the error
models; so reaching the typed class proves status, content type and shape.
"""

import pytest
from unkey.py import Unkey, errors

ERRORS = "https://unkey.com/docs/errors"


@pytest.fixture(scope="module")
def read_only_root_key(unkey, run_id):
    """A root key that may read APIs and nothing else, minted through the SDK."""
    res = unkey.root_keys.create_key(permissions=["api.*.read_api"], name=f"sdk-py-readonly-{run_id}")
    yield res.data.key
    unkey.root_keys.delete_key(key_id=res.data.key_id)


def test_400_bad_request(unkey):
    with pytest.raises(errors.BadRequestErrorResponse) as exc:
        unkey.apis.create_api(name="ab")  # §4.1: name is 3..256 characters
    err = exc.value
    assert err.status_code == 400
    assert err.headers["content-type"].startswith("application/json")
    assert err.data.meta.request_id.startswith("req_")
    assert err.data.error.status == 400
    assert err.data.error.title == "Bad Request"
    assert err.data.error.type == f"{ERRORS}/unkey/application/invalid_input"
    assert err.data.error.detail
    # §1.4: validation failures list what was wrong.
    assert len(err.data.error.errors) >= 1
    assert all(e.message and e.location for e in err.data.error.errors)


def test_401_unknown_root_key(server_url):
    with Unkey(root_key="unkey_3ZthisRootKeyDoesNotExist", server_url=server_url) as stranger:
        with pytest.raises(errors.UnauthorizedErrorResponse) as exc:
            stranger.apis.create_api(name="never created")
    err = exc.value
    assert err.status_code == 401
    assert err.data.error.status == 401
    assert err.data.error.type == f"{ERRORS}/unkey/authentication/key_not_found"
    assert err.data.meta.request_id.startswith("req_")


def test_403_root_key_without_permission(server_url, read_only_root_key):
    with Unkey(root_key=read_only_root_key, server_url=server_url) as limited:
        with pytest.raises(errors.ForbiddenErrorResponse) as exc:
            limited.apis.create_api(name="not allowed to")
    err = exc.value
    assert err.status_code == 403
    assert err.data.error.status == 403
    assert err.data.error.type == f"{ERRORS}/unkey/authorization/insufficient_permissions"
    assert "api.*.create_api" in err.data.error.detail


def test_read_only_root_key_can_read_but_is_masked_elsewhere(unkey, api_id, server_url, read_only_root_key):
    key = unkey.keys.create_key(api_id=api_id, name="seen by a read-only root key").data.key
    with Unkey(root_key=read_only_root_key, server_url=server_url) as limited:
        # It holds api.*.read_api, so getApi works.
        assert limited.apis.get_api(api_id=api_id).data.id == api_id
        # §6.1: a root key without verify permission gets 200 NOT_FOUND, never 403.
        data = limited.keys.verify_key(key=key).data
        assert data.valid is False
        assert data.code == "NOT_FOUND"
        assert data.key_id is None
        # §3.1: createKey without permission is masked as 404 api_not_found.
        with pytest.raises(errors.NotFoundErrorResponse) as exc:
            limited.keys.create_key(api_id=api_id)
        assert exc.value.data.error.type == f"{ERRORS}/unkey/data/api_not_found"
        # §4.3: listKeys without read_key is masked as 404 too.
        with pytest.raises(errors.NotFoundErrorResponse):
            limited.apis.list_keys(api_id=api_id)


def test_404_unknown_key(unkey):
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.keys.get_key(key_id="key_doesnotexist")
    err = exc.value
    assert err.status_code == 404
    assert err.data.error.status == 404
    assert err.data.error.title == "Not Found"
    assert err.data.error.type == f"{ERRORS}/unkey/data/key_not_found"
    assert err.data.meta.request_id.startswith("req_")


def test_404_unknown_api(unkey):
    with pytest.raises(errors.NotFoundErrorResponse) as exc:
        unkey.apis.get_api(api_id="api_doesnotexist")
    assert exc.value.status_code == 404
    assert exc.value.data.error.type == f"{ERRORS}/unkey/data/api_not_found"
