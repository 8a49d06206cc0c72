"""A station database written by the previous release (f97c1ca, before versioned schema steps; the SQL dump and
the script that made it are in ``fixtures/``) is upgraded by today's code without losing anything: every row is
still there, the open pack session resumes, the evidence and both dock hand-overs read as before, and its
unsynced confirmations reach a real reference upstream exactly once, followed by the new ones."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from packgate.station import audit_chain, evidence, migrations
from packgate.station.core import packing as pk
from packgate.station.migrations.steps import STATION
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect
from packgate.sync.outbox import outbox_status
from packgate.sync.upstream.server import start_in_thread
from packgate.sync.worker import OutboxWorker

DUMP = Path(__file__).resolve().parent / "fixtures" / "station-f97c1ca.sql"


def _counts(conn) -> dict[str, int]:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.fixture
def previous(make_station):
    """The dump loaded into the file ``make_station`` opens; returns what it held (counts, pending outbox rows)."""
    conn = connect(make_station.db_path)
    conn.executescript(DUMP.read_text(encoding="utf-8"))
    held = {"counts": _counts(conn),
            "pending": [(r[0], r[1]) for r in conn.execute("SELECT seq, id FROM sync_outbox WHERE state = 'pending'"
                                                           " ORDER BY seq")],
            "rows": {t: sorted(tuple(r) for r in conn.execute(f'SELECT * FROM "{t}"'))
                     for t in ("order_state", "audit", "evidence_frames", "dock_batches", "dock_parcels", "sessions")}}
    conn.close()
    return held


def test_the_dump_is_what_the_release_left(previous):
    counts = previous["counts"]
    assert "schema_migrations" not in counts and "label_jobs" not in counts  # no ledger; label printing was off
    assert counts["sync_outbox"] == len(previous["pending"]) > 20 and counts["sessions"] == 1
    assert counts["evidence_frames"] == 3 and counts["dock_batches"] == 2 and counts["audit"] == 1


def test_the_previous_release_is_adopted_and_nothing_is_lost(previous, make_station):
    done = migrations.upgrade_file(make_station.db_path, make_station.clock)
    assert [(d.owner, d.version, d.how) for d in done] == \
        [("sync", 1, "adopted"), ("sync", 2, "adopted"), ("sync", 3, "applied")] + \
        [("station", v, "applied" if v == 6 or v > 7 else "adopted")  # 6: the label tables; 8 on: after the release
         for v in range(1, STATION.newest + 1)]
    conn = connect(make_station.db_path)
    after = _counts(conn)
    sealed = {**previous["counts"], "sync_meta": previous["counts"]["sync_meta"] + 1}  # privacy.sealed: the pass ran
    assert {t: after[t] for t in previous["counts"]} == sealed
    assert {after[t] for t in ("label_jobs", "waybill_pool", "label_meta")} == {0}
    assert {t: sorted(tuple(r) for r in conn.execute(f'SELECT * FROM "{t}"')) for t in previous["rows"]} == previous["rows"]
    assert audit_chain.verify(conn).ok
    assert outbox_status(conn, make_station.clock.now())["depth"] == len(previous["pending"])
    conn.close()
    assert migrations.upgrade_file(make_station.db_path) == []

    station = make_station(refresh=False)  # works from the mirror the release pulled
    assert station.pack.state in pk.ORDER_STATES and station.pack.order is not None
    assert station.pack.order.order_id == "SO-10012" and station.pack.operator.employee_id == "E001"
    rec = evidence.record(station.parts.conn, "SO-10002")
    assert rec is not None
    [blocked] = rec["weighings"]
    assert blocked["result"] == "fail" and [f["judged"] for f in blocked["frames"]] == [False, False, True]
    assert bytes.fromhex(blocked["frames"][-1]["raw_hex"]).startswith(b"S S ")
    assert {b["employee_id"] for b in rec["badges"]["second_person"]} == {"E002"}
    assert [a["action"] for a in rec["audit"]] == ["weight_override"]
    closed, still_open = station.dock.batch("ST01-H00001"), station.dock.batch("ST01-H00002")
    assert closed is not None and closed["closed_at"] and [p["order_id"] for p in closed["parcels"]] == ["SO-10009"]
    assert still_open is not None and still_open["closed_at"] is None
    assert [p["order_id"] for p in still_open["parcels"]] == ["SO-10008"]


def test_the_unsynced_confirmations_reach_upstream_exactly_once_then_the_new_ones(previous, make_station, world, h,
                                                                               tmp_path):
    migrations.upgrade_file(make_station.db_path, make_station.clock)
    station = make_station(refresh=False)
    url, stop = start_in_thread("127.0.0.1", 0, tmp_path / "wms.db", seed_demo=True, today=h.TODAY)
    client = UpstreamClient(url, deadline_s=5, clock=make_station.clock)
    wms = connect(tmp_path / "wms.db")
    try:
        worker = OutboxWorker(make_station.db_path, client, make_station.clock)
        assert worker.drain() == len(previous["pending"])
        received = [r[0] for r in wms.execute("SELECT id FROM up_confirmations ORDER BY n")]
        assert received == [conf_id for _, conf_id in previous["pending"]]  # each once, in the station's order
        station.parts.conn.execute("UPDATE sync_outbox SET state = 'pending', sent_at = NULL")  # a restored backup
        worker.drain()
        assert wms.execute("SELECT COUNT(*) FROM up_confirmations").fetchone()[0] == len(received)
        assert [r[0] for r in wms.execute("SELECT order_id FROM up_shipments")] == ["SO-10009"]
        statuses = {o: json.loads(r[0])["status"] for o in ("SO-10002", "SO-10008", "SO-10009")
                    for r in wms.execute("SELECT data FROM up_ref WHERE kind = 'orders' AND key = ?", (o,))}
        assert statuses == {"SO-10002": "packed", "SO-10008": "packed", "SO-10009": "shipped"}

        # the session left open by the release is finished today; its confirmations follow the old ones
        assert station.pack.packed_qty("SKU-024") == 1
        for line in world.orders["SO-10012"]["lines"]:
            for _ in range(line["qty"] - station.pack.packed_qty(line["sku"])):
                assert station.handle({"action": "scan", "object_id": h.item(world, line["sku"])})["code"] == \
                    "item_accepted"
        assert station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g("SO-10012"))}})["code"] == \
            "weight_ok"
        assert station.handle({"action": "pack"})["code"] == "packed"
        new = [(r[0], r[1]) for r in station.parts.conn.execute(
            "SELECT seq, id FROM sync_outbox WHERE state = 'pending' ORDER BY seq")]
        assert new and new[0][0] == previous["pending"][-1][0] + 1  # the sequence goes on, no gap, no reuse
        assert worker.drain() == len(new)
        assert [r[0] for r in wms.execute("SELECT id FROM up_confirmations ORDER BY n")] == \
            received + [conf_id for _, conf_id in new]
    finally:
        wms.close()
        client.close()
        stop()
