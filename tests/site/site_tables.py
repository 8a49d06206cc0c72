"""Two real station agents (devices off, each with a label printer emulator on TCP) pointing at a real hub on
127.0.0.1 that relays to the real reference WMS: the site as the issue measured it. The clock is the real one plus an
offset the test moves; the hub's ticker and relay are driven by hand (``site.hub.tick()``, ``site.relay()``)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import requests
from hubkit import TOKENS

from packgate.device.printer.emulator import PrinterEmulator
from packgate.device.profiles import get_profile
from packgate.station.demo.floor import Terminal
from packgate.station.demo.rig import DemoWorld
from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate
from packgate.sync.hub import reference
from packgate.sync.upstream.demo_data import DEMO_BADGES as BADGES

NAMES = {"ST01": "Packing table 1", "ST02": "Packing table 2"}
PINS = {"picker": "4321", "packer": "1234", "packer2": "2468", "supervisor": "9876"}  # demo_data.EMPLOYEES


def wait_until(check: Callable[[], Any], within_s: float) -> float:
    """Seconds until ``check()`` held; fails after ``within_s``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within_s:
            raise AssertionError(f"not within {within_s} s")
        time.sleep(0.01)
    return time.monotonic() - start


class Table:
    """One station agent of the site, its kiosk/PDA API and its printer."""

    def __init__(self, agent: Agent, world: DemoWorld, printer: PrinterEmulator):
        self.agent, self.station, self.printer = agent, agent.station, printer
        self.world = world
        self.ui = Terminal(agent.url, world)

    def pack_labelled(self, order_id: str, badge: str) -> str:
        """Sign in, open ``order_id`` by its tote, scan its items, weigh it right: its label prints; scan the
        label on the parcel (packed). Returns the waybill."""
        order = self.world.orders[order_id]
        answers = [self.ui.act("badge", object_id=badge), self.ui.act("scan", object_id=order["tote"])]
        assert answers[-1]["code"] == "order_opened", answers
        for line in order["lines"]:
            for _ in range(line["qty"]):
                code = self.world.item_code(line["sku"], self.world.good_lot_index(line["sku"]))
                answers.append(self.ui.act("scan", object_id=code))
        printed = self.ui.act("weigh", payload={"grams": str(self.world.expected_g(order_id)), "stable": True})
        assert printed["code"] == "label_printed", [*answers, printed]
        waybill = str(printed["data"]["waybill"])
        packed = self.ui.act("scan", object_id=waybill)
        assert packed["code"] == "packed", packed
        return waybill

    def dock(self) -> "Dock":
        """A PDA at this table's dock door: signs the picker in and uses the dock API."""
        ui = Terminal(self.agent.url, self.world)
        assert ui.pda_login(BADGES["picker"], PINS["picker"])["status"] == "ok"
        return Dock(ui)


class Dock:
    def __init__(self, ui: Terminal):
        self.ui = ui

    def open(self, carrier: str, vehicle: str = "V-1") -> str:
        opened = self.ui.api("/api/v1/dock/batches", {"carrier": carrier, "vehicle": vehicle})
        assert opened["code"] == "dock_batch_opened", opened
        return str(opened["data"]["batch_id"])

    def scan(self, batch_id: str, code: str) -> dict[str, Any]:
        return self.ui.api(f"/api/v1/dock/batches/{batch_id}/scan", {"code": code})

    def close(self, batch_id: str) -> dict[str, Any]:
        return self.ui.api(f"/api/v1/dock/batches/{batch_id}/close", {})


@contextmanager
def site_tables(site: Any, clock: Any, root: Path, webhook_url: str, **overrides: Any) -> Iterator[list[Table]]:
    """Start a station agent per site token (ST01, ST02) with ``overrides``; stop them all afterwards."""
    world = DemoWorld(clock.now().date())
    tables: list[Table] = []
    try:
        for station in TOKENS:
            printer = PrinterEmulator(get_profile("zebra-zpl"))
            port = printer.start_tcp(0)
            cfg = validate({"station.id": station, "station.name": NAMES[station], "station.location": station,
                            "station.data_dir": str(root / station), "web.port": 0, "upstream.url": site.url,
                            "upstream.kind": "hub", "upstream.token": TOKENS[station], "hub.heartbeat_s": 0.5,
                            "hub.feed_wait_s": 5, "scale.enabled": False, "scanner.enabled": False,
                            "badge.enabled": False, "escalation.notify": [webhook_url],
                            "label.mode": "print", "printer.profile": "zebra-zpl",
                            "printer.port": f"tcp://127.0.0.1:{port}", "label.template": "label-zpl-100x150",
                            **overrides})
            tables.append(Table(Agent(cfg, clock=clock, start_devices=False).start(), world, printer))
        yield tables
    finally:
        for table in tables:
            table.agent.stop()
            table.printer.stop()


def wms_admin(wms: str, kind: str, items: list[dict[str, Any]]) -> None:
    resp = requests.post(f"{wms}/v1/admin/{kind}", json={"items": items}, timeout=5)
    assert resp.status_code == 200, resp.text


def wms_order(wms: str, order_id: str) -> dict[str, Any]:
    orders = requests.get(f"{wms}/v1/reference", timeout=5).json()["orders"]
    return next(o for o in orders if o["order_id"] == order_id)


def wms_sets_status(site: Any, wms: str, order_id: str, status: str, reason: str) -> None:
    """The WMS cancels or holds an order (its admin API), and the hub pulls the change."""
    order = wms_order(wms, order_id)
    wms_admin(wms, "orders", [{**order, "status": status, "status_reason": reason,
                               "status_at": site.hub.clock.now().isoformat()}])
    reference.refresh(site.hub.db, site.hub.client, site.hub.clock)


def wms_confirmations(wms: str, order_id: str) -> list[dict[str, Any]]:
    return list(requests.get(f"{wms}/v1/orders/{order_id}/confirmations", timeout=5).json()["confirmations"])
