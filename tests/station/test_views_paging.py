"""Bounded views: every list is a page (limit, keyset cursor, filters), counts come separately, view reads
run on their own connections, outbox counts are kept by triggers, writers queue in the process."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from packgate.station import store
from packgate.station.views import ORDERS_FRESH_S, PageQuery
from packgate.station.web.app import create_app
from packgate.sync.common.db import connect, write_tx
from packgate.sync.outbox import outbox_status, prune_sent

TOKEN = "paging-test-token-0123456789"


@pytest.fixture
def api(station):
    client = create_app(station, secret_key=b"k" * 32, api_tokens=(TOKEN,)).test_client()
    return lambda path: client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})


def _orders(station, n: int, status: str = "packing") -> None:
    base = station.clock.now()
    with write_tx(station.parts.conn) as conn:
        for i in range(n):
            at = (base - timedelta(minutes=n - i)).isoformat(timespec="milliseconds")
            store.set_order(conn, f"SO-9{i:04d}", at, status=status if i % 3 else "blocked",
                            station="ST01" if i % 2 else "ST02")


def test_milestones_page_through_with_the_cursor_and_filters(station):
    _orders(station, 25)
    seen, cursor = [], None
    while True:
        page = station.list_page("milestones", PageQuery.parse({"limit": "7", **({"cursor": cursor} if cursor else {})}))
        assert len(page["items"]) <= 7
        seen += [r["order_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 25
    assert seen[0] == "SO-90024"  # newest change first
    blocked = station.list_page("milestones", PageQuery.parse({"stage": "blocked", "station": "ST02", "limit": "500"}))
    assert {r["status"] for r in blocked["items"]} == {"blocked"}
    assert {r["station"] for r in blocked["items"]} == {"ST02"}
    old = station.list_page("milestones", PageQuery.parse({"age_min": "20", "limit": "500"}))
    assert sorted(r["order_id"] for r in old["items"]) == [f"SO-9{i:04d}" for i in range(6)]


def test_overview_is_bounded_and_counts_are_served_separately(station, api):
    _orders(station, 80)
    overview = api("/api/v1/supervisor/overview?limit=10").get_json()
    assert len(overview["milestones"]) == 10 and overview["next_cursor"]["milestones"]
    assert len(overview["employees"]) <= 10
    counts = api("/api/v1/supervisor/counts").get_json()
    assert sum(counts["orders"].values()) == 80
    assert counts["orders"]["blocked"] == 27
    assert counts["employees"] == 5 and counts["expiring_lots"] >= 3
    page = api(f"/api/v1/supervisor/milestones?limit=10&cursor={overview['next_cursor']['milestones']}").get_json()
    assert not {r["order_id"] for r in page["items"]} & {r["order_id"] for r in overview["milestones"]}
    lots = api("/api/v1/supervisor/expiring-lots?limit=2").get_json()
    assert len(lots["items"]) == 2 and lots["items"][0]["days_left"] <= lots["items"][1]["days_left"]


def test_orders_to_pick_are_paged_and_leave_out_orders_taken_further_here(station):
    first = station.list_page("orders_to_pick", PageQuery(limit=5))
    rest = station.list_page("orders_to_pick", PageQuery.parse({"cursor": first["next_cursor"], "limit": "100"}))
    ids = [o["order_id"] for o in first["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 20
    assert [o["priority"] for o in first["items"]] == sorted((o["priority"] for o in first["items"]), reverse=True)
    with write_tx(station.parts.conn) as conn:
        store.set_order(conn, ids[0], station.clock.now().isoformat(), status="picked")
    assert ids[0] not in [o["order_id"] for o in station.orders_to_pick(PageQuery(limit=100))]


def test_the_pda_order_list_is_built_once_a_moment_and_shows_a_pda_its_own_action_at_once(station):
    """Fifty PDAs polling are one build until a commit, and for ORDERS_FRESH_S beside a packer who commits every
    few milliseconds; past that the next poll rebuilds. A PDA's own action is in its next list at once."""
    kept, query = station.views._kept, PageQuery(limit=5)
    first = station.list_page("orders_to_pick", query)
    builds = kept.builds
    assert all(station.list_page("orders_to_pick", query) is first for _ in range(5)) and kept.builds == builds
    gone = first["items"][0]["order_id"]
    other = connect(station.parts.conn.execute("PRAGMA database_list").fetchone()[2])  # another writer, as the CLI
    with write_tx(other) as conn:
        store.set_order(conn, gone, station.clock.now().isoformat(), status="picked")
    other.close()
    assert station.list_page("orders_to_pick", query) is first and kept.builds == builds
    station.clock.advance(ORDERS_FRESH_S)
    again = station.list_page("orders_to_pick", query)
    assert gone not in [o["order_id"] for o in again["items"]] and kept.builds == builds + 1
    picking = again["items"][0]["order_id"]
    started = station.handle({"action": "pick", "object_id": picking, "terminal": "pda", "operator": "E004",
                              "device": "pda-1", "key": "pda-1-pick"})
    assert started["code"] == "pick_started"
    mine = station.list_page("orders_to_pick", query)
    assert kept.builds == builds + 2 and [o["status"] for o in mine["items"] if o["order_id"] == picking] == ["picking"]


