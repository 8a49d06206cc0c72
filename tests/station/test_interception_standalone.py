"""Interception at a standalone station (订单拦截: no hub), with real processes on 127.0.0.1: the reference WMS and a
station agent (devices off, a Zebra printer emulator on TCP) learning the WMS's decisions through its fast pull of
the orders changed (``upstream.orders_s``). A cancel is known within 2 s; a label waiting for the printer is withdrawn
and never prints; a pack made before the station could know is refused for good by the WMS and resolved by a
supervisor on the conflicts list."""
from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest
import requests

from packgate.device.printer.emulator import PrinterEmulator
from packgate.device.profiles import get_profile
from packgate.station.demo.floor import Terminal
from packgate.station.demo.rig import DemoWorld
from packgate.station.demo.selftest import OffsetClock
from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate
from packgate.sync.client import UpstreamClient
from packgate.sync.upstream.demo_data import DEMO_BADGES as BADGES
from packgate.sync.upstream.server import start_in_thread

API_TOKEN = "supervisor-tool-token-0123456789"


def wait_until(check: Callable[[], Any], within_s: float) -> float:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within_s:
            raise AssertionError(f"not within {within_s} s")
        time.sleep(0.01)
    return time.monotonic() - start


@pytest.fixture
def printer() -> Iterator[PrinterEmulator]:
    emu = PrinterEmulator(get_profile("zebra-zpl"))
    emu.url = f"tcp://127.0.0.1:{emu.start_tcp(0)}"  # type: ignore[attr-defined]
    yield emu
    emu.stop()


class Standalone:
    def __init__(self, tmp_path, printer: PrinterEmulator):
        self.clock = OffsetClock()
        self.world = DemoWorld(self.clock.now().date())
        self.wms_url, self._stop_wms = start_in_thread("127.0.0.1", 0, tmp_path / "wms.db", seed_demo=True,
                                                       today=self.world.today, clock=self.clock)
        self.wms = UpstreamClient(self.wms_url, deadline_s=5)
        self.tmp_path, self.printer, self.agent = tmp_path, printer, None

    def start(self, **overrides: Any) -> "Standalone":
        cfg = validate({"station.id": "ST01", "station.name": "Packing table 1", "station.data_dir": str(self.tmp_path / "st"),
                        "web.port": 0, "upstream.url": self.wms_url, "scale.enabled": False, "scanner.enabled": False,
                        "badge.enabled": False, "label.mode": "print", "printer.port": self.printer.url,
                        "printer.poll_s": 0.2, "web.api_tokens": [API_TOKEN], **overrides})
        self.agent = Agent(cfg, clock=self.clock, start_devices=False).start()
        self.station = self.agent.station
        self.ui = Terminal(self.agent.url, self.world)
        return self

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        self.wms.close()
        self._stop_wms()

    def item(self, sku: str) -> str:
        return self.world.item_code(sku, self.world.good_lot_index(sku))

    def shown(self) -> dict:
        return self.ui.http.get(f"{self.agent.url}/api/v1/state", timeout=5).json()

    def actions(self, order_id: str) -> list[str]:
        wait_until(lambda: self.station.outbox.status()["depth"] == 0, 10.0)
        return [c["action"] for c in self.wms.order_confirmations(order_id)]

    def pack_up_to_weighing(self, order_id: str) -> dict:
        assert self.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
        assert self.ui.act("scan", object_id=order_id)["code"] == "order_opened"
        for line in self.world.orders[order_id]["lines"]:
            for _ in range(line["qty"]):
                assert self.ui.act("scan", object_id=self.item(line["sku"]))["code"] == "item_accepted"
        return self.ui.act("weigh", payload={"grams": str(self.world.expected_g(order_id)), "stable": True})


@pytest.fixture
def table(tmp_path, printer) -> Iterator[Standalone]:
    rig = Standalone(tmp_path, printer)
    try:
        yield rig
    finally:
        rig.stop()


