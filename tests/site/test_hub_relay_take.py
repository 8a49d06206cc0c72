"""What one relay pass takes (``Relay.take``) on SQLite and PostgreSQL: the stations with a row due, in the order their
first due row arrived, each station's pending rows in seq order up to its share, at most the pass's rows in all; a
station sending a refused batch one at a time gets one."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from packgate.device.clock import Clock
from packgate.sync.delivery import Pause
from packgate.sync.hub import store
from packgate.sync.hub.engine import Database
from packgate.sync.hub.relay import Relay

NOW = datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc)


def add(db: Database, station: str, seqs: list[int], *, state: str = "pending", due: datetime = NOW) -> None:
    """Rows in the order given (their arrival order ``n``), each with its station's ``seq``."""
    with db.tx() as conn:
        for seq in seqs:
            conn.execute("INSERT INTO hub_confirmations (id, station, key, fingerprint, seq, action, object_type,"
                         " object_id, at, at_utc, received_at, received_utc, body, relay_state, next_attempt_at)"
                         " VALUES (?, ?, ?, 'f', ?, 'pick', 'order', 'SO-1', 'a', 'a', 'r', 'r', ?, ?, ?)",
                         (f"{station}-{seq}", station, f"k{seq}", seq, f'{{"seq": {seq}}}', state, store.utc(due)))


def taken(db: Database, per_station: int, limit: int) -> list[tuple[str, int]]:
    batches = Relay(db, None, Clock(), holder="test").take(NOW, lambda station: per_station, limit)
    assert not isinstance(batches, Pause), batches
    return [(batch.stream, row.seq) for batch in batches for row in batch.rows]


def test_each_due_stations_rows_in_seq_order_stations_by_first_arrival(db: Database):
    add(db, "B", [2, 1])  # arrived first, out of seq order
    add(db, "A", [1, 2, 3, 4, 5])
    add(db, "C", [7, 8, 9])
    add(db, "A", [6], state="sent")
    assert taken(db, 2, 1000) == [("B", 1), ("B", 2), ("A", 1), ("A", 2), ("C", 7), ("C", 8)]
    assert taken(db, 2, 5) == [("B", 1), ("B", 2), ("A", 1), ("A", 2), ("C", 7)]
    assert taken(db, 100, 1000) == [("B", 1), ("B", 2), ("A", 1), ("A", 2), ("A", 3), ("A", 4), ("A", 5), ("C", 7),
                                    ("C", 8), ("C", 9)]


def test_a_station_with_no_row_due_waits_and_a_due_one_sends_from_its_first_pending_row(db: Database):
    add(db, "LATER", [1, 2], due=NOW + timedelta(seconds=30))  # failed: its retry is not due yet
    add(db, "D", [5], due=NOW + timedelta(seconds=30))
    add(db, "D", [6])  # one due row: the station's pending rows go from its first, in seq order
    add(db, "D", [3, 4], state="dead")
    assert taken(db, 100, 1000) == [("D", 5), ("D", 6)]


def test_a_backlog_is_read_one_share_per_station(db: Database):
    add(db, "A", list(range(1, 1201)))
    add(db, "B", list(range(1, 51)))
    rows = taken(db, 100, 1000)
    assert rows == [("A", seq) for seq in range(1, 101)] + [("B", seq) for seq in range(1, 51)]


def test_the_relay_takes_one_row_of_a_station_isolating_a_refused_batch(db: Database):
    add(db, "A", [1, 2, 3])
    add(db, "B", [1, 2, 3])
    batches = Relay(db, None, Clock(), holder="test").take(NOW, lambda station: 1 if station == "A" else 2, 1000)
    assert not isinstance(batches, Pause), batches
    assert [(batch.stream, [row.seq for row in batch.rows]) for batch in batches] == [("A", [1]), ("B", [1, 2])]
    assert batches[1].rows[0].body == b'{"seq": 1}'