@pytest.mark.parametrize("query, code", [("limit=0", "bad_page_number"), ("limit=many", "bad_page_number"),
                                         ("limit=501", "bad_page_number"), ("age_min=-1", "bad_page_number"),
                                         ("cursor=%%%", "bad_cursor"), ("cursor=WzEsMl0=", "bad_cursor")])
def test_bad_paging_parameters_are_a_clear_400_in_both_languages(api, query, code):
    response = api(f"/api/v1/supervisor/milestones?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == code and body["message"] and body["message_zh"] != body["message"]


def test_unknown_list_is_404(api):
    assert api("/api/v1/supervisor/everything").status_code == 404


def test_outbox_counts_come_from_the_counters_and_follow_every_change(station, tmp_path):
    ob, conn = station.outbox, station.parts.conn
    with write_tx(conn):
        for i in range(5):
            ob.enqueue(conn, action="scan", object_type="order", object_id=f"SO-{i}", operator="E001", device="d",
                       location="ST01")
    now = station.clock.now()
    with write_tx(conn):
        conn.execute("UPDATE sync_outbox SET state = 'sent', sent_at = ? WHERE seq <= 3",
                     ((now - timedelta(days=2)).isoformat(),))
        conn.execute("UPDATE sync_outbox SET state = 'dead' WHERE seq = 4")
    status = outbox_status(conn, now)
    assert (status["depth"], status["sent"], status["dead"]) == (1, 3, 1)
    assert prune_sent(conn, now - timedelta(days=1), chunk=2) == 3
    assert outbox_status(conn, now)["sent"] == 0
    with write_tx(conn):  # proof the status reads the counters, not a count over the table
        conn.execute("UPDATE sync_counts SET n = 42 WHERE state = 'pending'")
    assert outbox_status(conn, now)["depth"] == 42


def test_a_file_counted_before_the_counters_existed_is_counted_once(tmp_path):
    from packgate.sync.schema import outbox_counts, upgrade

    conn = connect(tmp_path / "old.db")
    upgrade(conn)
    for name in ("TRIGGER sync_counts_insert", "TRIGGER sync_counts_update", "TRIGGER sync_counts_delete",
                 "TABLE sync_counts", "TABLE ref_rmas", "TABLE schema_migrations"):  # a file from before the counters
        conn.execute(f"DROP {name}")  # (and before the ledger, and the later steps' tables)
    conn.execute("INSERT INTO sync_outbox (station, seq, id, key, action, object_type, object_id, created_at, body,"
                 " next_attempt_at) VALUES ('ST01', 1, 'x', 'k', 'scan', 'order', 'SO', 'now', x'00', 'now')")
    assert [(s.version, s.how) for s in upgrade(conn)] == [(1, "adopted"), (2, "applied"), (3, "applied")]
    assert outbox_counts(conn) == {"pending": 1, "sent": 0, "dead": 0}


def test_writers_of_one_file_queue_in_the_process_instead_of_failing_on_the_busy_timeout(tmp_path):
    path = tmp_path / "w.db"
    first, second = connect(path), connect(path)
    first.execute("CREATE TABLE t (x)")
    second.execute("PRAGMA busy_timeout=0")  # SQLite alone would fail at once with "database is locked"
    inside = threading.Event()

    def slow_writer() -> None:
        with write_tx(first):
            first.execute("INSERT INTO t VALUES (1)")
            inside.set()
            time.sleep(0.3)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    inside.wait(5)
    with write_tx(second):
        second.execute("INSERT INTO t VALUES (2)")
    thread.join()
    assert second.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2


def test_view_reads_do_not_wait_for_the_station_lock(station):
    _orders(station, 5)
    got = {}
    with station.parts.lock:  # a long state change elsewhere …
        reader = threading.Thread(target=lambda: got.update(station.list_page("milestones", PageQuery())))
        reader.start()
        reader.join(5)
        assert not reader.is_alive() and len(got["items"]) == 5  # … does not hold up a list
