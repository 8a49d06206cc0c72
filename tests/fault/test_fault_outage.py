"""T7 (scaled for CI): stations queue through a simulated 24 h outage, then drain fully.

The 100-station retry spread is checked in tests/sync/test_sync_backoff.py; the 50,000 drain in scripts/bench-sync.
"""
import random

import pytest

from packgate.device.backoff import Backoff
from packgate.device.clock import FakeClock, parse_iso
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect, write_tx
from packgate.sync.outbox import Outbox
from packgate.sync.worker import OutboxWorker

STATIONS, PER_STATION, OUTAGE_S = 4, 250, 24 * 3600  # scripts/bench-sync drains 50,000


@pytest.mark.long
def test_t7_full_drain_after_a_day_offline(tmp_path, reference, proxy):
    _, stats = reference
    clock = FakeClock()
    backoff = Backoff(base_s=1, cap_s=300)
    fleet = []
    for n in range(STATIONS):
        db = tmp_path / f"st{n}.db"
        ob = Outbox(db, f"ST{n:02d}", clock)
        conn = connect(db)
        with write_tx(conn):  # a shift's worth of confirmations, committed while offline
            for i in range(PER_STATION):
                ob.enqueue(conn, action="scan", object_type="order", object_id=f"SO-{i % 40}", operator="E001",
                           device="scanner", location=f"ST{n:02d}", payload={"i": i})
        unreachable = UpstreamClient("http://127.0.0.1:9", deadline_s=2, clock=clock)  # connection refused
        worker = OutboxWorker(db, unreachable, clock, batch_size=100,
                              rng=random.Random(n), backoff=backoff)
        fleet.append((ob, conn, worker))

    attempts = {n: [] for n in range(STATIONS)}
    start = clock.now()
    while (clock.now() - start).total_seconds() < OUTAGE_S:
        # advance to the earliest due station, let it try (and fail)
        heads = [parse_iso(c.execute("SELECT next_attempt_at FROM sync_outbox WHERE state = 'pending'"
                                     " ORDER BY seq LIMIT 1").fetchone()[0]) for _, c, _ in fleet]
        n = heads.index(min(heads))
        clock.advance(max(0.0, (heads[n] - clock.now()).total_seconds()) + 0.001)
        outcome = fleet[n][2].run_once()
        assert outcome["outcome"] == "failed"
        attempts[n].append((clock.now(), outcome["delay_s"]))
    assert stats().get("confirmations", 0) == 0
    for history in attempts.values():
        assert all(delay <= 300 for _, delay in history)
        assert len(history) > 200  # kept trying all day, ~every 150 s on average

    clock.advance(301)  # upstream is back; one cap later every station is due again
    for ob, conn, worker in fleet:
        worker.client = UpstreamClient(proxy.url, deadline_s=2, clock=clock)
        worker.drain()
        status = ob.status(conn)
        assert status["depth"] == 0 and status["sent"] == PER_STATION and status["dead"] == 0
    s = stats()
    assert s["confirmations"] == s["effects"] == STATIONS * PER_STATION
