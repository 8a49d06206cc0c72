"""Smoke test of scripts/bench-station with tiny sizes: it runs, prints its table and leaves nothing behind."""
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_station_prints_every_row_with_small_sizes():
    before = set(Path(tempfile.gettempdir()).glob("packgate-bench-station-*"))
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_station.py"), "--skus", "60", "--lots", "120",
                          "--orders", "80", "--employees", "10", "--packs", "20", "--loaded-packs", "3", "--pdas", "2",
                          "--pages", "1", "--idle-s", "0.5", "--window", "5"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT).stdout
    for row in ("start-up with the reference data", "kiosk scan, no load", "kiosk scan, 1 supervisor pages",
                "kiosk scan, 2 PDAs polling", "full pack around order 20", "idle demo agent"):
        assert row in out
    assert "failed requests (HTTP 5xx or not packed)          20 packs" in out or " 0 " in out.split("failed requests")[1]
    assert set(Path(tempfile.gettempdir()).glob("packgate-bench-station-*")) <= before
