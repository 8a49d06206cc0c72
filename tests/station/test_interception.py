"""Interception at one table (订单拦截), in process: the WMS's word on an order is learned once (never an older one),
the kiosk is told at once, and every step of a held or cancelled order answers INTERCEPTED in both languages with
one ``intercept`` confirmation per step and decision; a change of lines re-opens verification; a release lets
packing go on; the dock refuses the parcel."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from packgate.device.clock import FakeClock, isoformat
from packgate.station.core import interception as rules
from packgate.station.core import packing as pk
from packgate.station.core.order_state import WmsWord, decision, line_changes
from packgate.sync.common.db import write_tx

START = FakeClock().now()  # where the station tests' clock starts (tests/station/conftest.py)


def outbox_rows(station, where: str = "1=1", args: tuple = ()) -> list[dict]:
    rows = station.parts.conn.execute(f"SELECT * FROM sync_outbox WHERE {where} ORDER BY seq", args).fetchall()
    return [{**dict(r), "body": json.loads(r["body"])} for r in rows]


def tell(station, order_id: str, status: str, *, reason: str | None = "customer refund", minutes: float = 1,
         revision: int = 1, lines: list[dict] | None = None) -> list[str]:
    """The WMS's word on ``order_id`` arrives (as the fast pull or the hub's feed hands it over)."""
    row = {"order_id": order_id, "status": status, "status_reason": reason, "revision": revision,
           "status_at": isoformat(START + timedelta(minutes=minutes)),
           "lines": lines or station.catalog.cache.get_order(order_id)["lines"]}
    with station.parts.lock, write_tx(station.parts.conn) as conn:
        learned = station.interception.learn(conn, [row], "test")
    station.interception.announce()
    return learned


def intercepts(station, order_id: str) -> list[dict]:
    return [r["body"]["payload"] for r in outbox_rows(station, "action = 'intercept' AND object_id = ?", (order_id,))]


def scan(station, code: str) -> dict:
    return station.handle({"action": "scan", "object_id": code})


def test_a_cancelled_order_is_intercepted_at_the_next_step_and_the_table_is_free_again(station, world, h):
    h.sign_in(station)
    assert scan(station, "SO-10009")["code"] == "order_opened"
    assert scan(station, h.item(world, "SKU-007"))["code"] == "item_accepted"
    before = len(outbox_rows(station))
    assert tell(station, "SO-10009", "cancelled") == ["SO-10009"]
    shown = station.state()
    assert shown["verdict"]["code"] == "intercepted"  # told at once, before any step
    assert shown["session"]["interception"]["status"] == "cancelled"
    assert len(outbox_rows(station)) == before  # ... and nothing recorded for telling

    answer = scan(station, h.item(world, "SKU-025"))
    assert (answer["status"], answer["code"], answer["sound"], answer["colour"]) == \
        ("intercepted", "intercepted", "intercept", "crimson")
    assert answer["message"] == ("Order SO-10009 was cancelled by the WMS at 08:01 (customer refund). "
                                 "Put the parcel in the interception bin.")
    assert answer["message_zh"] == "订单SO-10009已于08:01被WMS取消（customer refund）。请把包裹放入拦截区。"
    assert station.pack.state is pk.State.CANCELLED and station.state()["session"]["interception"] is None
    (stopped,) = intercepts(station, "SO-10009")
    assert stopped["step"] == "scan_item" and stopped["status"] == "cancelled" and stopped["units_scanned"] == 1
    assert [r["action"] for r in outbox_rows(station)][before:] == ["intercept"]  # nothing but the intercept
    assert station.catalog.local_order("SO-10009")["status"] == "cancelled"
    assert scan(station, "SO-10013")["code"] == "order_opened"  # the next order


def test_a_held_order_stops_every_step_once_each_and_a_release_lets_packing_go_on(station, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    tell(station, "SO-10009", "held", reason="address check")
    grams = str(world.expected_g("SO-10009"))
    for _ in range(2):
        refused = station.handle({"action": "weigh", "payload": {"grams": grams}})
        assert refused["code"] == "intercepted" and "held" in refused["message"] and "暂停" in refused["message_zh"]
        assert "until the WMS releases the order" in refused["message"]
    assert station.pack.state is pk.State.READY_TO_WEIGH  # the parcel stays as it is
    assert station.handle({"action": "pack"})["code"] == "intercepted"
    assert [(p["step"], p["status"]) for p in intercepts(station, "SO-10009")] == [("weigh", "held"), ("pack", "held")]
    tell(station, "SO-10009", "open", reason=None, minutes=5)
    assert station.state()["session"]["interception"] is None
    assert station.handle({"action": "weigh", "payload": {"grams": grams}})["code"] == "weight_ok"
    assert station.handle({"action": "pack"})["code"] == "packed"


def test_a_change_of_lines_says_what_to_take_out_and_what_to_add(station, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10011")  # two ceramic mugs (SKU-012)
    new = [{"sku": "SKU-012", "qty": 1}, {"sku": "SKU-007", "qty": 1}]
    tell(station, "SO-10011", "open", reason="customer edit", revision=2, lines=new)
    assert station.state()["session"]["interception"]["revision"] == 2
    changed = station.handle({"action": "weigh", "payload": {"grams": "900"}})
    assert changed["code"] == "order_changed" and changed["status"] == "prompt"
    assert "revision 2): take out 1 × SKU-012; add 1 × SKU-007." in changed["message"]
    assert "取出1件SKU-012；补入1件SKU-007" in changed["message_zh"]
    assert station.pack.state is pk.State.SCANNING and station.pack.packed_qty("SKU-012") == 1
    assert [line.as_dict() for line in station.pack.order.lines] == new
    (stopped,) = intercepts(station, "SO-10011")
    assert stopped["status"] == "changed" and stopped["take_out"] == {"SKU-012": 1} and stopped["add"] == {"SKU-007": 1}
    assert scan(station, h.item(world, "SKU-007"))["code"] == "item_accepted"
    assert station.pack.complete


def test_an_order_or_tote_of_a_stopped_order_is_intercepted_when_scanned_to_open(station, world, h):
    h.sign_in(station)
    tell(station, "SO-10012", "cancelled")
    by_id = scan(station, "SO-10012")
    by_tote = scan(station, world.orders["SO-10012"]["tote"])
    assert by_id["code"] == by_tote["code"] == "intercepted"
    assert station.pack.state is pk.State.SIGNED_IN
    assert [p["step"] for p in intercepts(station, "SO-10012")] == ["open_order"]  # one step, one decision


def test_an_older_or_repeated_word_is_ignored_and_a_plain_order_is_not_kept(station):
    assert tell(station, "SO-10014", "held", minutes=5) == ["SO-10014"]
    assert tell(station, "SO-10014", "held", minutes=5) == []
    assert tell(station, "SO-10014", "cancelled", minutes=2) == []  # older than the hold
    assert station.interception.word("SO-10014").status == "held"
    with station.parts.lock, write_tx(station.parts.conn) as conn:
        assert station.interception.learn(conn, [{"order_id": "SO-10015", "status": "open",
                                                  "lines": [{"sku": "SKU-001", "qty": 1}]}], "test") == []


def test_the_dock_refuses_a_packed_parcel_the_wms_cancelled_and_a_batch_leaves_it_out(station, world, h):
    h.sign_in(station)
    for order_id in ("SO-10009", "SO-10007"):
        h.open_and_scan(station, world, order_id)
        station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g(order_id))}})
        assert station.handle({"action": "pack"})["code"] == "packed"
    batch = station.dock.open({"carrier": "SF", "vehicle": "V1"}, "E004")["batch"]["batch_id"]
    assert station.dock.scan(batch, "SO-10007", "E004")["code"] == "dock_parcel_added"
    tell(station, "SO-10009", "cancelled")
    tell(station, "SO-10007", "cancelled")
    for _ in range(2):
        refused = station.dock.scan(batch, "SO-10009", "E004")
        assert refused["code"] == "intercepted" and refused["status"] == "intercepted"
    closed = station.dock.close(batch, "E004")
    assert closed["code"] == "dock_batch_empty"
    assert [(p["step"]) for p in intercepts(station, "SO-10009")] == ["dock_scan"]
    assert [(p["step"]) for p in intercepts(station, "SO-10007")] == ["dock_close"]
    assert outbox_rows(station, "action IN ('ship_load', 'manifest')") == []


def test_the_pure_rules():
    session = pk.PackSession(state=pk.State.WEIGHED_OK)
    assert rules.step_of(session, "pack") is None  # no order open
    assert line_changes({"A": 2, "B": 1}, {"A": 1, "C": 3}) == ({"C": 3}, {"A": 1, "B": 1})
    held = WmsWord("SO-1", "held", at=START)
    assert decision(None, held) == "held" and decision(held, WmsWord("SO-1", "open", at=START)) == "released"
    assert decision(None, WmsWord("SO-1", "open", revision=2)) == "changed"
    assert decision(held, held) is None and not WmsWord("SO-1", "open").noteworthy


@pytest.mark.parametrize("event", ["cancel", "sign_out"])
def test_a_stop_and_a_sign_out_are_never_stopped(event, station, world, h):
    h.sign_in(station)
    scan(station, "SO-10009")
    assert rules.step_of(station.pack, event) is None
    assert rules.step_of(station.pack, "badge") is None and rules.step_of(station.pack, "weigh") == "weigh"
