"""The label gate at the table, end to end on 127.0.0.1: the station, a real reference upstream (its label
desk issues the waybills) and a Zebra ZPL printer emulator over TCP that records every job it received and
every label it printed. Only time is fake."""
from __future__ import annotations

import hashlib
import socket
from decimal import Decimal

import pytest

from packgate.device.printer.emulator import PrinterEmulator
from packgate.device.profiles import get_profile
from packgate.station.core import packing as pk
from packgate.station.labels import StationPrinter
from packgate.station.runtime.config import validate
from packgate.station.service import Station
from packgate.sync.client import UpstreamClient
from packgate.sync.outbox import Outbox
from packgate.sync.reference import ReferenceCache
from packgate.sync.upstream.server import start_in_thread


@pytest.fixture
def upstream(tmp_path, h):
    """A seeded upstream per test: waybills are issued per order and carton, so tests must not share one."""
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "upstream.db", seed_demo=True, today=h.TODAY)
    yield url
    stop()


@pytest.fixture
def printer():
    emu = PrinterEmulator(get_profile("zebra-zpl"))
    port = emu.start_tcp(0)
    emu.url = f"tcp://127.0.0.1:{port}"  # type: ignore[attr-defined]
    yield emu
    emu.stop()


class Rig:
    def __init__(self, tmp_path, upstream, printer, clock):
        self.tmp_path, self.upstream, self.emulator, self.clock = tmp_path, upstream, printer, clock
        self.closers: list = []

    def station(self, **overrides) -> Station:
        cfg = validate({"station.id": "ST01", "station.name": "Test table", "upstream.url": self.upstream,
                        "label.mode": "print", "printer.profile": "zebra-zpl", "printer.port": self.emulator.url,
                        "label.template": "label-zpl-100x150", "printer.poll_s": 1.0, **overrides})
        db = str(self.tmp_path / "station.db")
        client = UpstreamClient(self.upstream, deadline_s=5, clock=self.clock)
        cache = ReferenceCache(db, client, self.clock)
        assert cache.refresh()["ok"]
        printer = StationPrinter(cfg["printer.port"], get_profile(cfg["printer.profile"]), timeout=1.0)
        station = Station(cfg, db_path=db, cache=cache, outbox=Outbox(db, "ST01", self.clock), clock=self.clock,
                          label_upstream=client, printer=printer)
        cache.on_update = station.interception.on_reference  # the WMS's word, as the agent wires it
        self.cache = cache
        self.closers += [station.close, client.close, cache.close, printer.close]
        return station

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # noqa: BLE001 - already closed
                pass


@pytest.fixture
def rig(tmp_path, upstream, printer, clock):
    r = Rig(tmp_path, upstream, printer, clock)
    yield r
    r.close()


def expected_g(station: Station) -> Decimal:
    shown = station.state()["session"]["expected"]
    assert shown, station.state()["session"]
    return Decimal(shown["expected_g"])


def weigh(station: Station, grams: Decimal | str) -> dict:
    return station.handle({"action": "weigh", "payload": {"grams": str(grams), "stable": True}})


def scan(station: Station, code: str) -> dict:
    return station.handle({"action": "scan", "object_id": code})


def pack_confirmations(station: Station, h) -> list[dict]:
    return [r["body"] for r in h.outbox_rows(station, "action = ?", ("pack",))]


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------ the gate
def test_a_blocked_parcel_prints_nothing_until_a_supervisor_approves(rig, world, h):
    station = rig.station()
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10011")
    blocked = weigh(station, expected_g(station) * Decimal("1.2"))
    assert blocked["status"] == "blocked"
    assert station.handle({"action": "pack"})["code"] in ("not_allowed_now", "label_first")
    assert rig.emulator.received == bytearray() and rig.emulator.printed == []  # no job ever reached it

    station.handle({"action": "override", "payload": {"reason": "extra flyer inside"}})
    approved = station.on_badge(h.BADGES["supervisor"], station.device_id("badge"))  # a tap on the table's reader
    assert approved["code"] == "label_printed", approved
    assert rig.emulator.wait_printed(1)
    waybill = approved["data"]["waybill"]
    assert rig.emulator.printed[0].barcodes == [waybill] and len(rig.emulator.printed) == 1
    assert station.state()["session"]["state"] == "label_printed"
    assert station.state()["label"]["state"] == "verify_expected"


