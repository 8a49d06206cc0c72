"""A supervisor's release against a table's renewal in flight, on SQLite and PostgreSQL, with the interleaving forced
(not hoped for): the release deletes the claim and has not committed yet when the table's heartbeat renewal starts
(it read its claim before the release). The release wins: the renewal is refused naming who released the order and
why, and the claim does not come back."""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from packgate.sync.errors import ClaimConflictError
from packgate.sync.hub import store
from packgate.sync.hub.engine import is_postgresql


def _waiting_for_a_lock(site) -> bool:
    with site.hub.db.read() as conn:
        return bool(conn.one("SELECT COUNT(*) AS n FROM pg_locks WHERE NOT granted")["n"])


def test_a_release_wins_over_a_heartbeat_renewal_that_started_before_it_committed(site):
    hub = site.hub
    hub.claim("ST01", "SO-10013", "E001")
    renewing_may_start, renewed = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def renew() -> None:
        renewing_may_start.wait(5)
        try:
            outcome["claim"] = hub.claim("ST01", "SO-10013", "E001", renew=True)
        except ClaimConflictError as exc:
            outcome["refused"] = exc
        renewed.set()

    worker = threading.Thread(target=renew)
    worker.start()
    with hub.db.tx() as conn:  # the supervisor's release, held open until the renewal is under way
        decision = {"by": "E005", "by_name": "Priya Nair", "reason": "packer sent home sick"}
        assert store.release_claim(conn, "SO-10013", hub.clock.now(), "supervisor", decision) is not None
        renewing_may_start.set()
        if is_postgresql(hub.config["site.db"]):
            deadline = time.monotonic() + 10
            while not _waiting_for_a_lock(site):  # the renewal reached the claim's row and waits for the release
                assert time.monotonic() < deadline, "the renewal never reached the claim"
                time.sleep(0.005)
        else:
            assert not renewed.wait(0.2)  # SQLite: one writer; the renewal waits for the release to commit
    worker.join(10)
    assert renewed.is_set()
    assert "claim" not in outcome, f"the claim came back after the release: {outcome.get('claim')}"
    refused = outcome["refused"]
    assert refused.claim["released"]["by_name"] == "Priya Nair"
    assert refused.claim["released"]["reason"] == "packer sent home sick"
    assert hub.order("SO-10013") is None or hub.order("SO-10013")["claim"] is None
    with hub.db.read() as conn:
        assert store.get_claim(conn, "SO-10013") is None


def test_after_the_release_the_table_cannot_renew_but_a_fresh_open_takes_the_order(site):
    hub = site.hub
    hub.claim("ST01", "SO-10013", "E001")
    hub.release("SO-10013", supervisor="E005", reason="moved to table 2")
    with pytest.raises(ClaimConflictError, match="released from"):
        hub.claim("ST01", "SO-10013", "E001", renew=True)
    assert hub.claim("ST02", "SO-10013", "E002")["station"] == "ST02"
