"""Durability: committed before answered, a full disk is never a green verdict, sessions survive restarts."""
from __future__ import annotations

import json

from packgate.sync.common.db import connect


def test_confirmations_are_committed_before_the_answer(station, world, h):
    h.sign_in(station)
    answer = station.handle({"action": "scan", "object_id": "SO-10009", "key": "durable-open-0001"})
    assert answer["code"] == "order_opened" and len(answer["confirmation_ids"]) == 1
    other = connect(station.parts.conn.execute("PRAGMA database_list").fetchone()["file"])  # another connection
    try:
        row = other.execute("SELECT * FROM sync_outbox WHERE id = ?", (answer["confirmation_ids"][0],)).fetchone()
        assert row is not None and row["state"] == "pending"
        body = json.loads(row["body"])
        assert (body["action"], body["object_type"], body["object_id"], body["operator"]) == \
            ("scan", "order", "SO-10009", "E001")
        assert body["station"] == "ST01" and body["location"] == "ST01" and body["device"] == "ST01-kiosk"
        assert body["at"] == "2026-01-05T08:00:00.000+08:00"
        stored = other.execute("SELECT response FROM answers WHERE key = ?", ("durable-open-0001",)).fetchone()
        assert json.loads(stored["response"])["confirmation_ids"] == answer["confirmation_ids"]
        session = json.loads(other.execute("SELECT snapshot FROM sessions WHERE terminal = 'kiosk'").fetchone()[0])
        assert session["state"] == "order_open"
    finally:
        other.close()


def test_every_confirmation_id_of_a_whole_pack_is_in_the_outbox(station, world, h):
    h.sign_in(station)
    ids = []
    station.handle({"action": "scan", "object_id": "SO-10009"})
    for line in world.orders["SO-10009"]["lines"]:
        answer = station.handle({"action": "scan", "object_id": h.item(world, line["sku"])})
        ids += answer["confirmation_ids"]
    weigh = station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g("SO-10009")), "stable": True}})
    assert weigh["code"] == "weight_ok"
    pack = station.handle({"action": "pack", "image_sha256": "ab" * 32})
    assert pack["code"] == "packed"
    ids += weigh["confirmation_ids"] + pack["confirmation_ids"]
    rows = {r["id"]: r for r in h.outbox_rows(station)}
    assert set(ids) <= set(rows) and len(ids) == 4
    assert rows[pack["confirmation_ids"][0]]["body"]["image_sha256"] == "ab" * 32
    assert station.supervisor_overview()["milestones"][0]["packed_at"] == "2026-01-05T08:00:00.000+08:00"


def _fill_until_full(station, h) -> tuple[dict, dict]:
    """Cap the DB at its current size, then toggle sign-in/out until a write fails.
    Returns (state before the failing action, the failing answer)."""
    pages = station.parts.conn.execute("PRAGMA page_count").fetchone()[0]
    station.parts.conn.execute(f"PRAGMA max_page_count = {pages}")
    for _ in range(2000):
        before = {"operator": station.pack.operator, "state": station.pack.state,
                  "outbox": h.count(station, "sync_outbox")}
        answer = station.handle({"action": "badge", "object_id": h.BADGES["packer"]})
        if answer["code"] == "storage":
            return before, answer
        assert answer["code"] in ("signed_in", "signed_out"), answer
    raise AssertionError("the capped database never filled up")


def test_a_full_disk_is_an_error_verdict_and_the_session_does_not_advance(station, h):
    before, answer = _fill_until_full(station, h)
    assert answer["status"] == "error" and answer["colour"] == "red" and answer["sound"] == "error"
    assert "NOT SAVED" in answer["message"] and "未保存" in answer["message_zh"]
    assert station.verdict["code"] == "storage"  # what the kiosk shows
    assert station.pack.operator == before["operator"] and station.pack.state is before["state"]
    assert h.count(station, "sync_outbox") == before["outbox"]
    # still full: every further attempt is refused the same way, never a green verdict
    again = station.handle({"action": "badge", "object_id": h.BADGES["packer"], "key": "retry-after-full-1"})
    assert again["code"] == "storage"
    # space comes back: the same keyed retry now really happens (the failed try stored no answer)
    station.parts.conn.execute("PRAGMA max_page_count = 1073741823")
    done = station.handle({"action": "badge", "object_id": h.BADGES["packer"], "key": "retry-after-full-1"})
    assert done["code"] in ("signed_in", "signed_out") and "replayed" not in done
    assert h.count(station, "sync_outbox") == before["outbox"] + 1


