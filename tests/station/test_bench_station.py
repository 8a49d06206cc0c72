"""Smoke test of scripts/bench-station with tiny sizes: it runs, prints its table and leaves nothing behind."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.long
def test_bench_station_prints_every_row_with_small_sizes(tmp_path):
    scratch = tmp_path / "tmp"  # the bench's own temporary folder, apart from anything else running
    scratch.mkdir()
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_station.py"), "--skus", "60", "--lots", "120",
                          "--orders", "80", "--employees", "10", "--packs", "20", "--loaded-packs", "3", "--loaded-s", "0", "--pdas", "2",
                          "--pages", "1", "--idle-s", "0.5", "--window", "5", "--refreshes", "3", "--demo-cameras", "on"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT,
                         env={**os.environ, "TMPDIR": str(scratch)}).stdout
    for row in ("start-up with the reference data", "kiosk scan, no load", "kiosk scan, 1 supervisor pages",
                "kiosk scan, 2 PDAs polling", "full pack around order 20", "3 refreshes", "camera filming"):
        assert row in out
    failed = next(line for line in out.splitlines() if line.startswith("failed requests"))
    assert failed.split()[-1] == "0", failed
    assert list(scratch.iterdir()) == []


def test_bench_station_runs_only_the_rows_asked_for_and_prints_each_as_measured():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_station.py"), "--skus", "60", "--lots", "120",
                          "--orders", "40", "--employees", "10", "--packs", "12", "--marks", "5,12", "--window", "3",
                          "--rows", "packs", "--refreshes", "2"], capture_output=True, text=True, timeout=300, cwd=ROOT).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["measure", "size", "result"]
    assert any(line.startswith("full pack around order 5 ") for line in lines)
    assert any(line.startswith("full pack around order 12 ") for line in lines)
    assert not any(line.startswith(("kiosk scan", "idle")) for line in lines)
