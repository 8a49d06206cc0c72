"""The hub's writer queue (``GroupCommit``) on SQLite and PostgreSQL: the writes that arrive while a transaction
runs commit together in the next one, each caller is answered only after its own write committed, and a failure
stays with the write that caused it."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timezone
from typing import Any

import pytest
import requests
from hubkit import queued_behind

from packgate.device.clock import isoformat
from packgate.sync.common.ids import make_id
from packgate.sync.errors import HubRequestError
from packgate.sync.hub.engine import Conn, Database
from packgate.sync.hub.groupcommit import GroupCommit


def put(key: str) -> Any:
    def write(conn: Conn) -> str:
        conn.execute("INSERT INTO hub_meta (k, v) VALUES (?, ?)", (key, "v"))
        return key
    return write


def time_now() -> datetime:
    return datetime.now(timezone.utc)


def stored(db: Database, *keys: str) -> set[str]:
    """The keys another connection can read now (what is committed)."""
    with db.read() as conn:
        return {row["k"] for row in conn.execute("SELECT k FROM hub_meta WHERE k LIKE 'gc-%'")} & set(keys)


def test_writes_arriving_during_a_transaction_commit_together_each_answered_after_its_commit(db: Database):
    sizes: list[int] = []
    writer = GroupCommit(db, lanes=1, observe=lambda size, seconds: sizes.append(size))  # one transaction at a time (SQLite's only way)
    inside, release = threading.Event(), threading.Event()

    def slow(conn: Conn) -> str:
        conn.execute("INSERT INTO hub_meta (k, v) VALUES ('gc-first', 'v')")
        inside.set()
        assert release.wait(10)
        return "gc-first"

    answers: dict[str, tuple[str, set[str]]] = {}

    def call(fn: Any, name: str) -> None:
        result = writer.run(fn)
        answers[name] = (result, stored(db, name))  # what is committed the moment the caller is answered

    first = threading.Thread(target=call, args=(slow, "gc-first"))
    first.start()
    assert inside.wait(10)
    queued = [threading.Thread(target=call, args=(put(f"gc-{i}"), f"gc-{i}")) for i in range(12)]
    for thread in queued:
        thread.start()
    time.sleep(0.3)  # they wait for the transaction in progress
    assert answers == {} and stored(db, "gc-first", *(f"gc-{i}" for i in range(12))) == set()
    release.set()
    for thread in [first, *queued]:
        thread.join(10)
    assert sizes == [1, 12]  # one transaction for everything that arrived meanwhile
    assert answers["gc-first"] == ("gc-first", {"gc-first"})
    for i in range(12):
        assert answers[f"gc-{i}"] == (f"gc-{i}", {f"gc-{i}"})  # answered only once its own write was committed


def test_a_write_that_fails_is_rolled_back_alone_and_the_rest_of_its_group_commits(db: Database):
    sizes: list[int] = []
    writer = GroupCommit(db, lanes=1, observe=lambda size, seconds: sizes.append(size))

    def refused(conn: Conn) -> None:
        conn.execute("INSERT INTO hub_meta (k, v) VALUES ('gc-refused', 'v')")
        conn.feed_row(time_now(), "test", "gc-refused", {})
        raise HubRequestError("no such order", 404)

    a, failed, b = queued_behind(writer, [lambda: writer.run(put("gc-a")), lambda: writer.run(refused),
                                          lambda: writer.run(put("gc-b"))])
    assert sizes == [1, 3]
    assert isinstance(failed, HubRequestError) and failed.status == 404
    assert (a, b) == ("gc-a", "gc-b")
    assert stored(db, "gc-a", "gc-b", "gc-refused") == {"gc-a", "gc-b"}  # its own insert went with it
    with db.read() as conn:
        assert conn.execute("SELECT subject FROM hub_feed WHERE subject = 'gc-refused'") == []  # and its change


def test_a_transaction_lost_as_a_whole_is_repeated_write_by_write(db: Database, caplog):
    """A write that aborts the whole transaction (here: it rolls it back itself) takes its group down; every other
    write of the group is committed again on its own and answered as if nothing happened; only the culprit fails."""
    writer = GroupCommit(db, lanes=1)

    def saboteur(conn: Conn) -> None:
        conn.execute("INSERT INTO hub_meta (k, v) VALUES ('gc-sabotage', 'v')")
        conn.raw.execute("ROLLBACK")

    x, sabotage, y = queued_behind(writer, [lambda: writer.run(put("gc-x")), lambda: writer.run(saboteur),
                                            lambda: writer.run(put("gc-y"))])
    assert (x, y) == ("gc-x", "gc-y")
    assert isinstance(sabotage, Exception)
    assert stored(db, "gc-x", "gc-y", "gc-sabotage") == {"gc-x", "gc-y"}
    assert "each is repeated on its own" in caplog.text
    assert writer.run(put("gc-after")) == "gc-after"  # the queue goes on


def test_postgresql_runs_several_transactions_at_once_and_sqlite_one(db: Database):
    """A transaction held open does not hold back the next write on PostgreSQL (writers run side by side, each
    lane a transaction); on SQLite, the one writer, the next write waits for it."""
    writer = GroupCommit(db)
    inside, release = threading.Event(), threading.Event()

    def hold(conn: Conn) -> None:
        conn.execute("INSERT INTO hub_meta (k, v) VALUES ('gc-held', 'v')")
        inside.set()
        assert release.wait(10)

    holder = threading.Thread(target=writer.run, args=(hold,))
    holder.start()
    assert inside.wait(10)
    done = threading.Event()
    second = threading.Thread(target=lambda: (writer.run(put("gc-second")), done.set()))
    second.start()
    try:
        if db.dialect.name == "postgresql":
            assert writer.lanes > 1 and done.wait(5) and stored(db, "gc-second", "gc-held") == {"gc-second"}
        else:
            assert writer.lanes == 1 and not done.wait(0.5)
    finally:
        release.set()
        holder.join(10)
        second.join(10)
    assert stored(db, "gc-held", "gc-second") == {"gc-held", "gc-second"}


def test_an_interrupted_leader_answers_nobody_with_an_uncommitted_result(db: Database):
    writer = GroupCommit(db)

    def interrupted(conn: Conn) -> None:
        conn.execute("INSERT INTO hub_meta (k, v) VALUES ('gc-interrupted', 'v')")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        writer.run(interrupted)
    assert stored(db, "gc-interrupted") == set()
    assert writer.run(put("gc-next")) == "gc-next"  # the lead was handed on


def test_concurrent_posts_to_the_hub_are_each_answered_once_committed(site):
    """Forty stations' worth of POSTs at once through HTTP: every one accepted, every answer's confirmation
    readable the moment it came back, and the writes shared transactions."""
    token = "token-of-station-01-abcdef"
    seen: dict[int, tuple[int, bool]] = {}

    def post(seq: int) -> None:
        item = {"id": make_id("ST01", date(2026, 1, 5), seq), "key": f"ST01-gc-{seq}", "station": "ST01", "seq": seq,
                "action": "pick", "object_type": "order", "object_id": f"SO-GC-{seq}", "operator": "E004",
                "device": None, "location": "ST01", "at": isoformat(site.clock.now()),
                "payload": {"sku": "SKU-001", "qty": 1}, "image_sha256": None}
        resp = requests.post(f"{site.url}/v1/confirmations", json={"station": "ST01", "confirmations": [item]},
                             headers={"Authorization": f"Bearer {token}"}, timeout=30)
        with site.hub.db.read() as conn:
            there = conn.one("SELECT 1 AS x FROM hub_confirmations WHERE id = ?", (item["id"],)) is not None
        seen[seq] = (resp.status_code, there and resp.json()["results"][0]["status"] == "accepted")

    threads = [threading.Thread(target=post, args=(seq,)) for seq in range(1, 41)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert seen == {seq: (200, True) for seq in range(1, 41)}
    text = requests.get(f"{site.url}/metrics", timeout=5).text
    assert 'packgate_hub_confirmations_total{status="accepted"} 40.0' in text
    groups = float(next(line.split()[-1] for line in text.splitlines()
                        if line.startswith("packgate_hub_write_group_size_count")))
    assert 1 <= groups <= 40


def test_on_sqlite_no_confirmations_commit_copies_the_wal_back_the_hubs_own_thread_does(tmp_path):
    """SQLite copies the WAL into the database inside the commit that takes it past 1,000 pages (tens of ms, once
    every few seconds at 200 stations: the ingest p99). The hub leaves that to a thread of its own."""
    from packgate.sync.common.db import BACKSTOP_PAGES
    from packgate.sync.hub.config import validate
    from packgate.sync.hub.hub import Hub

    cfg = validate({"site.db": str(tmp_path / "hub.db"), "stations": {"ST01": "token-of-station-01-abcdef"},
                    "privacy.key_file": str(tmp_path / "k.key"), "alerts.rules": []})
    hub = Hub(cfg)
    assert hub.checkpointer is not None
    hub.checkpointer.every_s = 0.02
    with hub.db.read() as conn:
        assert conn.value("PRAGMA wal_autocheckpoint") == BACKSTOP_PAGES
    hub.start()
    try:
        day = date(2026, 1, 5)
        for seq in range(1, 41):
            hub.receive("ST01", [{"id": make_id("ST01", day, seq), "key": f"k{seq}", "station": "ST01", "seq": seq,
                                  "action": "pick", "object_type": "order", "object_id": f"SO-{seq}",
                                  "operator": "E004", "device": None, "location": None,
                                  "at": isoformat(time_now()), "payload": {"note": "x" * 3000},
                                  "image_sha256": None}])
        deadline = time.monotonic() + 10
        while hub.checkpointer.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hub.checkpointer.runs >= 1
    finally:
        assert hub.stop()
        hub.db.close()
    assert not hub.checkpointer._thread.is_alive()
