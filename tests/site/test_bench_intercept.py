"""Smoke test of scripts/bench-intercept with two cancels per set-up: it runs both set-ups, prints its table with
every cancel refused at the next step, and leaves nothing behind."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_intercept_prints_both_setups_within_the_2_s_budget(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_intercept.py"), "--n", "2", "--jitter-s", "0.2"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "TMPDIR": str(scratch)})
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.startswith(("standalone", "site"))}
    assert set(rows) == {"standalone", "site"}
    for row in rows.values():
        assert row[1] == "2" and row[-1] == "2/2" and float(row[4]) < 2000  # max ms
    assert list(scratch.iterdir()) == []
