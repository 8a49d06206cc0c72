"""``packgate demo --busy``: the demo site as a busy shift, so the dashboard, the alerts and the report have something
to show.

``BusyFloor(site).run()`` releases a wave of orders into the WMS (copies of the seeded orders under new ids and
totes, posted through the WMS's own admin call, as a real WMS releases paid orders), then drives the floor through
the stations' own HTTP API at a steady pace: table 1's PDA picks each order, the packers at both tables pack them in
turn; every fifth parcel is weighed wrong first (blocked, then repacked and weighed right), one picked order is held
by the WMS (an interception: never packed), one parcel is left blocked at table 2, and table 2 goes offline part way
through (its agent and emulators switched off). Orders nobody reached stay in the backlog.
"""
from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests

from packgate.station.demo.floor import SiteRig, Terminal
from packgate.sync.upstream.demo_data import DEMO_BADGES as BADGES
from packgate.sync.upstream.demo_data import DEMO_ORDERS

log = logging.getLogger("packgate.demo.busy")
PICKER_PIN = "4321"
PACKERS = ("packer", "packer2")
OUTBOX_S = 2.0
#: what the busy demo changes: the hub and the tables pull reference data often (the wave reaches them in seconds)
HUB_OVERRIDES = {"site.refresh_s": 2.0}
STATION_OVERRIDES = {"upstream.refresh_s": 2.0}


@dataclass
class BusyFloor:
    site: SiteRig
    wave: int = 24
    pace_s: float = 4.0
    blocked_every: int = 5
    offline_after: int = 12  # orders packed before table 2 goes offline
    released: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> "BusyFloor":
        self._thread = threading.Thread(target=self._run_logged, name="busy-floor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception:  # noqa: BLE001 - the demo goes on without the busy floor
            log.exception("the busy floor stopped")

    def _note(self, text: str) -> None:
        self.events.append(text)
        log.info("busy floor: %s", text)

    def _wait(self, seconds: float) -> bool:
        """Pause between steps; True when asked to stop."""
        return self._stop.wait(seconds)

    # ---- the wave -------------------------------------------------------------------------------------------
    def release_wave(self) -> list[str]:
        """Post ``wave`` new orders to the WMS and teach the demo world their codes; returns their ids."""
        world = self.site.world
        plain = {s["sku"] for s in world.reference["skus"] if s.get("unit_weight_g") and not s.get("special")}
        seeded = [o for o in world.reference["orders"] if o.get("status", "open") == "open"  # packed by the book
                  and o["order_id"] not in DEMO_ORDERS.values() and all(l["sku"] in plain for l in o["lines"])]
        made = []
        for n in range(self.wave):
            order = copy.deepcopy(seeded[n % len(seeded)])
            order.update(order_id=f"SO-2{n + 1:04d}", tote=f"T-2{n + 1:04d}", status="open", priority=0)
            made.append(order)
        resp = requests.post(f"{self.site.wms_url}/v1/admin/orders", json={"items": made}, timeout=10)
        resp.raise_for_status()
        for order in made:
            world.orders[order["order_id"]] = order
            world.reference["orders"].append(order)
        self.released = [o["order_id"] for o in made]
        self._note(f"the WMS released {len(made)} orders ({made[0]['order_id']} … {made[-1]['order_id']})")
        return self.released

    def _known(self, order_id: str, seconds: float = 30.0) -> bool:
        """Wait until both running tables know the order (the hub's reference refresh brings it)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stop.is_set():
            stations = [rig.agent.station for rig in self.site.stations if rig not in self.site._off]
            if all(station.catalog.order(order_id) is not None for station in stations):
                return True
            time.sleep(0.2)
        return False

    # ---- the shift ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        orders = self.release_wave()
        if not self._known(orders[-1]):
            self._note("the tables did not learn the new orders within 30 s; the busy floor stops")
            return
        pda = self.site.terminal(0)
        pda.pda_login(BADGES["picker"], PICKER_PIN)
        kiosks = [self.site.terminal(0), self.site.terminal(1)]
        intercepted = orders[len(orders) // 3]
        packed = 0
        table_two_on = True
        for number, order_id in enumerate(orders, start=1):
            if self._stop.is_set():
                return
            picked = pda.pick(order_id)
            self._note(f"{order_id} picked on table 1's PDA: {picked.get('code')}")
            if self._wait(self.pace_s):
                return
            if order_id == intercepted:
                requests.post(f"{self.site.wms_url}/v1/admin/orders/{order_id}/hold",
                              json={"reason": "demo: customer asked to change the address"}, timeout=10)
                self._note(f"{order_id} held by the WMS after its pick (an interception)")
                continue
            index = 1 if table_two_on and number % 2 == 0 else 0
            if table_two_on and packed >= self.offline_after:
                self._block(kiosks[1], order_id)
                self._wait(OUTBOX_S)  # the blocked weighing reaches the hub before the table goes dark
                self.site.stop_station(1)
                table_two_on = False
                self._note(f"Packing table 2 went offline with {order_id} blocked on it")
                continue
            if self._pack(kiosks[index], order_id, PACKERS[index], wrong_first=number % self.blocked_every == 0):
                packed += 1
            if self._wait(self.pace_s):
                return
        self._note(f"the wave is through: {packed} packed; the rest wait in the backlog or on the dock")

    def _sign_in(self, kiosk: Terminal, who: str) -> None:
        kiosk.act("sign_out")
        kiosk.act("badge", object_id=BADGES[who])

    def _block(self, kiosk: Terminal, order_id: str) -> None:
        self._sign_in(kiosk, "packer2")
        self._open_and_scan(kiosk, order_id)
        kiosk.act("weigh", payload={"grams": str(self._grams(order_id) + 400), "stable": True})

    def _open_and_scan(self, kiosk: Terminal, order_id: str) -> bool:
        world = self.site.world
        order = world.orders[order_id]
        if kiosk.act("scan", object_id=order["tote"]).get("code") != "order_opened":
            return False
        for line in order["lines"]:
            for _ in range(line["qty"]):
                kiosk.act("scan", object_id=world.item_code(line["sku"], world.good_lot_index(line["sku"])))
        return True

    def _grams(self, order_id: str) -> Decimal:
        return self.site.world.expected_g(order_id)

    def _pack(self, kiosk: Terminal, order_id: str, who: str, *, wrong_first: bool) -> bool:
        self._sign_in(kiosk, who)
        if not self._open_and_scan(kiosk, order_id):
            self._note(f"{order_id} could not be opened at the table")
            return False
        if wrong_first:
            answer = kiosk.act("weigh", payload={"grams": str(self._grams(order_id) + 350), "stable": True})
            self._note(f"{order_id} weighed 350 g heavy: {answer.get('code')} (blocked until repacked)")
            if self._wait(self.pace_s):
                return False
            kiosk.act("reweigh", payload={"reason": "repacked"})
        answer = kiosk.act("weigh", payload={"grams": str(self._grams(order_id)), "stable": True})
        if answer.get("code") == "label_printed":  # label.mode print: the packer scans the label onto the parcel
            answer = kiosk.act("scan", object_id=str((answer.get("data") or {}).get("waybill")))
        elif answer.get("code") != "packed":  # weigh-and-ship packs at the weighing; otherwise confirm
            answer = kiosk.act("pack")
        self._note(f"{order_id} packed: {answer.get('code')}")
        if answer.get("code") != "packed":
            kiosk.act("cancel", payload={"reason": "demo: could not finish"})  # the table is free for the next
            return False
        return True


def describe(floor: BusyFloor) -> dict[str, Any]:
    return {"released": len(floor.released), "events": list(floor.events)}
