"""What the hub's tests share, by plain import (``from hubkit import TOKENS, Site``; conftest's fixtures are built from
it): the stations' tokens and names, a real webhook receiver, a station made of the real outbox and worker, a hub on
a real server, signing a supervisor in to the dashboard as a browser does (the form's CSRF token first), and writes
queued behind a transaction held open in the hub's writer queue (``queued_behind``)."""
from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Sequence

from packgate.device.backoff import Backoff
from packgate.device.clock import FakeClock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect, write_tx
from packgate.sync.common.notify import Notifier
from packgate.sync.hub.config import validate
from packgate.sync.hub.engine import Conn
from packgate.sync.hub.groupcommit import GroupCommit
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.server import start_in_thread as start_hub
from packgate.sync.outbox import Outbox
from packgate.sync.worker import OutboxWorker


def queued_behind(writer: GroupCommit, calls: Sequence[Callable[[], Any]], *, stagger_s: float = 0.05) -> list[Any]:
    """Hold ``writer``'s lane with a transaction in progress, make ``calls`` in threads of their own (``stagger_s``
    apart, so they queue in that order), then let the held transaction commit: on one lane the calls' writes form
    the next group. Returns what each call returned or raised, in order."""
    inside, release = threading.Event(), threading.Event()

    def hold(conn: Conn) -> None:
        inside.set()
        assert release.wait(10)

    outcomes: list[Any] = [None] * len(calls)

    def call(index: int) -> None:
        try:
            outcomes[index] = calls[index]()
        except Exception as exc:  # noqa: BLE001 - this caller's own answer
            outcomes[index] = exc

    holder = threading.Thread(target=writer.run, args=(hold,))
    holder.start()
    assert inside.wait(10)
    threads = [threading.Thread(target=call, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
        time.sleep(stagger_s)
    release.set()
    for thread in [holder, *threads]:
        thread.join(10)
    return outcomes


START = datetime(2026, 1, 5, 8, 0, tzinfo=timezone(timedelta(hours=8)))
TOKENS = {"ST01": "token-of-station-01-abcdef", "ST02": "token-of-station-02-abcdef"}
NAMES = {"ST01": "Packing table 1", "ST02": "Packing table 2"}


class Webhook:
    """A real endpoint for Apprise ``json://`` notifications."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeStation:
    """A station's real outbox and worker delivering to the hub with its token."""

    def __init__(self, tmp: Path, station: str, hub_url: str | list[str], clock: FakeClock, token: str | None = None):
        self.station = station
        self.db = str(tmp / f"{station}.db")
        self.outbox = Outbox(self.db, station, clock)
        self.client = UpstreamClient(hub_url, deadline_s=5, clock=clock, token=token or TOKENS[station])
        self.worker = OutboxWorker(self.db, self.client, clock, backoff=Backoff(0.01, 0.05))
        self.conn = connect(self.db)

    def confirm(self, action: str, object_type: str, object_id: str, payload: dict[str, Any] | None = None,
                operator: str = "E001") -> str:
        with write_tx(self.conn):
            conf = self.outbox.enqueue(self.conn, action=action, object_type=object_type, object_id=object_id,
                                       operator=operator, device=None, location=self.station, payload=payload or {})
        return str(conf["id"])

    def push(self) -> int:
        return self.worker.drain()

    def pick(self, order_id: str, tote: str, lots: tuple[tuple[str, str, int], ...] = (), operator: str = "E004") -> None:
        for sku, lot, qty in lots:
            self.confirm("pick", "order", order_id, {"sku": sku, "lot": lot, "qty": qty, "tote": tote}, operator)
        self.confirm("load", "tote", tote, {"order_id": order_id, "units": 4}, operator)

    def pack(self, order_id: str, operator: str = "E002") -> None:
        self.confirm("weigh", "order", order_id, {"result": "pass"}, operator)
        self.confirm("pack", "order", order_id, {"units": []}, operator)


class Site:
    def __init__(self, tmp: Path, wms_url: str, clock: FakeClock, webhook: Webhook, db: str, **overrides: Any):
        self.tmp, self.clock = tmp, clock
        cfg = validate({"site.db": db, "site.upstream_url": wms_url, "stations": TOKENS,
                        "station_names": NAMES, "site.threads": 32,
                        "privacy.key_file": str(tmp / "personal-data.key"),  # the site's hubs share one key file
                        "alerts.rules": [],  # the alert rules' own tests name the rules they exercise
                        **overrides})
        self.hub = Hub(cfg, clock, notifier=Notifier([webhook.url]))
        self.url, self._stop = start_hub(self.hub, background=False)
        self.hub.tick()  # first reference pull

    def station(self, station: str, urls: list[str] | None = None) -> FakeStation:
        """A station delivering to this hub (or to ``urls``, the site's hubs in failover order)."""
        return FakeStation(self.tmp, station, urls or self.url, self.clock)

    def relay(self) -> int:
        sent = 0
        while True:
            outcome = self.hub.relay.run_once()
            if outcome["outcome"] != "sent":
                return sent
            sent += outcome["n"]

    def stop(self) -> None:
        self._stop()
        self.hub.db.close()


def sign_in_form(http: Any, url: str) -> str:
    """Open the dashboard's sign-in form (its CSRF cookie lands in ``http``); returns the form's token."""
    found = re.search(r'name="csrf" value="([^"]+)"', http.get(f"{url}/", timeout=15).text)
    assert found, "the sign-in form has no CSRF token"
    return found.group(1)


def dashboard_sign_in(http: Any, url: str, badge: str, pin: str) -> Any:
    """Sign a supervisor in as a browser does: the form, then the POST (not following the redirect)."""
    csrf = sign_in_form(http, url)
    return http.post(f"{url}/login", data={"badge": badge, "pin": pin, "csrf": csrf}, allow_redirects=False, timeout=15)
