"""The hub's /healthz tells the truth about itself: a full disk (ingest answers 503 "not saved": /healthz is 503
naming it, where it said ``200 {"ok": true}`` before), a relay that cannot reach the WMS and its backlog, a failing
notification channel; and a PostgreSQL outage is one log line when it starts, a summary while it lasts and one when
it ends (before: ~20 lines a second, 146 tracebacks in 25 s)."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from hubkit import TOKENS, FakeStation
from pgtemp import TempPostgres

from packgate.device.clock import Clock
from packgate.sync.common.notify import Notifier
from packgate.sync.hub.config import validate
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.server import start_in_thread


def _fill_the_disk(hub: Hub, full: bool) -> None:
    """SQLite's own "disk full" (SQLITE_FULL) on every connection of the hub's pool, those open and those to come:
    the file may not grow (``max_page_count`` at its size now), or again may."""
    engine, connect = hub.db.engine, type(hub.db.engine).connect

    def limit(raw: Any) -> Any:
        pages = raw.execute("PRAGMA page_count").fetchone()[0] if full else 1_000_000_000
        raw.execute(f"PRAGMA max_page_count = {pages}")
        return raw

    engine.connect = lambda: limit(connect(engine))  # type: ignore[method-assign]
    for raw in list(hub.db._all):  # noqa: SLF001 - the pool's open connections too
        limit(raw)


def test_a_full_disk_shows_in_healthz_while_ingest_says_not_saved(tmp_path: Path, wms: str, clock: Any,
                                                                  webhook: Any) -> None:
    from hubkit import Site

    site = Site(tmp_path, wms, clock, webhook, str(tmp_path / "hub.db"))
    try:
        station = site.station("ST01")
        assert requests.get(f"{site.url}/healthz", timeout=5).json()["storage"]["ok"] is True
        _fill_the_disk(site.hub, True)
        for n in range(30):
            station.confirm("scan", "order", "SO-10001", {"note": "x" * 2000 + str(n)})
        assert station.push() == 0
        assert "not saved" in (station.outbox.status()["last_error"] or "")
        health = requests.get(f"{site.url}/healthz", timeout=5)
        assert health.status_code == 503
        body = health.json()
        assert body["ok"] is False and body["storage"]["ok"] is False and body["storage"]["failing"]["failures"] >= 1
        assert any(p.startswith("storage failing since") and "disk is full" in p for p in body["problems"])
        _fill_the_disk(site.hub, False)
        clock.advance(1)  # the station's next retry
        assert station.push() == 30
        health = requests.get(f"{site.url}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["storage"] == {"ok": True, "failing": None}
    finally:
        site.stop()


def test_a_relay_that_cannot_reach_the_wms_and_its_backlog_show(make_site: Any, clock: Any) -> None:
    site = make_site(**{"site.upstream_url": "http://127.0.0.1:9"})  # nothing listens there
    station = site.station("ST01")
    station.confirm("scan", "order", "SO-10001")
    station.push()
    assert site.relay() == 0
    body = requests.get(f"{site.url}/healthz", timeout=5).json()
    assert any(p.startswith("relay to the WMS failing (1 waiting):") for p in body["problems"])
    assert body["relay"]["depth"] == 1 and body["relay"]["lease_holder"] == site.hub.relay.lease.holder
    clock.advance(301)
    body = requests.get(f"{site.url}/healthz", timeout=5).json()
    assert any(p.startswith("relay backlog: 1 confirmation(s) waiting, the oldest for 301 s") for p in body["problems"])


def test_healthz_says_whether_the_relay_sends_every_station_in_one_request(make_site: Any) -> None:
    site = make_site()
    for station in ("ST01", "ST02"):
        site.station(station).confirm("scan", "order", "SO-10001")
        site.station(station).push()
    assert site.relay() == 2
    assert requests.get(f"{site.url}/healthz", timeout=5).json()["relay"]["this_hub_sends"] == "together"
    site.hub.relay.engine.together = False  # as after a WMS that answered 404 to POST /v1/confirmations/batches
    assert requests.get(f"{site.url}/healthz", timeout=5).json()["relay"]["this_hub_sends"] == "per_station"


def test_a_failing_notification_channel_is_named_without_its_secrets(site: Any, clock: Any, webhook: Any) -> None:
    site.hub.escalator.notifier = Notifier(["json://secret-user:secret-pass@127.0.0.1:9/hook", webhook.url])
    station = site.station("ST01")
    station.pick("SO-10012", "T-0012")
    station.push()
    clock.advance(12 * 60 + 1)
    assert site.hub.tick()["escalations"] == []  # not delivered everywhere: retried later
    assert len(webhook.received) == 1  # the working channel had it
    body = requests.get(f"{site.url}/healthz", timeout=5).json()
    failing = [p for p in body["problems"] if p.startswith("notification channel 1 (json://…) failing since")]
    assert failing and "secret" not in str(body)
    assert [c["failing_since"] is not None for c in body["notifications"]] == [True, False]


@pytest.fixture
def own_postgres() -> Iterator[TempPostgres]:
    server = TempPostgres().start()
    yield server
    server.stop()


def test_a_postgresql_outage_is_logged_by_its_changes_not_by_its_failures(own_postgres: TempPostgres, tmp_path: Path,
                                                                          wms: str, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    hub = Hub(validate({"site.db": own_postgres.create_schema(), "site.upstream_url": wms, "stations": TOKENS,
                        "site.threads": 16}), Clock(), notifier=Notifier([]))
    url, stop = start_in_thread(hub)  # relay, ticker and feed watch running
    stations = [FakeStation(tmp_path, s, url, Clock()) for s in TOKENS]  # type: ignore[arg-type]
    try:
        for station in stations:
            station.confirm("scan", "order", "SO-10001")
            assert station.push() == 1
        caplog.clear()
        own_postgres.pause()
        refused, start = 0, time.monotonic()
        while time.monotonic() - start < 8:  # the stations keep sending, the hub's loops keep trying
            for station in stations:
                station.confirm("scan", "order", "SO-10002")
                refused += station.push() == 0
            health = requests.get(f"{url}/healthz", timeout=10)
            time.sleep(0.05)
        assert health.status_code == 503 and any(p.startswith("storage") for p in health.json()["problems"])
        during = [r for r in caplog.records if r.name.startswith("packgate.sync.hub")]  # the hub's (not the stations')
        own_postgres.resume()
        start = time.monotonic()
        while not all(station.push() >= 0 and station.outbox.status()["depth"] == 0 for station in stations):
            assert time.monotonic() - start < 30
            time.sleep(0.2)
        lines = [r for r in caplog.records if r.name.startswith("packgate")]
    finally:
        stop()
        hub.db.close()
    texts = [r.getMessage() for r in lines]
    assert refused >= 20
    assert all(r.exc_info is None for r in lines), [t for r, t in zip(lines, texts, strict=True) if r.exc_info]
    hub_lines = [t for r, t in zip(lines, texts, strict=True) if r.name.startswith("packgate.sync.hub")]
    assert len([t for t in hub_lines if "failing" in t]) <= 3, hub_lines  # it starts (and maybe changes kind)
    assert any(t.startswith("hub database recovered after") for t in hub_lines), hub_lines
    assert len(during) <= 10, [r.getMessage() for r in during]
    print(f"\nPostgreSQL stopped 8 s under load ({refused} deliveries refused): the hub logged {len(hub_lines)} line(s),"
          f" no traceback:\n  " + "\n  ".join(hub_lines), file=sys.__stderr__)
