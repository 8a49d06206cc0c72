"""The demo as a site: the reference WMS, the site hub and two stations on emulated devices, all on 127.0.0.1.

``build_site()`` starts the WMS (seeded), the hub (``packgate.sync.hub``: claims, feed, escalations,
dashboard) in this process, and two station rigs (``rig.build_rig``) with ``upstream.kind = "hub"``, each
with its own scale, scanner and NFC emulators. ``Terminal`` is one station's HTTP API the way a PDA or the
kiosk page uses it (CSRF session), shared by the self-test and the tests.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

import requests

from packgate.device.clock import Clock
from packgate.station.demo.rig import DemoRig, DemoWorld, build_rig, gs1_item
from packgate.sync.common.notify import Notifier
from packgate.sync.hub.config import validate as site_config
from packgate.sync.hub.hub import Hub
from packgate.sync.hub.server import start_in_thread as start_hub
from packgate.sync.upstream.server import start_in_thread as start_wms

log = logging.getLogger("packgate.demo")

TOKENS = {"ST01": "demo-token-station-01-0123456789", "ST02": "demo-token-station-02-0123456789"}
NAMES = {"ST01": "Packing table 1", "ST02": "Packing table 2"}


class Terminal:
    """One station's HTTP API, used as its PDA and kiosk pages use it."""

    def __init__(self, base_url: str, world: DemoWorld):
        self.base, self.world = base_url, world
        self.http = requests.Session()
        self._csrf: str | None = None

    def api(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._csrf is None:
            self._csrf = str(self.http.get(f"{self.base}/api/v1/csrf", timeout=5).json()["csrf_token"])
        if path == "/api/v1/actions" and "key" not in body:  # as the pages do: a fresh key with every action
            body = {**body, "key": uuid.uuid4().hex}
        answer = dict(self.http.post(f"{self.base}{path}", json=body, headers={"X-CSRF-Token": self._csrf},
                                     timeout=10).json())
        self._csrf = answer.get("csrf_token") or self._csrf  # a new session and token at sign-in and sign-out
        return answer

    def act(self, action: str, **fields: Any) -> dict[str, Any]:
        return self.api("/api/v1/actions", {"action": action, **fields})

    def pda_login(self, badge: str, pin: str) -> dict[str, Any]:
        return self.api("/api/v1/pda/login", {"badge": badge, "pin": pin})

    def pick(self, order_id: str, device: str = "pda-1") -> dict[str, Any]:
        """Pick ``order_id`` on the PDA bin by bin into its tote; returns the last answer (``order_picked``)."""
        start = self.act("pick", object_type="order", object_id=order_id, terminal="pda", device=device)
        view = (start.get("data") or {}).get("pick")
        if not view:
            return start
        for task in view["tasks"]:
            sku = self.world.skus[task["sku"]]
            self.act("scan", object_id=task["bin"], terminal="pda", device=device)
            lot = next((l for l in self.world.lots(task["sku"]) if l["lot"] == task["lot"]), None)
            code = gs1_item(sku["gtin"], task["lot"], date.fromisoformat(lot["expires"])
                            if lot and lot.get("expires") else None) if task["lot"] else sku["gtin"]
            for _ in range(task["qty"]):
                answer = self.act("scan", object_id=code, terminal="pda", device=device)
                if answer.get("status") == "error":
                    return answer
        return self.act("scan", object_id=self.world.orders[order_id]["tote"], terminal="pda", device=device)

    def pack(self, order_id: str, badge: str) -> list[dict[str, Any]]:
        """Sign in at the kiosk, open the order by its tote, scan every item, weigh it right, confirm packed."""
        order = self.world.orders[order_id]
        answers = [self.act("badge", object_id=badge), self.act("scan", object_id=order["tote"])]
        if answers[-1].get("code") != "order_opened":
            return answers
        for line in order["lines"]:
            for _ in range(line["qty"]):
                sku = line["sku"]
                answers.append(self.act("scan", object_id=self.world.item_code(sku, self.world.good_lot_index(sku))))
        answers.append(self.act("weigh", payload={"grams": str(self.world.expected_g(order_id)), "stable": True}))
        answers.append(self.act("pack"))
        return answers


@dataclass
class SiteRig:
    world: DemoWorld
    wms_url: str
    hub: Hub
    hub_url: str
    stations: list[DemoRig]
    root: Path
    cleanup_dir: bool
    _stops: list[Callable[[], None]]
    _off: list[DemoRig] = field(default_factory=list)

    def terminal(self, index: int) -> Terminal:
        return Terminal(self.stations[index].agent.url, self.world)

    def stop_station(self, index: int) -> None:
        """Switch one station off (its agent and emulators), e.g. the one that picked an order."""
        rig = self.stations[index]
        if rig not in self._off:
            self._off.append(rig)
            rig.stop()

    def stop(self) -> None:
        for rig in [r for r in self.stations if r not in self._off]:
            try:
                rig.stop()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("stopping a station failed")
        for stop in self._stops:
            try:
                stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping a site part failed")
        self.hub.db.close()
        if self.cleanup_dir:
            shutil.rmtree(self.root, ignore_errors=True)


# the learned weight gate on every table of the demo site: a new site judges as today, then on what its parcels
# taught (any table's), learning every 10 s; per item on table 2 when asked (``packgate demo --per-item``)
DEMO_WEIGHING = {"weighing.gate": "learned", "weighing.learn_every_s": 10.0}
PER_ITEM = {"weighing.mode": "per_item"}


def build_site(*, ports: tuple[int, int] = (8080, 8081), hub_port: int = 8770, upstream_port: int = 8765,
               data_dir: str | None = None, clock: Clock | None = None, notify: tuple[str, ...] = (),
               hub_overrides: dict[str, Any] | None = None,
               station_overrides: dict[str, Any] | None = None, camera: bool = False,
               per_item: bool = False) -> SiteRig:
    """Start the WMS, the hub (with its ticker and relay) and two stations; the caller must ``stop()`` it.
    With ``camera`` the first table films and records a packing video per order. Both tables judge weights with
    the learned gate (``DEMO_WEIGHING``: the site's figures, shared through the hub); with ``per_item`` table 2
    weighs item by item (the empty box first)."""
    cleanup = data_dir is None
    root = Path(data_dir or tempfile.mkdtemp(prefix="packgate-site-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    clock = clock or Clock()
    world = DemoWorld(clock.now().date())
    stops: list[Callable[[], None]] = []
    wms_url, stop_wms = start_wms("127.0.0.1", upstream_port, root / "wms.db", seed_demo=True, today=world.today,
                                  clock=clock)
    stops.append(stop_wms)
    cfg = site_config({"site.db": str(root / "hub.db"), "site.upstream_url": wms_url, "stations": dict(TOKENS),
                       "station_names": dict(NAMES), "site.threads": 32, "escalation.notify": list(notify),
                       **(hub_overrides or {})})
    hub = Hub(cfg, clock, notifier=Notifier(list(notify)))
    hub.tick()  # the first reference pull, before the stations ask for it
    hub_url, stop_hub = start_hub(hub, "127.0.0.1", hub_port)
    stops.insert(0, stop_hub)
    stations: list[DemoRig] = []
    try:
        for (station, token), port in zip(TOKENS.items(), ports, strict=True):
            stations.append(build_rig(port=port, data_dir=str(root / station), clock=clock, upstream_url=hub_url,
                                      overrides={"station.id": station, "station.name": NAMES[station],
                                                 "station.location": station, "upstream.kind": "hub",
                                                 "upstream.token": token, "hub.heartbeat_s": 2.0,
                                                 # both tables are on 127.0.0.1: a browser keeps one cookie per name
                                                 # and host whatever the port, so each table's session has its own name
                                                 "web.cookie_name": f"packgate_session_{station.lower()}",
                                                 "escalation.notify": list(notify), **DEMO_WEIGHING,
                                                 **(PER_ITEM if per_item and stations else {}),
                                                 **(station_overrides or {})},
                                      camera=camera and not stations))
    except Exception:
        SiteRig(world, wms_url, hub, hub_url, stations, root, cleanup, stops).stop()
        raise
    return SiteRig(world, wms_url, hub, hub_url, stations, root, cleanup, stops)
