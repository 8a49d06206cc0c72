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


def test_a_station_sends_batches_together_only_for_itself(guarded):
    mine, theirs = {"station": "ST01", "confirmations": []}, {"station": "ST02", "confirmations": []}
    answer = requests.post(f"{guarded}/v1/confirmations/batches", json={"batches": [mine, theirs]}, headers=bearer(ST01),
                           timeout=5)
    assert answer.status_code == 403 and "'ST02'" in answer.json()["error"]
    answer = requests.post(f"{guarded}/v1/confirmations/batches", json={"batches": [mine]}, headers=bearer(ST01),
                           timeout=5)
    assert answer.status_code == 200 and answer.json() == {"batches": [{"station": "ST01", "results": []}]}


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


RELAY = "relay-token-0123456789abcdef"


@pytest.fixture
def with_relay(tmp_path):
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "up.db", seed_demo=True,
                                station_tokens={"ST01": ST01, "ST02": ST02}, admin_token=ADMIN, relay_token=RELAY)
    yield url
    stop()


WINDOW = {"since": "2000-01-01T00:00:00+00:00", "until": "2100-01-01T00:00:00+00:00"}


def test_a_station_reads_only_its_own_confirmations(with_relay):
    url = with_relay
    assert requests.get(f"{url}/v1/confirmations", params={"station": "ST02", **WINDOW}, headers=bearer(ST01),
                        timeout=5).status_code == 403
    assert requests.get(f"{url}/v1/confirmations", params={"station": "ST01", **WINDOW}, headers=bearer(ST01),
                        timeout=5).status_code == 200
    for token in (RELAY, ADMIN):
        assert requests.get(f"{url}/v1/confirmations", params={"station": "ST02", **WINDOW}, headers=bearer(token),
                            timeout=5).status_code == 200


def test_an_orders_confirmations_are_scoped_to_the_stations_own(with_relay, tmp_path):
    from packgate.device.clock import FakeClock
    from packgate.sync.common.db import connect, write_tx
    from packgate.sync.outbox import Outbox
    from packgate.sync.worker import OutboxWorker

    clock = FakeClock()
    for station, token in (("ST01", ST01), ("ST02", ST02)):
        db = str(tmp_path / f"{station}.db")
        outbox, conn = Outbox(db, station, clock), connect(db)
        with write_tx(conn):
            outbox.enqueue(conn, action="scan", object_type="order", object_id="SO-10001", operator="E001", device=None,
                           location=station, payload={})
        assert OutboxWorker(db, UpstreamClient(with_relay, deadline_s=5, token=token), clock).drain() == 1
    seen = {token: [c["station"] for c in requests.get(f"{with_relay}/v1/orders/SO-10001/confirmations",
                                                        headers=bearer(token), timeout=5).json()["confirmations"]]
            for token in (ST01, RELAY)}
    assert seen[ST01] == ["ST01"] and sorted(seen[RELAY]) == ["ST01", "ST02"]


def test_the_relay_token_sends_for_every_station_but_opens_no_admin_call(with_relay):
    url = with_relay
    for station in ("ST01", "ST02"):
        body = {"station": station, "confirmations": []}
        assert requests.post(f"{url}/v1/confirmations", json=body, headers=bearer(RELAY), timeout=5).status_code == 200
    both = {"batches": [{"station": "ST01", "confirmations": []}, {"station": "ST02", "confirmations": []}]}
    assert requests.post(f"{url}/v1/confirmations/batches", json=both, headers=bearer(RELAY), timeout=5).status_code == 200
    assert requests.get(f"{url}/v1/reference", headers=bearer(RELAY), timeout=5).status_code == 200
    item = {"items": [{"employee_id": "E999", "name": "Mallory", "role": "supervisor", "badge_uid": "0A0B0C0D"}]}
    for path, method in (("/v1/admin/employees", "POST"), ("/v1/admin/stats", "GET"), ("/v1/admin/shipments", "GET")):
        answer = requests.request(method, f"{url}{path}", json=item if method == "POST" else None, headers=bearer(RELAY),
                                  timeout=5)
        assert answer.status_code == 403 and answer.json()["error"] == "the admin token is required"