def test_a_cancel_is_known_within_2_s_and_the_next_step_records_only_the_intercept(table):
    table.start()
    assert table.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
    assert table.ui.act("scan", object_id="SO-10009")["code"] == "order_opened"
    before = table.actions("SO-10009")
    table.wms.decide("SO-10009", "cancel", {"reason": "customer refund"})
    decided = time.monotonic()
    wait_until(lambda: (table.shown()["session"]["interception"] or {}).get("status") == "cancelled", 2.0)
    assert time.monotonic() - decided < 2.0
    refused = table.ui.act("scan", object_id=table.item("SKU-007"))
    assert refused["code"] == "intercepted" and "customer refund" in refused["message"]
    assert table.actions("SO-10009") == before + ["intercept"]


def test_a_label_waiting_for_the_printer_is_withdrawn_and_never_prints(table):
    table.printer.set_state("paper_out")
    table.start()
    failed = table.pack_up_to_weighing("SO-10009")
    assert failed["code"] == "printer_not_ready", failed
    assert table.shown()["label"]["state"] == "failed"
    before = table.actions("SO-10009")
    table.wms.decide("SO-10009", "cancel", {"reason": "customer refund"})
    wait_until(lambda: (table.shown()["label"] or {}).get("state") == "withdrawn", 2.0)
    table.printer.set_state()  # labels loaded: a queued label would print now
    time.sleep(1.0)  # several printer polls
    assert table.printer.printed == []
    refused = table.ui.act("print_label")
    assert refused["code"] == "intercepted" and table.printer.printed == []
    assert table.shown()["session"]["state"] == "cancelled" and table.shown()["label"] is None
    after = table.actions("SO-10009")
    assert after[len(before):] == ["intercept"]
    intercept = [c for c in table.wms.order_confirmations("SO-10009") if c["action"] == "intercept"][0]
    assert intercept["payload"]["step"] == "print" and intercept["payload"]["state"] == "weighed_ok"


def test_a_held_order_waits_with_its_label_withdrawn_and_prints_once_released(table):
    table.printer.set_state("paper_out")
    table.start()
    assert table.pack_up_to_weighing("SO-10009")["code"] == "printer_not_ready"
    table.wms.decide("SO-10009", "hold", {"reason": "address check"})
    wait_until(lambda: (table.shown()["label"] or {}).get("state") == "withdrawn", 2.0)
    table.printer.set_state()
    time.sleep(0.8)
    assert table.printer.printed == []
    table.wms.decide("SO-10009", "release", {})
    assert table.printer.wait_printed(1, timeout=3.0)  # printing resumes by itself
    waybill = table.shown()["label"]["waybill"]
    assert table.ui.act("scan", object_id=waybill)["code"] == "packed"
    assert table.actions("SO-10009")[-1] == "pack"


def test_a_pack_made_before_the_station_knew_is_a_conflict_a_supervisor_resolves(table):
    table.start(**{"upstream.orders_s": 3600.0, "label.mode": "none"})  # it will not hear of the cancel in time
    time.sleep(0.3)  # the first pull of order changes is done
    table.wms.decide("SO-10009", "cancel", {"reason": "customer refund"})
    assert table.pack_up_to_weighing("SO-10009")["code"] == "weight_ok"
    assert table.ui.act("pack")["code"] == "packed"
    wait_until(lambda: table.station.outbox.status()["dead"] == 1, 10.0)
    assert "pack" not in table.actions("SO-10009")  # never told it was packed after it was cancelled
    (conflict,) = table.station.supervisor_overview()["conflicts"]
    assert conflict["action"] == "pack" and conflict["object_id"] == "SO-10009"
    assert "cancelled by the WMS" in conflict["dead_reason"]
    api = {"Authorization": f"Bearer {API_TOKEN}"}
    url = f"{table.agent.url}/api/v1/supervisor/conflicts/{conflict['id']}/resolve"
    missing = requests.post(url, json={"operator": "E005", "note": " "}, headers=api, timeout=5).json()
    assert missing["code"] == "conflict_note_missing"
    done = requests.post(url, json={"operator": "E005", "note": "parcel unpacked, items back to stock"}, headers=api,
                         timeout=5).json()
    assert done["code"] == "conflict_resolved" and "SO-10009" in done["message_zh"]
    again = requests.post(url, json={"operator": "E005", "note": "again"}, headers=api, timeout=5).json()
    assert again["code"] == "unknown_conflict"
    assert table.station.supervisor_overview()["conflicts"] == []
    audit = table.station.supervisor_overview()["audit"]
    assert audit[0]["action"] == "conflict_resolved" and audit[0]["who"] == "E005"
