"""Personal data at rest in station.db: sealed in the file, readable through the station, a plain file from an older
release sealed at start without loss, the key rotated by the command (another process), purged after hand-over plus
the retention (the station's clock), unmasked reads and evidence exports audited, an export refused without a
supervisor's badge and PIN, and the day's access report (page and CSV)."""
from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from packgate.device.clock import Clock
from packgate.station.web.app import create_app
from packgate.sync.common.db import connect
from packgate.sync.common.sealing import KEY_FILE_NAME
from packgate.sync.upstream import demo_data

# each personal value as UTF-8 and as JSON writes it escaped ("\u5f20\u4f1f")
SECRETS = [form for recipient in demo_data.RECIPIENTS for value in recipient
           for form in (value.encode(), json.dumps(value)[1:-1].encode())]
SUPERVISOR = {"supervisor_badge": demo_data.DEMO_BADGES["supervisor"], "supervisor_pin": "9876"}


def _raw(db_path: str) -> bytes:
    """Every byte the database keeps on disk (the file and its write-ahead log)."""
    return b"".join(Path(p).read_bytes() for p in (db_path, db_path + "-wal") if Path(p).exists())


def _recipient(order_id: str) -> dict:
    number = int(order_id[-2:]) % len(demo_data.RECIPIENTS)
    return dict(zip(("name", "phone", "address"), demo_data.RECIPIENTS[number], strict=True))


def test_personal_fields_are_unreadable_in_the_file_and_readable_through_the_station(make_station):
    station = make_station()
    raw = _raw(make_station.db_path)
    assert b"SO-10001" in raw and b"T-0001" in raw  # the file is the one read: plain fields are there
    assert [s for s in SECRETS if s in raw] == []
    assert raw.count(b"pgenc1:") >= len(demo_data.ORDERS)
    assert station.catalog.cache.get_order("SO-10001")["ship_to"] == _recipient("SO-10001")
    key_file = Path(make_station.db_path).parent / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"pgenc1" not in key_file.read_bytes() and key_file.read_bytes() not in raw


def test_a_file_kept_in_clear_by_an_older_release_is_sealed_at_start_and_nothing_is_lost(make_station):
    station = make_station()
    before = {o["order_id"]: o for o in station.catalog.cache.list_orders()}
    station.close()
    conn = connect(make_station.db_path)
    with conn:  # what an older packgate wrote: the WMS's orders as they came, and no mark of the sealing pass
        for order in before.values():
            conn.execute("UPDATE ref_orders SET data = ? WHERE order_id = ?", (json.dumps(order), order["order_id"]))
        conn.execute("DELETE FROM sync_meta WHERE k = 'privacy.sealed'")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert len([s for s in SECRETS if s in _raw(make_station.db_path)]) >= len(demo_data.RECIPIENTS)

    again = make_station(refresh=False)  # a restart of the upgraded station
    assert [s for s in SECRETS if s in _raw(make_station.db_path)] == []
    assert {o["order_id"]: o for o in again.catalog.cache.list_orders()} == before


def test_keys_rotate_reseals_every_row_in_another_process_and_retires_the_old_key(make_station):
    station = make_station()
    key_file = Path(make_station.db_path).parent / KEY_FILE_NAME
    old = json.loads(key_file.read_text())["current"]
    done = subprocess.run([sys.executable, "-P", "-m", "packgate.station.runtime.cli", "keys", "rotate", "--db",
                           make_station.db_path, "--json"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["previous"] == old and report["current"] != old and report["retired"] == [old]
    assert report["rows"] >= len(demo_data.ORDERS)
    kept = json.loads(key_file.read_text())
    assert list(kept["keys"]) == [report["current"]] and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    raw = _raw(make_station.db_path)
    assert f"pgenc1:{old}:".encode() not in raw and f"pgenc1:{report['current']}:".encode() in raw
    # the running station reads the new key from the file and still reads every recipient
    assert station.catalog.cache.get_order("SO-10002")["ship_to"] == _recipient("SO-10002")


def _pack(station, world, h, order_id: str) -> None:
    h.open_and_scan(station, world, order_id)
    assert station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g(order_id))}})["code"] == \
        "weight_ok"
    assert station.handle({"action": "pack"})["code"] == "packed"


def test_personal_data_is_purged_after_hand_over_plus_the_retention(make_station, world, h, clock):
    station = make_station(overrides={"privacy.retention_days": 2.0})
    h.sign_in(station)
    _pack(station, world, h, "SO-10009")
    _pack(station, world, h, "SO-10007")
    batch = station.dock.open({"carrier": "SF", "vehicle": "粤B·12345"}, "E004")["batch"]["batch_id"]
    assert station.dock.scan(batch, "SO-10009", "E004")["code"] == "dock_parcel_added"

    clock.advance(2 * 86400 - 60)
    assert station.purge_personal() == []  # not yet two days
    clock.advance(120)
    assert station.purge_personal() == ["SO-10009"]  # SO-10007 is packed but not handed over: kept
    cache = station.catalog.cache
    assert cache.get_order("SO-10009")["ship_to"] is None and cache.get_order("SO-10009")["personal_purged_at"]
    assert cache.get_order("SO-10009")["lines"]  # the order itself stays
    assert cache.get_order("SO-10007")["ship_to"] == _recipient("SO-10007")
    assert station.purge_personal() == []  # once
    day = clock.now().date().isoformat()
    assert [r["action"] for r in station.privacy.report(day)] == ["personal_purged"]