def test_read_only_storage_during_an_automatic_weighing_is_not_a_weight_ok(station, world, h):
    from packgate.device.profiles import get_profile

    codec = get_profile("mettler-mt-sics").codec
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    assert str(station.pack.state) == "ready_to_weigh"
    rows = h.count(station, "sync_outbox")
    expected = world.expected_g("SO-10009")
    station.parts.conn.execute("PRAGMA query_only = ON")  # the file system went read-only under the station
    station.on_reading(codec.decode(f"S S {expected:>10} g\r\n".encode()))
    assert station.verdict["code"] == "storage" and station.verdict["status"] == "error"
    assert str(station.pack.state) == "ready_to_weigh"
    assert station.scale["grams"] == str(expected)  # the display still shows the weight
    station.parts.conn.execute("PRAGMA query_only = OFF")
    assert h.count(station, "sync_outbox") == rows
    station.on_reading(codec.decode(f"S S {expected:>10} g\r\n".encode()))
    assert station.verdict["code"] == "weight_ok" and str(station.pack.state) == "weighed_ok"


def test_the_pack_session_survives_a_restart(make_station, world, h):
    first = make_station()
    h.sign_in(first)
    first.handle({"action": "scan", "object_id": "SO-10001"})
    first.handle({"action": "scan", "object_id": h.item(world, "SKU-001")})
    prompt = first.handle({"action": "scan", "object_id": h.item(world, "SKU-001", -1)})
    assert prompt["code"] == "fifo_older_lot"
    first.close()

    second = make_station()
    assert second.pack.operator.employee_id == "E001"
    assert second.pack.order.order_id == "SO-10001"
    assert str(second.pack.state) == "awaiting_fifo_decision"
    assert second.pack.packed_qty("SKU-001") == 1
    assert second.state()["session"]["fifo"]["older_lot"] == world.lots("SKU-001")[0]["lot"]
    assert second.handle({"action": "fifo_take_older"})["code"] == "lot_swap"
    assert second.handle({"action": "scan", "object_id": h.item(world, "SKU-001")})["code"] == "item_accepted"
    last = second.handle({"action": "scan", "object_id": h.item(world, "SKU-013")})
    assert last["code"] == "item_accepted" and last["next"] == "weigh"


def test_a_pda_pick_session_survives_a_restart(make_station, world, h):
    first = make_station()
    h.pick_order(first, world, "SO-10012", stop_before_tote=True)
    assert first.pick_view("SO-10012", "E004")["complete"] is True
    first.close()

    second = make_station()
    view = second.pick_view("SO-10012", "E004")
    assert view["complete"] is True and all(t["picked"] == t["qty"] for t in view["tasks"])
    done = second.handle({"action": "scan", "object_id": "T-0012", "terminal": "pda", "operator": "E004"})
    assert done["code"] == "order_picked"
    row = next(r for r in second.supervisor_overview()["milestones"] if r["order_id"] == "SO-10012")
    assert row["status"] == "picked" and row["picked_at"] == "2026-01-05T08:00:00.000+08:00"
    actions = [r["action"] for r in h.outbox_rows(second, "object_id IN (?, ?)", ("SO-10012", "T-0012"))]
    assert actions.count("pick") == 2 and actions.count("tote_load") == 1
    third = make_station()  # a finished pick is not resumed
    assert "E004" not in third.picks


def test_a_pda_pick_in_the_middle_of_a_bin_resumes_at_the_same_task(make_station, world, h):
    first = make_station()
    base = {"terminal": "pda", "operator": "E004"}
    start = first.handle({**base, "action": "pick", "object_id": "SO-10012"})
    task = start["data"]["pick"]["tasks"][0]
    assert first.handle({**base, "action": "scan", "object_id": task["bin"]})["code"] == "bin_ok"
    first.close()

    second = make_station()
    view = second.pick_view("SO-10012", "E004")
    assert view["current_index"] == 0 and view["current"]["bin"] == task["bin"]
    assert second.picks["E004"].state == first.picks["E004"].state
