"""Retention of the packing video: days and a disk budget; the oldest evidence of shipped orders goes first,
evidence of orders not shipped is never removed for space (a health problem instead)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from packgate.device.camera.recorder import Clip
from packgate.station import migrations, store, video
from packgate.sync.common.db import connect, write_tx

NOW = datetime(2026, 2, 22, 12, 0, tzinfo=timezone(timedelta(hours=8)))
MB = video.MB


@pytest.fixture
def conn(tmp_path):
    c = connect(str(tmp_path / "station.db"))
    migrations.upgrade(c)
    yield c
    c.close()


def _clip(conn, tmp_path: Path, order_id: str, status: str, age_days: float, size_mb: float) -> str:
    ended = NOW - timedelta(days=age_days)
    sha = f"{order_id}-{age_days}".encode().hex().ljust(64, "0")[:64]
    path = tmp_path / "clips" / order_id / f"{sha}.webm"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * int(size_mb * MB))
    with write_tx(conn):
        store.set_order(conn, order_id, ended.isoformat(), status=status)
        video.file_clip(conn, Clip(path, sha, path.stat().st_size, "VP80.webm", 10, 0, ended - timedelta(minutes=2),
                                   ended), order_id=order_id, waybill=None, operator="E001", station="ST01",
                        outcome="packed")
    return sha


def _retain(conn, **budget):
    b = video.Budget(**{"retention_days": 30.0, "max_bytes": 10 * MB, "warn_pct": 90.0, "min_free_bytes": 0, **budget})
    with write_tx(conn):
        return video.apply_retention(conn, NOW, b, free_bytes=10**12)


def test_over_the_budget_the_oldest_shipped_evidence_goes_first(conn, tmp_path):
    old_shipped = _clip(conn, tmp_path, "SO-1", "shipped", 5, 4)
    older_packed = _clip(conn, tmp_path, "SO-2", "packed", 9, 4)  # older, but not shipped: kept
    new_shipped = _clip(conn, tmp_path, "SO-3", "shipped", 1, 4)
    kept = _retain(conn)
    assert kept.removed == [old_shipped]
    assert kept.used_bytes == 8 * MB and kept.problems == []
    rows = {r["sha256"]: r for r in conn.execute("SELECT * FROM video_clips")}
    assert rows[old_shipped]["removed_reason"] == "max_disk_mb" and rows[old_shipped]["removed_at"]
    assert not (tmp_path / "clips" / "SO-1" / f"{old_shipped}.webm").exists()
    assert (tmp_path / "clips" / "SO-2" / f"{older_packed}.webm").exists()
    assert rows[new_shipped]["removed_at"] is None
    assert _retain(conn).removed == []  # within the budget now: nothing more goes


def test_shipped_clips_past_the_retention_days_are_removed_others_kept(conn, tmp_path):
    expired = _clip(conn, tmp_path, "SO-1", "shipped", 31, 0.1)
    _clip(conn, tmp_path, "SO-2", "packed", 40, 0.1)  # not shipped: evidence kept past the days
    _clip(conn, tmp_path, "SO-3", "shipped", 29, 0.1)
    assert _retain(conn).removed == [expired]
    assert [r[0] for r in conn.execute("SELECT reason FROM (SELECT removed_reason AS reason FROM video_clips "
                                       "WHERE removed_at IS NOT NULL)")] == ["retention_days"]


def test_a_budget_full_of_unshipped_evidence_or_a_nearly_full_disk_is_a_problem(conn, tmp_path):
    _clip(conn, tmp_path, "SO-1", "packed", 2, 6)
    _clip(conn, tmp_path, "SO-2", "packed", 1, 6)
    kept = _retain(conn)
    assert kept.removed == [] and any("over their disk budget" in p for p in kept.problems)
    assert any("near" in p for p in _retain(conn, max_bytes=13 * MB).problems)
    b = video.Budget(30.0, 100 * MB, 90.0, 500 * MB)
    assert any("disk nearly full" in p for p in video.budget_problems(0, b, free_bytes=100 * MB))
    assert video.budget_problems(0, b, free_bytes=10**12) == []
