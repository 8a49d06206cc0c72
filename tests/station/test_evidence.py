"""One evidence record per parcel: scans with lot and serial, the badges (packer, second person,
supervisor), every weighing with the raw scale frames it was judged on, the photo, the timeline; shown to
supervisors and exported with its media by ``packgate evidence export``."""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from click.testing import CliRunner

from packgate.device.camera.emulator import render_frame
from packgate.device.camera.reader import CameraScanner
from packgate.device.profiles import get_profile
from packgate.station.runtime.cli import cli
from packgate.station.web.app import create_app

PROFILE = get_profile("mettler-mt-sics")

SUPERVISOR = ("--badge", "04D2E8F1A2B390", "--pin", "9876")  # an export needs a supervisor's badge and PIN


def frame(grams, flag: str = "S") -> bytes:
    return f"S {flag} {Decimal(grams):>10.1f} g\r\n".encode()


def _lot(world, sku: str) -> str | None:
    """The lot the helpers scan for ``sku`` (None for an item without lots)."""
    if world.skus[sku]["lot_policy"] == "NONE" or not world.lots(sku):
        return None
    return world.lots(sku)[world.good_lot_index(sku)]["lot"]


def _special_order_blocked_then_approved(make_station, world, h, tmp_path):
    """SO-10002: a special item (second badge), a blocked weighing, a supervisor override, a photo."""
    camera = CameraScanner(str(tmp_path / "none.avi"), snapshot_dir=tmp_path / "photos")
    camera.process_frame(render_frame([("code128", "SO-10002")]), 0.0)  # the last frame the camera saw
    station = make_station(camera=camera)
    h.sign_in(station)
    assert station.handle({"action": "scan", "object_id": "SO-10002"})["code"] == "order_opened"
    special = h.item(world, "SKU-008", serial="SN-0042")
    assert station.handle({"action": "scan", "object_id": special})["code"] == "second_badge_required"
    assert station.on_badge(h.BADGES["packer2"], "ST01-badge")["code"] == "item_accepted"
    for _ in range(2):
        station.handle({"action": "scan", "object_id": h.item(world, "SKU-025")})
    expected = world.expected_g("SO-10002")
    heavy = expected + 200
    sent = [frame(heavy, "D"), frame(heavy, "D"), frame(heavy)]
    for raw in sent:
        station.on_reading(PROFILE.codec.decode(raw))
    assert station.verdict["code"] == "weight_out_of_tolerance"
    make_station.clock.advance(30)
    station.handle({"action": "override", "payload": {"reason": "Extra flyer / insert"}})
    assert station.on_badge(h.BADGES["supervisor"], "ST01-badge")["code"] == "weight_overridden"
    make_station.clock.advance(5)
    station.on_reading(PROFILE.codec.decode(frame(0)))
    assert station.verdict["code"] == "packed"
    return station, sent


def test_the_record_holds_scans_badges_weighings_with_raw_frames_photo_and_timeline(make_station, world, h, tmp_path):
    station, sent = _special_order_blocked_then_approved(make_station, world, h, tmp_path)
    from packgate.station import evidence

    rec = evidence.record(station.parts.conn, "SO-10002")
    verifies = [s for s in rec["scans"] if s["action"] == "verify"]
    assert [s["sku"] for s in verifies] == ["SKU-008", "SKU-025", "SKU-025"]
    assert verifies[0]["serial"] == "SN-0042" and verifies[1]["serial"] is None
    assert [s["lot"] for s in verifies] == [_lot(world, "SKU-008"), _lot(world, "SKU-025"), _lot(world, "SKU-025")]
    assert [b["employee_id"] for b in rec["badges"]["packer"]] == [h.IDS["packer"]]
    assert [b["employee_id"] for b in rec["badges"]["second_person"]] == [h.IDS["packer2"]]
    assert [b["employee_id"] for b in rec["badges"]["supervisor"]] == [h.IDS["supervisor"]]
    assert rec["people"] == {h.IDS["packer"]: "Li Wei", h.IDS["packer2"]: "Maria Garcia", h.IDS["supervisor"]: "Priya Nair"}
    [weighing] = rec["weighings"]
    assert weighing["result"] == "fail" and weighing["source"] == "scale"
    # the bytes exactly as the scale sent them, the judged (stable) one last and flagged
    assert [bytes.fromhex(f["raw_hex"]) for f in weighing["frames"]] == sent
    assert [f["judged"] for f in weighing["frames"]] == [False, False, True]
    [photo] = rec["media"]["photos"]
    assert (tmp_path / "photos" / f"{photo}.jpg").is_file()
    actions = [e["action"] for e in rec["timeline"]]
    assert actions.index("weigh") < actions.index("weight_override") < actions.index("pack")
    assert [e["at"] for e in rec["timeline"]] == sorted(e["at"] for e in rec["timeline"])
    assert rec["audit"][0]["row_hash"] and rec["order"]["status"] == "packed"


