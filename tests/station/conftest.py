"""Fixtures for the station runtime's integration tests.

Everything is real: the reference upstream (``sync.upstream.start_in_thread`` with the demo
seed) on 127.0.0.1, the station's SQLite file, the reference cache pulled over HTTP, the outbox,
Apprise posting to a local HTTP receiver. Only time is fake (``sync.clock.FakeClock``).
"""
from __future__ import annotations

import json
import threading
import time
from datetime import date
from typing import Any

import pytest
from endpoint import Endpoint
from station_factory import StationFactory

from packgate.device.clock import FakeClock
from packgate.station.demo.rig import DemoWorld, gs1_item
from packgate.station.service import Station
from packgate.sync.upstream import demo_data
from packgate.sync.upstream.server import start_in_thread

BADGES = demo_data.DEMO_BADGES
PINS = {"packer": "1234", "packer2": "2468", "picker": "4321", "supervisor": "9876"}
IDS = {"packer": "E001", "packer2": "E002", "packer3": "E003", "picker": "E004", "supervisor": "E005"}
START = FakeClock().now()  # 2026-01-05 08:00 +08:00: the day every upstream is seeded for
TODAY: date = START.date()


# ---------------------------------------------------------------------------- upstream
@pytest.fixture(scope="session")
def upstream_url(tmp_path_factory) -> str:
    """One seeded reference upstream for the session; station tests only read from it (no worker runs)."""
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path_factory.mktemp("upstream") / "upstream.db",
                                seed_demo=True, today=TODAY)
    yield url
    stop()


@pytest.fixture(scope="session")
def world() -> DemoWorld:
    return DemoWorld(TODAY)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


# ---------------------------------------------------------------------------- station
@pytest.fixture
def make_station(tmp_path, upstream_url, clock):
    factory = StationFactory(tmp_path, upstream_url, clock)
    yield factory
    factory.close()


@pytest.fixture
def station(make_station) -> Station:
    return make_station()


def outbox_rows(station: Station, where: str = "1=1", args: tuple = ()) -> list[dict]:
    """The station's outbox as stored (the body is the exact JSON that goes upstream)."""
    rows = station.parts.conn.execute(f"SELECT * FROM sync_outbox WHERE {where} ORDER BY seq", args).fetchall()
    return [{**dict(r), "body": json.loads(r["body"])} for r in rows]


def count(station: Station, table: str) -> int:
    return station.parts.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# ---------------------------------------------------------------------------- workflows
def item(world: DemoWorld, sku: str, lot_index: int | None = None, serial: str | None = None) -> str:
    return world.item_code(sku, world.good_lot_index(sku) if lot_index is None else lot_index, serial)


def sign_in(station: Station, who: str = "packer") -> dict:
    answer = station.handle({"action": "badge", "object_id": BADGES[who]})
    assert answer["code"] == "signed_in", answer
    return answer


def open_and_scan(station: Station, world: DemoWorld, order_id: str) -> dict:
    """Open ``order_id`` and scan every unit with the right lot; returns the last verdict."""
    answer = station.handle({"action": "scan", "object_id": order_id})
    assert answer["code"] == "order_opened", answer
    for line in world.orders[order_id]["lines"]:
        for _ in range(line["qty"]):
            answer = station.handle({"action": "scan", "object_id": item(world, line["sku"])})
            assert answer["code"] in ("item_accepted", "second_badge_required"), answer
    return answer


def pick_order(station: Station, world: DemoWorld, order_id: str, picker: str = "E004",
               stop_before_tote: bool = False) -> dict:
    """Pick ``order_id`` on the PDA flow bin by bin (the picker's scans through ``handle``)."""
    base = {"terminal": "pda", "operator": picker, "device": "pda-1"}
    start = station.handle({**base, "action": "pick", "object_type": "order", "object_id": order_id})
    assert start["status"] == "ok", start
    for task in start["data"]["pick"]["tasks"]:
        assert station.handle({**base, "action": "scan", "object_id": task["bin"]})["status"] == "ok"
        sku = world.skus[task["sku"]]
        lot = next((l for l in world.lots(task["sku"]) if l["lot"] == task["lot"]), None)
        code = gs1_item(sku["gtin"], task["lot"], date.fromisoformat(lot["expires"]) if lot and lot.get("expires")
                        else None) if task["lot"] else sku["gtin"]
        for _ in range(task["qty"]):
            answer = station.handle({**base, "action": "scan", "object_id": code})
            assert answer["status"] == "ok", answer
    if stop_before_tote:
        return answer
    done = station.handle({**base, "action": "scan", "object_id": world.orders[order_id]["tote"]})
    assert done["code"] == "order_picked", done
    return done


# ---------------------------------------------------------------------------- a webhook receiver
class Webhook(Endpoint):
    """A real HTTP endpoint for Apprise ``json://`` notifications; ``down()``/``up()`` stop and restart it
    on the same port (connection refused in between)."""

    def __init__(self) -> None:
        super().__init__()
        self.received: list[dict] = []
        self.delay_s = 0.0  # answer this late (a slow chat bot)
        self.started = threading.Event()  # set when a request arrives
        self.up()
        self.url = f"json://127.0.0.1:{self.port}/hook"

    def post(self, path: str, headers: Any, body: bytes) -> int:
        self.started.set()
        time.sleep(self.delay_s)
        self.received.append({"path": path, **json.loads(body or b"{}")})
        return 200


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.down()


class Helpers:
    """The workflow helpers and constants above, as a fixture (test modules do not import conftest)."""

    BADGES, PINS, IDS, START, TODAY = BADGES, PINS, IDS, START, TODAY
    Webhook = Webhook
    outbox_rows = staticmethod(outbox_rows)
    count = staticmethod(count)
    item = staticmethod(item)
    sign_in = staticmethod(sign_in)
    open_and_scan = staticmethod(open_and_scan)
    pick_order = staticmethod(pick_order)


@pytest.fixture(scope="session")
def h() -> type[Helpers]:
    return Helpers
