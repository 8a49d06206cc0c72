"""The one delivery engine (``sync.delivery``) for both of its users — the station's outbox worker and the
hub's relay — against the real reference upstream on 127.0.0.1, faults injected by a TCP proxy in between.

Each test runs once per user: a lost answer is retried after its backoff and takes effect once; a row the
WMS cannot parse is narrowed down and dead-lettered while the rest of its batch goes; a loop stopped in
the middle of a long backoff returns at once. The relay also sends every due station's batch in one request (one
request per station, several at once, to a WMS without that call)."""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from packgate.device.backoff import Backoff
from packgate.device.clock import Clock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect, write_tx
from packgate.sync.common.loop import Loop
from packgate.sync.delivery import DeliveryEngine
from packgate.sync.hub.config import validate
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.relay import Relay
from packgate.sync.outbox import Outbox
from packgate.sync.worker import OutboxWorker

PROMPT_S = 0.5
BROKEN = b'{"id": "broken'  # bytes that are not JSON: the WMS refuses any batch holding them with a 400


class Side:
    """One user of the engine: its queue, its loop, and how to read what became of each row."""

    loop: Loop[dict[str, Any]]
    engine: DeliveryEngine[Any]

    def __init__(self, tmp_path: Path, clock: Clock):
        self.tmp_path, self.clock = tmp_path, clock
        self.outboxes: dict[str, tuple[Outbox, Any]] = {}

    def mint(self, station: str, n: int) -> list[dict[str, Any]]:
        """``n`` confirmations as station ``station``'s outbox writes them."""
        if station not in self.outboxes:
            db = self.tmp_path / f"{station}.db"
            self.outboxes[station] = (Outbox(db, station, self.clock), connect(db))
        outbox, conn = self.outboxes[station]
        confs = []
        for i in range(n):
            with write_tx(conn):
                confs.append(outbox.enqueue(conn, action="weigh", object_type="order", object_id=f"SO-{i % 3}",
                                            operator="E001", device=f"{station}-scale", location=station,
                                            payload={"gross_g": "512.5", "i": i}))
        return confs

    def confirm(self, n: int, station: str = "ST01") -> list[str]:
        raise NotImplementedError

    def corrupt(self, conf_id: str) -> None:
        raise NotImplementedError

    def rows(self) -> dict[str, dict[str, Any]]:
        """id -> {state, attempts, reason}."""
        raise NotImplementedError

    def close(self) -> None:
        for _, conn in self.outboxes.values():
            conn.close()


class StationSide(Side):
    def __init__(self, tmp_path: Path, clock: Clock, url: str, backoff: Backoff, wait_s: float):
        super().__init__(tmp_path, clock)
        self.outbox, self.conn = self.outboxes["ST01"] = (Outbox(tmp_path / "ST01.db", "ST01", clock),
                                                          connect(tmp_path / "ST01.db"))
        self.loop = self.worker = OutboxWorker(tmp_path / "ST01.db", UpstreamClient(url, deadline_s=1.0, clock=clock),
                                               clock, rng=random.Random(0), backoff=backoff, recheck_s=wait_s)
        self.engine = self.worker.engine

    def confirm(self, n: int, station: str = "ST01") -> list[str]:
        return [c["id"] for c in self.mint(station, n)]

    def corrupt(self, conf_id: str) -> None:
        self.conn.execute("UPDATE sync_outbox SET body = ? WHERE id = ?", (BROKEN, conf_id))

    def rows(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: {"state": r["state"], "attempts": r["attempts"], "reason": r["dead_reason"]}
                for r in self.conn.execute("SELECT id, state, attempts, dead_reason FROM sync_outbox ORDER BY seq")}


class HubSide(Side):
    def __init__(self, tmp_path: Path, clock: Clock, url: str, backoff: Backoff, wait_s: float):
        super().__init__(tmp_path, clock)
        self.hub = Hub(validate({"site.db": str(tmp_path / "hub.db")}), clock)
        self.loop = self.relay = Relay(self.hub.db, UpstreamClient(url, deadline_s=1.0, clock=clock), clock,
                                       rng=random.Random(0), backoff=backoff, idle_s=wait_s)
        self.engine = self.relay.engine

    def confirm(self, n: int, station: str = "ST01") -> list[str]:
        confs = self.mint(station, n)
        assert {r["status"] for r in self.hub.receive(station, confs)} == {"accepted"}
        return [c["id"] for c in confs]

    def corrupt(self, conf_id: str) -> None:
        self.hub.db.run(lambda conn: conn.execute("UPDATE hub_confirmations SET body = ? WHERE id = ?",
                                                  (BROKEN.decode(), conf_id)))

    def rows(self) -> dict[str, dict[str, Any]]:
        with self.hub.db.read() as conn:
            found = conn.execute("SELECT id, relay_state, attempts, last_error FROM hub_confirmations ORDER BY n")
        return {r["id"]: {"state": r["relay_state"], "attempts": r["attempts"],
                          "reason": r["last_error"] if r["relay_state"] == "dead" else None} for r in found}

    def close(self) -> None:
        super().close()
        self.hub.db.close()


