"""Smoke test of scripts/bench-site at toy sizes (3 stations, 1 s; a 300-order surge): every row of the table is
printed with every confirmation answered and the feed followed, the surge reaches every station, and nothing is
left behind (processes or files)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench(tmp_path: Path, *args: str) -> str:
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_site.py"), *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(ROOT / "tests" / "tooling")})
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert list(scratch.iterdir()) == []
    return done.stdout


@pytest.mark.long
def test_bench_site_prints_the_hub_beside_the_minimal_endpoint_and_raw_commits(tmp_path):
    out = bench(tmp_path, "--stations", "3", "--seconds", "1", "--stores", "sqlite")
    rows = {tuple(line.split()[:3]): line for line in out.splitlines() if line.startswith("sqlite")}
    assert set(rows) == {("sqlite", "-", "raw"), ("sqlite", "3", "minimal"), ("sqlite", "3", "hub")}, out
    for what in ("minimal", "hub"):
        answered = re.search(r"(\d+) / (\d+)", rows[("sqlite", "3", what)])
        assert answered and answered.group(1) == answered.group(2) != "0", rows[("sqlite", "3", what)]
    assert "follow: stream; 0 follower errors" in rows[("sqlite", "3", "hub")]


@pytest.mark.long
def test_bench_site_surge_reaches_every_station(tmp_path):
    out = bench(tmp_path, "--surge", "--surge-stations", "3", "--surge-orders", "300", "--surge-after", "0.5",
                "--surge-wait", "4")
    assert "stations that know every order: 3 of 3" in out, out
    whole = re.search(r"whole run (\d+) of (\d+) answered", out)
    assert whole and whole.group(1) == whole.group(2), out
