"""Storage faults are visible: with the database full or read-only, /healthz is 503 naming it, every endpoint
answers the JSON "not saved" verdict (never a 500), the log gets one line per change of state, and
``packgate sync status`` still reads a read-only database. The database and data folder are private."""
from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys

from packgate.station.web.app import create_app


def _fill(station, h):
    pages = station.parts.conn.execute("PRAGMA page_count").fetchone()[0]
    station.parts.conn.execute(f"PRAGMA max_page_count = {pages}")
    for _ in range(2000):
        answer = station.handle({"action": "badge", "object_id": h.BADGES["packer"]})
        if answer["code"] == "storage":
            return answer
    raise AssertionError("never filled up")


def test_a_full_database_shows_in_health_and_every_write_endpoint_says_not_saved(station, h, caplog):
    app = create_app(station)
    client = app.test_client()
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    caplog.set_level(logging.WARNING, logger="packgate.station")
    _fill(station, h)
    for _ in range(5):
        assert station.handle({"action": "badge", "object_id": h.BADGES["packer"]})["code"] == "storage"
    health = client.get("/healthz")
    assert health.status_code == 503 and any("station database" in p for p in health.get_json()["problems"])
    login = client.post("/api/v1/pda/login", json={"badge": h.BADGES["picker"], "pin": h.PINS["picker"]},
                        headers={"X-CSRF-Token": token})
    assert login.status_code == 200 and login.get_json()["code"] == "storage"
    action = client.post("/api/v1/actions", json={"action": "badge", "object_id": h.BADGES["packer"], "key": "full-0001"},
                         headers={"X-CSRF-Token": token})
    assert action.get_json()["code"] == "storage"
    errors = [r for r in caplog.records if "not saved" in r.getMessage()]
    assert len(errors) == 1  # one line for the change of state, not one per failed write
    station.parts.conn.execute("PRAGMA max_page_count = 1000000")
    assert station.handle({"action": "badge", "object_id": h.BADGES["packer2"]})["code"] in ("signed_in", "badge_in_use",
                                                                                          "signed_out")
    assert client.get("/healthz").status_code in (200, 503)
    assert not any("station database" in p for p in client.get("/healthz").get_json()["problems"])


def test_sync_status_reads_a_read_only_database(make_station, tmp_path):
    station = make_station()
    db = station.parts.conn.execute("PRAGMA database_list").fetchone()["file"]
    station.parts.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    station.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    folder = os.path.dirname(db)
    _read_only(db, folder, True)
    try:
        with open(db, "ab"):
            raise AssertionError("the database is still writable")
    except OSError:
        pass
    try:
        done = subprocess.run([sys.executable, "-m", "packgate.station.runtime.cli", "sync", "status", "--db", db, "--json"],
                              capture_output=True, text=True, timeout=60)
    finally:
        _read_only(db, folder, False)
    assert "Traceback" not in done.stderr, done.stderr
    assert '"depth"' in done.stdout, (done.stdout, done.stderr)


def _read_only(db: str, folder: str, on: bool) -> None:
    """Really read-only, also for root (which ignores file modes): the immutable attribute."""
    if os.geteuid() == 0:
        for path in (db, folder):
            subprocess.run(["chattr", "+i" if on else "-i", path], check=True)
    else:
        os.chmod(db, 0o400 if on else 0o600)
        os.chmod(folder, 0o500 if on else 0o700)


def test_the_database_is_readable_by_the_agents_user_only(station):
    db = station.parts.conn.execute("PRAGMA database_list").fetchone()["file"]
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