@pytest.fixture(params=["station", "hub"])
def make_side(request, tmp_path):
    made: list[Side] = []

    def make(clock: Clock, url: str, *, backoff: Backoff | None = None, wait_s: float = 5.0) -> Side:
        kind = StationSide if request.param == "station" else HubSide
        side = kind(tmp_path, clock, url, backoff or Backoff(base_s=10.0, cap_s=10.0), wait_s)
        made.append(side)
        return side

    yield make
    for side in made:
        side.loop.stop()
        side.close()


def states(side: Side) -> list[str]:
    return [row["state"] for row in side.rows().values()]


def test_an_answer_lost_after_upstream_committed_is_sent_again_after_the_backoff_and_counts_once(
        make_side, clock, reference, proxy):
    _, stats = reference
    side = make_side(clock, proxy.url)
    side.confirm(3)
    proxy.toxic("timeout", count=1)  # upstream commits; its answer never arrives
    failed = side.loop.run_once()
    assert failed["outcome"] == "failed" and "within" in failed["error"] and 0 < failed["delay_s"] <= 10
    assert stats()["confirmations"] == 3
    assert states(side) == ["pending"] * 3 and {r["attempts"] for r in side.rows().values()} == {1}
    asked = stats()["requests"]
    clock.advance(failed["delay_s"] - 0.01)
    assert side.loop.run_once()["outcome"] in ("waiting", "idle")  # still backing off: nothing sent
    assert stats()["requests"] == asked
    clock.advance(0.02)
    sent = side.loop.run_once()
    assert sent["outcome"] == "sent" and sent["n"] == 3 and sent["duplicate"] == 3
    assert states(side) == ["sent"] * 3
    assert stats()["confirmations"] == 3 and stats()["effects"] == 3  # delivered twice, took effect once


def test_a_row_upstream_refuses_is_isolated_and_dead_lettered_while_the_rest_of_its_batch_goes(
        make_side, clock, reference):
    url, stats = reference
    side = make_side(clock, url)
    ids = side.confirm(4)
    side.corrupt(ids[1])
    assert [side.loop.run_once()["outcome"] for _ in range(3)] == ["isolating", "sent", "dead"]
    assert side.engine.drain() == 2  # the rows after it, still one at a time until the refused batch is through
    rows = side.rows()
    assert [rows[i]["state"] for i in ids] == ["sent", "dead", "sent", "sent"]
    assert "HTTP 400" in rows[ids[1]]["reason"]
    assert stats()["confirmations"] == 3 and stats()["effects"] == 3
    side.confirm(3)
    assert side.loop.run_once()["n"] == 3  # isolation over: whole batches again
    assert side.loop.run_once()["outcome"] in ("idle", "waiting")  # the dead letter is never retried on its own


def test_stop_in_the_middle_of_a_long_backoff_returns_at_once(make_side, reference, proxy):
    proxy.toxic("down")
    side = make_side(Clock(), proxy.url, backoff=Backoff(base_s=300.0, cap_s=300.0, jitter=False), wait_s=300.0)
    side.confirm(2)
    side.loop.start()
    deadline = time.monotonic() + 10
    while side.engine.last.get("outcome") != "failed" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert side.engine.last["outcome"] == "failed" and side.engine.last["wait_s"] == 300.0
    started = time.monotonic()
    assert side.loop.stop() is True
    assert time.monotonic() - started < PROMPT_S and not side.loop.alive
    assert {r["attempts"] for r in side.rows().values()} == {1}


@pytest.fixture
def hub_side(tmp_path, clock, reference, proxy):
    side = HubSide(tmp_path, clock, proxy.url, Backoff(base_s=10.0, cap_s=10.0), 5.0)
    yield side
    side.close()


def test_the_relay_sends_every_due_station_in_one_request_and_marks_them_together(hub_side, reference):
    _, stats = reference
    ids = hub_side.confirm(2, "ST01") + hub_side.confirm(3, "ST02") + hub_side.confirm(1, "ST03")
    transactions = []
    run = hub_side.hub.db.run
    hub_side.hub.db.run = lambda fn: (transactions.append(fn), run(fn))[1]  # type: ignore[method-assign]
    sent = hub_side.relay.run_once()
    assert len(transactions) == 2  # one to take the rows of all three stations, one to mark every answer
    assert sent["outcome"] == "sent" and sent["n"] == 6 and sent["requests"] == 1 and sent["accepted"] == 6
    assert stats()["requests"] == 1  # POST /v1/confirmations/batches: every station's batch in one request
    assert [hub_side.rows()[i]["state"] for i in ids] == ["sent"] * 6 and stats()["confirmations"] == 6
    assert hub_side.relay.run_once()["outcome"] == "idle"


