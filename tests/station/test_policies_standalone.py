"""Site policies at a standalone station, with real processes on 127.0.0.1: the reference WMS (its admin API sets the
policies), a station agent with a Zebra printer emulator on TCP, and a real webhook for the shift lead's
notifications (Apprise ``json://``). Order review approved at the table and refused with badge + PIN, a whole-order
cancel that waits for a supervisor, a stock threshold crossed (alert + one ``replenish`` upstream), a suspended
carrier refused with its backup offered, switched (by the packer, or at once where the site allows it), and the dock
following the switch."""
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

SUPERVISOR_PIN = "9876"
PICKER_PIN = "4321"


def wait_until(check: Callable[[], Any], within_s: float) -> None:
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within_s:
            raise AssertionError(f"not within {within_s} s")
        time.sleep(0.02)


@pytest.fixture
def printer() -> Iterator[PrinterEmulator]:
    emu = PrinterEmulator(get_profile("zebra-zpl"))
    emu.url = f"tcp://127.0.0.1:{emu.start_tcp(0)}"  # type: ignore[attr-defined]
    yield emu
    emu.stop()


class Table:
    def __init__(self, tmp_path, printer: PrinterEmulator):
        self.clock = OffsetClock()
        self.world = DemoWorld(self.clock.now().date())
        self.wms_url, self._stop_wms = start_in_thread("127.0.0.1", 0, tmp_path / "wms.db", seed_demo=True,
                                                       today=self.world.today, clock=self.clock)
        self.wms = UpstreamClient(self.wms_url, deadline_s=5)
        self.tmp_path, self.printer, self.agent = tmp_path, printer, None

    def admin(self, path: str, body: Any) -> dict:
        answer = requests.post(f"{self.wms_url}{path}", json=body, timeout=5)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def start(self, **overrides: Any) -> "Table":
        cfg = validate({"station.id": "ST01", "station.name": "Packing table 1",
                        "station.data_dir": str(self.tmp_path / "st"), "web.port": 0, "upstream.url": self.wms_url,
                        "scale.enabled": False, "scanner.enabled": False, "badge.enabled": False,
                        "label.mode": "print", "printer.port": self.printer.url, "printer.poll_s": 0.2,
                        **overrides})
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

    def tap(self, who: str) -> dict:
        """A badge on this table's own reader (presence)."""
        return self.station.on_badge(BADGES[who], "ST01-badge")

    def upstream(self, order_id: str) -> list[dict]:
        wait_until(lambda: self.station.outbox.status()["depth"] == 0, 10.0)
        return self.wms.order_confirmations(order_id)

    def open_and_scan(self, order_id: str) -> dict:
        assert self.ui.act("badge", object_id=BADGES["packer"])["code"] == "signed_in"
        opened = self.ui.act("scan", object_id=order_id)
        for line in self.world.orders[order_id]["lines"]:
            for _ in range(line["qty"]):
                assert self.ui.act("scan", object_id=self.item(line["sku"]))["code"] == "item_accepted"
        return opened

    def weigh(self, order_id: str) -> dict:
        return self.ui.act("weigh", payload={"grams": str(self.world.expected_g(order_id)), "stable": True})


@pytest.fixture
def table(tmp_path, printer) -> Iterator[Table]:
    rig = Table(tmp_path, printer)
    try:
        yield rig
    finally:
        rig.stop()


def valued(table: Table, order_id: str, value: str, **more: Any) -> None:
    table.admin("/v1/admin/orders", {"items": [{**table.world.orders[order_id], "value": value, **more}]})


# ---------------------------------------------------------------------------- review
def test_a_high_value_order_waits_for_a_supervisor_tap_before_its_label(table):
    valued(table, "SO-10009", "1500.00")
    table.start(**{"review.order_value_over": 1000.0})
    opened = table.open_and_scan("SO-10009")
    assert opened["code"] == "review_required" and opened["status"] == "review"
    assert (opened["sound"], opened["colour"]) == ("review", "amber")
    assert "1500.00 > 1000" in opened["message"] and "订单金额" in opened["message_zh"]
    held = table.weigh("SO-10009")
    assert held["code"] == "review_pending", held
    assert table.printer.printed == [] and table.ui.act("print_label")["code"] == "review_pending"
    assert table.printer.printed == []
    assert table.tap("packer2")["code"] != "review_approved"  # a packer's badge decides nothing
    approved = table.tap("supervisor")
    assert approved["code"] == "review_approved" and "Priya Nair" in approved["message"]
    printed = table.ui.act("print_label")
    assert printed["code"] == "label_printed", printed
    wait_until(lambda: len(table.printer.printed) == 1, 3.0)
    reviews = [c for c in table.upstream("SO-10009") if c["action"] == "review"]
    assert [r["payload"]["decision"] for r in reviews] == ["required", "approved"]
    assert reviews[1]["operator"] == "E005" and reviews[1]["payload"]["packer"] == "E001"
    assert reviews[0]["payload"]["rules"] == [{"rule": "order_value", "detail": "1500.00 > 1000"}]
    audit = table.station.parts.conn.execute("SELECT who, action FROM audit WHERE action LIKE 'review_%'").fetchall()
    assert [tuple(r) for r in audit] == [("E005", "review_approved")]


