"""/healthz, /metrics and the server-sent events, over real HTTP against a running demo rig
(agent + emulated scale, scanner and NFC reader + seeded reference upstream, all on 127.0.0.1)."""
from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from packgate.station.demo.rig import build_rig

SAMPLE = re.compile(r'^(packgate_[a-z_]+)\{([a-z_]+="[^"]*"(?:,[a-z_]+="[^"]*")*)\} (-?[0-9.e+]+|NaN)$')


class Page(requests.Session):
    """A kiosk page's HTTP client: a fresh idempotency key with every action, as the page's JS sends."""

    def post(self, url, data=None, json=None, **kw):  # type: ignore[override]
        if url.endswith("/api/v1/actions") and isinstance(json, dict) and "key" not in json:
            json = {**json, "key": uuid.uuid4().hex}
        return super().post(url, data=data, json=json, **kw)


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    rig = build_rig(port=0, upstream_port=0, data_dir=str(tmp_path_factory.mktemp("rig")))
    end = time.monotonic() + 5
    while time.monotonic() < end and len(rig.agent.station.devices) < 3:
        time.sleep(0.02)
    yield rig
    rig.stop()


@pytest.fixture
def http(rig):
    session = Page()
    token = session.get(f"{rig.agent.url}/api/v1/csrf", timeout=5).json()["csrf_token"]
    session.headers["X-CSRF-Token"] = token
    yield session
    session.close()


