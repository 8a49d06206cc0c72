"""Network faults between the worker and upstream, over real sockets (T3-T6 of reliability.md)."""
import json
import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from faultproxy import FaultProxy
from faultserver import http_date

from packgate.device.clock import parse_iso
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect, write_tx
from packgate.sync.errors import DeadlineExceededError
from packgate.sync.outbox import Outbox
from packgate.sync.worker import OutboxWorker


def setup_station(tmp_path, clock, url, n=1, deadline_s=1.0, batch_size=100):
    db = tmp_path / "station.db"
    ob = Outbox(db, "ST01", clock)
    conn = connect(db)
    for i in range(n):
        with write_tx(conn):
            ob.enqueue(conn, action="weigh", object_type="order", object_id=f"SO-{i % 3}", operator="E001",
                       device="ST01-scale", location="ST01", payload={"gross_g": "512.5", "i": i})
    client = UpstreamClient(url, deadline_s=deadline_s, clock=clock)
    worker = OutboxWorker(db, client, clock, batch_size=batch_size, rng=random.Random(0))
    return ob, conn, worker


def states(conn):
    return [r[0] for r in conn.execute("SELECT state FROM sync_outbox ORDER BY seq")]


def retry_now(clock, conn):
    due = conn.execute("SELECT MAX(next_attempt_at) FROM sync_outbox WHERE state = 'pending'").fetchone()[0]
    if due:
        clock.advance(max(0.0, (parse_iso(due) - clock.now()).total_seconds()) + 0.001)


def test_t3_upstream_commits_then_stalls_past_the_deadline(tmp_path, clock, reference, proxy):
    _, stats = reference
    ob, conn, worker = setup_station(tmp_path, clock, proxy.url, n=3)
    proxy.toxic("timeout", count=1)
    start = time.monotonic()
    outcome = worker.run_once()
    assert outcome["outcome"] == "failed" and "within" in outcome["error"]
    assert time.monotonic() - start < 2.0
    assert stats()["confirmations"] == 3  # upstream did commit
    assert states(conn) == ["pending"] * 3
    retry_now(clock, conn)
    assert worker.run_once()["outcome"] == "sent"
    s = stats()
    assert s["requests"] >= 2 and s["effects"] == 3 and s["duplicate"] == 3
    assert states(conn) == ["sent"] * 3
    assert {r[0] for r in conn.execute("SELECT upstream_status FROM sync_outbox")} == {"duplicate"}


@pytest.mark.parametrize("size,delay_s,n", [(100, 0.1, 60), (1, 0.3, 1)])
def test_t5_slow_drip_is_aborted_at_the_deadline(tmp_path, clock, reference, proxy, size, delay_s, n):
    """1 KB/s (and 1 byte every 0.3 s) never completes inside a 2 s deadline: aborted in time."""
    ob, conn, worker = setup_station(tmp_path, clock, proxy.url, n=n, deadline_s=2.0)
    proxy.toxic("slicer", size=size, delay_s=delay_s)
    start = time.monotonic()
    outcome = worker.run_once()
    elapsed = time.monotonic() - start
    assert outcome["outcome"] == "failed" and "within 2 s" in outcome["error"]
    assert elapsed < 2.0 + 1.0
    proxy.clear()
    retry_now(clock, conn)
    assert worker.run_once()["outcome"] == "sent"
    assert states(conn) == ["sent"] * n


def test_direct_client_deadline_error_type(reference, proxy):
    proxy.toxic("slicer", size=1, delay_s=0.3)
    client = UpstreamClient(proxy.url, deadline_s=1.0)
    start = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        client.get_reference()
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("fault", ["reset_peer", "limit_data", "garbage", "truncated", "commit_then_500", 503])
def test_t6_faults_are_retried_with_identical_key_and_bytes(tmp_path, clock, fault_upstream, fault):
    if fault in ("reset_peer", "limit_data"):
        server = fault_upstream()
        fault_proxy = FaultProxy(int(server.url.rsplit(":", 1)[1]))
        port = fault_proxy.start()
        fault_proxy.toxic(fault, count=1, **({"nbytes": 200} if fault == "limit_data" else {}))
        url = f"http://127.0.0.1:{port}"
    else:
        server = fault_upstream([fault])
        fault_proxy, url = None, server.url
    try:
        ob, conn, worker = setup_station(tmp_path, clock, url, n=4)
        first = worker.run_once()
        assert first["outcome"] == "failed", first
        assert states(conn) == ["pending"] * 4  # not marked sent
        retry_now(clock, conn)
        assert worker.run_once()["outcome"] == "sent"
        assert states(conn) == ["sent"] * 4
        assert len(server.bodies) == 2 and server.bodies[0] == server.bodies[1]  # same keys, same bytes
        stored = [bytes(r[0]) for r in conn.execute("SELECT body FROM sync_outbox ORDER BY seq")]
        assert all(body in server.bodies[1] for body in stored)
        assert server.stats()["confirmations"] == 4 and server.stats()["effects"] == 4
    finally:
        if fault_proxy:
            fault_proxy.stop()


