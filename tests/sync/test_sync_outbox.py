import json
import random
import sqlite3
from decimal import Decimal

import pytest

from packgate.device.clock import FakeClock
from packgate.sync.common.db import connect, write_tx
from packgate.sync.common.ids import is_valid_id
from packgate.sync.errors import (
    IdempotencyConflictError,
    NotInTransactionError,
    OutboxError,
    ReadOnlyStorageError,
    StorageError,
    StorageFullError,
)
from packgate.sync.outbox import Outbox, outbox_status
from packgate.sync.reference import ReferenceCache
from packgate.sync.worker import OutboxWorker

FIELDS = dict(action="pack", object_type="order", object_id="SO-10001", operator="E001", device="ST01-scale",
              location="ST01")


def add(outbox, conn, **extra):
    with write_tx(conn):
        return outbox.enqueue(conn, **{**FIELDS, **extra})


def pragmas(c):
    return (c.execute("PRAGMA synchronous").fetchone()[0], c.execute("PRAGMA journal_mode").fetchone()[0],
            c.execute("PRAGMA busy_timeout").fetchone()[0] > 0)


def test_t8_every_connection_is_wal_full_with_busy_timeout(station_db, client):
    seen = []

    def factory():
        c = connect(station_db)
        seen.append(pragmas(c))
        return c

    Outbox(factory, "ST01").status()
    cache = ReferenceCache(factory, client)
    cache.refresh()
    worker = OutboxWorker(factory, client)
    worker.run_once()
    assert len(seen) >= 3 and set(seen) == {(2, "wal", True)}
    with cache._using(None) as cache_conn:
        assert pragmas(cache_conn) == pragmas(worker._db()) == (2, "wal", True)
    assert client.healthz()["sqlite"] == {"synchronous": 2, "journal_mode": "wal", "busy_timeout_ms": 10000}


def test_enqueue_commits_with_the_station_change_and_freezes_bytes(station_db, conn, clock):
    ob = Outbox(station_db, "ST01", clock)
    conn.execute("CREATE TABLE station_state (order_id TEXT PRIMARY KEY, state TEXT)")
    with write_tx(conn):
        conn.execute("INSERT INTO station_state VALUES ('SO-10001', 'packed')")
        conf = ob.enqueue(conn, **FIELDS, payload={"gross_g": Decimal("1234.5"), "lines": [{"sku": "SKU-001"}]})
    assert is_valid_id(conf["id"]) and conf["id"].startswith("ST01-20260105-000001-")
    assert conf["at"] == "2026-01-05T08:00:00.000+08:00"
    stored = ob.get(conf["id"])
    assert json.loads(stored["body"]) == conf
    assert stored["body"].encode() == json.dumps(conf, sort_keys=True, separators=(",", ":")).encode()
    assert conf["payload"]["gross_g"] == "1234.5"  # decimals travel as strings


def test_rollback_takes_the_confirmation_and_its_seq_with_it(station_db, conn, clock):
    ob = Outbox(station_db, "ST01", clock)
    add(ob, conn)
    with pytest.raises(RuntimeError):
        with write_tx(conn):
            ob.enqueue(conn, **FIELDS)
            raise RuntimeError("station change failed")
    third = add(ob, conn)
    assert third["seq"] == 2  # no gap
    assert [r[0] for r in conn.execute("SELECT seq FROM sync_outbox ORDER BY seq")] == [1, 2]


def test_enqueue_outside_a_transaction_is_refused(station_db, conn):
    ob = Outbox(station_db, "ST01")
    with pytest.raises(NotInTransactionError):
        ob.enqueue(conn, **FIELDS)


@pytest.mark.parametrize("bad", [{"payload": {"w": 1.5}}, {"object_id": ""}, {"image_sha256": "ABC"},
                                 {"payload": ["not", "a", "dict"]}, {"operator": 7}])