def test_a_passing_parcel_prints_one_label_and_a_reprint_prints_the_same_waybill(rig, world, h):
    station = rig.station()
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    printed = weigh(station, expected_g(station))
    assert printed["code"] == "label_printed", printed
    assert rig.emulator.wait_printed(1) and len(rig.emulator.printed) == 1
    waybill = printed["data"]["waybill"]
    assert waybill in rig.emulator.printed[0].texts and "SO-10009" in rig.emulator.printed[0].texts

    again = station.handle({"action": "reprint", "payload": {"reason": "label smudged"}})
    assert again["code"] == "label_reprinted" and again["data"]["waybill"] == waybill, again
    assert rig.emulator.wait_printed(2)
    assert [p.barcodes for p in rig.emulator.printed] == [[waybill], [waybill]]
    assert rig.emulator.printed[0].raw == rig.emulator.printed[1].raw  # the same job, not a new label
    audit = [a for a in station.supervisor_overview()["audit"] if a["action"] == "label_reprint"]
    assert audit and audit[0]["reason"] == "label smudged" and audit[0]["after"]["waybill"] == waybill

    # a restart in the middle asks upstream with the same key: the same waybill, never a second one
    restarted = rig.station()
    assert restarted.pack.label is not None and restarted.pack.label.waybill == waybill
    assert scan(restarted, waybill)["code"] == "packed"
    (pack,) = pack_confirmations(restarted, h)
    assert pack["payload"]["waybill"] == waybill and pack["payload"]["carton"] == 1


def test_a_printer_that_hangs_never_holds_up_the_rest_of_the_station(rig, world, h):
    """Asking upstream and printing run without the station lock: the kiosk state (and any other input)
    answers at once while the printer does not."""
    import threading
    import time

    station = rig.station()
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    rig.emulator.mute = True  # never answers its status query: the print waits out the printer's timeout
    grams = expected_g(station)
    done: list[dict] = []
    weighing = threading.Thread(target=lambda: done.append(weigh(station, grams)))
    weighing.start()
    try:
        deadline = time.monotonic() + 5
        while (station.state()["label"] or {}).get("state") != "printing" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (station.state()["label"] or {}).get("state") == "printing"
        started = time.monotonic()
        with station.parts.lock:
            waited = time.monotonic() - started
        assert waited < 0.2 and not done, (waited, done)  # the print is still waiting for the printer
    finally:
        weighing.join(10)
    assert done and done[0]["code"] == "printer_unreachable", done


def test_another_orders_label_is_refused_naming_that_order_and_the_right_one_packs(rig, world, h):
    station = rig.station()
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    first = weigh(station, expected_g(station))["data"]["waybill"]
    assert scan(station, first)["code"] == "packed"

    h.open_and_scan(station, world, "SO-10011")
    second = weigh(station, expected_g(station))["data"]["waybill"]
    assert second != first
    wrong = scan(station, first)
    assert wrong["code"] == "label_other_order" and wrong["status"] == "error"
    assert "SO-10009" in wrong["message"] and "SO-10009" in wrong["message_zh"] and second in wrong["message"]
    assert station.state()["session"]["state"] == "label_printed"
    assert scan(station, "EE000000000XX")["code"] == "label_wrong"
    done = scan(station, second)
    assert done["code"] == "packed" and station.state()["label"]["state"] == "verified"
    assert [(p["object_id"], p["payload"]["waybill"]) for p in pack_confirmations(station, h)] == \
        [("SO-10009", first), ("SO-10011", second)]


def test_a_numeric_waybill_is_matched_as_printed_not_as_a_gtin(rig, world, h):
    station = rig.station(**{"label.format": "numeric"})
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    waybill = weigh(station, expected_g(station))["data"]["waybill"]
    assert waybill.isdigit() and len(waybill) == 13  # a GS1 mod-10 check digit: it also reads as an EAN-13
    assert scan(station, waybill)["code"] == "packed"


