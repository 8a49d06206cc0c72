"""The reference upstream requires a token per station and a separate admin token (real HTTP on 127.0.0.1)."""
from __future__ import annotations

import pytest
import requests

from packgate.sync.client import UpstreamClient
from packgate.sync.reference import ReferenceCache
from packgate.sync.upstream.server import start_in_thread

ST01, ST02, ADMIN = "st01-token-0123456789abcdef", "st02-token-0123456789abcdef", "admin-token-0123456789abcdef"


@pytest.fixture
def guarded(tmp_path):
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "up.db", seed_demo=True,
                                station_tokens={"ST01": ST01, "ST02": ST02}, admin_token=ADMIN)
    yield url
    stop()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_reference_data_needs_a_station_token_and_carries_only_pin_hashes(guarded):
    assert requests.get(f"{guarded}/v1/reference", timeout=5).status_code == 401
    assert requests.get(f"{guarded}/v1/reference", headers=bearer("wrong-token-000000000"), timeout=5).status_code == 401
    page = requests.get(f"{guarded}/v1/reference", headers=bearer(ST01), timeout=5).json()
    assert page["employees"] and all("pin" not in e and e["pin_hash"].startswith("$argon2") for e in page["employees"])
    assert requests.get(f"{guarded}/healthz", timeout=5).status_code == 200


def test_a_station_posts_only_its_own_confirmations(guarded):
    body = {"station": "ST02", "confirmations": []}
    assert requests.post(f"{guarded}/v1/confirmations", json=body, headers=bearer(ST01), timeout=5).status_code == 403
    assert requests.post(f"{guarded}/v1/confirmations", json=body, headers=bearer(ST02), timeout=5).status_code == 200


def test_admin_needs_the_admin_token(guarded):
    item = {"items": [{"code": "BOX-Z", "name": "Z", "tare_g": "1"}]}
    assert requests.post(f"{guarded}/v1/admin/packaging", json=item, headers=bearer(ST01), timeout=5).status_code == 403
    assert requests.post(f"{guarded}/v1/admin/packaging", json=item, timeout=5).status_code == 401
    assert requests.post(f"{guarded}/v1/admin/packaging", json=item, headers=bearer(ADMIN), timeout=5).status_code == 200


def test_the_station_client_sends_its_token(guarded, tmp_path):
    cache = ReferenceCache(str(tmp_path / "st.db"), UpstreamClient(guarded, deadline_s=5, token=ST01))
    assert cache.refresh()["ok"]
    refused = ReferenceCache(str(tmp_path / "st2.db"), UpstreamClient(guarded, deadline_s=5))
    assert not refused.refresh()["ok"]
