"""Process crashes: SIGKILL at random moments and named crash points (T1/T2, small), SIGTERM in backoff (T10)."""
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from crash_harness import passed, run

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.long
def test_t1_t2_kill_minus_9_loses_nothing_and_duplicates_nothing(tmp_path):
    target = 3000  # room for every planned kill before the target is reached, however slow the machine
    report = run(tmp_path, confirmations=target, random_kills=10, per_point=2, seed=7)
    assert report["kills"] >= 20, report
    assert all(n >= 1 for n in report["named_kills"].values()), report
    assert report["lost"] == 0 and report["duplicate_effects"] == 0, report
    assert report["committed_not_delivered"] == 0 and report["not_sent_locally"] == 0, report
    assert report["integrity_failures"] == 0 and report["seq_gapless"], report
    assert report["committed"] == target and report["upstream_confirmations"] == target, report
    assert report["duplicate_requests_seen"] >= 1, report
    assert passed(report)


SIGTERM_STATION = textwrap.dedent("""
    import random, signal, sys
    from packgate.device.backoff import Backoff
    from packgate.sync.client import UpstreamClient
    from packgate.sync.common.db import connect, write_tx
    from packgate.sync.outbox import Outbox
    from packgate.sync.worker import OutboxWorker

    db = sys.argv[1]
    ob = Outbox(db, "ST01")
    conn = connect(db)
    for i in range(5):
        with write_tx(conn):
            ob.enqueue(conn, action="pack", object_type="order", object_id="SO-1", operator="E001",
                       device="d", location="ST01", payload={"i": i})
    worker = OutboxWorker(db, UpstreamClient("http://127.0.0.1:9", deadline_s=1), rng=random.Random(1),
                          backoff=Backoff(base_s=600, cap_s=600))
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    worker.start()
    print("ready", flush=True)
    while worker.alive:
        worker._thread.join(0.05)
    print("stopped", flush=True)
""")


def test_t10_sigterm_during_backoff_exits_within_2s_consistently(tmp_path):
    db = tmp_path / "station.db"
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_STATION, str(db)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready"
    conn = sqlite3.connect(str(db))
    deadline = time.monotonic() + 10
    while conn.execute("SELECT MAX(attempts) FROM sync_outbox").fetchone()[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the worker has failed once and sits in a 0-600 s backoff
    time.sleep(0.2)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=5)
    assert time.monotonic() - start < 2.0
    assert proc.returncode == 0 and "stopped" in out
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT state, attempts, last_error FROM sync_outbox").fetchall()
    assert len(rows) == 5 and all(state == "pending" and attempts >= 1 and err for state, attempts, err in rows)