def test_t4_retry_after_seconds(tmp_path, clock, fault_upstream):
    server = fault_upstream([(429, {"Retry-After": "120"})])
    ob, conn, worker = setup_station(tmp_path, clock, server.url)
    failed = worker.run_once()
    assert failed["outcome"] == "failed" and failed["delay_s"] >= 120
    row = conn.execute("SELECT next_attempt_at, attempts, last_error FROM sync_outbox").fetchone()
    assert (parse_iso(row["next_attempt_at"]) - clock.now()).total_seconds() >= 119.99
    assert "429" in row["last_error"]
    clock.advance(100)
    assert worker.run_once()["outcome"] == "waiting" and len(server.bodies) == 1
    clock.advance(21)
    assert worker.run_once()["outcome"] == "sent"


def test_t4_retry_after_http_date_and_the_15_minute_cap(tmp_path, clock, fault_upstream):
    real_now = datetime.now(timezone.utc)
    server = fault_upstream([(503, {"Retry-After": http_date(real_now + timedelta(seconds=300))}),
                             (503, {"Retry-After": "86400"})])
    ob, conn, worker = setup_station(tmp_path, clock, server.url)
    first = worker.run_once()
    assert 297 <= first["delay_s"] <= 302  # measured against the server's Date header, not our fake clock
    retry_now(clock, conn)
    second = worker.run_once()
    assert second["delay_s"] == 900
    retry_now(clock, conn)
    assert worker.run_once()["outcome"] == "sent"


def test_t4_permanent_refusal_is_a_dead_letter_never_retried(tmp_path, clock, fault_upstream):
    server = fault_upstream(["reject_400"])
    ob, conn, worker = setup_station(tmp_path, clock, server.url)
    assert worker.run_once()["outcome"] == "dead"
    clock.advance(86_400)
    for _ in range(3):
        assert worker.run_once()["outcome"] == "idle"
    assert len(server.bodies) == 1
    dead = ob.list_dead(conn)
    assert len(dead) == 1 and "400" in dead[0]["dead_reason"]


def test_a_refused_batch_is_narrowed_down_to_the_bad_row(tmp_path, clock, fault_upstream):
    server = fault_upstream(["reject_400", "ok", "reject_400"])
    ob, conn, worker = setup_station(tmp_path, clock, server.url, n=4)
    assert worker.run_once()["outcome"] == "isolating"
    assert worker.run_once()["outcome"] == "sent"   # row 1 alone: fine
    assert worker.run_once()["outcome"] == "dead"   # row 2 alone: refused -> dead letter
    assert worker.run_once()["outcome"] == "sent"   # rows 3..4 (isolation continues, then batches)
    worker.drain()
    assert states(conn) == ["sent", "dead", "sent", "sent"]
    assert [len(json.loads(b)["confirmations"]) for b in server.bodies] == [4, 1, 1, 1, 1]


def test_upstream_down_then_back(tmp_path, clock, reference, proxy):
    _, stats = reference
    ob, conn, worker = setup_station(tmp_path, clock, proxy.url, n=5, batch_size=2)
    proxy.toxic("down")
    for _ in range(5):
        assert worker.run_once()["outcome"] in ("failed", "waiting")
        retry_now(clock, conn)
    assert ob.status(conn)["depth"] == 5 and ob.status(conn)["consecutive_failures"] >= 3
    proxy.clear()
    retry_now(clock, conn)
    worker.drain()
    assert ob.status(conn)["depth"] == 0 and stats()["effects"] == 5


def test_latency_under_the_deadline_is_fine(tmp_path, clock, reference, proxy):
    ob, conn, worker = setup_station(tmp_path, clock, proxy.url, n=2, deadline_s=2.0)
    proxy.toxic("latency", delay_s=0.3)
    assert worker.run_once()["outcome"] == "sent"
