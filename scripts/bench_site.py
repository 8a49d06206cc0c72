"""``scripts/bench-site``: N simulated stations against hub processes and the reference upstream.

Stores: ``sqlite`` (one hub on a SQLite file), ``pg1`` (one hub on PostgreSQL), ``pg2`` (two hubs on one
PostgreSQL: station i posts to hub i mod 2 and follows the feed on the *other* hub, so propagation crosses
hubs). PostgreSQL is a throwaway durable server (``pgtemp``, fsync on) started by the bench.

Each station sends one confirmation every 1/rate seconds (a ``pick`` of its own order, so each one is
an order-stage change on the feed) and long-polls the feed. Ingest = POST answer time; propagation =
from the POST's answer to the change arriving at another station's feed; relay rate = confirmations
the WMS received per second during the run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from pgtemp import TempPostgres

from packgate.device.clock import isoformat
from packgate.device.emulation.ports import free_tcp_port
from packgate.sync.common.http import DeadlineHTTP
from packgate.sync.common.ids import make_id
from packgate.sync.common.jsonbytes import dumps
from packgate.sync.upstream.server import start_in_thread as start_wms


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000




def run(n: int, seconds: float, rate: float, workdir: Path, followers: int, store: str = "sqlite",
        pg: TempPostgres | None = None) -> dict[str, Any]:
    wms, stop_wms = start_wms("127.0.0.1", 0, workdir / f"wms-{store}-{n}.db", strict_orders=False)
    tokens = {f"B{i:03d}": f"bench-token-{i:03d}-xxxxxxxx" for i in range(n)}
    if store == "sqlite":
        db = str(workdir / f"hub-{n}.db")
    else:
        assert pg is not None
        db = pg.create_database(f"bench_{store}_{n}")
    hubs, bases = [], []
    for _ in range(2 if store == "pg2" else 1):
        port = free_tcp_port()
        args = [sys.executable, "-m", "packgate.station.runtime.cli", "site", "--port", str(port), "--db",
                db, "--upstream", wms] + [f"--station={k}={v}" for k, v in tokens.items()]
        hub = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert hub.stdout is not None
        hub.stdout.readline()
        hubs.append(hub)
        bases.append(f"http://127.0.0.1:{port}")
    ingest: list[float] = []
    answered: dict[str, float] = {}
    propagation: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()

    def station(i: int) -> None:
        sid = f"B{i:03d}"
        http = DeadlineHTTP(bases[i % len(bases)], deadline_s=10)
        headers = {"Authorization": f"Bearer {tokens[sid]}", "Content-Type": "application/json"}
        seq, next_at = 0, time.monotonic() + (i / n) / rate
        while not stop.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += 1 / rate
            seq += 1
            order = f"SO-{sid}-{seq}"
            conf = {"id": make_id(sid, date(2026, 1, 5), seq), "key": f"{sid}-{seq}", "station": sid, "seq": seq,
                    "action": "pick", "object_type": "order", "object_id": order, "operator": "E004", "device": None,
                    "location": sid, "at": isoformat(datetime.now(timezone.utc)),
                    "payload": {"sku": "SKU-001", "qty": 1}, "image_sha256": None}
            body = b'{"station":' + json.dumps(sid).encode() + b',"confirmations":[' + dumps(conf) + b"]}"
            started = time.monotonic()
            try:
                resp = http.request("POST", "/v1/confirmations", body, headers)
            except Exception:  # noqa: BLE001 - counted as missing
                continue
            done = time.monotonic()
            if resp.status == 200:
                with lock:
                    ingest.append(done - started)
                    answered[order] = done

    def follower(i: int) -> None:
        sid = f"B{i:03d}"
        http = DeadlineHTTP(bases[(i + 1) % len(bases)], deadline_s=20)
        headers = {"Authorization": f"Bearer {tokens[sid]}"}
        cursor = json.loads(http.request("GET", "/v1/feed?since=0&wait=0&limit=1", None, headers).body)["head"]
        while not stop.is_set():
            try:
                data = json.loads(http.request("GET", f"/v1/feed?since={cursor}&wait=5&limit=5000", None, headers).body)
            except Exception:  # noqa: BLE001
                continue
            now = time.monotonic()
            for event in data["events"]:
                if event["kind"] == "order_stage":
                    with lock:
                        sent = answered.get(event["subject"])
                    if sent is not None:
                        propagation.append(max(0.0, now - sent))
            cursor = data["cursor"]

    threads = [threading.Thread(target=station, args=(i,), daemon=True) for i in range(n)]
    threads += [threading.Thread(target=follower, args=(i,), daemon=True) for i in range(n)]
    before = json.loads(DeadlineHTTP(wms).request("GET", "/v1/admin/stats").body).get("confirmations", 0)
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    after = json.loads(DeadlineHTTP(wms).request("GET", "/v1/admin/stats").body).get("confirmations", 0)
    for t in threads:
        t.join(timeout=8)
    for hub in hubs:
        hub.terminate()
        hub.wait(timeout=10)
    stop_wms()
    return {"store": store, "n": n, "sent": len(ingest), "ingest_p50": _pct(ingest, 0.5), "ingest_p99": _pct(ingest, 0.99),
            "prop_p50": _pct(propagation, 0.5), "prop_p99": _pct(propagation, 0.99),
            "relay_rate": (after - before) / seconds, "offered": n * rate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", default="1,10,50,100")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=2.0, help="confirmations per second per station")
    parser.add_argument("--stores", default="sqlite,pg1,pg2", help="sqlite, pg1 (one hub), pg2 (two hubs)")
    args = parser.parse_args(argv)
    stores = args.stores.split(",")
    print("store   N    sent  ingest p50/p99 ms   propagation p50/p99 ms   WMS relay /s (offered)")
    pg = TempPostgres(durable=True, max_connections=300).start() if any(s.startswith("pg") for s in stores) else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for store in stores:
                for n in (int(x) for x in args.stations.split(",")):
                    r = run(n, args.seconds, args.rate, Path(tmp), n, store, pg)
                    print(f"{store:6s} {r['n']:3d} {r['sent']:7d}  {r['ingest_p50']:7.1f} / {r['ingest_p99']:7.1f}"
                          f"   {r['prop_p50']:9.1f} / {r['prop_p99']:8.1f}      {r['relay_rate']:7.1f}"
                          f" ({r['offered']:.0f})", flush=True)
    finally:
        if pg is not None:
            pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
