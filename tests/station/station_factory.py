"""Stations over one station DB for the tests (a second build is a restart); its own module, not conftest, so that a
test can import it by a name no other test folder's conftest shadows."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from packgate.device.clock import FakeClock
from packgate.station.runtime.config import validate
from packgate.station.service import Station
from packgate.sync.client import UpstreamClient
from packgate.sync.outbox import Outbox
from packgate.sync.reference import ReferenceCache


class StationFactory:
    """Builds ``Station`` objects over one station DB (a second build = a restart)."""

    def __init__(self, tmp_path: Path, upstream_url: str, clock: FakeClock):
        self.db_path = str(tmp_path / "station.db")
        self.upstream_url = upstream_url
        self.clock = clock
        self.built: list[tuple[Station, UpstreamClient, ReferenceCache]] = []

    def __call__(self, *, notifier: Any = None, overrides: dict | None = None, refresh: bool = True,
                 camera: Any = None, wake: Callable[[], None] | None = None) -> Station:
        cfg = validate({"station.id": "ST01", "station.name": "Test table", "upstream.url": self.upstream_url,
                        **(overrides or {})})
        client = UpstreamClient(self.upstream_url, deadline_s=5, clock=self.clock)
        cache = ReferenceCache(self.db_path, client, self.clock)
        if refresh:
            assert cache.refresh()["ok"]
        outbox = Outbox(self.db_path, "ST01", self.clock)
        station = Station(cfg, db_path=self.db_path, cache=cache, outbox=outbox, clock=self.clock,
                          notifier=notifier, camera=camera, wake=wake)
        self.built.append((station, client, cache))
        return station

    def close(self) -> None:
        for station, client, cache in self.built:
            for part in (station.close, client.close, cache.close):
                try:
                    part()
                except Exception:  # noqa: BLE001 - already closed
                    pass