def test_a_weight_typed_in_through_the_api_says_so(station, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10001")
    station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g("SO-10001"))}})
    from packgate.station import evidence

    rec = evidence.record(station.parts.conn, "SO-10001")
    [weighing] = rec["weighings"]
    assert weighing["source"] == "entered" and weighing["frames"] == []
    lots = [(s["sku"], s["lot"]) for s in rec["scans"] if s["action"] == "verify"]
    assert lots == [(line["sku"], _lot(world, line["sku"])) for line in world.orders["SO-10001"]["lines"]
                    for _ in range(line["qty"])]
    assert any(lot for _, lot in lots)


def test_export_writes_json_and_the_hash_checked_photo(make_station, world, h, tmp_path):
    station, sent = _special_order_blocked_then_approved(make_station, world, h, tmp_path)
    out = tmp_path / "bundle"
    result = CliRunner().invoke(cli, ["evidence", "export", "SO-10002", "--to", str(out), *SUPERVISOR, "--db",
                                      make_station.db_path, "--media", str(tmp_path / "photos")])
    assert result.exit_code == 0, result.output
    assert "SO-10002" in result.output and "证据" in result.output
    doc = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    [photo] = doc["media"]["photos"]
    assert doc["media_files"] == [f"{photo}.jpg"] and doc["media_missing"] == []
    assert hashlib.sha256((out / f"{photo}.jpg").read_bytes()).hexdigest() == photo
    assert bytes.fromhex(doc["weighings"][0]["frames"][-1]["raw_hex"]) == sent[-1]


def test_export_of_an_unknown_order_is_a_clear_message(station, make_station, tmp_path):
    result = CliRunner().invoke(cli, ["evidence", "export", "SO-NOPE", "--to", str(tmp_path / "x"), *SUPERVISOR,
                                      "--db", make_station.db_path])
    assert result.exit_code == 1
    assert "SO-NOPE" in result.output and "没有证据" in result.output
    assert not (tmp_path / "x").exists()


def test_supervisors_see_the_record_others_get_a_clear_refusal(make_station, world, h, tmp_path):
    station, _ = _special_order_blocked_then_approved(make_station, world, h, tmp_path)
    app = create_app(station, secret_key=b"k" * 32)
    client = app.test_client()
    refused = client.get("/api/v1/supervisor/evidence/SO-10002")
    assert refused.status_code == 401 and refused.get_json()["message_zh"]
    login = client.post("/api/v1/pda/login", json={"badge": h.BADGES["supervisor"], "pin": h.PINS["supervisor"]},
                        headers={"X-CSRF-Token": client.get("/api/v1/csrf").get_json()["csrf_token"]})
    assert login.get_json()["status"] == "ok", login.get_json()
    shown = client.get("/api/v1/supervisor/evidence/SO-10002").get_json()
    assert shown["order_id"] == "SO-10002" and len(shown["weighings"][0]["frames"]) == 3
    missing = client.get("/api/v1/supervisor/evidence/SO-NOPE")
    assert missing.status_code == 404 and missing.get_json()["code"] == "evidence_unknown_order"
