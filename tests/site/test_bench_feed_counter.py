"""Smoke test of scripts/bench-feed-counter, short: every store prints its three rows alone and beside busy threads,
each with transactions done."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_feed_counter_prints_every_row_for_both_stores():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_feed_counter.py"), "--seconds", "0.3",
                           "--writers", "2", "--busy", "1"], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "tests" / "tooling")})
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith(("sqlite", "pg"))]
    assert sorted((r[0], r[1], r[2]) for r in rows) == sorted(
        (store, what, busy) for store in ("sqlite", "pg") for what in ("hub", "no-feed", "raw") for busy in ("0", "1"))
    assert all(float(r[3]) > 0 for r in rows), rows
