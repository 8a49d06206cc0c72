"""``scripts/bench-intercept``: how long from the WMS's cancel to the table knowing it (订单拦截).

Two set-ups, each with the reference WMS (seeded, plus ``--n`` orders of one unit made for the bench) on 127.0.0.1:

* ``standalone`` — a station agent talking to the WMS directly: it learns through its fast pull of the orders
  changed (``upstream.orders_s``, default 1 s);
* ``site`` — a ``packgate site`` hub process between them: the hub pulls every ``site.orders_s`` (default 0.5 s) and
  the station hears the ``order_status`` event on the hub's long-polled feed.

For each of ``--n`` orders: the kiosk opens it (through the station's HTTP API, as the kiosk page does), the WMS
cancels it (``POST /v1/admin/orders/<id>/cancel``) at a random moment (after a pause drawn from 0 to ``--jitter-s``:
a cancel comes at any time, not just after a pull), and the clock runs from the moment that admin call returned until
``GET /api/v1/state`` shows the order intercepted (polled every ``--poll-ms``); then the next step is sent and must
answer INTERCEPTED (which also frees the table for the next order). Prints p50, p99 and max per set-up.
"""
from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from packgate.device.emulation.ports import free_tcp_port
from packgate.station.demo.floor import Terminal
from packgate.station.demo.rig import DemoWorld
from packgate.station.runtime.agent import Agent
from packgate.station.runtime.config import validate
from packgate.sync.client import UpstreamClient
from packgate.sync.upstream.demo_data import DEMO_BADGES
from packgate.sync.upstream.server import start_in_thread

TOKEN = "bench-token-station-01-0123456789"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def bench_orders(n: int) -> list[dict[str, Any]]:
    return [{"order_id": f"SO-B{i:05d}", "tote": f"T-B{i:05d}", "packaging": "BOX-S", "priority": 0, "status": "open",
             "carrier": "SF", "lines": [{"sku": "SKU-007", "qty": 1}]} for i in range(n)]


def run(setup: str, n: int, workdir: Path, poll_s: float, orders_s: float | None, jitter_s: float) -> dict[str, Any]:
    world = DemoWorld(date.today())
    wms_url, stop_wms = start_in_thread("127.0.0.1", 0, workdir / f"wms-{setup}.db", seed_demo=True, today=world.today)
    wms = UpstreamClient(wms_url, deadline_s=10)
    wms.admin("orders", bench_orders(n))
    hub: subprocess.Popen | None = None
    station: dict[str, Any] = {"station.id": "ST01", "station.name": "Bench table", "web.port": 0,
                               "station.data_dir": str(workdir / f"station-{setup}"), "scale.enabled": False,
                               "scanner.enabled": False, "badge.enabled": False}
    if setup == "site":
        port = free_tcp_port()
        args = [sys.executable, "-m", "packgate.station.runtime.cli", "site", "--port", str(port), "--db",
                str(workdir / "hub.db"), "--upstream", wms_url, "--station", f"ST01={TOKEN}"]
        if orders_s is not None:
            config = workdir / "site.toml"
            config.write_text(f"[site]\norders_s = {orders_s}\n")
            args += ["--config", str(config)]
        hub = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert hub.stdout is not None and "listening" in hub.stdout.readline()
        station.update({"upstream.url": f"http://127.0.0.1:{port}", "upstream.kind": "hub", "upstream.token": TOKEN})
    else:
        station.update({"upstream.url": wms_url, **({"upstream.orders_s": orders_s} if orders_s else {})})
    agent = Agent(validate(station), start_devices=False).start()
    ui = Terminal(agent.url, world)
    samples: list[float] = []
    refused = 0
    item = world.item_code("SKU-007", world.good_lot_index("SKU-007"))
    try:
        assert ui.act("badge", object_id=DEMO_BADGES["packer"])["code"] == "signed_in"
        for order in bench_orders(n):
            order_id = order["order_id"]
            deadline = time.monotonic() + 30
            while ui.act("scan", object_id=order_id)["code"] != "order_opened":  # the order reached the table
                assert time.monotonic() < deadline, f"{order_id} never opened"
                time.sleep(0.05)
            time.sleep(random.uniform(0, jitter_s))
            wms.decide(order_id, "cancel", {"reason": "bench"})
            decided = time.monotonic()
            while (ui.http.get(f"{agent.url}/api/v1/state", timeout=5).json()["session"].get("interception")
                   or {}).get("status") != "cancelled":
                assert time.monotonic() - decided < 30, f"{order_id}: the table never learned the cancel"
                time.sleep(poll_s)
            samples.append(time.monotonic() - decided)
            refused += ui.act("scan", object_id=item)["code"] == "intercepted"
    finally:
        agent.stop()
        if hub is not None:
            hub.terminate()
            hub.wait(timeout=10)
        wms.close()
        stop_wms()
    return {"setup": setup, "n": len(samples), "p50": _pct(samples, 0.5), "p99": _pct(samples, 0.99),
            "max": max(samples) * 1000, "refused": refused}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="cancels per set-up")
    parser.add_argument("--setups", default="standalone,site")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="how often the station's state is read")
    parser.add_argument("--jitter-s", type=float, default=1.0, help="a random pause before each cancel, up to this")
    parser.add_argument("--orders-s", type=float, default=None,
                        help="the pull interval (upstream.orders_s standalone, site.orders_s in a site); default theirs")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="packgate-bench-intercept-") as tmp:
        for setup in args.setups.split(","):
            rows.append(run(setup, args.n, Path(tmp), args.poll_ms / 1000, args.orders_s, args.jitter_s))
    print("WMS cancel (admin call returned) -> the table shows the order intercepted (GET /api/v1/state)")
    print(f"{'set-up':<12} {'cancels':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'next step INTERCEPTED':>22}")
    for r in rows:
        print(f"{r['setup']:<12} {r['n']:>7} {r['p50']:>8.0f} {r['p99']:>8.0f} {r['max']:>8.0f} "
              f"{r['refused']:>13}/{r['n']}")
    return 0 if all(r["refused"] == r["n"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