def test_paper_out_and_head_open_show_on_the_kiosk_and_healthz_and_printing_resumes(rig, world, h):
    station = rig.station()
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    rig.emulator.set_state("paper_out")
    refused = weigh(station, expected_g(station))
    assert refused["code"] == "printer_not_ready" and refused["colour"] == "red", refused
    assert "paper out" in refused["message"] and "缺纸" in refused["message_zh"]
    assert station.state()["verdict"]["code"] == "printer_not_ready"
    assert station.state()["devices"]["printer"]["state"] == "not_ready"
    assert station.state()["label"]["state"] == "failed"
    health = station.health()
    assert not health["ok"] and any(p.startswith("printer not ready") and "paper out" in p for p in health["problems"])
    assert rig.emulator.printed == [] and rig.emulator.received == bytearray()

    rig.emulator.set_state("head_open")
    rig.clock.advance(2)
    station.tick()
    assert "head open" in station.health()["devices"]["printer"]["detail"]
    assert rig.emulator.printed == []

    rig.emulator.set_state()  # the packer closes the head with new labels in: printing resumes by itself
    rig.clock.advance(2)
    station.tick()
    assert rig.emulator.wait_printed(1) and len(rig.emulator.printed) == 1
    assert station.state()["session"]["state"] == "label_printed"
    assert station.health()["ok"], station.health()["problems"]


def test_a_restart_before_the_label_printed_prints_it_when_the_printer_is_ready_with_the_same_request(
        rig, world, h):
    station = rig.station()
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    rig.emulator.set_state("head_open")
    assert weigh(station, expected_g(station))["code"] == "printer_not_ready"
    from packgate.station import label_store

    (asked,) = station.parts.conn.execute("SELECT waybill FROM label_jobs").fetchall()
    restarted = rig.station()
    assert restarted.state()["label"]["state"] == "failed"
    rig.emulator.set_state()
    rig.clock.advance(2)
    restarted.tick()
    assert rig.emulator.wait_printed(1)
    assert restarted.pack.label is not None and restarted.pack.label.waybill == asked[0]
    assert label_store.status(restarted.parts.conn)["labels"] == 1


def test_a_template_in_another_language_than_the_printer_is_refused_by_the_config():
    from packgate.station.runtime.config import ConfigError

    with pytest.raises(ConfigError) as err:
        validate({"label.mode": "print", "printer.profile": "tsc-tspl", "label.template": "label-zpl-100x150"})
    assert "label.template" in str(err.value) and "TSPL" in str(err.value) and "ZPL" in str(err.value)
    assert validate({"label.mode": "print", "printer.profile": "tsc-tspl", "label.template": "label-tspl-76x130"})


def test_an_unreachable_printer_is_a_red_verdict_with_what_to_do(rig, world, h):
    station = rig.station(**{"printer.port": f"tcp://127.0.0.1:{dead_port()}"})
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    refused = weigh(station, expected_g(station))
    assert refused["code"] == "printer_unreachable" and refused["status"] == "error"
    assert station.health()["devices"]["printer"]["state"] == "disconnected"


def test_the_kiosk_asks_again_for_the_label_scan(rig, world, h):
    station = rig.station(**{"label.verify_remind_s": 10.0})
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    waybill = weigh(station, expected_g(station))["data"]["waybill"]
    rig.clock.advance(5)
    station.tick()
    assert station.state()["verdict"]["code"] == "label_printed"
    rig.clock.advance(6)
    station.tick()
    reminder = station.state()["verdict"]
    assert reminder["code"] == "label_scan_reminder" and waybill in reminder["message"]
    assert station.handle({"action": "pack"})["code"] == "not_allowed_now"  # lifting it off does not pack


def test_turning_the_scan_check_off_is_audited_and_printing_packs(rig, world, h):
    station = rig.station(**{"label.verify": False})
    audit = [a for a in station.supervisor_overview()["audit"] if a["action"] == "config_change"]
    assert audit and audit[0]["after"] == {"label.verify": "off"}
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    assert weigh(station, expected_g(station))["code"] == "packed"
    assert rig.emulator.wait_printed(1)
    rig.station(**{"label.verify": False})  # the same setting again: no second audit entry
    assert len([a for a in station.supervisor_overview()["audit"] if a["action"] == "config_change"]) == 1


