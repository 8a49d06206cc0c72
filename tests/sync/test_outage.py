"""An outage is logged by its changes of state: one line when failures start, one when their kind changes, a summary
every ``summary_s`` while they go on, one when it works again; and a health check can ask since when and why."""
from __future__ import annotations

import logging

from packgate.device.clock import FakeClock
from packgate.sync.common.outage import OutageLog


def test_an_outage_is_one_line_a_summary_a_minute_and_one_line_when_it_ends(caplog):
    caplog.set_level(logging.INFO)
    clock = FakeClock()
    outage = OutageLog("hub database", logging.getLogger("packgate.test.outage"), clock=clock, summary_s=60)
    assert outage.status() is None
    for _ in range(20 * 59):  # twenty failures a second for 59 s
        outage.failed("not saved: the hub database is unreachable (connection refused)", "StorageError")
        clock.advance(0.05)
    assert [r.getMessage() for r in caplog.records] == [
        "hub database failing: not saved: the hub database is unreachable (connection refused)"]
    clock.advance(2)
    outage.failed("not saved: the hub database is unreachable (connection refused)", "StorageError")
    assert caplog.records[-1].getMessage().startswith("hub database still failing after 61 s: 1181 failure(s) in the last")
    outage.failed("not saved: the disk is full", "StorageFullError")
    assert caplog.records[-1].getMessage() == "hub database failing differently: not saved: the disk is full"
    status = outage.status()
    assert status is not None and status["failures"] == 1182 and status["last_error"] == "not saved: the disk is full"
    outage.ok()
    outage.ok()
    assert caplog.records[-1].getMessage() == "hub database recovered after 61 s (1182 failure(s) in all)"
    assert len(caplog.records) == 4 and outage.status() is None and all(r.exc_info is None for r in caplog.records)
