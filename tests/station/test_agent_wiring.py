"""The agent wires configuration, station, web app, worker and timers; it starts and stops cleanly."""
from __future__ import annotations

import logging
import os
import stat
import threading
import time

import pytest
import requests

from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate
from packgate.sync.upstream.server import start_in_thread

TOKEN = "wms-handheld-token-000000000001"


@pytest.fixture
def fresh_upstream(tmp_path):
    """An upstream of its own: a started agent's worker really sends to it."""
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "upstream.db", seed_demo=True)
    yield url
    stop()


def config(tmp_path, upstream_url, **extra):
    return validate({"station.data_dir": str(tmp_path / "st"), "upstream.url": upstream_url,
                     "scale.enabled": False, "scanner.enabled": False, "badge.enabled": False, **extra})


def test_web_api_tokens_from_the_configuration_open_the_api(tmp_path, upstream_url):
    agent = Agent(config(tmp_path, upstream_url, **{"web.api_tokens": [TOKEN]}), start_devices=False)
    try:
        agent.cache.refresh()
        client = agent.app.test_client()
        body = {"action": "badge", "object_id": "04A1B2C3D4E5F6", "key": "wiring-0001"}
        assert client.post("/api/v1/actions", json=body).status_code == 401  # no session, no token
        assert client.post("/api/v1/actions", json=body, headers={"Authorization": "Bearer x" + TOKEN}).status_code == 403
        answer = client.post("/api/v1/actions", json=body, headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
        assert answer["code"] == "signed_in"
    finally:
        agent.stop()


def test_without_tokens_only_csrf_opens_the_api(tmp_path, upstream_url):
    agent = Agent(config(tmp_path, upstream_url), start_devices=False)
    try:
        response = agent.app.test_client().post("/api/v1/actions", json={"action": "sign_out"},
                                                headers={"Authorization": "Bearer "})
        assert response.status_code == 403
    finally:
        agent.stop()


def test_the_data_folder_holds_the_database_and_a_private_secret(tmp_path, upstream_url):
    agent = Agent(config(tmp_path, upstream_url), start_devices=False)
    agent.stop()
    data = tmp_path / "st"
    assert (data / "station.db").exists()
    mode = stat.S_IMODE(os.stat(data / "secret.key").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700 and stat.S_IMODE(os.stat(data / "station.db").st_mode) == 0o600
    secret = (data / "secret.key").read_bytes()
    again = Agent(config(tmp_path, upstream_url), start_devices=False)
    again.stop()
    assert (data / "secret.key").read_bytes() == secret  # sessions survive a restart


def test_a_started_agent_serves_syncs_and_stops_with_a_kiosk_page_open(tmp_path, fresh_upstream, caplog):
    agent = Agent(config(tmp_path, fresh_upstream), port=0, start_devices=False).start()
    try:
        http = requests.Session()
        token = http.get(f"{agent.url}/api/v1/csrf", timeout=5).json()["csrf_token"]
        answer = http.post(f"{agent.url}/api/v1/actions", json={"action": "badge", "object_id": "04A1B2C3D4E5F6",
                                                                  "key": "wiring-0002"},
                           headers={"X-CSRF-Token": token}, timeout=5).json()
        assert answer["code"] == "signed_in"
        end = time.monotonic() + 10
        while time.monotonic() < end and agent.station.sync_status()["depth"]:
            time.sleep(0.05)
        assert agent.station.sync_status()["depth"] == 0  # the worker delivered it upstream

        stream = http.get(f"{agent.url}/api/v1/events", stream=True, timeout=(2, 10))
        chunks = stream.iter_content(chunk_size=None)
        assert next(chunks).startswith(b"event: state")
        ended = threading.Event()

        def drain() -> None:
            try:
                for _ in chunks:
                    pass
            except Exception:  # noqa: BLE001 - a reset connection also ends the stream
                pass
            ended.set()

        threading.Thread(target=drain, daemon=True).start()
    finally:
        caplog.set_level(logging.ERROR)
        started = time.monotonic()
        agent.stop()
        took = time.monotonic() - started
    assert took < 5, f"stop() took {took:.1f} s"
    assert ended.wait(3), "the open event stream was not ended by the shutdown"
    time.sleep(0.2)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    web = [t for t in threading.enumerate() if t.name == "web"]
    assert not any(t.is_alive() for t in web)


def test_retry_backoff_comes_from_the_configuration(tmp_path, upstream_url):
    agent = Agent(config(tmp_path, upstream_url, **{"upstream.backoff_base_s": 2.5, "upstream.backoff_cap_s": 60.0,
                                                    "upstream.batch_size": 7}), start_devices=False)
    try:
        assert (agent.worker.backoff.base_s, agent.worker.backoff.cap_s) == (2.5, 60.0)
        assert agent.worker.batch_size == 7
    finally:
        agent.stop()


def test_pages_are_told_when_upstream_goes_away_and_comes_back(tmp_path):
    """The sync pill: a real upstream, stopped and started again on the same port, seen through the event bus."""
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "upstream.db", seed_demo=True)
    port = int(url.rsplit(":", 1)[1])
    agent = Agent(config(tmp_path, url, **{"upstream.refresh_s": 0.2, "upstream.backoff_base_s": 0.1,
                                            "upstream.backoff_cap_s": 0.2}), start_devices=False)
    agent.STATUS_EVERY_S = 0.1
    events = agent.bus.subscribe()

    def wait_for_sync(predicate, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                kind, data = events.get(timeout=0.1)
            except Exception:  # noqa: BLE001 - queue.Empty
                continue
            if kind == "sync" and predicate(data):
                return data
        raise AssertionError("no matching sync event")

    try:
        agent.start()
        assert wait_for_sync(lambda s: s["online"] is True)
        stop()
        agent.station.handle({"action": "badge", "object_id": "04A1B2C3D4E5F6"})  # something to send
        agent.worker.wake()
        offline = wait_for_sync(lambda s: s["online"] is False)
        assert offline["depth"] >= 1
        _, stop = start_in_thread("127.0.0.1", port, tmp_path / "upstream.db")
        assert wait_for_sync(lambda s: s["online"] is True and s["depth"] == 0)
    finally:
        agent.stop()
        stop()
