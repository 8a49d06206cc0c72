"""A returns station for the crash harness: ``python tests/fault/return_station.py DB UPSTREAM RMA_WAYBILL SKU...``.

A real ``Station`` with its outbox worker, against the reference upstream: it receives the return parcel by its
waybill, scans each returned unit (one of each SKU named), grades them A, weighs them and closes the return. After
a SIGKILL it is started again and carries on from what it committed: a return half done is finished, a closed one
is not closed again. It prints "done" when the return is closed and the outbox is drained.

Crash points (``PACKGATE_CRASH_AT``, ``PACKGATE_CRASH_NTH``) besides sync's own: ``return_before_commit`` (inside
the close's transaction, its ``return_closed`` written, before COMMIT) and ``return_after_commit`` (closed, before
the table is told).
"""
from __future__ import annotations

import sys
from collections import Counter
from datetime import date
from decimal import Decimal

from station_script import crashing_outbox, drain_and_finish, start

from packgate.station.demo.rig import DemoWorld
from packgate.sync import crash

PACKER = "E001"


def main(db: str, upstream: str, waybill: str, skus: list[str]) -> int:
    world = DemoWorld(date.today())
    station, outbox, worker = start(db, upstream, {}, crashing_outbox("return_closed", "return_before_commit"),
                                    "RETURN_STATION_TOKEN")
    desk = station.returns
    print("ready", flush=True)

    def step(action: str, **body: object) -> dict:
        return desk.handle({"action": action, **body}, PACKER, "kiosk", "ST01-kiosk")

    closed = station.parts.conn.execute("SELECT 1 FROM returns WHERE state = 'closed'").fetchone()
    if not closed:
        opened = step("scan", code=waybill)
        assert opened["code"] == "return_received", opened
        back = Counter(u.sku for u in desk.session("kiosk").units)
        for sku in skus:
            if not back[sku]:
                taken = step("scan", code=world.item_code(sku, world.good_lot_index(sku)))
                assert taken["code"] == "return_item_taken", taken
        for n, unit in enumerate(desk.session("kiosk").units, start=1):
            if unit.grade is None:
                assert step("grade", payload={"unit": n, "grade": "A"})["code"] == "return_graded_a"
        if desk.session("kiosk").weighing is None:
            grams = sum((Decimal(world.skus[s]["unit_weight_g"]) for s in skus), Decimal(0))
            assert step("weigh", payload={"grams": str(grams)})["code"] == "return_weight_ok"
        done = step("close")
        crash.point("return_after_commit")
        assert done["code"] == "return_closed_refund", done
    return drain_and_finish(station, outbox, worker)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
