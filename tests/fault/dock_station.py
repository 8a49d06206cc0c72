"""A dock station for the crash harness: ``python tests/fault/dock_station.py DB UPSTREAM ORDER...``.

A real ``Station`` with its outbox worker, against the reference upstream (or a site hub): it packs each order
(badge, order, items, weight, pack), then opens a hand-over batch for SF, scans every parcel into it and closes
it. After a SIGKILL it is started again and carries on: an order half packed is finished, a batch left open is
filled and closed, a closed batch is not closed again. It prints "done" when the batch is closed and the outbox
is drained.

Crash points (``PACKGATE_CRASH_AT``, ``PACKGATE_CRASH_NTH``) besides sync's own: ``dock_before_commit`` (inside
the close's transaction, every confirmation written, before COMMIT) and ``dock_after_commit`` (closed, before
the PDA is told).
"""
from __future__ import annotations

import sys
from datetime import date

from station_script import crashing_outbox, drain_and_finish, start

from packgate.station.core import packing as pk
from packgate.station.demo.rig import DemoWorld
from packgate.station.service import Station
from packgate.sync import crash
from packgate.sync.upstream import demo_data

DOCK = "E004"


def pack(station: Station, world: DemoWorld, order_id: str) -> None:
    if station.pack.state is pk.State.IDLE:
        station.handle({"action": "badge", "object_id": demo_data.DEMO_BADGES["packer"]})
    if station.pack.order is None or station.pack.order.order_id != order_id:
        opened = station.handle({"action": "scan", "object_id": order_id})
        assert opened["code"] == "order_opened", opened
    for line in world.orders[order_id]["lines"]:
        while station.pack.packed_qty(line["sku"]) < line["qty"]:
            answer = station.handle({"action": "scan",
                                     "object_id": world.item_code(line["sku"], world.good_lot_index(line["sku"]))})
            assert answer["status"] == "ok", answer
    if station.pack.state is pk.State.READY_TO_WEIGH:
        grams = world.expected_g(order_id, station.pack.packaging)
        weighed = station.handle({"action": "weigh", "payload": {"grams": str(grams), "stable": True}})
        assert weighed["code"] == "weight_ok", weighed
    packed = station.handle({"action": "pack"})
    assert packed["code"] == "packed", packed


def main(db: str, upstream: str, orders: list[str]) -> int:
    world = DemoWorld(date.today())
    station, outbox, worker = start(db, upstream, {}, crashing_outbox("manifest", "dock_before_commit"), "DOCK_STATION_TOKEN")
    conn = station.parts.conn
    print("ready", flush=True)
    for order_id in orders:
        local = conn.execute("SELECT status FROM order_state WHERE order_id = ?", (order_id,)).fetchone()
        if not local or local[0] not in ("packed", "shipped"):
            pack(station, world, order_id)
    if not conn.execute("SELECT 1 FROM dock_batches WHERE closed_at IS NOT NULL").fetchone():
        open_batch = conn.execute("SELECT batch_id FROM dock_batches WHERE closed_at IS NULL").fetchone()
        batch = open_batch[0] if open_batch else \
            station.dock.open({"carrier": "SF", "vehicle": "粤B·12345"}, DOCK)["batch"]["batch_id"]
        for order_id in orders:
            scanned = station.dock.scan(batch, order_id, DOCK)
            assert scanned["code"] in ("dock_parcel_added", "dock_already_handed_over"), scanned
        closed = station.dock.close(batch, DOCK)
        crash.point("dock_after_commit")
        assert closed["code"] == "dock_batch_handed_over", closed
    return drain_and_finish(station, outbox, worker)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
