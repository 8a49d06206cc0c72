"""The crash harness: SIGKILL a station-like producer at random moments and at named crash
points while it produces confirmations, restart it, check ``PRAGMA integrity_check`` after every
kill, and finally prove that upstream holds every acknowledged confirmation exactly once.

Used by ``scripts/crash-test`` (full: 10,000 confirmations, >= 200 random kills + each named
point) and by the test suite (small).
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from packgate.sync.crash import POINTS
from packgate.sync.upstream.server import start_in_thread

PRODUCER = Path(__file__).with_name("crash_producer.py")


def run(workdir: str | Path, *, confirmations: int = 10_000, random_kills: int = 200, per_point: int = 100,
        seed: int = 1, max_delay_s: float = 0.25, log: Callable[[str], None] = lambda _msg: None) -> dict:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    station_db, upstream_db, ack_file = workdir / "station.db", workdir / "upstream.db", workdir / "acks.txt"
    for path in (station_db, upstream_db, ack_file):
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    rng = random.Random(seed)
    plan: list[str | None] = [None] * random_kills + [p for p in POINTS for _ in range(per_point)]
    rng.shuffle(plan)
    base_url, stop = start_in_thread("127.0.0.1", 0, upstream_db, strict_orders=False)
    started = time.monotonic()
    report: dict[str, Any] = {"kills": 0, "random_kills": 0, "named_kills": {p: 0 for p in POINTS}, "runs": 0, "clean_exits": 0,
              "integrity_failures": 0, "missed_points": 0}
    try:
        while True:
            spec = plan.pop() if plan else "finish"
            env = dict(os.environ)
            env.pop("PACKGATE_CRASH_AT", None)
            if spec is not None and spec != "finish":
                env["PACKGATE_CRASH_AT"] = spec
                env["PACKGATE_CRASH_NTH"] = str(rng.randint(1, 3))
            proc = subprocess.Popen([sys.executable, str(PRODUCER), "--db", str(station_db),
                                     "--upstream", base_url, "--ack", str(ack_file), "--target", str(confirmations)],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            report["runs"] += 1
            assert proc.stdout is not None
            proc.stdout.readline()  # "ready"
            if spec is None:
                time.sleep(rng.uniform(0.0, max_delay_s))
                proc.send_signal(signal.SIGKILL)
            try:
                code = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            proc.stdout.close()
            if code == -signal.SIGKILL:
                report["kills"] += 1
                if spec is None:
                    report["random_kills"] += 1
                else:
                    report["named_kills"][spec] += 1
            elif code == 0:
                report["clean_exits"] += 1
                if spec not in (None, "finish"):
                    report["missed_points"] += 1
            else:
                raise RuntimeError(f"producer exited with {code}")
            if _integrity(station_db) != "ok":
                report["integrity_failures"] += 1
            if report["runs"] % 25 == 0:
                log(f"  {report['runs']} runs, {report['kills']} kills, {_count(station_db)} confirmations")
            if spec == "finish" and code == 0:
                break
        report.update(verify(station_db, upstream_db, ack_file))
    finally:
        stop()
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def _count(path: Path) -> int:
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("SELECT COUNT(*) FROM sync_outbox").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def verify(station_db: Path, upstream_db: Path, ack_file: Path) -> dict:
    """Compare what the station acknowledged, what it holds, and what upstream applied."""
    acked = [line for line in ack_file.read_text().splitlines() if line]
    station = sqlite3.connect(str(station_db))
    local = {row[0]: row[1] for row in station.execute("SELECT id, state FROM sync_outbox")}
    seqs = [row[0] for row in station.execute("SELECT seq FROM sync_outbox ORDER BY seq")]
    events = station.execute("SELECT COUNT(*) FROM station_events").fetchone()[0]
    station.close()
    up = sqlite3.connect(str(upstream_db))
    per_id = dict(up.execute("SELECT id, COUNT(*) FROM up_confirmations GROUP BY id").fetchall())
    effects = up.execute("SELECT COALESCE(SUM(count), 0) FROM up_effects").fetchone()[0]
    stats = dict(up.execute("SELECT k, n FROM up_stats").fetchall())
    up.close()
    return {
        "acknowledged": len(acked),
        "acknowledged_distinct": len(set(acked)),
        "committed": len(local),
        "station_events": events,
        "seq_gapless": seqs == list(range(1, len(seqs) + 1)),
        "upstream_confirmations": len(per_id),
        "upstream_effects": effects,
        "lost": len(set(acked) - set(per_id)),
        "committed_not_delivered": len(set(local) - set(per_id)),
        "unknown_upstream": len(set(per_id) - set(local)),
        "duplicate_effects": sum(n - 1 for n in per_id.values()) + (effects - len(per_id)),
        "not_sent_locally": sum(1 for state in local.values() if state != "sent"),
        "duplicate_requests_seen": stats.get("duplicate", 0),
        "requests": stats.get("requests", 0),
    }


def passed(report: dict) -> bool:
    return (report["lost"] == 0 and report["duplicate_effects"] == 0 and report["committed_not_delivered"] == 0
            and report["unknown_upstream"] == 0 and report["not_sent_locally"] == 0
            and report["integrity_failures"] == 0 and report["seq_gapless"]
            and report["committed"] == report["station_events"] and report["duplicate_requests_seen"] >= 1)