def test_an_export_needs_a_supervisors_badge_and_pin_and_every_export_and_read_is_audited(make_station, world, h,
                                                                                          clock):
    station = make_station()
    h.sign_in(station)
    _pack(station, world, h, "SO-10009")
    client = create_app(station, secret_key=b"k" * 32, api_tokens=("tok-1234567890abcdef",)).test_client()
    auth = {"Authorization": "Bearer tok-1234567890abcdef"}
    url = "/api/v1/supervisor/evidence/SO-10009/export"

    refused = client.post(url, json={}, headers=auth)
    assert refused.status_code == 403
    body = refused.get_json()
    assert body["code"] == "export_needs_supervisor" and "badge and PIN" in body["message"] \
        and "主管" in body["message_zh"] and body["colour"] == "red"
    packer = client.post(url, json={"supervisor_badge": h.BADGES["packer"], "supervisor_pin": "1234"}, headers=auth)
    assert packer.status_code == 403 and packer.get_json()["code"] == "export_not_supervisor"
    wrong = client.post(url, json={**SUPERVISOR, "supervisor_pin": "0000"}, headers=auth)
    assert wrong.status_code == 403 and wrong.get_json()["code"] == "bad_login"

    granted = client.post(url, json=SUPERVISOR, headers=auth)
    assert granted.status_code == 200 and "attachment" in granted.headers["Content-Disposition"]
    assert granted.get_json()["order_id"] == "SO-10009" and granted.get_json()["exported_by"] == "E005"

    read = client.post("/api/v1/supervisor/orders/SO-10009/recipient", json={**SUPERVISOR, "purpose": "call back"},
                       headers=auth)
    assert read.status_code == 200 and read.get_json()["ship_to"] == _recipient("SO-10009")
    assert client.post("/api/v1/supervisor/orders/SO-10009/recipient", json={}, headers=auth).status_code == 403

    day = clock.now().date().isoformat()
    rows = station.privacy.report(day)
    assert [(r["action"], r["who"]) for r in rows] == [
        ("evidence_export_refused", "-"), ("evidence_export_refused", "E001"), ("evidence_export_refused", "-"),
        ("evidence_export", "E005"), ("personal_read", "E005")]
    assert rows[-1]["reason"] == "call back" and rows[-1]["object_id"] == "SO-10009"

    report = client.get(f"/api/v1/supervisor/access-report?day={day}&format=csv", headers=auth)
    assert report.status_code == 200 and report.mimetype == "text/csv"
    lines = list(csv.DictReader(io.StringIO(report.get_data(as_text=True))))
    assert [line["action"] for line in lines] == [r["action"] for r in rows]
    assert client.get("/api/v1/supervisor/access-report?day=yesterday", headers=auth).status_code == 400
    page = client.get(f"/supervisor/access-report?day={day}", headers=auth)
    assert page.status_code == 200 and b"evidence_export_refused" in page.data and b"E005" in page.data


def test_the_cli_export_is_refused_without_a_supervisor_and_audited(make_station, world, h, clock, tmp_path):
    from click.testing import CliRunner

    from packgate.station.runtime.cli import cli

    station = make_station()
    h.sign_in(station)
    _pack(station, world, h, "SO-10009")
    args = ["evidence", "export", "SO-10009", "--to", str(tmp_path / "out"), "--db", make_station.db_path]
    refused = CliRunner().invoke(cli, args, obj={})
    assert refused.exit_code == 1 and "badge and PIN" in refused.output and "主管" in refused.output
    assert not (tmp_path / "out").exists()
    done = CliRunner().invoke(cli, [*args, "--badge", SUPERVISOR["supervisor_badge"], "--pin", "9876"], obj={})
    assert done.exit_code == 0, done.output
    actions = [r["action"] for r in station.privacy.report(Clock().now().date().isoformat())]  # the command: real time
    assert actions[-2:] == ["evidence_export_refused", "evidence_export"]


def test_a_supervisor_seeing_employees_phones_unmasked_is_audited(make_station, clock, h):
    station = make_station()
    client = create_app(station, secret_key=b"k" * 32).test_client()
    csrf = client.get("/api/v1/csrf").get_json()["csrf_token"]
    login = client.post("/api/v1/pda/login", json={"badge": h.BADGES["supervisor"], "pin": "9876"},
                        headers={"X-CSRF-Token": csrf})
    assert login.get_json()["status"] == "ok"
    listed = client.get("/api/v1/supervisor/employees?limit=10").get_json()["items"]
    assert any(e.get("phone") == "+86 138 0013 8000" for e in listed)  # unmasked for a supervisor
    [row] = [r for r in station.privacy.report(clock.now().date().isoformat()) if r["action"] == "personal_read"]
    assert row["who"] == "E005" and row["object_id"] == "employees" and "E001" in row["after"]["employees"]
