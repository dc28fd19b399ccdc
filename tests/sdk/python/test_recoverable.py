"""Recoverable keys through unkey-py: createKey(recoverable), getKey(decrypt), listKeys(decrypt).

tests/sdk/run starts the server with a throwaway KEYWAY_MASTER_KEY. Opting an API in is Keyway's
extension of createApi (Unkey does it in its dashboard), so that one call is made without the SDK.
"""

import json

import httpx
import pytest
from unkey.py import errors


@pytest.fixture(scope="module")
def recoverable_api_id(server_url, root_key, run_id) -> str:
    res = httpx.post(
        f"{server_url}/v2/apis.createApi",
        headers={"Authorization": f"Bearer {root_key}"},
        json={"name": f"sdk-py-vault-{run_id}", "recoverable": True},
    )
    assert res.status_code == 200, res.text
    return res.json()["data"]["apiId"]


def test_get_key_decrypt_returns_the_plaintext(unkey, recoverable_api_id):
    created = unkey.keys.create_key(api_id=recoverable_api_id, prefix="vault", recoverable=True).data
    got = unkey.keys.get_key(key_id=created.key_id, decrypt=True).data
    assert got.key_id == created.key_id
    assert got.plaintext == created.key
    # §3.3: without decrypt, no plaintext.
    assert unkey.keys.get_key(key_id=created.key_id).data.plaintext is None
    assert unkey.keys.verify_key(key=created.key).data.valid is True


def test_list_keys_decrypt_returns_plaintexts_of_recoverable_keys_only(unkey, recoverable_api_id):
    recoverable = unkey.keys.create_key(api_id=recoverable_api_id, recoverable=True).data
    plain = unkey.keys.create_key(api_id=recoverable_api_id).data
    items = unkey.apis.list_keys(api_id=recoverable_api_id, decrypt=True).result.data
    by_id = {item.key_id: item.plaintext for item in items}
    assert by_id[recoverable.key_id] == recoverable.key
    assert by_id[plain.key_id] is None


def test_an_api_that_did_not_opt_in_is_a_precondition_failure(unkey, api_id):
    # §3.1: 412 `This API does not support key encryption.` unkey-py 3.2.2 has no typed class for
    # a 412 from createKey, so it raises its generic APIError carrying the status and the body.
    with pytest.raises(errors.APIError) as raised:
        unkey.keys.create_key(api_id=api_id, recoverable=True)
    assert raised.value.status_code == 412
    body = json.loads(raised.value.body)
    assert body["error"]["type"] == "https://unkey.com/docs/errors/unkey/application/precondition_failed"
    assert body["error"]["detail"] == "This API does not support key encryption."