def test_the_preview_is_the_printed_job_drawn_locally(rig, world, h):
    import io

    import zxingcpp
    from PIL import Image

    from packgate.station.web.app import create_app

    station = rig.station()
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    weigh(station, expected_g(station))
    label = station.state()["label"]
    token = "labels-test-api-token-0123456789"
    client = create_app(station, api_tokens=(token,)).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    response = client.get(label["preview"])
    assert response.status_code == 200 and response.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert label["waybill"] in [d.text for d in decoded]
    missing = client.get("/api/v1/labels/EE000000000CN/preview.png")
    assert missing.status_code == 404 and missing.get_json()["code"] == "no_label"


# ------------------------------------------------------------------------------------------ cartons
def test_two_cartons_each_weighed_and_labelled_then_the_order_is_packed(rig, world, h):
    station = rig.station()
    h.sign_in(station)
    assert scan(station, "SO-10011")["code"] == "order_opened"
    mug = h.item(world, world.orders["SO-10011"]["lines"][0]["sku"])
    assert scan(station, mug)["code"] == "item_accepted"
    closing = station.handle({"action": "close_carton", "payload": {"box": "BOX-M"}})
    assert closing["code"] == "carton_closing", closing
    one = expected_g(station)
    first = weigh(station, one)
    assert first["code"] == "label_printed" and first["data"]["carton"] == 1
    assert scan(station, first["data"]["waybill"])["code"] == "carton_packed"
    assert station.state()["session"]["state"] == "scanning"

    assert scan(station, mug)["code"] == "item_accepted"
    assert expected_g(station) == one  # the second carton holds the other mug in the same box
    second = weigh(station, one)
    assert second["code"] == "label_printed" and second["data"]["carton"] == 2
    assert second["data"]["waybill"] != first["data"]["waybill"]
    assert scan(station, second["data"]["waybill"])["code"] == "packed"
    assert rig.emulator.wait_printed(2)
    assert [p.barcodes[0] for p in rig.emulator.printed] == [first["data"]["waybill"], second["data"]["waybill"]]
    assert "1/2" in rig.emulator.printed[0].texts and "2/2" in rig.emulator.printed[1].texts
    packs = pack_confirmations(station, h)
    assert [(p["payload"]["carton"], len(p["payload"]["units"]), p["payload"]["waybill"]) for p in packs] == \
        [(1, 1, first["data"]["waybill"]), (2, 1, second["data"]["waybill"])]
    assert all(p["payload"]["weight"]["result"] == "pass" for p in packs)


def test_a_carton_without_items_or_box_cannot_close(rig, world, h):
    station = rig.station(**{"label.mode": "none"})
    h.sign_in(station)
    scan(station, "SO-10011")
    assert station.handle({"action": "close_carton"})["code"] in ("carton_empty", "not_allowed_now")
    scan(station, h.item(world, world.orders["SO-10011"]["lines"][0]["sku"]))
    bad = station.handle({"action": "close_carton", "payload": {"box": "BOX-NOPE"}})
    assert bad["code"] == "unknown_packaging"


# ------------------------------------------------------------------------------------------ offline
def test_offline_a_pre_issued_waybill_is_used_and_the_kiosk_says_when_none_are_left(rig, world, h):
    station = rig.station(**{"label.reserve_per_order": 1})
    assert station.labels is not None
    assert station.labels.reserve_ahead(["SO-10009", "SO-10011"]) == 2
    reserved = station.labels.owner  # noqa: F841 - the lookup used by the kiosk
    online = station.labels.upstream
    station.labels.upstream = UpstreamClient(f"http://127.0.0.1:{dead_port()}", deadline_s=1, clock=rig.clock)
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    offline = weigh(station, expected_g(station))
    assert offline["code"] == "label_printed_offline" and offline["data"]["left"] == 0, offline
    waybill = offline["data"]["waybill"]
    assert rig.emulator.wait_printed(1) and rig.emulator.printed[0].barcodes == [waybill]
    assert scan(station, waybill)["code"] == "packed"

    # no waybill left for the next carton of this order (cancelled and packed again in two cartons)
    h.open_and_scan(station, world, "SO-10011")
    assert weigh(station, expected_g(station))["code"] == "label_printed_offline"
    station.handle({"action": "cancel", "payload": {"reason": "customer cancelled"}})

    # upstream is back: the offline label is told to upstream with its waybill, no conflict
    station.labels.upstream = online
    station.tick()
    from packgate.station import label_store

    assert label_store.status(station.parts.conn)["unsynced"] == 0
    assert label_store.status(station.parts.conn)["conflicts"] == 0


