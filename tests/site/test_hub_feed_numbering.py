"""The feed's numbers as a transaction commits (``engine.Conn.commit``), on SQLite and PostgreSQL: gapless, in one
run per transaction, the same in the database, in what the outlet is handed and in what ``on_feed`` publishes;
on PostgreSQL the counter's bump and the rows go with the COMMIT in one round trip, and a failure there saves none
of the transaction."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any

import pytest

from packgate.sync.hub.engine import FEED_ROWS_PER_INSERT, Conn, Database

AT = datetime(2026, 12, 6, 19, 0, tzinfo=timezone.utc)
TEXT = "naïve ✓ O'Brien \\ 100% $1 ?; COMMIT"  # quoted by the client when PostgreSQL's statement goes with COMMIT


def feed(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        return conn.execute("SELECT seq, kind, subject, data FROM hub_feed ORDER BY seq")


def counter(db: Database) -> int:
    with db.read() as conn:
        return int(conn.value("SELECT n FROM hub_counters WHERE name = 'feed'"))


def changes(count: int, tag: str) -> Any:
    def write(conn: Conn) -> None:
        conn.execute("INSERT INTO hub_meta (k, v) VALUES (?, ?)", (f"tx-{tag}", str(count)))
        for index in range(count):
            conn.feed_row(AT, "order", f"{tag}-{index}", {"n": index, "tag": tag, "text": TEXT})
    return write


@pytest.mark.parametrize("count", [1, FEED_ROWS_PER_INSERT, FEED_ROWS_PER_INSERT + 1, 2 * FEED_ROWS_PER_INSERT + 50])
@pytest.mark.parametrize("outlet", [False, True], ids=["no-outlet", "outlet"])
def test_a_transactions_changes_are_numbered_in_one_run_after_the_last(db: Database, count: int, outlet: bool):
    published: list[tuple[int, list[dict[str, Any]]]] = []
    handed: list[int] = []
    db.on_feed = lambda head, events: published.append((head, events))
    if outlet:
        def to_outlet(conn: Conn, events: list[dict[str, Any]]) -> None:
            handed.extend(event["seq"] for event in events)
            conn.execute("INSERT INTO hub_meta (k, v) VALUES (?, ?)",
                         (f"outlet-{events[0]['subject']}", ",".join(str(e["seq"]) for e in events)))
        db.outlet = to_outlet
    db.run(changes(3, "before"))
    db.run(changes(count, "now"))

    assert counter(db) == 3 + count
    rows = feed(db)
    assert [row["seq"] for row in rows] == list(range(1, 4 + count))
    assert [row["subject"] for row in rows[3:]] == [f"now-{index}" for index in range(count)]
    assert json.loads(rows[-1]["data"]) == {"n": count - 1, "tag": "now", "text": TEXT}
    head, events = published[-1]
    assert head == 3 + count and [e["seq"] for e in events] == list(range(4, 4 + count))
    assert [e["subject"] for e in events] == [row["subject"] for row in rows[3:]]
    assert events[-1]["data"] == {"n": count - 1, "tag": "now", "text": TEXT}
    if outlet:
        assert handed == list(range(1, 4 + count))
        with db.read() as conn:
            assert conn.value("SELECT v FROM hub_meta WHERE k = 'outlet-now-0'") == ",".join(
                str(seq) for seq in range(4, 4 + count))


def test_writers_side_by_side_leave_no_gap_and_each_transaction_one_run(db: Database):
    threads, each = 6, 15
    published: list[list[int]] = []
    lock = threading.Lock()

    def keep(head: int, events: list[dict[str, Any]]) -> None:
        with lock:
            published.append([event["seq"] for event in events])
    db.on_feed = keep

    def work(thread: int) -> None:
        for round_ in range(each):
            db.run(changes(1 + (thread + round_) % 3, f"t{thread}r{round_}"))

    workers = [threading.Thread(target=work, args=(thread,)) for thread in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    total = sum(1 + (thread + round_) % 3 for thread in range(threads) for round_ in range(each))
    rows = feed(db)
    assert [row["seq"] for row in rows] == list(range(1, total + 1)) and counter(db) == total
    assert len(published) == threads * each
    for seqs in published:
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        subjects = {rows[seq - 1]["subject"].rsplit("-", 1)[0] for seq in seqs}
        assert len(subjects) == 1  # one transaction's changes, and only its own


def test_a_failure_while_numbering_saves_nothing_of_the_transaction(db: Database):
    db.run(changes(2, "before"))
    with db.tx() as conn:  # a row in the way of the next number, written around the counter
        conn.execute("INSERT INTO hub_feed (seq, at, kind, subject, data) VALUES (3, 'x', 'order', 'in-the-way', '{}')")
    published: list[int] = []
    db.on_feed = lambda head, events: published.append(head)

    with pytest.raises(Exception) as failed:
        db.run(changes(1, "blocked"))
    assert "unique" in str(failed.value).lower(), failed.value  # the row in the way, on either engine
    assert counter(db) == 2 and published == []
    with db.read() as conn:
        assert conn.value("SELECT v FROM hub_meta WHERE k = 'tx-blocked'") is None
    with db.tx() as conn:
        conn.execute("DELETE FROM hub_feed WHERE subject = 'in-the-way'")
    db.run(changes(2, "after"))  # the pool's connections are clean again
    assert [row["subject"] for row in feed(db)] == ["before-0", "before-1", "after-0", "after-1"]
    assert counter(db) == 4 and published == [4]