def test_a_transient_failure_of_the_one_request_backs_off_every_station_in_it(hub_side, reference, proxy, clock):
    _, stats = reference
    ids = hub_side.confirm(2, "ST01") + hub_side.confirm(2, "ST02") + hub_side.confirm(1, "ST03")
    proxy.toxic("reset_peer", count=1, when="request")  # the request never reaches upstream
    failed = hub_side.relay.run_once()
    assert failed["outcome"] == "failed" and failed["n"] == 5 and failed["requests"] == 1
    assert [(r["state"], r["attempts"]) for r in hub_side.rows().values()] == [("pending", 1)] * 5
    assert hub_side.relay.run_once()["outcome"] in ("waiting", "idle")  # every station backs off
    clock.advance(10.01)  # past every station's backoff (10 s at most)
    sent = hub_side.relay.run_once()
    assert sent["outcome"] == "sent" and sent["n"] == 5 and sent["requests"] == 1
    assert [hub_side.rows()[i]["state"] for i in ids] == ["sent"] * 5
    assert stats()["confirmations"] == 5 and stats()["effects"] == 5


def test_a_row_the_wms_cannot_read_is_found_by_its_stations_own_requests_while_the_others_go(hub_side, reference):
    _, stats = reference
    first, second, third = hub_side.confirm(2, "ST01"), hub_side.confirm(3, "ST02"), hub_side.confirm(1, "ST03")
    hub_side.corrupt(second[1])
    refused = hub_side.relay.run_once()  # the request of all three is refused: one request per station finds ST02
    rows = hub_side.rows()
    assert refused["outcome"] == "sent" and refused["n"] == 3 and refused["requests"] == 4  # together, then each
    assert [rows[i]["state"] for i in first + third] == ["sent"] * 3
    assert [rows[i]["state"] for i in second] == ["pending"] * 3 and hub_side.engine.isolating == {"ST02": 3}
    more = hub_side.confirm(1, "ST01") + hub_side.confirm(1, "ST03")
    both = hub_side.relay.run_once()  # ST02's rows one at a time, alone; the others together
    assert both["requests"] == 2 and both["n"] == 3
    assert [hub_side.rows()[i]["state"] for i in more] == ["sent", "sent"]
    hub_side.engine.drain()
    rows = hub_side.rows()
    assert [rows[i]["state"] for i in second] == ["sent", "dead", "sent"] and "HTTP 400" in rows[second[1]]["reason"]
    assert hub_side.engine.isolating == {} and stats()["effects"] == 7


def test_a_wms_without_the_batches_call_gets_one_request_per_station_from_then_on(tmp_path, clock, fault_upstream):
    wms = fault_upstream()  # the contract's first version: 404 for POST /v1/confirmations/batches
    side = HubSide(tmp_path, clock, wms.url, Backoff(base_s=10.0, cap_s=10.0), 5.0)
    try:
        side.confirm(2, "ST01")
        side.confirm(1, "ST02")
        sent = side.relay.run_once()
        assert sent["outcome"] == "sent" and sent["n"] == 3 and sent["requests"] == 3  # the 404, then each
        assert wms.unknown == ["/v1/confirmations/batches"] and len(wms.bodies) == 2 and not side.engine.together
        side.confirm(1, "ST01")
        side.confirm(1, "ST02")
        assert side.relay.run_once()["requests"] == 2
        assert wms.unknown == ["/v1/confirmations/batches"] and len(wms.bodies) == 4  # not asked again
        assert states(side) == ["sent"] * 5 and len(wms.effects()) == 5
    finally:
        side.relay.release()
        side.close()


@pytest.mark.parametrize("fault,words", [("reordered", "out of order"), ("truncated", ""), ("garbage", "JSON")])
def test_a_batches_answer_the_relay_cannot_match_is_sent_again_byte_for_byte_and_counts_once(
        tmp_path, clock, fault_upstream, fault, words):
    wms = fault_upstream([fault], batches=True)  # the WMS applies the request; its answer is of no use
    side = HubSide(tmp_path, clock, wms.url, Backoff(base_s=10.0, cap_s=10.0), 5.0)
    try:
        ids = side.confirm(2, "ST01") + side.confirm(1, "ST02")
        failed = side.relay.run_once()
        assert failed["outcome"] == "failed" and failed["n"] == 3 and words in failed["error"]
        assert len(wms.effects()) == 3 and states(side) == ["pending"] * 3
        clock.advance(10.01)
        sent = side.relay.run_once()
        assert sent["outcome"] == "sent" and sent["duplicate"] == 3 and sent["requests"] == 1
        assert len(wms.bodies) == 2 and wms.bodies[0] == wms.bodies[1] and not wms.unknown
        assert [side.rows()[i]["state"] for i in ids] == ["sent"] * 3 and len(wms.effects()) == 3
    finally:
        side.relay.release()
        side.close()