def test_offline_with_no_pre_issued_waybill_is_a_clear_red_verdict(rig, world, h):
    station = rig.station(**{"label.reserve_per_order": 0})
    assert station.labels is not None
    station.labels.upstream = UpstreamClient(f"http://127.0.0.1:{dead_port()}", deadline_s=1, clock=rig.clock)
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    none_left = weigh(station, expected_g(station))
    assert none_left["code"] == "label_no_waybill_left" and "SO-10009" in none_left["message_zh"]
    assert rig.emulator.received == bytearray()


# ------------------------------------------------------------------------------------------ weigh and ship
def test_weigh_and_ship_the_waybill_opens_the_order_and_the_weighing_ships_it_once(rig, world, h):
    station = rig.station(**{"label.mode": "weigh_and_ship"})
    assert station.labels is not None
    station.labels.reserve_ahead(["SO-10009"])
    waybill = station.labels.parts.conn.execute(
        "SELECT waybill FROM waybill_pool WHERE order_id = 'SO-10009' ORDER BY waybill").fetchone()[0]
    h.sign_in(station)
    assert scan(station, "SO-10009")["code"] == "waybill_opens_order"
    assert scan(station, waybill)["code"] == "order_opened"
    for line in world.orders["SO-10009"]["lines"]:
        for _ in range(line["qty"]):
            scan(station, h.item(world, line["sku"]))
    grams = expected_g(station)
    shipped = weigh(station, grams)
    assert shipped["code"] == "shipped" and waybill in shipped["message"], shipped
    assert weigh(station, grams)["status"] == "error"  # a repeated weighing never ships twice
    assert scan(station, waybill)["code"] == "order_not_packable"
    (pack,) = pack_confirmations(station, h)
    assert pack["payload"]["shipped"] is True and pack["payload"]["waybill"] == waybill
    assert rig.emulator.received == bytearray()  # nothing is printed at the table


