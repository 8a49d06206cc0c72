"""Several stations' batches received together (``store.receive_many``, what one group of the writer queue runs) on
SQLite and PostgreSQL: the same answers and the same database, row for row, as receiving them one after the other,
with their orders read and their confirmations stored by a few statements for all of them."""
from __future__ import annotations

import json
import re
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from hubkit import queued_behind

from packgate.device.clock import isoformat
from packgate.sync.common.ids import make_id
from packgate.sync.hub import store
from packgate.sync.hub.engine import Conn, Database, is_postgresql
from packgate.sync.hub.groupcommit import GroupCommit
from packgate.sync.hub.migrations import migrate

NOW = datetime(2026, 12, 6, 21, 0, tzinfo=timezone.utc)
RULES = store.FlowRules(first_after_min=10, second_after_min=20)


def conf(station: str, seq: int, action: str, object_id: str, payload: dict[str, Any] | None = None,
         object_type: str = "order", key: str | None = None) -> dict[str, Any]:
    return {"id": make_id(station, date(2026, 12, 6), seq), "key": key or f"{station}-{seq}", "station": station,
            "seq": seq, "action": action, "object_type": object_type, "object_id": object_id, "operator": "E004",
            "device": None, "location": station, "at": isoformat(NOW - timedelta(seconds=30 - seq)),
            "payload": payload if payload is not None else {}, "image_sha256": None}


def prepare(conn: Conn) -> None:
    """What the site knew before the batches: the WMS's orders (SO-1 urgent), SO-X cancelled by the WMS, and one
    confirmation of ST01 already stored, SO-5 being picked."""
    store.upsert_ref(conn, [("orders", {"order_id": "SO-1", "priority": 3, "lines": []}),
                            ("orders", {"order_id": "SO-2", "priority": 1, "lines": []})])
    store.wms_word(conn, NOW, {"order_id": "SO-X", "status": "cancelled", "status_reason": "customer called",
                               "status_at": isoformat(NOW - timedelta(minutes=5)), "revision": 2})
    store.receive(conn, "ST01", [conf("ST01", 1, "pick", "SO-0", {"sku": "SKU-001", "qty": 1})],
                  NOW - timedelta(minutes=1), RULES)
    store.receive(conn, "ST09", [conf("ST09", 1, "pick", "SO-5", {"sku": "SKU-001", "qty": 1})],
                  NOW - timedelta(minutes=2), RULES)


PICK = {"sku": "SKU-001", "qty": 1}
BATCHES: list[tuple[str, list[Any]]] = [
    ("ST01", [conf("ST01", 1, "pick", "SO-0", PICK),  # stored before: a duplicate, answered as the first
              conf("ST01", 2, "pick", "SO-1", PICK), conf("ST01", 3, "scan", "SO-1")]),  # one order moved twice
    ("ST02", [conf("ST02", 1, "pick", "SO-2", PICK), conf("ST02", 1, "pick", "SO-2", PICK),  # sent twice at once
              conf("ST02", 2, "pick", "SO-3", {"sku": "SKU-002", "qty": 2}, key="ST02-1"),  # its key reused
              conf("ST02", 3, "scan", "SO-5")]),  # an order on the floor before, moved twice
    ("ST03", [{"id": "nonsense"}, conf("ST03", 1, "pack", "SO-X", {"units": []}),  # refused: the WMS cancelled it
              conf("ST03", 2, "load", "T-9", {"order_id": "SO-1"}, object_type="tote")]),  # SO-1 a third time
    ("ST04", [conf("ST04", 1, "weigh", "SO-2", {"result": "pass"}),  # ST02's order, moved on by another table
              conf("ST04", 2, "pick", "SO-4", PICK), conf("ST04", 3, "verify", "SO-4"),
              conf("ST04", 4, "weigh", "SO-5", {"result": "pass"})]),
    ("ST01", [conf("ST01", 3, "scan", "SO-1"),  # its own repeat in a later request of the same group
              conf("ST01", 4, "pack", "SO-1", {"units": [], "shipped": False})]),
]