def test_a_flagged_customer_is_refused_with_badge_and_pin_and_stays_refused(table):
    valued(table, "SO-10011", "20", customer={"id": "C-77"})
    flagged = table.admin("/v1/admin/customers/C-77/flags", {"flags": ["new_customer"]})
    assert flagged["orders"] == ["SO-10011"]
    table.start(**{"review.customer_flags": ["new_customer", "blacklist"]})
    assert table.open_and_scan("SO-10011")["code"] == "review_required"
    without_pin = table.ui.act("review", payload={"decision": "refuse", "reason": "address unknown",
                                                  "supervisor_badge": BADGES["supervisor"]})
    assert without_pin["code"] == "presence_required"
    refused = table.ui.act("review", payload={"decision": "refuse", "reason": "address unknown",
                                              "supervisor_badge": BADGES["supervisor"],
                                              "supervisor_pin": SUPERVISOR_PIN})
    assert refused["code"] == "review_refused" and refused["colour"] == "red" and refused["message_zh"]
    assert table.ui.act("scan", object_id="SO-10011")["code"] == "review_was_refused"
    assert table.printer.printed == []
    decisions = [c["payload"]["decision"] for c in table.upstream("SO-10011") if c["action"] == "review"]
    assert decisions == ["required", "refused"]


def test_cancelling_a_whole_order_waits_for_a_supervisor(table):
    table.start()
    table.open_and_scan("SO-10009")
    asked = table.ui.act("cancel", payload={"scope": "order", "reason": "customer called"})
    assert asked["code"] == "order_cancel_needs_supervisor" and asked["status"] == "review"
    assert table.station.state()["session"]["state"] != "cancelled"
    assert "cancel" not in [c["action"] for c in table.upstream("SO-10009")]
    done = table.tap("supervisor")
    assert done["code"] == "order_cancelled", done
    cancels = [c for c in table.upstream("SO-10009") if c["action"] == "cancel"]
    assert len(cancels) == 1 and cancels[0]["payload"]["approved_by"] == "E005"
    assert cancels[0]["payload"]["scope"] == "order"


# ---------------------------------------------------------------------------- stock thresholds
def test_a_threshold_crossed_alerts_the_shift_lead_and_asks_for_replenishment_once(table, webhook):
    lots = [r for r in table.world.reference["lots"] if r["sku"] == "SKU-007"]
    total = sum(r["qty"] for r in lots)
    table.admin("/v1/admin/skus/SKU-007/policy", {"safety_stock": total - 1})
    table.start(**{"escalation.notify": [webhook.url]})
    table.open_and_scan("SO-10009")  # one SKU-007
    wait_until(lambda: any("SKU-007" in str(n) for n in webhook.received), 5.0)
    wait_until(lambda: all(a["notified_at"] for a in table.station.stock.listing()), 5.0)  # marked once sent
    wait_until(lambda: table.station.outbox.status()["depth"] == 0, 10.0)
    rows = table.station.parts.conn.execute("SELECT state, object_id, body FROM sync_outbox"
                                            " WHERE action = 'replenish'").fetchall()
    assert [(r["state"], r["object_id"]) for r in rows] == [("sent", "SKU-007")]  # upstream took it, once
    assert table.ui.act("sign_out", payload={"confirm": True})["code"] in ("signed_out", "abandon_confirm")
    alerts = table.station.stock.listing()
    assert alerts[0]["sku"] == "SKU-007" and alerts[0]["detail"]["threshold"] == total - 1
    assert alerts[0]["notified_at"] is not None
    note = [n for n in webhook.received if "SKU-007" in str(n)][0]
    assert "库存" in note["title"] and "Stock low" in note["title"]
    assert len([n for n in webhook.received if "SKU-007" in str(n)]) == 1


def test_a_short_pda_pick_notifies_the_shift_lead(table, webhook):
    lot = next(r for r in table.world.reference["lots"] if r["sku"] == "SKU-007")
    table.admin("/v1/admin/lots", {"items": [{**lot, "qty": 0}]})
    table.start(**{"escalation.notify": [webhook.url]})
    short = table.station.handle({"terminal": "pda", "operator": "E004", "device": "pda-1", "action": "pick",
                                  "object_type": "order", "object_id": "SO-10009"})
    assert short["code"] == "stock_short", short
    wait_until(lambda: any("Short pick" in str(n) for n in webhook.received), 5.0)
    wait_until(lambda: all(a["notified_at"] for a in table.station.stock.listing()), 5.0)  # marked once sent
    alert = [a for a in table.station.stock.listing() if a["kind"] == "short"][0]
    assert alert["sku"] == "SKU-007" and alert["notified_at"] and alert["detail"]["picker"] == "E004"
    wait_until(lambda: table.station.outbox.status()["depth"] == 0, 10.0)
    sent = table.station.parts.conn.execute("SELECT state, object_id FROM sync_outbox WHERE action = 'stock_short'"
                                            ).fetchall()
    assert [tuple(r) for r in sent] == [("sent", "SKU-007")]  # upstream (in a site: the hub tells its shift lead)


