"""Automatic weighing from scale readings: stable and >= 5 g weighs, motion is ignored, lifting packs.

Readings are decoded from real MT-SICS frames by the profile's codec (as the readers do), and one test
runs the whole path: the scale emulator on a pty, ``ScaleReader`` and the station.
"""
from __future__ import annotations

import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest

from packgate.device.profiles import get_profile
from packgate.device.scale.emulator import ScaleEmulator
from packgate.device.scale.reader import ScaleReader

PROFILE = get_profile("mettler-mt-sics")


def reading(grams, flag: str = "S"):
    """The reading a Mettler MT-SICS scale's ``S S`` (stable) / ``S D`` (dynamic) frame decodes to."""
    return PROFILE.codec.decode(f"S {flag} {Decimal(grams):>10.1f} g\r\n".encode())


@pytest.fixture
def ready(station, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    assert str(station.pack.state) == "ready_to_weigh"
    return station, world.expected_g("SO-10009")


def test_a_stable_reading_weighs_the_ready_parcel(ready, h):
    station, expected = ready
    station.on_reading(reading(expected + 2))
    assert str(station.pack.state) == "weighed_ok" and station.verdict["code"] == "weight_ok"
    assert station.verdict["data"]["measured_g"] == f"{expected + 2:.1f}"
    weigh = h.outbox_rows(station, "action = 'weigh'")[-1]["body"]
    assert weigh["device"] == "ST01-scale" and weigh["payload"]["measured_g"] == f"{expected + 2:.1f}"
    assert station.state()["scale"]["stable"] is True and "raw" not in station.state()["scale"]


def test_motion_readings_are_shown_but_never_weighed(ready, h):
    station, expected = ready
    before = h.count(station, "sync_outbox")
    for grams in (expected - 300, expected, expected + 1):
        station.on_reading(reading(grams, "D"))
    assert str(station.pack.state) == "ready_to_weigh"
    assert station.scale["status"] == "motion" and station.scale["stable"] is False
    assert station.scale["grams"] == f"{expected + 1:.1f}"
    assert h.count(station, "sync_outbox") == before
    station.on_reading(PROFILE.codec.decode(b"S +\r\n"))  # overload: no weight at all
    assert str(station.pack.state) == "ready_to_weigh" and station.scale["status"] == "overload"


def test_a_stable_reading_under_5_g_is_an_empty_scale(ready):
    station, _ = ready
    for grams in ("0.0", "4.9"):
        station.on_reading(reading(grams))
    assert str(station.pack.state) == "ready_to_weigh"
    station.on_reading(reading("5.0"))
    assert str(station.pack.state) == "blocked"  # 5 g is a (very wrong) parcel


def test_lifting_the_weighed_parcel_packs_it(ready, h):
    station, expected = ready
    station.on_reading(reading(expected))
    station.on_reading(reading(expected))  # still on the scale: nothing new
    station.on_reading(reading("0.0", "D"))  # being lifted: not yet
    assert str(station.pack.state) == "weighed_ok"
    station.on_reading(reading("0.3"))
    assert str(station.pack.state) == "packed" and station.verdict["code"] == "packed"
    pack = h.outbox_rows(station, "action = 'pack'")
    assert len(pack) == 1 and pack[0]["body"]["device"] == "ST01-scale"
    assert pack[0]["body"]["payload"]["weight"]["measured_g"] == f"{expected:.1f}"
    station.on_reading(reading("0.0"))
    assert len(h.outbox_rows(station, "action = 'pack'")) == 1


def test_a_blocked_parcel_is_not_packed_by_lifting_it(ready, h):
    station, expected = ready
    station.on_reading(reading(expected + 200))
    assert str(station.pack.state) == "blocked"
    station.on_reading(reading(expected + 200))
    assert len(h.outbox_rows(station, "action = 'weigh'")) == 1  # one weighing, not one per frame
    station.on_reading(reading("0.0"))
    assert str(station.pack.state) == "blocked" and h.outbox_rows(station, "action = 'pack'") == []


def test_readings_before_the_parcel_is_ready_do_nothing(station, world, h):
    h.sign_in(station)
    station.handle({"action": "scan", "object_id": "SO-10009"})
    station.on_reading(reading(world.expected_g("SO-10009")))
    assert str(station.pack.state) == "order_open"
    assert [r["body"]["action"] for r in h.outbox_rows(station)] == ["badge", "scan"]


def test_emulated_scale_through_the_real_reader_weighs_and_packs(ready, tmp_path, h):
    station, expected = ready
    emulator = ScaleEmulator(PROFILE, Decimal(0), seed=7)
    path = emulator.start_pty(tmp_path / "scale0")
    reader = ScaleReader(port=path, profile=PROFILE, on_reading=station.on_reading,
                         on_state=lambda state, detail: station.on_device_state("scale", state, detail))
    reader.start()

    def wait_for(state: str, timeout: float = 6.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end and str(station.pack.state) != state:
            time.sleep(0.02)
        assert str(station.pack.state) == state, (station.verdict, station.scale)

    try:
        emulator.set_weight(expected + Decimal("3.5"), settle_s=0.3)
        wait_for("weighed_ok")
        assert station.devices["scale"]["state"] == "connected"
        measured = Decimal(station.verdict["data"]["measured_g"])
        assert abs(measured - (expected + Decimal("3.5"))) <= 1  # the emulator adds a little noise
        emulator.set_weight(0, settle_s=0.2)
        wait_for("packed")
    finally:
        reader.stop()
        emulator.stop()
    assert [r["body"]["action"] for r in h.outbox_rows(station)][-2:] == ["weigh", "pack"]


def test_the_kiosk_state_shows_the_expected_weight_range_before_weighing(ready, world):
    station, expected = ready
    shown = station.state()["session"]["expected"]
    allowed = max(expected * Decimal("0.05"), Decimal("28.35"))  # 5 %, at least the 1 oz floor (ounce table)
    tenth = Decimal("0.1")  # shown rounded inward: whatever is shown inside the range passes
    assert shown == {"expected_g": f"{expected:.1f}", "allowed_g": str(allowed.quantize(tenth, ROUND_FLOOR)),
                     "low_g": str((expected - allowed).quantize(tenth, ROUND_CEILING)),
                     "high_g": str((expected + allowed).quantize(tenth, ROUND_FLOOR))}
    station.on_reading(reading(expected + allowed + 1))
    assert station.verdict["code"] == "weight_out_of_tolerance"
    assert station.verdict["data"]["allowed_g"] == shown["allowed_g"]  # the range shown is the range judged
    assert station.state()["session"]["expected"] == shown


@pytest.mark.parametrize("edge", ["low_g", "high_g"])
def test_a_weight_shown_at_the_edge_of_the_range_passes(ready, edge):
    station, _expected = ready
    shown = station.state()["session"]["expected"]
    station.on_reading(reading(Decimal(shown[edge])))
    assert station.verdict["code"] == "weight_ok"


def test_a_weight_sent_as_a_json_float_is_refused_and_nothing_is_recorded(ready, h):
    station, expected = ready
    before = h.count(station, "sync_outbox")
    answer = station.handle({"action": "weigh", "payload": {"grams": float(expected), "stable": True}})
    assert answer["code"] == "bad_request" and "decimal string" in answer["message"]
    assert h.count(station, "sync_outbox") == before and str(station.pack.state) == "ready_to_weigh"


def test_an_api_weighing_does_not_pack_on_an_empty_station_scale(ready, h):
    station, expected = ready
    assert station.handle({"action": "weigh", "payload": {"grams": str(expected)}})["code"] == "weight_ok"
    station.on_reading(reading(Decimal("0")))  # the table's own scale is empty: nothing was lifted off it
    assert str(station.pack.state) == "weighed_ok"
    assert station.handle({"action": "pack"})["code"] == "packed"


def test_a_serial_packed_in_one_order_is_refused_in_the_next(station, world, h):
    h.sign_in(station)
    assert station.handle({"action": "scan", "object_id": "T-0009"})["code"] == "order_opened"  # opened by its tote
    assert station.pack.order.order_id == "SO-10009"
    station.handle({"action": "scan", "object_id": h.item(world, "SKU-007")})
    station.handle({"action": "scan", "object_id": h.item(world, "SKU-025", serial="SN-9")})
    station.on_reading(reading(world.expected_g("SO-10009")))
    station.on_reading(reading(Decimal("0")))
    assert str(station.pack.state) == "packed"
    station.handle({"action": "scan", "object_id": "SO-10002"})
    again = station.handle({"action": "scan", "object_id": h.item(world, "SKU-025", serial="SN-9")})
    assert again["code"] == "serial_already_packed"
    assert station.handle({"action": "scan", "object_id": h.item(world, "SKU-025", serial="SN-10")})["code"] == \
        "item_accepted"


def _audit(station, action: str) -> list[dict]:
    rows = station.parts.conn.execute("SELECT who, reason, before, after FROM audit WHERE action = ?", (action,))
    return [dict(zip(("who", "reason", "before", "after"), row, strict=True)) for row in rows]


def test_a_blocked_parcel_lifted_off_and_corrected_is_weighed_again_by_itself(ready, h):
    station, expected = ready
    station.on_reading(reading(expected + 200))
    assert station.verdict["code"] == "weight_out_of_tolerance"
    station.on_reading(reading("0.0"))  # lifted off: still blocked, nothing recorded yet
    assert str(station.pack.state) == "blocked" and _audit(station, "reweigh") == []
    station.on_reading(reading(expected + 1, "D"))  # put back, corrected, still moving
    assert str(station.pack.state) == "blocked"
    station.on_reading(reading(expected + 1))  # settled
    assert str(station.pack.state) == "weighed_ok" and station.verdict["code"] == "weight_ok"
    assert station.verdict["data"]["measured_g"] == f"{expected + 1:.1f}"  # the text says what is on the scale now
    audit = _audit(station, "reweigh")
    assert len(audit) == 1 and audit[0]["reason"] == "scale_changed" and audit[0]["who"] == "E001"
    assert [r["body"]["payload"]["attempt"] for r in h.outbox_rows(station, "action = 'weigh'")] == [1, 2]


def test_a_blocked_parcel_whose_weight_moves_is_weighed_again_without_lifting(ready, h):
    station, expected = ready
    station.on_reading(reading(expected + 200))
    station.on_reading(reading(expected + 200))  # the same weight again: no new weighing
    assert len(h.outbox_rows(station, "action = 'weigh'")) == 1
    station.on_reading(reading(expected + Decimal("200.1")))  # one step of the scale: noise, not a change
    assert len(h.outbox_rows(station, "action = 'weigh'")) == 1
    station.on_reading(reading(expected + 150))  # an item taken out: still too heavy, weighed again
    assert str(station.pack.state) == "blocked" and len(h.outbox_rows(station, "action = 'weigh'")) == 2
    assert station.verdict["data"]["measured_g"] == f"{expected + 150:.1f}"
    assert len(_audit(station, "reweigh")) == 1
