"""Keyway's extensions seen through unkey-py: a checksummed key (from an API
created with `keyFormat: "checksummed"`) verifies through the SDK unchanged, a
mistyped one is NOT_FOUND, and an API's IP allowlist comes back as the
FORBIDDEN code. The extension endpoints themselves are not in the SDK, so they
are called over plain HTTP (httpx, which unkey-py already depends on)."""

import httpx


def _extension(server_url: str, root_key: str, op: str, body: dict) -> dict:
    res = httpx.post(
        f"{server_url}/v2/{op}",
        json=body,
        headers={"Authorization": f"Bearer {root_key}"},
    )
    assert res.status_code == 200, res.text
    return res.json()["data"]


def test_checksummed_keys_verify_through_the_sdk(unkey, server_url, root_key, run_id):
    created = _extension(
        server_url, root_key, "apis.createApi", {"name": f"sdk-py-checksummed-{run_id}", "keyFormat": "checksummed"}
    )
    key = unkey.keys.create_key(api_id=created["apiId"], prefix="sk_live").data.key
    assert key.startswith("sk_live_")
    assert key[-10:-6] == "_kw1"

    data = unkey.keys.verify_key(key=key).data
    assert data.valid is True
    assert data.code == "VALID"

    typo = ("y" if key[8] == "x" else "x").join([key[:8], key[9:]])
    data = unkey.keys.verify_key(key=typo).data
    assert data.valid is False
    assert data.code == "NOT_FOUND"


def test_an_ip_allowlist_answers_forbidden_as_a_code(unkey, server_url, root_key, run_id):
    api_id = unkey.apis.create_api(name=f"sdk-py-allowlist-{run_id}").data.api_id
    key = unkey.keys.create_key(api_id=api_id, credits={"remaining": 3}).data.key

    _extension(server_url, root_key, "apis.setIpAllowlist", {"apiId": api_id, "ipAllowlist": ["10.0.0.0/8"]})
    data = unkey.keys.verify_key(key=key).data
    assert data.valid is False
    assert data.code == "FORBIDDEN"
    assert data.credits == 3

    _extension(server_url, root_key, "apis.setIpAllowlist", {"apiId": api_id, "ipAllowlist": ["127.0.0.0/8", "::1"]})
    data = unkey.keys.verify_key(key=key).data
    assert data.valid is True
    assert data.credits == 2
