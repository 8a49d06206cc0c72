"""What the kiosk page is given (station/views.py ``state``): the panels follow the order on the table.

The expected weight and its range only while an order is open (not "the box alone" after a pack); the order
just finished in one line (packed with its items and weight, or stopped, or cancelled); the next step of the
state, how old the verdict is and after how long the page lets it go; a pick taken up again says its step.
"""
from __future__ import annotations

from decimal import Decimal


def test_after_a_pack_the_state_says_what_was_packed_and_no_range_is_left(station, world, h, clock):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    during = station.state()
    assert during["session"]["expected"] is not None and during["session"]["next"] == "weigh"
    assert during["session"]["done"] is None and during["label_mode"] == "none"
    grams = world.expected_g("SO-10009") + 2
    assert station.handle({"action": "weigh", "payload": {"grams": str(grams)}})["code"] == "weight_ok"
    assert station.handle({"action": "pack"})["code"] == "packed"
    after = station.state()
    assert after["session"]["state"] == "packed" and after["session"]["expected"] is None
    assert after["session"]["done"] == {"order_id": "SO-10009", "outcome": "packed", "units": 2, "cartons": 1,
                                        "grams": str(Decimal(grams).quantize(Decimal("0.1")))}
    assert after["session"]["next"] == "scan_order"
    assert after["verdict_age_s"] == 0 and after["verdict_clear_s"] == 60.0
    clock.advance(90)
    assert station.state()["verdict_age_s"] == 90


def test_a_stop_and_a_cancel_are_told_apart(station, world, h):
    h.sign_in(station)
    station.handle({"action": "scan", "object_id": "SO-10009"})
    station.handle({"action": "cancel", "payload": {"reason": "Item missing / damaged"}})
    assert station.state()["session"]["done"]["outcome"] == "stopped"
    station.handle({"action": "scan", "object_id": "SO-10004"})
    asked = station.handle({"action": "cancel", "payload": {"reason": "Customer cancelled", "scope": "order"}})
    assert asked["code"] == "order_cancel_needs_supervisor"
    assert station.on_badge(h.BADGES["supervisor"], "ST01-badge")["code"] == "order_cancelled"  # their tap
    done = station.state()["session"]["done"]
    assert done["order_id"] == "SO-10004" and done["outcome"] == "cancelled" and done["grams"] is None


def test_a_pick_taken_up_again_with_every_item_picked_asks_for_the_tote(station, world, h):
    h.pick_order(station, world, "SO-10012", stop_before_tote=True)
    again = station.handle({"terminal": "pda", "operator": "E004", "action": "pick", "object_type": "order",
                            "object_id": "SO-10012"})
    assert again["code"] == "pick_complete" and again["next"] == "scan_tote" and "T-0012" in again["message"]
    assert again["data"]["pick"]["current"] is None
