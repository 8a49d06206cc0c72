"""The site part of ``packgate demo --selftest``: the WMS, the hub and two stations on emulated devices.

Picked at one table and packed at the other → no escalation; a second table refused while the first has
the order open; picked and never packed with the picking station switched off → one escalation, from the
site. Time is moved with the offset clock the hub, the stations and the WMS share, never slept.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from packgate.station.demo.floor import SiteRig, build_site
from packgate.sync.upstream.demo_data import DEMO_BADGES as BADGES

Record = Callable[[str, bool, str], bool]


def _within(check: Callable[[], Any], seconds: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start <= seconds:
        if check():
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def site_walk(clock: Any, hook_url: str, received: list[dict], record: Record, data_dir: str | None = None) -> None:
    site = build_site(ports=(0, 0), hub_port=0, upstream_port=0, clock=clock, notify=(hook_url,),
                      data_dir=data_dir)
    try:
        _walk(site, clock, received, record)
    finally:
        site.stop()


def _level(received: list[dict], order_id: str, level: int) -> list[dict]:
    return [m for m in received if order_id in str(m.get("title")) and f"(level {level})" in str(m.get("title"))]


def _walk(site: SiteRig, clock: Any, received: list[dict], record: Record) -> None:
    a, b = site.terminal(0), site.terminal(1)
    one, two = (rig.agent.station for rig in site.stations)

    def status(station: Any, order_id: str) -> str | None:
        order = station.catalog.order(order_id)
        return order.status if order else None

    # 1. picked at table 1, packed at table 2: no escalation
    a.pda_login(BADGES["picker"], "4321")
    picked = a.pick("SO-10012")
    record("site: SO-10012 picked on table 1's PDA", picked.get("code") == "order_picked", picked.get("code", ""))
    seen = _within(lambda: status(two, "SO-10012") == "picked", 1.0)
    record("site: table 2 shows SO-10012 picked within 1 s", seen is not None,
           f"after {seen:.2f} s" if seen is not None else "not within 1 s")
    packed = b.pack("SO-10012", BADGES["packer2"])
    record("site: SO-10012 packed at table 2", packed[-1].get("code") == "packed",
           " → ".join(str(x.get("code")) for x in packed[-3:]))
    seen = _within(lambda: status(one, "SO-10012") == "packed", 5.0)
    record("site: table 1 shows SO-10012 packed too", seen is not None, f"status {status(one, 'SO-10012')}")
    clock.advance(25 * 60)
    time.sleep(2.5)  # the hub's ticker runs every second
    record("site: 25 min later, picked at 1 and packed at 2: no escalation", not _level(received, "SO-10012", 1),
           f"{len(received)} notifications")

    # 2. a second table refused while the first has the order open
    b.act("sign_out")
    a.act("sign_out")
    a.act("badge", object_id=BADGES["packer"])
    opened = a.act("scan", object_id="SO-10013")
    record("site: table 1 opens SO-10013", opened.get("code") == "order_opened", opened.get("message", "")[:60])
    b.act("badge", object_id=BADGES["packer2"])
    refused = b.act("scan", object_id="T-0013")
    record("site: table 2 refused, naming table and person", refused.get("code") == "claimed_elsewhere",
           str(refused.get("message", ""))[:90])
    a.act("cancel", payload={"reason": "demo: stopped"})
    again = _within(lambda: b.act("scan", object_id="T-0013").get("code") == "order_opened", 3.0)
    record("site: table 1 stops it, table 2 can open it", again is not None, "claim released")
    b.act("cancel", payload={"reason": "demo: stopped"})

    # 3. picked and never packed, the picking station switched off: one escalation from the site
    a.pda_login(BADGES["picker"], "4321")
    picked = a.pick("SO-10014")
    on_hub = _within(lambda: (site.hub.order("SO-10014") or {}).get("stage") == "picked", 5.0)
    record("site: SO-10014 picked on table 1's PDA, at the hub", picked.get("code") == "order_picked" and
           on_hub is not None, picked.get("code", ""))
    site.stop_station(0)
    clock.advance(12 * 60 + 1)
    first = _within(lambda: _level(received, "SO-10014", 1), 5.0)
    time.sleep(1.5)
    ones = _level(received, "SO-10014", 1)
    record("site: table 1 switched off, 12:01 later: one escalation from the site", first is not None and
           len(ones) == 1, (str(ones[0].get("title")) if ones else f"{len(ones)} level-1 messages")[:80])
    shown = _within(lambda: any(o["order_id"] == "SO-10014" for o in two.state()["priority_orders"]), 1.0)
    record("site: table 2's kiosk shows SO-10014's released priority", shown is not None, "priority list")
