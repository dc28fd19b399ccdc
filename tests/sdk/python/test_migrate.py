"""keys.migrateKeys through unkey-py, then verification of the imported keys.

The migration itself is created through Keyway's own endpoint
(migrations.createMigration), which the SDK does not know: with Unkey it is a
support ticket. Everything else goes through the SDK.
"""

import base64
import hashlib

import httpx


def create_migration(server_url, root_key, algorithm):
    res = httpx.post(
        f"{server_url}/v2/migrations.createMigration",
        headers={"Authorization": f"Bearer {root_key}"},
        json={"algorithm": algorithm},
    )
    assert res.status_code == 200, res.text
    migration_id = res.json()["data"]["migrationId"]
    assert migration_id.startswith("mig_")
    return migration_id


def sha256_b64(text):
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_sha256_keys_verify_directly(unkey, api_id, server_url, root_key, run_id):
    migration = create_migration(server_url, root_key, "sha256")
    existing = f"sdkpy_existing_{run_id}"
    fresh = f"sdkpy_fresh_{run_id}"
    # Unkey answers `failed: null` when nothing failed, which this SDK refuses; Keyway answers [].
    res = unkey.keys.migrate_keys(migration_id=migration, api_id=api_id, keys=[{"hash": sha256_b64(existing)}])
    assert res.data.failed == []
    assert unkey.keys.verify_key(key=existing).data.valid is True

    # A re-run with the same key reports it in `failed` and imports the rest; hex is accepted.
    res = unkey.keys.migrate_keys(
        migration_id=migration,
        api_id=api_id,
        keys=[
            {"hash": sha256_b64(existing)},
            {
                "hash": sha256_hex(fresh).upper(),
                "name": "imported",
                "external_id": f"customer_{run_id}",
                "permissions": ["docs.read"],
                "roles": [f"importer_{run_id}"],
                "credits": {"remaining": 10},
            },
        ],
    )
    assert res.meta.request_id.startswith("req_")
    assert res.data.failed == [sha256_b64(existing)]
    assert len(res.data.migrated) == 1
    migrated = res.data.migrated[0]
    assert migrated.hash == sha256_hex(fresh).upper()
    assert migrated.key_id.startswith("key_")

    data = unkey.keys.verify_key(key=fresh, permissions="docs.read").data
    assert data.valid is True
    assert data.key_id == migrated.key_id
    assert data.name == "imported"
    assert data.identity.external_id == f"customer_{run_id}"
    assert data.roles == [f"importer_{run_id}"]
    assert data.credits == 9


def test_prefixed_api_key_is_rehashed_on_first_verification(unkey, api_id, server_url, root_key, run_id):
    migration = create_migration(server_url, root_key, "github.com/seamapi/prefixed-api-key")
    long_token = f"LongToken{run_id}"
    key = f"re_live_Short{run_id[:4]}_{long_token}"
    # The same hash twice: the repeat is reported, so `failed` is a list the SDK accepts.
    hashed = sha256_hex(long_token)
    res = unkey.keys.migrate_keys(migration_id=migration, api_id=api_id, keys=[{"hash": hashed}, {"hash": hashed}])
    assert res.data.failed == [hashed]
    key_id = res.data.migrated[0].key_id

    assert unkey.keys.verify_key(key=key).data.code == "NOT_FOUND"
    first = unkey.keys.verify_key(key=key, migration_id=migration).data
    assert first.valid is True
    assert first.key_id == key_id
    # Rehashed: no migrationId needed any more, and `start` is set as for created keys.
    assert unkey.keys.verify_key(key=key).data.valid is True
    assert unkey.keys.get_key(key_id=key_id).data.start == "re_live_Shor"