def test_bad_input_is_refused_clearly(station_db, conn, bad):
    ob = Outbox(station_db, "ST01")
    with pytest.raises((OutboxError, TypeError)):
        add(ob, conn, **bad)
    assert conn.execute("SELECT COUNT(*) FROM sync_outbox").fetchone()[0] == 0


def test_an_edge_minted_key_makes_a_double_submit_one_confirmation(station_db, conn):
    ob = Outbox(station_db, "ST01")
    first = add(ob, conn, key="pda-form-8f14e45f", payload={"qty": 1})
    again = add(ob, conn, key="pda-form-8f14e45f", payload={"qty": 1})
    assert again["id"] == first["id"] and again["replayed"]
    with pytest.raises(IdempotencyConflictError):
        add(ob, conn, key="pda-form-8f14e45f", payload={"qty": 2})
    assert conn.execute("SELECT COUNT(*) FROM sync_outbox").fetchone()[0] == 1


def test_keys_are_unique_and_come_from_the_injected_random_source(station_db, conn):
    a = Outbox(station_db, "ST01", rng=random.Random(5))
    keys = {add(a, conn)["key"] for _ in range(20)}
    assert len(keys) == 20


def test_t9_disk_full_raises_storage_full_and_nothing_is_saved(station_db, conn):
    ob = Outbox(station_db, "ST01")
    add(ob, conn)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(StorageFullError) as info:
        for _ in range(200):
            add(ob, conn, payload={"blob": "x" * 2000})
    assert isinstance(info.value, sqlite3.OperationalError)  # old callers still catch it
    assert "not saved" in str(info.value)
    assert not conn.in_transaction
    saved = conn.execute("SELECT COUNT(*) FROM sync_outbox").fetchone()[0]
    assert saved == conn.execute("SELECT last_seq FROM sync_seq").fetchone()[0]  # no half-saved row
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_t9_read_only_database_raises_and_nothing_is_acknowledged(station_db, conn):
    ob = Outbox(station_db, "ST01")
    conn.execute("PRAGMA query_only=ON")
    with pytest.raises(StorageError) as info:
        add(ob, conn)
    assert isinstance(info.value, ReadOnlyStorageError)
    conn.execute("PRAGMA query_only=OFF")
    assert conn.execute("SELECT COUNT(*) FROM sync_outbox").fetchone()[0] == 0


def test_status_reports_depth_age_and_dead_letters(station_db, conn):
    clock = FakeClock()
    ob = Outbox(station_db, "ST01", clock)
    empty = ob.status(conn)
    assert empty["depth"] == 0 and empty["oldest_age_s"] is None and empty["ok"]
    add(ob, conn)
    clock.advance(30)
    add(ob, conn)
    clock.advance(1000)
    status = ob.status(conn)
    assert status["depth"] == 2 and status["oldest_age_s"] == 1030
    assert status["oldest_unsent_at"] == "2026-01-05T08:00:00.000+08:00"
    assert not status["ok"] and "old" in status["problems"][0]


def test_retry_dead_requeues_with_audit(station_db, conn, clock):
    ob = Outbox(station_db, "ST01", clock)
    conf = add(ob, conn)
    conn.execute("UPDATE sync_outbox SET state = 'dead', dead_reason = 'unknown order' WHERE id = ?", (conf["id"],))
    assert ob.list_dead(conn)[0]["dead_reason"] == "unknown order"
    with pytest.raises(OutboxError):
        ob.retry_dead([conf["id"]], by="")
    assert ob.retry_dead([conf["id"], "ST01-20260105-999999-0"], by="E005") == [conf["id"]]
    row = conn.execute("SELECT state, attempts FROM sync_outbox").fetchone()
    assert tuple(row) == ("pending", 0)
    audit = conn.execute("SELECT who, what, confirmation_id, before FROM sync_audit").fetchone()
    assert audit["who"] == "E005" and audit["what"] == "retry-dead" and "unknown order" in audit["before"]


def test_status_on_a_fresh_database_does_not_fail(tmp_path):
    c = connect(tmp_path / "new.db")
    assert outbox_status(c, FakeClock().now())["depth"] == 0
