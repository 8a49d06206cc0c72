"""The agent's prune loop: hourly, it deletes confirmations upstream acknowledged more than
``upstream.keep_sent_h`` hours ago, keeps pending and dead ones, survives a failing round and stops on request.

The loop runs on a clock whose ``sleep`` parks it until the test lets the hour pass (``ParkedClock``), so a
day of hourly rounds takes milliseconds and the test sees every round."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from parkedclock import ParkedClock

from packgate.device.clock import isoformat
from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate
from packgate.sync.common.db import connect, write_tx
from packgate.sync.schema import outbox_counts


@pytest.fixture
def agent(tmp_path, upstream_url):
    clock = ParkedClock()
    cfg = validate({"station.data_dir": str(tmp_path / "st"), "upstream.url": upstream_url, "upstream.keep_sent_h": 6,
                    "scale.enabled": False, "scanner.enabled": False, "badge.enabled": False})
    agent = Agent(cfg, clock=clock, start_devices=False)
    yield agent
    agent.stop()


def _confirm(agent: Agent, n: int) -> list[str]:
    conn = connect(agent.db_path)
    try:
        with write_tx(conn):
            return [agent.outbox.enqueue(conn, action="pack", object_type="order", object_id=f"SO-{i}", operator="E1",
                                         device="kiosk", location="ST01")["id"] for i in range(n)]
    finally:
        conn.close()


def _set(agent: Agent, ids: list[str], state: str, at: str | None = None) -> None:
    conn = connect(agent.db_path)
    try:
        with write_tx(conn):
            for conf_id in ids:
                conn.execute("UPDATE sync_outbox SET state = ?, sent_at = ? WHERE id = ?", (state, at, conf_id))
    finally:
        conn.close()


def _counts(agent: Agent) -> dict[str, int]:
    conn = connect(agent.db_path)
    try:
        return outbox_counts(conn)
    finally:
        conn.close()


def test_the_prune_loop_deletes_acknowledged_rows_hourly_after_keep_sent_h(agent, caplog):
    clock: ParkedClock = agent.clock  # type: ignore[assignment]
    ids = _confirm(agent, 5)
    start = clock.now()
    _set(agent, ids[:3], "sent", isoformat(start))
    _set(agent, ids[3:4], "dead")  # ids[4] stays pending
    with caplog.at_level(logging.INFO, logger="packgate.agent"):
        agent.pruner.start()
        clock.wait_asleep()
        assert clock.asked == [Agent.PRUNE_EVERY_S]  # the first round ran at start and pruned nothing young
        assert _counts(agent) == {"pending": 1, "sent": 3, "dead": 1}
        for _ in range(5):  # hours 1..5: still younger than keep_sent_h = 6
            clock.let_pass()
        assert _counts(agent)["sent"] == 3
        clock.let_pass()  # hour 6: sent exactly 6 hours ago is not older than 6 hours
        assert _counts(agent)["sent"] == 3
        _set(agent, ids[:1], "sent", isoformat(start + timedelta(hours=1)))  # this one was acknowledged later
        clock.let_pass()  # hour 7
        assert _counts(agent) == {"pending": 1, "sent": 1, "dead": 1}
        clock.let_pass()  # hour 8: the later one goes too; pending and dead rows are never pruned
        assert _counts(agent) == {"pending": 1, "sent": 0, "dead": 1}
        assert clock.asked == [Agent.PRUNE_EVERY_S] * 9
    assert [r.getMessage() for r in caplog.records if "pruned" in r.getMessage()] == \
        ["pruned 2 acknowledged confirmation(s)", "pruned 1 acknowledged confirmation(s)"]
    assert agent.pruner.stop(timeout=5)


def test_a_failing_round_is_logged_and_the_next_hour_prunes(agent, caplog):
    clock: ParkedClock = agent.clock  # type: ignore[assignment]
    ids = _confirm(agent, 2)
    _set(agent, ids, "sent", isoformat(clock.now() - timedelta(hours=7)))
    db_path = agent.db_path
    agent.db_path = str(agent.cfg.data_dir)  # a folder, not a database: the first round fails
    with caplog.at_level(logging.INFO, logger="packgate.agent"):
        agent.pruner.start()
        clock.wait_asleep()
        assert any("pruning acknowledged confirmations failed" in r.getMessage() for r in caplog.records)
        agent.db_path = db_path
        clock.let_pass()
    assert _counts(agent)["sent"] == 0
    assert agent.pruner.stop(timeout=5)