# ---------------------------------------------------------------------------- carriers
def test_a_suspended_carrier_is_refused_then_switched_and_the_dock_follows(table):
    table.admin("/v1/admin/carriers/SF", {"suspended_regions": ["*"], "backup": "YTO", "reason": "typhoon"})
    table.start()
    table.open_and_scan("SO-10009")  # booked with SF
    refused = table.weigh("SO-10009")
    assert refused["code"] == "carrier_suspended" and "YTO" in refused["message"] and "typhoon" in refused["message"]
    assert refused["message_zh"] and table.printer.printed == []
    switched = table.ui.act("switch_carrier")
    assert switched["code"] in ("carrier_switched", "label_printed"), switched
    wait_until(lambda: len(table.printer.printed) == 1, 3.0)
    sw = [c for c in table.upstream("SO-10009") if c["action"] == "carrier_switch"]
    assert len(sw) == 1 and sw[0]["payload"] == {"from": "SF", "to": "YTO", "why": "suspended", "auto": False}
    waybill = table.station.labels.view()
    assert table.ui.act("scan", object_id=(waybill or {}).get("waybill") or "")["code"] == "packed"
    picker = Terminal(table.agent.url, table.world)
    assert picker.pda_login(BADGES["picker"], PICKER_PIN)["status"] == "ok"
    sf = picker.api("/api/v1/dock/batches", {"carrier": "SF", "vehicle": "V1"})["batch"]["batch_id"]
    wrong = picker.api(f"/api/v1/dock/batches/{sf}/scan", {"code": "SO-10009"})
    assert wrong["code"] == "dock_wrong_carrier" and "YTO" in wrong["message"]
    yto = picker.api("/api/v1/dock/batches", {"carrier": "YTO", "vehicle": "V2"})["batch"]["batch_id"]
    assert picker.api(f"/api/v1/dock/batches/{yto}/scan", {"code": "SO-10009"})["code"] == "dock_parcel_added"


def test_where_the_site_allows_it_the_label_goes_to_the_backup_at_once(table):
    table.admin("/v1/admin/carriers/SF", {"daily_cap": 0, "backup": "YTO"})
    table.start(**{"carriers.auto_switch": True})
    table.open_and_scan("SO-10009")
    printed = table.weigh("SO-10009")
    assert printed["code"] == "label_printed", printed
    sw = [c for c in table.upstream("SO-10009") if c["action"] == "carrier_switch"]
    assert len(sw) == 1 and sw[0]["payload"]["auto"] is True and sw[0]["payload"]["why"] == "capped"


def test_bad_policy_calls_are_refused_with_the_field_named(table):
    bad = requests.post(f"{table.wms_url}/v1/admin/carriers/SF", json={"daily_cap": -1}, timeout=5)
    assert bad.status_code == 400 and "daily_cap" in bad.json()["error"]
    missing = requests.post(f"{table.wms_url}/v1/admin/skus/NOPE/policy", json={"safety_stock": 1}, timeout=5)
    assert missing.status_code == 404
    nobody = requests.post(f"{table.wms_url}/v1/admin/customers/C-0/flags", json={"flags": ["x"]}, timeout=5)
    assert nobody.status_code == 404


def test_a_pda_pick_that_crosses_a_threshold_asks_for_replenishment(table, webhook, h):
    lots = [r for r in table.world.reference["lots"] if r["sku"] == "SKU-024"]
    table.admin("/v1/admin/skus/SKU-024/policy", {"safety_stock": sum(r["qty"] for r in lots) - 2})
    table.start(**{"escalation.notify": [webhook.url]})
    h.pick_order(table.station, table.world, "SO-10012")  # three SKU-024
    wait_until(lambda: any("SKU-024" in str(n) for n in webhook.received), 5.0)
    rows = table.station.parts.conn.execute("SELECT body FROM sync_outbox WHERE action = 'replenish'").fetchall()
    assert len(rows) == 1 and b'"SKU-024"' in rows[0]["body"]


def test_a_refusal_asked_on_the_kiosk_is_decided_by_the_supervisors_tap(table):
    table.start(**{"review.units_over": 1})
    assert table.open_and_scan("SO-10009")["code"] == "review_required"  # two units
    no_reason = table.ui.act("review", payload={"decision": "refuse"})
    assert no_reason["code"] == "override_reason_missing"
    asked = table.ui.act("review", payload={"decision": "refuse", "reason": "fraud check"})
    assert asked["code"] == "review_decision_requested" and asked["status"] == "review"
    assert "拒绝" in asked["message_zh"]
    refused = table.tap("supervisor")
    assert refused["code"] == "review_refused" and "fraud check" in refused["message"]
    assert table.station.state()["session"]["state"] == "cancelled"
    row = table.station.reviews.row("SO-10009")
    assert row["decision"] == "refused" and row["decided_by"] == "E005" and row["via"] == "table"