def state(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        return {
            "orders": conn.execute("SELECT * FROM hub_orders ORDER BY order_id"),
            "feed": [(row["seq"], row["kind"], row["subject"], json.loads(row["data"]))
                     for row in conn.execute("SELECT seq, kind, subject, data FROM hub_feed ORDER BY seq")],
            "confirmations": conn.execute("SELECT n, id, station, key, fingerprint, relay_state, received_at"
                                          " FROM hub_confirmations ORDER BY n"),
            "escalations": conn.execute("SELECT * FROM hub_escalations ORDER BY order_id, level"),
            "parcels": conn.execute("SELECT * FROM hub_parcels ORDER BY order_id"),
        }


@pytest.fixture
def second(hub_db: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    url = str(request.getfixturevalue("postgres").create_schema()) if is_postgresql(hub_db) else str(
        tmp_path / "second.db")
    database = Database(url)
    migrate(database)
    yield database
    database.close()


def test_batches_received_together_answer_and_store_as_one_after_the_other(db: Database, second: Database):
    for database in (db, second):
        database.run(prepare)
    together = db.run(lambda conn: store.receive_many(conn, BATCHES, NOW, RULES))
    apart = second.run(lambda conn: [store.receive(conn, station, items, NOW, RULES) for station, items in BATCHES])

    assert together == apart
    answers = [(answer["status"], answer["code"]) for batch in together for answer in batch]
    assert answers == [("duplicate", 200), ("accepted", 200), ("accepted", 200),
                       ("accepted", 200), ("duplicate", 200), ("rejected", 422), ("accepted", 200),
                       ("rejected", 400), ("rejected", 409), ("accepted", 200),
                       ("accepted", 200), ("accepted", 200), ("accepted", 200), ("accepted", 200),
                       ("duplicate", 200), ("accepted", 200)]
    assert together[0][0]["first"]["received_at"] == isoformat(NOW - timedelta(minutes=1))
    assert "cancelled by the WMS" in together[2][1]["reason"]
    assert state(db) == state(second)
    orders = {row["order_id"]: row for row in state(db)["orders"]}
    assert orders["SO-1"]["stage"] == "packed" and orders["SO-1"]["priority"] == 3  # from the WMS's reference
    assert set(json.loads(orders["SO-1"]["milestones"])) >= {"picking", "packing", "packed"}
    assert orders["SO-2"]["stage"] == "weighed" and orders["SO-2"]["station"] == "ST04"
    assert orders["SO-4"]["stage"] == "packing" and "SO-3" not in orders
    assert orders["SO-5"]["stage"] == "weighed" and set(json.loads(orders["SO-5"]["milestones"])) == {
        "picking", "packing", "weighed", "lots_at_pick"}


@pytest.mark.parametrize("twice", [False, True], ids=["once", "again"])
def test_a_group_of_posts_through_the_writer_queue_runs_as_one_call(db: Database, twice: bool):
    """Requests queued behind a transaction in progress: the next group stores all their confirmations with one
    INSERT and reads their orders with one SELECT; each caller gets its own batch's answers. Sent again, every one
    is a duplicate and nothing is stored twice."""
    db.run(prepare)
    writer = GroupCommit(db, lanes=1)
    calls: list[int] = []

    def many(conn: Conn, batches: list[tuple[str, list[Any]]]) -> list[list[dict[str, Any]]]:
        calls.append(len(batches))
        return store.receive_many(conn, batches, NOW, RULES)

    batches = [(f"ST{index:02d}", [conf(f"ST{index:02d}", seq, "pick", f"SO-{index}-{seq}", PICK)
                                   for seq in (1, 2)]) for index in range(10, 22)]
    rounds = 2 if twice else 1
    for round_ in range(rounds):
        answers = queued_behind(writer, [lambda batch=batch: writer.run_many(many, batch) for batch in batches],
                                stagger_s=0.02)
        expected = "duplicate" if round_ == 1 else "accepted"
        assert [[a["status"] for a in got] for got in answers] == [[expected, expected]] * len(batches)
        assert [[a["id"] for a in got] for got in answers] == [[item["id"] for item in items] for _, items in batches]
    assert calls == [len(batches)] * rounds
    with db.read() as conn:
        stored = conn.value("SELECT COUNT(*) FROM hub_confirmations WHERE station >= 'ST10'")
        stages = {row["stage"] for row in conn.execute("SELECT stage FROM hub_orders WHERE order_id LIKE 'SO-1_-_'"
                                                         " OR order_id LIKE 'SO-2_-_'")}
    assert stored == 2 * len(batches) and stages == {"picking"}


def test_a_batch_that_fails_in_a_group_fails_alone(db: Database):
    """One request of a group raises inside the set-based call: the group is run again request by request, each in
    a savepoint; the others are stored and answered, only the failing one gets the error."""
    db.run(prepare)
    writer = GroupCommit(db, lanes=1)

    def many(conn: Conn, batches: list[tuple[str, list[Any]]]) -> list[list[dict[str, Any]]]:
        if any(station == "ST66" for station, _ in batches):
            conn.execute("INSERT INTO hub_meta (k, v) VALUES ('poison', 'x')")
            conn.execute("INSERT INTO hub_meta (k, v) VALUES ('poison', 'x')")  # a uniqueness violation
        return store.receive_many(conn, batches, NOW, RULES)

    first, poisoned, last = queued_behind(writer, [
        lambda station=station: writer.run_many(many, (station, [conf(station, 1, "pick", f"SO-{station}", PICK)]))
        for station in ("ST65", "ST66", "ST67")])
    assert isinstance(poisoned, Exception) and not isinstance(first, Exception)
    assert first[0]["status"] == last[0]["status"] == "accepted"
    with db.read() as conn:
        assert {row["station"] for row in conn.execute("SELECT station FROM hub_confirmations"
                                                       " WHERE station >= 'ST65'")} == {"ST65", "ST67"}
        assert conn.value("SELECT COUNT(*) FROM hub_meta WHERE k = 'poison'") == 0


@pytest.mark.parametrize("posts", [1, 20, 64])
def test_a_group_takes_the_same_statements_whatever_its_size(tmp_path: Path, posts: int):
    """The statements SQLite runs for a group of new confirmations (each a pick of an order the floor has not seen):
    the same few for 64 POSTs as for one."""
    database = Database(str(tmp_path / "hub.db"))
    migrate(database)
    ran: list[str] = []

    def receive(conn: Conn) -> list[list[dict[str, Any]]]:
        conn.raw.set_trace_callback(ran.append)
        try:
            return store.receive_many(conn, [(f"S{index:03d}", [conf(f"S{index:03d}", 1, "pick", f"SO-{index}",
                                                                      PICK)]) for index in range(posts)], NOW, RULES)
        finally:
            conn.raw.set_trace_callback(None)
    answers = database.run(receive)
    database.close()
    assert [answer["status"] for batch in answers for answer in batch] == ["accepted"] * posts
    assert [" ".join(re.match(r"(\w+) .*?(?:FROM|INTO) (\w+)", statement).groups())  # type: ignore[union-attr]
            for statement in ran] == ["SELECT hub_orders", "SELECT hub_ref", "INSERT hub_confirmations",
                                      "INSERT hub_orders"]


def test_the_contracts_largest_batch_goes_in_chunks(db: Database):
    """1,000 confirmations in one POST (the contract's most), each moving an order of its own, and half of them again
    in the same group: more rows than one INSERT or one read takes, all stored once, every order written."""
    items = [conf("ST30", seq, "pick", f"SO-BIG-{seq}", PICK) for seq in range(1, 1001)]
    answers = db.run(lambda conn: store.receive_many(conn, [("ST30", items), ("ST30", items[::2])], NOW, RULES))
    assert [a["status"] for a in answers[0]] == ["accepted"] * 1000
    assert [a["status"] for a in answers[1]] == ["duplicate"] * 500
    with db.read() as conn:
        assert conn.value("SELECT COUNT(*) FROM hub_confirmations WHERE station = 'ST30'") == 1000
        assert conn.value("SELECT COUNT(*) FROM hub_orders WHERE order_id LIKE 'SO-BIG-%' AND stage = 'picking'") == 1000


def test_a_receipt_taken_again_alone_sees_what_the_call_moved_before_it(db: Database):
    """The path of a race (the row in the way gone, or another hub's commit seen between two statements): one
    confirmation is received again on its own, with reads of its own. What the call moved before it is written
    first, so it reads the order as the earlier confirmation left it, and the call's end writes nothing twice."""
    received = (isoformat(NOW), store.utc(NOW))
    pick, scan = store.check("ST40", [conf("ST40", 1, "pick", "SO-40", PICK), conf("ST40", 2, "scan", "SO-40")])

    def race(conn: Conn) -> list[dict[str, Any]]:
        ahead = store.Ahead(conn, [("ST40", pick)], received)
        first = store._receive_one(conn, "ST40", pick, NOW, received, RULES, ahead)  # SO-40 moved, not yet written
        again = store._again(conn, "ST40", scan, NOW, received, RULES, ahead)
        ahead.flush(conn)  # as receive_many ends
        return [first, again]

    assert [answer["status"] for answer in db.run(race)] == ["accepted", "accepted"]
    with db.read() as conn:
        order = store.get_order(conn, "SO-40")
    assert order is not None and order["stage"] == "packing"
    assert {"picking", "packing", "lots_at_pick"} <= set(order["milestones"])


def test_the_relays_synced_mark_and_a_receipt_moving_the_same_order_keep_both(db: Database):
    """The relay marks a packed order ``synced`` (read the milestones, write them back) while a receipt moves the same
    order on (shipped) in another transaction: the order's row is read for update by both, so the second waits for
    the first and keeps what it wrote (on PostgreSQL; SQLite has one writer)."""
    db.run(lambda conn: store.receive(conn, "ST50", [conf("ST50", 1, "pack", "SO-50", {"units": []})], NOW, RULES))
    pack_id = conf("ST50", 1, "pack", "SO-50")["id"]
    inside, release = threading.Event(), threading.Event()

    def ship(conn: Conn) -> None:
        store.receive(conn, "ST50", [conf("ST50", 2, "ship_load", "SO-50", {"batch_id": "B-1"})], NOW, RULES)
        inside.set()
        assert release.wait(10)

    shipping = threading.Thread(target=db.run, args=(ship,))
    shipping.start()
    assert inside.wait(10)
    marking = threading.Thread(target=db.run, args=(
        lambda conn: store.relay_mark_many(conn, [(pack_id, "sent", "accepted", None)], NOW),))
    marking.start()
    time.sleep(0.3)  # the relay's transaction has read (or waits to read) the order
    release.set()
    shipping.join(10)
    marking.join(10)
    with db.read() as conn:
        order = store.get_order(conn, "SO-50")
    assert order is not None and order["stage"] == "shipped"
    assert {"packed", "shipped", "synced"} <= set(order["milestones"])
