"""Two hub processes on one PostgreSQL under load; SIGKILL one of them.

Three stations (real outbox + worker) list both hubs; they pick orders (which schedules escalations),
pack some (the ones they hold the claim of, as a table does), and claim orders through the site client, all while
hub A is killed. At the end the WMS holds every confirmation exactly once (the stations' and one ``escalate`` per
sent (order, level) from the hub), each escalation was sent once per (order, level), and no order was granted to
two tables.
"""
from __future__ import annotations

import collections
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from typing import Iterator

import pytest
import requests

from packgate.device.backoff import Backoff
from packgate.device.emulation.ports import free_tcp_port
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect, write_tx
from packgate.sync.errors import ClaimConflictError, HubError, TransientUpstreamError
from packgate.sync.hub_client import SiteClient
from packgate.sync.outbox import Outbox, outbox_status
from packgate.sync.upstream.server import start_in_thread as start_wms
from packgate.sync.worker import OutboxWorker

TOKENS = {f"ST0{i}": f"token-of-station-0{i}-abcdef" for i in (1, 2, 3)}
ORDERS = 24


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture
def cleanup() -> Iterator[ExitStack]:
    """Everything the test starts is registered here as it starts (a process before it is awaited), so it is
    stopped however the test ends, set-up included."""
    with ExitStack() as stack:
        yield stack


def start_hub(cleanup, tmp_path, name, port, db, wms, hook_url):
    config = tmp_path / f"{name}.toml"
    stations = "\n".join(f'{k} = "{v}"' for k, v in TOKENS.items())
    config.write_text(f'[site]\nport = {port}\ndb = "{db}"\nupstream_url = "{wms}"\n'
                      f'[escalation]\nfirst_after_min = 0.04\nsecond_after_min = 0.08\nnotify = ["{hook_url}"]\n'
                      f"[stations]\n{stations}\n")
    proc = subprocess.Popen([sys.executable, "-m", "packgate.station.runtime.cli", "site", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    cleanup.callback(stop_process, proc)
    assert proc.stdout is not None
    assert "listening" in proc.stdout.readline()
    return proc


@pytest.mark.long
@pytest.mark.timeout(120)
def test_sigkill_one_of_two_hubs_under_load(tmp_path, postgres, webhook, cleanup):
    db = postgres.create_schema()
    wms, stop_wms = start_wms("127.0.0.1", 0, tmp_path / "wms.db", strict_orders=False)
    cleanup.callback(stop_wms)
    ports = [free_tcp_port(), free_tcp_port()]
    hubs = [start_hub(cleanup, tmp_path, f"hub{i}", port, db, wms, webhook.url) for i, port in enumerate(ports)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    granted: dict[str, set[str]] = collections.defaultdict(set)
    acked: list[str] = []
    lock = threading.Lock()
    stations = []
    for sid, token in TOKENS.items():
        path = str(tmp_path / f"{sid}.db")
        client = UpstreamClient(urls, deadline_s=3, token=token)
        worker = OutboxWorker(path, client, batch_size=10, backoff=Backoff(0.02, 0.3), idle_s=0.02,
                              recheck_s=0.05).start()
        cleanup.callback(worker.stop)
        stations.append((sid, Outbox(path, sid), connect(path), worker, SiteClient(urls, sid, token, deadline_s=3)))

    def work(sid, outbox, conn, worker, site):
        for n in range(ORDERS):
            order = f"SO-{n:05d}"
            try:
                site.claim(order, "E001")
                with lock:
                    granted[order].add(sid)
            except (ClaimConflictError, HubError, TransientUpstreamError):
                pass
            if sid != "ST01":
                continue
            steps = [("pick", "order", order, {"sku": "SKU-001", "lot": "L1", "qty": 1}),
                     ("load", "tote", f"T-{n}", {"order_id": order})]
            with lock:
                holds = sid in granted[order]
            if n % 2 and holds:  # another table's claim: packing it would be a conflict that moves nothing
                steps += [("weigh", "order", order, {"result": "pass"}), ("pack", "order", order, {"units": []})]
            for action, kind, obj, payload in steps:
                with write_tx(conn):
                    conf = outbox.enqueue(conn, action=action, object_type=kind, object_id=obj, operator="E001",
                                          device=None, location=sid, payload=payload)
                with lock:
                    acked.append(conf["id"])
                worker.wake()
                time.sleep(0.01)

    threads = [threading.Thread(target=work, args=s, daemon=True) for s in stations]
    try:
        for t in threads:
            t.start()
        time.sleep(0.8)
        hubs[0].send_signal(signal.SIGKILL)  # the hub the stations use first
        hubs[0].wait()
        for t in threads:
            t.join()
        unpacked = [n for n in range(ORDERS) if not (n % 2 and "ST01" in granted[f"SO-{n:05d}"])]
        sent = 2 * len(unpacked)  # 2 levels each, each one escalate confirmation at the WMS
        conn = stations[0][2]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stats = requests.get(f"{wms}/v1/admin/stats", timeout=5).json()
            notes = {n["title"] for n in webhook.received}
            if (outbox_status(conn, stations[0][1].clock.now())["depth"] == 0
                    and stats["confirmations"] >= len(acked) + sent and len(notes) >= sent):
                break
            time.sleep(0.2)
        stats = requests.get(f"{wms}/v1/admin/stats", timeout=5).json()
        assert stats["confirmations"] == len(acked) + sent and stats["effects"] == len(acked) + sent
        titles = [n["title"] for n in webhook.received]
        assert len(titles) == sent and len(set(titles)) == sent  # each (order, level) once
        assert all(f"SO-{n:05d} not packed" in " ".join(titles) for n in unpacked)
        assert not any(f"SO-{n:05d} not packed" in " ".join(titles) for n in range(ORDERS) if n not in unpacked)
        assert all(len(tables) == 1 for tables in granted.values()) and len(granted) == ORDERS
        upstream = [c["id"] for n in range(ORDERS) for c in
                    requests.get(f"{wms}/v1/orders/SO-{n:05d}/confirmations", timeout=5).json()["confirmations"]]
        assert len(upstream) == len(set(upstream))
    finally:
        for s in stations:
            s[3].stop()
        for hub in hubs:
            if hub.poll() is None:
                hub.send_signal(signal.SIGTERM)
                try:
                    hub.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    hub.kill()
        stop_wms()
