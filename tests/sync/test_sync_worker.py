import random
import time

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock, FakeClock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect, write_tx
from packgate.sync.outbox import Outbox
from packgate.sync.worker import OutboxWorker


def enqueue_many(ob, conn, n, orders=("SO-10001", "SO-10002", "SO-10003"), action="scan"):
    out = []
    for i in range(n):
        with write_tx(conn):
            out.append(ob.enqueue(conn, action=action, object_type="order", object_id=orders[i % len(orders)],
                                  operator="E001", device="ST01-scanner", location="ST01", payload={"i": i}))
    return out


def test_drains_in_batches_keeping_per_order_order(station_db, conn, client):
    ob = Outbox(station_db, "ST01")
    confs = enqueue_many(ob, conn, 25)
    worker = OutboxWorker(station_db, client, batch_size=10)
    assert worker.drain() == 25
    assert ob.status(conn)["depth"] == 0 and ob.status(conn)["sent"] == 25
    for order in ("SO-10001", "SO-10002", "SO-10003"):
        got = [c["seq"] for c in client.order_confirmations(order)]
        assert got == sorted(got) and got == [c["seq"] for c in confs if c["object_id"] == order]


def test_unknown_order_becomes_a_dead_letter_and_is_retried_after_the_fix(station_db, conn, client):
    clock = FakeClock()
    ob = Outbox(station_db, "ST01", clock)
    enqueue_many(ob, conn, 1)
    ghost = enqueue_many(ob, conn, 1, orders=("SO-77777",), action="pack")[0]
    enqueue_many(ob, conn, 1)
    worker = OutboxWorker(station_db, client, clock)
    worker.drain()
    status = ob.status(conn)
    assert status["sent"] == 2 and status["dead"] == 1 and not status["ok"]
    dead = ob.list_dead(conn)
    assert dead[0]["id"] == ghost["id"] and "unknown order SO-77777" in dead[0]["dead_reason"]
    worker.drain()
    assert ob.status(conn)["dead"] == 1  # never retried on its own
    client.admin("orders", [{"order_id": "SO-77777", "tote": "T-0777", "status": "open", "priority": 0,
                             "packaging": "BOX-S", "lines": []}])
    assert ob.retry_dead([ghost["id"]], by="E005") == [ghost["id"]]
    worker.drain()
    assert ob.status(conn)["dead"] == 0
    assert [c["id"] for c in client.order_confirmations("SO-77777")] == [ghost["id"]]


def test_network_down_keeps_rows_pending_with_backoff_state(station_db, conn):
    clock = FakeClock()
    ob = Outbox(station_db, "ST01", clock)
    enqueue_many(ob, conn, 3)
    dead_port = UpstreamClient("http://127.0.0.1:9", deadline_s=1)
    worker = OutboxWorker(station_db, dead_port, clock, rng=random.Random(3), backoff=Backoff(base_s=1, cap_s=300))
    outcome = worker.run_once()
    assert outcome["outcome"] == "failed"
    row = conn.execute("SELECT attempts, next_attempt_at, last_error FROM sync_outbox ORDER BY seq LIMIT 1").fetchone()
    assert row["attempts"] == 1 and "ConnectionRefused" in row["last_error"]
    assert worker.run_once()["outcome"] == "waiting" or outcome["delay_s"] == 0
    status = ob.status(conn)
    assert status["depth"] == 3 and status["consecutive_failures"] == 1 and status["last_error"]


def test_a_restarted_worker_honours_the_stored_schedule(station_db, conn, client):
    clock = FakeClock()
    ob = Outbox(station_db, "ST01", clock)
    enqueue_many(ob, conn, 2)
    down = OutboxWorker(station_db, UpstreamClient("http://127.0.0.1:9", deadline_s=1), clock,
                        rng=random.Random(1), backoff=Backoff(base_s=60, cap_s=60))
    delay = down.run_once()["delay_s"]
    fresh = OutboxWorker(station_db, client, clock)  # "after a restart"
    assert fresh.run_once()["outcome"] == "waiting"
    clock.advance(delay + 0.01)
    assert fresh.run_once()["outcome"] == "sent"


def test_thread_sends_on_wake_and_stops_promptly(station_db, conn, client):
    ob = Outbox(station_db, "ST01")
    worker = OutboxWorker(station_db, client, Clock(), idle_s=30).start()
    try:
        time.sleep(0.1)
        enqueue_many(ob, conn, 3)
        worker.wake()
        deadline = time.monotonic() + 5
        while ob.status(conn)["depth"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ob.status(conn)["sent"] == 3
        assert ob.status(conn)["clock_skew_s"] is not None and abs(ob.status(conn)["clock_skew_s"]) < 2
    finally:
        t = time.monotonic()
        assert worker.stop()
        assert time.monotonic() - t < 2


def test_station_and_worker_write_concurrently(station_db, client):
    ob = Outbox(station_db, "ST01")
    worker = OutboxWorker(station_db, client, Clock(), batch_size=7, idle_s=0.01).start()
    c = connect(station_db)
    try:
        enqueue_many(ob, c, 60)
        deadline = time.monotonic() + 10
        while ob.status(c)["sent"] < 60 and time.monotonic() < deadline:
            worker.wake()
            time.sleep(0.02)
    finally:
        worker.stop()
    assert ob.status(c)["sent"] == 60
    assert client._json(client._call("GET", "/v1/admin/stats"))["confirmations"] == 60
    c.close()


def test_reconcile_after_a_drain(station_db, conn, client):
    from datetime import timedelta

    from packgate.sync.reconcile import reconcile

    clock = FakeClock()
    ob = Outbox(station_db, "ST01", clock)
    confs = enqueue_many(ob, conn, 5)
    OutboxWorker(station_db, client, clock, batch_size=3).drain()
    now = clock.now()
    report = reconcile(conn, client, "ST01", now - timedelta(hours=1), now + timedelta(seconds=1))
    assert report == {"sent_missing_upstream": [], "upstream_not_sent_locally": [], "matched": 5}
    conn.execute("UPDATE sync_outbox SET state = 'pending' WHERE id = ?", (confs[0]["id"],))  # answer lost
    report = reconcile(conn, client, "ST01", now - timedelta(hours=1), now + timedelta(seconds=1))
    assert report["upstream_not_sent_locally"] == [confs[0]["id"]]


def test_prune_keeps_pending_and_dead_and_the_sequence(station_db, conn, client):
    from datetime import timedelta

    from packgate.sync.outbox import prune_sent

    clock = FakeClock()
    ob = Outbox(station_db, "ST01", clock)
    enqueue_many(ob, conn, 4)
    OutboxWorker(station_db, client, clock).drain()
    enqueue_many(ob, conn, 1)  # pending
    clock.advance(86_400 * 31)
    assert prune_sent(conn, clock.now() - timedelta(days=30)) == 4
    assert [tuple(r) for r in conn.execute("SELECT seq, state FROM sync_outbox")] == [(5, "pending")]
    assert enqueue_many(ob, conn, 1)[0]["seq"] == 6
