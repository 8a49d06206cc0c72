"""Writes whose answer nobody reads (``engine.Conn.write_later``: the orders a receipt moved), on SQLite and
PostgreSQL: seen by the transaction's next statement, saved with its COMMIT (on PostgreSQL in the COMMIT's own query,
one round trip less, counted in libpq's own trace), rolled back with a savepoint they were made in, and a failure at
the COMMIT saves nothing of the transaction."""
from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest
from test_hub_feed_numbering import AT, TEXT, counter, feed

from packgate.sync.hub.engine import FEED_ROWS_PER_INSERT, POSTGRESQL, Conn, Database


def meta(db: Database, key: str) -> Any:
    with db.read() as conn:
        return conn.value("SELECT v FROM hub_meta WHERE k = ?", (key,))


@pytest.mark.parametrize("rows", [0, 1, FEED_ROWS_PER_INSERT + 1])
@pytest.mark.parametrize("outlet", [False, True], ids=["no-outlet", "outlet"])
def test_a_write_left_for_later_is_seen_by_the_next_statement_and_saved_with_the_commit(db: Database, rows: int,
                                                                                         outlet: bool):
    if outlet:
        db.outlet = lambda conn, events: conn.execute("INSERT INTO hub_meta (k, v) VALUES ('outlet', ?)",
                                                      (str(len(events)),))
    seen: list[Any] = []

    def write(conn: Conn) -> None:
        conn.write_later("INSERT INTO hub_meta (k, v) VALUES (?, ?)", ("first", TEXT))
        seen.append(conn.value("SELECT v FROM hub_meta WHERE k = ?", ("first",)))
        conn.write_later("INSERT INTO hub_meta (k, v) VALUES (?, ?)", ("second", TEXT + " 2"))
        for index in range(rows):
            conn.feed_row(AT, "order", f"SO-{index}", {"n": index})
    db.run(write)
    assert seen == [TEXT]
    assert meta(db, "first") == TEXT and meta(db, "second") == TEXT + " 2"  # quoted by the client on PostgreSQL
    assert counter(db) == rows and [row["subject"] for row in feed(db)] == [f"SO-{index}" for index in range(rows)]
    assert meta(db, "outlet") == (str(rows) if outlet and rows else None)


def round_trips(db: Database, how: str) -> int:
    """The queries answered (libpq's trace: ReadyForQuery) from the transaction's first statement to its COMMIT, which
    writes a row by ``how`` (``execute`` or ``write_later``) beside a read and a feed row."""
    conns: list[Conn] = []
    with tempfile.TemporaryFile("w+") as trace:
        def write(conn: Conn) -> None:
            conns.append(conn)
            conn.raw.pgconn.trace(trace.fileno())
            conn.execute("SELECT 1 AS one")
            getattr(conn, how)("INSERT INTO hub_meta (k, v) VALUES (?, ?)", (how, TEXT))
            conn.feed_row(AT, "order", how, {"how": how})
        db.run(write)
        conns[0].raw.pgconn.untrace()
        os.fsync(trace.fileno())
        trace.seek(0)
        return sum(1 for line in trace if "ReadyForQuery" in line)


@pytest.mark.parametrize("hub_db", ["postgresql"], indirect=True)  # SQLite runs in the process: no round trips
def test_on_postgresql_a_write_left_for_later_costs_no_round_trip_of_its_own(db: Database):
    assert db.dialect is POSTGRESQL
    # SELECT; INSERT; the feed with the COMMIT - against SELECT; the feed, the INSERT and the COMMIT in one query
    assert (round_trips(db, "execute"), round_trips(db, "write_later")) == (3, 2)
    assert meta(db, "execute") == TEXT and meta(db, "write_later") == TEXT


def test_a_write_left_for_later_that_fails_in_a_savepoint_is_rolled_back_with_it_alone(db: Database):
    db.run(lambda conn: conn.execute("INSERT INTO hub_meta (k, v) VALUES ('taken', 'before')"))
    failures: list[str] = []

    def write(conn: Conn) -> None:
        try:
            with conn.savepoint():
                conn.execute("INSERT INTO hub_meta (k, v) VALUES ('inside', 'x')")
                conn.write_later("INSERT INTO hub_meta (k, v) VALUES ('taken', 'again')")
        except Exception as exc:  # noqa: BLE001 - either engine's unique violation
            failures.append(str(exc).lower())
        conn.execute("INSERT INTO hub_meta (k, v) VALUES ('after', 'y')")
    db.run(write)
    assert len(failures) == 1 and "unique" in failures[0]
    assert meta(db, "taken") == "before" and meta(db, "inside") is None and meta(db, "after") == "y"


def test_a_write_left_for_later_that_fails_at_the_commit_saves_nothing_and_is_not_carried_on(db: Database):
    db.run(lambda conn: conn.execute("INSERT INTO hub_meta (k, v) VALUES ('taken', 'before')"))
    published: list[int] = []
    db.on_feed = lambda head, events: published.append(head)

    def write(conn: Conn) -> None:
        conn.execute("INSERT INTO hub_meta (k, v) VALUES ('tx', 'x')")
        conn.write_later("INSERT INTO hub_meta (k, v) VALUES ('taken', 'again')")
        conn.feed_row(AT, "order", "blocked", {})
    with pytest.raises(Exception) as failed:
        db.run(write)
    assert "unique" in str(failed.value).lower(), failed.value
    assert meta(db, "tx") is None and meta(db, "taken") == "before" and counter(db) == 0 and published == []
    for round_ in range(3):  # every pooled connection is clean: nothing left for later is written again
        db.run(lambda conn, n=round_: conn.feed_row(AT, "order", f"after-{n}", {}))
    assert [row["subject"] for row in feed(db)] == ["after-0", "after-1", "after-2"] and published == [1, 2, 3]
