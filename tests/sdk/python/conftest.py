"""Shared fixtures for the unkey-py compatibility tests.

These tests talk to a running `keyway serve` exactly as a user of the official
Python SDK would: the only Keyway-specific thing is the server URL. They are
started by tests/sdk/run, which exports:

  KEYWAY_URL       base URL of the server, e.g. http://127.0.0.1:40123
  KEYWAY_ROOT_KEY  a root key with every root permission in a fresh workspace
"""

import os
import time
import uuid

import pytest
from unkey.py import Unkey


def _required_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.exit(f"{name} is not set; run the SDK tests through tests/sdk/run", returncode=2)
    return value


@pytest.fixture(scope="session")
def server_url() -> str:
    return _required_env("KEYWAY_URL")


@pytest.fixture(scope="session")
def root_key() -> str:
    return _required_env("KEYWAY_ROOT_KEY")


@pytest.fixture(scope="session")
def unkey(server_url: str, root_key: str):
    with Unkey(root_key=root_key, server_url=server_url) as client:
        yield client


@pytest.fixture(scope="session")
def run_id() -> str:
    """A short random tag so names created by one run are easy to tell apart."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def api_id(unkey, run_id: str) -> str:
    """One API (keyspace) per test module."""
    res = unkey.apis.create_api(name=f"sdk-py-{run_id}")
    return res.data.api_id


def now_ms() -> int:
    return int(time.time() * 1000)
