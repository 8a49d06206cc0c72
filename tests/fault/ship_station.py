"""A weigh-and-ship station for the crash harness: ``python tests/fault/ship_station.py DB UPSTREAM ORDER...``.

A real ``Station`` (label.mode = weigh_and_ship) with its outbox worker, against the reference upstream: for
each order it signs in, scans the order's pre-issued waybill, scans the items and puts the parcel on the
scale; the passing weighing is the shipment confirmation. After a SIGKILL it is started again and carries on
from the session it saved (a parcel still on the scale is weighed again). It prints "done" when every order
is shipped and the outbox is drained.

Crash points (``PACKGATE_CRASH_AT``, ``PACKGATE_CRASH_NTH``) besides sync's own: ``ship_before_commit``
(inside the shipment's transaction, its rows written, before COMMIT) and ``ship_after_commit`` (committed,
before the packer is told).
"""
from __future__ import annotations

import sys
import time
from datetime import date

from station_script import crashing_outbox, drain_and_finish, start

from packgate.station.core import packing as pk
from packgate.station.demo.rig import DemoWorld
from packgate.sync import crash
from packgate.sync.upstream import demo_data


def main(db: str, upstream: str, orders: list[str]) -> int:
    world = DemoWorld(date.today())
    station, outbox, worker = start(db, upstream, {"label.mode": "weigh_and_ship", "label.reserve_per_order": 1},
                                    crashing_outbox("pack", "ship_before_commit"), "SHIP_STATION_TOKEN", labels=True)
    assert station.labels is not None
    while station.labels.reserve_ahead(orders) == 0 and any(
            not station.parts.conn.execute("SELECT 1 FROM waybill_pool WHERE order_id = ?", (o,)).fetchone()
            for o in orders):
        time.sleep(0.1)  # waybills are fetched ahead once; retried while upstream cannot be reached
    print("ready", flush=True)
    conn = station.parts.conn
    for order_id in orders:
        local = conn.execute("SELECT status FROM order_state WHERE order_id = ?", (order_id,)).fetchone()
        if local and local[0] == "packed":
            continue
        if station.pack.state is pk.State.IDLE:
            station.handle({"action": "badge", "object_id": demo_data.DEMO_BADGES["packer"]})
        if station.pack.order is None or station.pack.order.order_id != order_id:
            waybill = conn.execute("SELECT waybill FROM waybill_pool WHERE order_id = ? ORDER BY waybill LIMIT 1",
                                   (order_id,)).fetchone()[0]
            opened = station.handle({"action": "scan", "object_id": waybill})
            assert opened["code"] == "order_opened", opened
        for line in world.orders[order_id]["lines"]:
            sku = line["sku"]
            while station.pack.packed_qty(sku) < line["qty"]:
                answer = station.handle({"action": "scan", "object_id": world.item_code(sku, world.good_lot_index(sku))})
                assert answer["status"] == "ok", answer
        assert station.pack.state is pk.State.READY_TO_WEIGH, station.pack.state
        grams = world.expected_g(order_id, station.pack.packaging)
        shipped = station.handle({"action": "weigh", "payload": {"grams": str(grams), "stable": True}})
        crash.point("ship_after_commit")
        assert shipped["code"] == "shipped", shipped
    return drain_and_finish(station, outbox, worker)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