def test_a_tsc_printer_with_a_tspl_template_prints_and_verifies_the_same_way(tmp_path, upstream, clock, world, h):
    import io

    import zxingcpp
    from PIL import Image

    emu = PrinterEmulator(get_profile("tsc-tspl"))
    emu.url = f"tcp://127.0.0.1:{emu.start_tcp(0)}"  # type: ignore[attr-defined]
    rig = Rig(tmp_path, upstream, emu, clock)
    try:
        station = rig.station(**{"printer.profile": "tsc-tspl", "label.template": "label-tspl-76x130"})
        h.sign_in(station)
        h.open_and_scan(station, world, "SO-10011")
        waybill = weigh(station, expected_g(station))["data"]["waybill"]
        assert emu.wait_printed(1) and emu.printed[0].barcodes == [waybill]
        assert station.labels is not None
        png = station.labels.preview(waybill)
        assert png and waybill in [d.text for d in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
        assert scan(station, waybill)["code"] == "packed"
    finally:
        rig.close()
        emu.stop()


def test_each_printer_fault_is_its_own_verdict_with_its_fix_and_warnings_show_before_they_stop_the_table(
        tmp_path, upstream, clock, world, h):
    """Issue 29: on a fault the station asks the detailed status (TSPL <ESC>!S after <ESC>!? says 0x80 "other
    error"): each fault is a printer_fault verdict with its fix, in both languages; a warning (ribbon low) shows
    on the printer's device state, /healthz and the kiosk's state while labels still print."""
    emu = PrinterEmulator(get_profile("tsc-tspl"))
    emu.url = f"tcp://127.0.0.1:{emu.start_tcp(0)}"  # type: ignore[attr-defined]
    rig = Rig(tmp_path, upstream, emu, clock)
    try:
        station = rig.station(**{"printer.profile": "tsc-tspl", "label.template": "label-tspl-76x130"})
        emu.set_state("head_too_hot", "cutter_jam")
        h.sign_in(station)
        h.open_and_scan(station, world, "SO-10011")
        refused = weigh(station, expected_g(station))
        assert refused["code"] == "printer_not_ready", refused
        faults = refused["data"]["faults"]
        assert [f["code"] for f in faults] == ["printer_fault", "printer_fault"]
        assert [f["data"]["condition"] for f in faults] == ["head_too_hot", "cutter_jam"]
        assert "let it cool down" in faults[0]["message"] and "打印头过热" in faults[0]["message_zh"]
        assert "clear the cutter" in faults[1]["message"] and "切刀" in faults[1]["message_zh"]
        assert "check the printer's display" not in refused["message"]  # the detail said which error it was

        emu.set_state("ribbon_low")  # cooled down, cutter cleared; the ribbon is nearly used up
        rig.clock.advance(2)
        station.tick()
        assert emu.wait_printed(1)  # a warning never stops the label
        printer = station.state()["devices"]["printer"]
        assert printer["state"] == "connected"
        assert printer["notices"] == [{"condition": "ribbon_low", "message": "ribbon running low: have a new ribbon ready",
                                       "message_zh": "碳带即将用完：请准备新碳带"}]
        health = station.health()
        assert health["ok"] and health["warnings"] == ["printer: ribbon running low: have a new ribbon ready"]

        emu.set_state()
        rig.clock.advance(2)
        station.tick()
        assert "notices" not in station.state()["devices"]["printer"] and station.health()["warnings"] == []
    finally:
        rig.close()
        emu.stop()



def test_the_photo_sent_with_the_label_scan_reaches_the_pack(rig, world, h):
    """Print mode: the label scan packs the parcel, and the photo's SHA-256 sent with it is in the ``pack``."""
    photo = hashlib.sha256(b"the packed parcel").hexdigest()
    station = rig.station()
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    waybill = weigh(station, expected_g(station))["data"]["waybill"]
    packed = station.handle({"action": "scan", "object_id": waybill, "image_sha256": photo})
    assert packed["code"] == "packed", packed
    assert [p["image_sha256"] for p in pack_confirmations(station, h)] == [photo]


def test_the_photo_sent_with_the_weighing_reaches_the_pack_in_weigh_and_ship(rig, world, h):
    photo = hashlib.sha256(b"the shipped parcel").hexdigest()
    station = rig.station(**{"label.mode": "weigh_and_ship"})
    assert station.labels is not None
    station.labels.reserve_ahead(["SO-10009"])
    waybill = station.labels.parts.conn.execute("SELECT waybill FROM waybill_pool WHERE order_id = 'SO-10009'"
                                                " ORDER BY waybill").fetchone()[0]
    h.sign_in(station)
    assert scan(station, waybill)["code"] == "order_opened"
    for line in world.orders["SO-10009"]["lines"]:
        for _ in range(line["qty"]):
            scan(station, h.item(world, line["sku"]))
    shipped = station.handle({"action": "weigh", "payload": {"grams": str(expected_g(station)), "stable": True},
                              "image_sha256": photo})
    assert shipped["code"] == "shipped", shipped
    assert [p["image_sha256"] for p in pack_confirmations(station, h)] == [photo]


# ------------------------------------------------------------------------------------------ the WMS changes the order
def learn_from_wms(rig, station: Station) -> None:
    """The station learns the WMS's word as its fast pull and every reference refresh do (reference data)."""
    assert rig.cache.refresh()["ok"]
    station.interception.announce()


@pytest.mark.parametrize("change", [{"carrier": "ZTO"},
                                    {"ship_to": {"name": "李四", "phone": "13900001111", "city": "杭州"}}])
def test_a_new_address_or_carrier_stops_the_old_label_until_a_new_label_is_printed(rig, world, h, change):
    station = rig.station()
    wms = UpstreamClient(rig.upstream, deadline_s=5)
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    printed = weigh(station, expected_g(station))
    assert printed["code"] == "label_printed" and rig.emulator.wait_printed(1)
    old = printed["data"]["waybill"]

    wms.decide("SO-10009", "change", {**change, "reason": "customer moved"})
    learn_from_wms(rig, station)
    assert station.state()["verdict"]["code"] == "label_outdated"  # told at once
    assert station.state()["session"]["interception"]["revision"] == 2
    for step in ({"action": "scan", "object_id": old}, {"action": "pack"}):
        refused = station.handle(step)
        assert (refused["code"], refused["status"], refused["sound"]) == ("label_outdated", "intercepted", "intercept")
        assert f"label {old} has the old address or carrier" in refused["message"]
        assert "补打面单" in refused["message_zh"] and "旧的地址或承运商" in refused["message_zh"]
    assert station.pack.state is pk.State.LABEL_PRINTED and not pack_confirmations(station, h)
    stopped = [r["body"]["payload"] for r in h.outbox_rows(station, "action = ?", ("intercept",))]
    assert [(p["step"], p["status"], p["waybill"]) for p in stopped] == [("scan_label", "changed", old),
                                                                         ("pack", "changed", old)]

    again = station.handle({"action": "reprint", "payload": {"reason": "new address"}})
    assert again["code"] == "label_reprinted_new", again
    new = again["data"]["waybill"]
    assert new != old and again["data"]["old_waybill"] == old
    assert rig.emulator.wait_printed(2) and rig.emulator.printed[1].barcodes == [new]
    assert rig.emulator.printed[0].raw != rig.emulator.printed[1].raw  # a new job, not the old one again
    assert station.labels.job(new)["key"].endswith(":r2") and station.labels.job(old)["key"].endswith(":C1")
    if "ship_to" in change:
        assert "李四" in rig.emulator.printed[1].texts and "李四" not in rig.emulator.printed[0].texts
    assert scan(station, old)["code"] == "label_wrong"  # the old label is void here
    assert scan(station, new)["code"] == "packed"
    (pack,) = pack_confirmations(station, h)
    assert pack["payload"]["waybill"] == new
    audit = [a for a in station.supervisor_overview()["audit"] if a["action"] == "label_reprint"]
    assert audit[0]["before"]["waybill"] == old and audit[0]["after"]["waybill"] == new
    wms.close()


def test_a_change_of_lines_after_the_label_reopens_verification_and_the_new_label_is_a_new_job(rig, world, h):
    station = rig.station()
    wms = UpstreamClient(rig.upstream, deadline_s=5)
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10011")  # two ceramic mugs (SKU-012)
    printed = weigh(station, expected_g(station))
    assert printed["code"] == "label_printed" and rig.emulator.wait_printed(1)
    old = printed["data"]["waybill"]
    wms.decide("SO-10011", "change", {"lines": [{"sku": "SKU-012", "qty": 1}], "reason": "customer edit"})
    learn_from_wms(rig, station)
    changed = scan(station, old)
    assert changed["code"] == "order_changed" and "take out 1 × SKU-012" in changed["message"], changed
    assert station.pack.state is pk.State.READY_TO_WEIGH and station.pack.label is None
    relabelled = weigh(station, expected_g(station))
    assert relabelled["code"] == "label_printed" and rig.emulator.wait_printed(2), relabelled
    new = relabelled["data"]["waybill"]
    assert new != old and rig.emulator.printed[1].barcodes == [new]
    assert scan(station, new)["code"] == "packed"
    wms.close()


def test_a_change_while_upstream_is_asked_for_the_label_prints_only_the_new_revisions_label(rig, world, h):
    station = rig.station()
    wms = UpstreamClient(rig.upstream, deadline_s=5)
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    ask = station.labels.upstream.request_label

    def asked(body: dict, **kw: object) -> dict:  # the WMS changes the carrier while the first label is issued
        answer = ask(body, **kw)
        if "revision" not in body:
            wms.decide("SO-10009", "change", {"carrier": "ZTO", "reason": "customer asked for ZTO"})
            learn_from_wms(rig, station)
        return answer

    station.labels.upstream.request_label = asked  # type: ignore[method-assign]
    printed = weigh(station, expected_g(station))
    assert printed["code"] == "label_printed", printed
    assert rig.emulator.wait_printed(1)
    new = printed["data"]["waybill"]
    assert [p.barcodes for p in rig.emulator.printed] == [[new]]  # the old revision's label never printed
    assert station.labels.job(new)["key"].endswith(":r2") and station.pack.label.revision == 2
    assert scan(station, new)["code"] == "packed"
    wms.close()