def test_healthz_reports_devices_and_the_outbox(rig):
    response = requests.get(f"{rig.agent.url}/healthz", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    health = response.json()
    assert health["ok"] is True and health["station"] == "ST01"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", health["at"])
    assert {name: d["state"] for name, d in health["devices"].items()} == \
        {"scale": "connected", "scanner": "connected", "badge": "connected"}
    assert health["scale"]["connected"] is True
    assert health["outbox"]["depth"] == 0 and health["outbox"]["dead"] == 0
    assert health["reference"]["last_error"] is None and health["reference"]["cursor"]
    assert health["session"] == "idle" and health["open_escalations"] == 0
    assert all(isinstance(n, int) for n in health["verdicts"].values())  # verdicts shown, by status (counters)


def test_a_confirmation_shows_in_health_until_synced(rig, http):
    before = requests.get(f"{rig.agent.url}/healthz", timeout=5).json()["outbox"]["sent"]
    answer = http.post(f"{rig.agent.url}/api/v1/actions", json={"action": "badge", "object_id": "9C3F2A71"},
                       timeout=5).json()
    assert answer["code"] in ("signed_in", "signed_out")
    end = time.monotonic() + 10
    while time.monotonic() < end:
        outbox = requests.get(f"{rig.agent.url}/healthz", timeout=5).json()["outbox"]
        if outbox["sent"] == before + 1:
            break
        time.sleep(0.05)
    assert outbox["sent"] == before + 1 and outbox["depth"] == 0 and outbox["last_success"]
    http.post(f"{rig.agent.url}/api/v1/actions", json={"action": "badge", "object_id": "9C3F2A71"}, timeout=5)


def test_metrics_are_prometheus_text_with_packgate_series(rig, http):
    http.post(f"{rig.agent.url}/api/v1/actions", json={"action": "scan", "object_id": "SO-10001"}, timeout=5)
    response = http.get(f"{rig.agent.url}/metrics", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    text = response.text
    samples = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("# HELP ") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        name, labels, value = match.groups()
        assert 'station="ST01"' in labels, line
        samples[(name, labels)] = value
    names = {name for name, _ in samples}
    assert {"packgate_outbox_depth", "packgate_outbox_dead_letters", "packgate_verdicts_total",
            "packgate_open_escalations", "packgate_device_up", "packgate_sync_ok"} <= names
    assert names <= typed  # every series is typed
    assert samples[("packgate_device_up", 'station="ST01",device="scale"')] == "1"
    assert int(samples[("packgate_verdicts_total", 'station="ST01",status="error"')]) >= 1  # no one signed in


class EventReader:
    """Server-sent events from a streaming response, parsed as they arrive (bounded by deadlines)."""

    def __init__(self, response):
        self.chunks = response.iter_content(chunk_size=None)
        self.buffer = ""

    def next(self, timeout: float = 5.0) -> tuple[str, dict]:
        deadline = time.monotonic() + timeout
        while "\n\n" not in self.buffer:
            assert time.monotonic() < deadline, "no complete event in time"
            self.buffer += next(self.chunks).decode("utf-8")
        block, self.buffer = self.buffer.split("\n\n", 1)
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if not fields:  # a keep-alive comment
            return self.next(max(0.0, deadline - time.monotonic()))
        return fields["event"], json.loads(fields["data"])


def test_events_stream_starts_with_the_state_then_pushes_verdicts(rig, http):
    url = rig.agent.url
    with http.get(f"{url}/api/v1/events", stream=True, timeout=(2, 5)) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = EventReader(stream)
        kind, first = events.next()
        assert kind == "state"
        assert first["station"]["id"] == "ST01" and "session" in first and "scale" in first
        seen = (first.get("verdict") or {}).get("seq", 0)
        answer = http.post(f"{url}/api/v1/actions", json={"action": "scan", "object_id": "not-a-known-code"},
                           timeout=5).json()
        deadline = time.monotonic() + 5
        while True:
            kind, data = events.next(max(0.1, deadline - time.monotonic()))
            if kind == "state" and (data.get("verdict") or {}).get("seq", 0) > seen:
                break
        assert data["verdict"] == answer  # the kiosk sees exactly the answer the API gave


def test_healthz_is_503_and_names_the_device_while_one_is_disconnected(rig):
    station = rig.agent.station
    try:
        station.on_device_state("scale", "disconnected", "/dev/ttyUSB9: no such file")
        response = requests.get(f"{rig.agent.url}/healthz", timeout=5)
        assert response.status_code == 503
        assert response.json()["problems"] == ["scale disconnected: /dev/ttyUSB9: no such file"]
    finally:
        station.on_device_state("scale", "connected", None)
    assert requests.get(f"{rig.agent.url}/healthz", timeout=5).status_code == 200


def test_a_closed_event_stream_is_freed_by_the_server(rig, http):
    bus = rig.agent.station.bus
    settle = time.monotonic() + 5  # streams of the tests before are closing
    while time.monotonic() < settle and bus.streams:
        time.sleep(0.05)
    before = bus.streams
    host, port = rig.agent.url.split("//")[1].split(":")
    page = socket.create_connection((host, int(port)), timeout=5)
    page.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 f"Cookie: packgate_session={http.cookies.get('packgate_session')}\r\n\r\n".encode())
    assert b"event: state" in page.recv(65536) + page.recv(65536)
    assert bus.streams == before + 1
    page.close()  # the page goes away (tab closed, Wi-Fi lost)
    end = time.monotonic() + 5  # the benchmark measures how fast (scripts/bench-streams); here: that it happens
    while time.monotonic() < end and bus.streams > before:
        time.sleep(0.05)
    assert bus.streams == before


def test_more_streams_than_the_server_holds_are_refused_in_json(rig, http):
    bus = rig.agent.bus
    limit, bus.max_streams = bus.max_streams, bus.streams + 2  # two more real streams, then the next is refused
    held = []
    try:
        for _ in range(2):
            held.append(http.get(f"{rig.agent.url}/api/v1/events", stream=True, timeout=5))
            assert held[-1].status_code == 200
        end = time.monotonic() + 5
        while time.monotonic() < end and bus.streams < bus.max_streams:
            time.sleep(0.02)
        response = http.get(f"{rig.agent.url}/api/v1/events", timeout=5)
        assert response.status_code == 503 and response.json()["code"] == "too_many_streams"
        assert response.json()["data"]["limit"] == bus.max_streams
    finally:
        for stream in held:
            stream.close()
        bus.max_streams = limit


def test_the_demo_banner_path_is_the_scanners_writing_end(rig):
    """A code echoed into the scan-input pty reaches the station through the scanner emulator's bytes."""
    with open(rig.scan_input.path, "wb", buffering=0) as scanner_end:
        scanner_end.write(b"SO-404-BANNER\n")
    end = time.monotonic() + 5
    while time.monotonic() < end and (rig.agent.station.live.last_scan or {}).get("raw") != "SO-404-BANNER":
        time.sleep(0.02)
    assert rig.agent.station.live.last_scan["raw"] == "SO-404-BANNER"


def test_bursts_of_clients_leave_only_the_pools_connections_open(rig):
    """Every request runs on one of the server's ~170 threads; the views and the reference data read on
    connections of two pools: after burst upon burst of 40 clients no more database files are open than the
    pools keep and the station's own (before: a view and a reference connection per thread, never closed, and
    a test process with many stations passed 1,024 descriptors, where pyserial's select() fails)."""
    from packgate.station.views import READERS_KEPT
    from packgate.sync.reference import POOL_KEPT

    db = str(Path(rig.agent.db_path).resolve())

    def open_db_files() -> int:
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink(f"/proc/self/fd/{fd}") == db
            except OSError:
                pass
        return count

    def burst() -> int:
        start = threading.Barrier(40)
        answers = []

        def client() -> None:
            start.wait(5)
            for _ in range(5):
                answers.append(requests.get(f"{rig.agent.url}/healthz", timeout=10).status_code)

        threads = [threading.Thread(target=client) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert answers.count(200) == 200
        return open_db_files()

    after = [burst() for _ in range(6)]
    assert max(after) <= READERS_KEPT + POOL_KEPT + 24, after  # the station, worker, outbox, checkpointer, rig (was 190+)
