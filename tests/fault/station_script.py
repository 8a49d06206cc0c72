"""What the crash harness's station scripts (ship_station.py, dock_station.py) share: a real Station with
its reference cache and outbox worker against upstream or a hub, and the drain at the end."""
from __future__ import annotations

import os
import time
from typing import Any

from packgate.device.backoff import Backoff
from packgate.station.runtime.config import validate
from packgate.station.service import Station
from packgate.sync import crash
from packgate.sync.client import UpstreamClient
from packgate.sync.outbox import Outbox, outbox_status
from packgate.sync.reference import ReferenceCache
from packgate.sync.worker import OutboxWorker


def crashing_outbox(action: str, point: str) -> type[Outbox]:
    """An Outbox that reaches the crash point ``point`` once a confirmation of ``action`` is written, inside
    the transaction that writes it (before COMMIT)."""
    class CrashingOutbox(Outbox):
        def enqueue(self, conn: Any, **kw: Any) -> dict:
            conf = super().enqueue(conn, **kw)
            if kw.get("action") == action:
                crash.point(point)
            return conf

    return CrashingOutbox


def start(db: str, upstream: str, settings: dict[str, Any], outbox_cls: type[Outbox], token_env: str, *,
          labels: bool = False) -> tuple[Station, Outbox, OutboxWorker]:
    """The station ST01 on ``db``, once it has the reference data (and, with ``labels``, asking upstream
    for its waybills); its worker delivers in small batches."""
    token = os.environ.get(token_env) or None  # the station's token when upstream is a site hub
    client = UpstreamClient(upstream, deadline_s=5, token=token)
    cache = ReferenceCache(db, client)
    while not cache.refresh()["ok"] and not cache.status().get("last_refresh"):
        time.sleep(0.1)  # the first start needs the reference data once (the hub may be restarting)
    outbox = outbox_cls(db, "ST01")
    worker = OutboxWorker(db, UpstreamClient(upstream, deadline_s=5, token=token), batch_size=5,
                          backoff=Backoff(base_s=0.02, cap_s=0.2), idle_s=0.02, recheck_s=0.05).start()
    station = Station(validate({"station.id": "ST01", "upstream.url": upstream, **settings}), db_path=db,
                      cache=cache, outbox=outbox, label_upstream=client if labels else None)
    return station, outbox, worker


def drain_and_finish(station: Station, outbox: Outbox, worker: OutboxWorker) -> int:
    """Wait until the outbox is delivered, then say "done"."""
    while outbox_status(station.parts.conn, outbox.clock.now())["depth"]:
        worker.wake()
        time.sleep(0.02)
    worker.stop()
    print("done", flush=True)
    return 0
