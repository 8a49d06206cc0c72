"""Which hub relays: the lease's holder is the hub's stable identity (its host and port), so a restarted hub takes
its own dead predecessor's lease at once and relays even when restarted every second (before: a new random holder
waited out the lease, 15 s, and a hub restarted every ~1.5 s never relayed); a hub that stops hands the lease back;
on PostgreSQL the lease runs on the database's clock (before: with hub B 60 s behind, the relay resumed 75.5 s after
hub A died)."""
from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from hubkit import TOKENS, FakeStation

from packgate.device.clock import Clock
from packgate.device.emulation.ports import free_tcp_port
from packgate.sync.common.notify import Notifier
from packgate.sync.delivery import Pause
from packgate.sync.hub.config import validate
from packgate.sync.hub.dbclock import DatabaseClock
from packgate.sync.hub.engine import Database
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.migrations import migrate
from packgate.sync.hub.relay import Relay
from packgate.sync.hub.server import start_in_thread


def _takes(relay: Relay) -> bool:
    taken = relay.take(relay.clock.now(), lambda _: 100, 1000)
    return not (isinstance(taken, Pause) and taken.outcome == "standby")


class _Hub:
    """A hub served on ``port`` (a real, fixed one: its identity), on the test's database and clock."""

    def __init__(self, tmp_path: Path, wms: str, clock: Any, db: str, port: int):
        self.hub = Hub(validate({"site.db": db, "site.upstream_url": wms, "stations": TOKENS, "site.threads": 8}), clock,
                       notifier=Notifier([]))
        self.url, self._stop = start_in_thread(self.hub, port=port, background=False)
        self.tmp_path, self.clock = tmp_path, clock

    def deliver(self, n: int) -> None:
        station = FakeStation(self.tmp_path, "ST01", self.url, self.clock)
        station.confirm("scan", "order", f"SO-1000{n % 9 + 1}")
        assert station.push() == 1

    def crash(self) -> None:
        """The process dies: its server goes, its relay lease stays in the database."""
        self._stop()
        self.hub.db.close()


def test_a_restarted_hub_relays_at_once_even_restarted_every_second(tmp_path: Path, wms: str, clock: Any,
                                                                    hub_db: str) -> None:
    port = free_tcp_port()
    first = _Hub(tmp_path, wms, clock, hub_db, port)
    first.deliver(0)
    assert first.hub.relay.run_once()["outcome"] == "sent"
    first.crash()  # the relay lease is still held, for another 15 s
    other = _Hub(tmp_path, wms, clock, hub_db, free_tcp_port())
    try:
        other.deliver(1)
        assert other.hub.relay.run_once()["outcome"] == "standby"  # another hub waits for the lease to run out
    finally:
        other.crash()
    for n in range(10):  # restarted ten times on its port, at once: each takes its own lease back and relays
        hub = _Hub(tmp_path, wms, clock, hub_db, port)
        try:
            hub.deliver(n)
            outcome = hub.hub.relay.run_once()
            assert outcome["outcome"] == "sent" and outcome["n"] >= 1, outcome
        finally:
            hub.crash()


def test_a_hub_that_stops_hands_the_lease_back(make_site: Any) -> None:
    a, b = make_site(), make_site()
    assert _takes(a.hub.relay)
    assert not _takes(b.hub.relay)
    a.hub.relay.release()  # what stop() does as the relay's loop ends
    assert _takes(b.hub.relay)


class _Behind(Clock):
    """The machine's clock, ``seconds`` behind."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def now(self) -> Any:
        return super().now() - timedelta(seconds=self.seconds)


def test_on_postgresql_the_lease_runs_on_the_databases_clock(postgres: Any) -> None:
    db = Database(postgres.create_schema())
    try:
        migrate(db)
        behind = DatabaseClock(db, _Behind(60))
        assert abs((behind.now() - Clock().now()).total_seconds()) < 1.0  # the database's time, not the machine's
        a = Relay(db, None, DatabaseClock(db), holder="hub-a:8700", lease_s=2.0)
        b = Relay(db, None, behind, holder="hub-b:8700", lease_s=2.0)
        assert _takes(a)
        assert not _takes(b)
        start = time.monotonic()
        while not _takes(b):  # hub A died: B takes over when A's lease runs out, by the database's clock
            assert time.monotonic() - start < 10, "hub B waited out its own clock's 60 s"
            time.sleep(0.1)
        assert 1.0 < time.monotonic() - start < 5.0
        local_b = Relay(db, None, _Behind(60), holder="hub-c:8700", lease_s=2.0)
        assert not _takes(local_b)  # a hub on its own clock, 60 s behind, still sees B's lease running
    finally:
        db.close()