def test_a_transient_failure_ends_the_pass_of_requests_per_station_and_the_others_go_at_the_next(
        hub_side, reference, proxy, clock):
    _, stats = reference
    hub_side.engine.together = False  # as after a WMS without the batches call
    first = hub_side.confirm(2, "ST01")
    others = hub_side.confirm(2, "ST02") + hub_side.confirm(1, "ST03")
    proxy.toxic("reset_peer", count=1, when="request")  # the first request never reaches upstream
    failed = hub_side.relay.run_once()
    assert failed["outcome"] == "failed" and failed["n"] == 2
    rows = hub_side.rows()
    assert [rows[i]["attempts"] for i in first] == [1, 1]
    assert [rows[i]["attempts"] for i in others] == [0, 0, 0]  # not tried: the outage would have met them too
    sent = hub_side.relay.run_once()  # ST01 backs off; the others go
    assert sent["outcome"] == "sent" and sent["n"] == 3
    assert [hub_side.rows()[i]["state"] for i in first] == ["pending", "pending"]
    clock.advance(failed["delay_s"] + 0.01)
    assert hub_side.relay.run_once()["n"] == 2
    assert states(hub_side) == ["sent"] * 5 and stats()["confirmations"] == 5 and stats()["effects"] == 5


@pytest.fixture
def hub_side_by_side(tmp_path, clock, reference, proxy):
    side = HubSide(tmp_path, clock, proxy.url, Backoff(base_s=10.0, cap_s=10.0), 5.0)
    side.relay = side.loop = Relay(side.hub.db, UpstreamClient(proxy.url, deadline_s=1.0, clock=clock), clock,
                                   rng=random.Random(0), backoff=Backoff(base_s=10.0, cap_s=10.0), idle_s=5.0,
                                   senders=3)
    side.engine = side.relay.engine
    side.engine.together = False  # as after a WMS without the batches call: one request per station
    yield side
    side.relay.release()
    side.close()


def test_the_relay_sends_for_several_stations_at_once_and_marks_every_answer_together(hub_side_by_side, reference):
    _, stats = reference
    side = hub_side_by_side
    ids = {f"ST0{k}": side.confirm(k, f"ST0{k}") for k in range(1, 7)}
    transactions = []
    run = side.hub.db.run
    side.hub.db.run = lambda fn: (transactions.append(fn), run(fn))[1]  # type: ignore[method-assign]
    sent = side.relay.run_once()
    assert sent["outcome"] == "sent" and sent["n"] == 21 and sent["requests"] == 6 and sent["accepted"] == 21
    assert len(transactions) == 2 and stats()["requests"] == 6  # one request per station, one marking
    rows = side.rows()
    assert all(rows[i]["state"] == "sent" for station in ids.values() for i in station)
    assert stats()["confirmations"] == 21 and stats()["effects"] == 21
    assert side.relay.run_once()["outcome"] == "idle"


def test_a_failure_among_requests_side_by_side_records_those_on_their_way_and_loses_nothing(
        hub_side_by_side, reference, proxy, clock):
    _, stats = reference
    side = hub_side_by_side
    ids = [i for k in range(1, 7) for i in side.confirm(2, f"ST0{k}")]
    proxy.toxic("reset_peer", count=1, when="request")  # one request never reaches upstream
    side.relay.run_once()
    rows = side.rows()
    failed = [i for i in ids if rows[i]["state"] == "pending" and rows[i]["attempts"] == 1]
    sent = [i for i in ids if rows[i]["state"] == "sent"]
    untried = [i for i in ids if rows[i]["state"] == "pending" and rows[i]["attempts"] == 0]
    assert len(failed) == 2  # one station's request failed: its rows back off
    assert len(failed) + len(sent) + len(untried) == 12  # the others answered and recorded, or left for the next pass
    assert stats()["requests"] == len(sent) // 2  # every request that reached the WMS was recorded
    for _ in range(5):
        clock.advance(10.01)  # past the backoff (10 s at most)
        side.relay.run_once()
    assert states(side) == ["sent"] * 12 and stats()["confirmations"] == 12 and stats()["effects"] == 12
