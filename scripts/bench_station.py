"""The station benchmark behind ``scripts/bench-station``: a realistic site's reference data in the reference
upstream, a station agent in its own process (``packgate run``), then a shift of packing through the API.

Prints, side by side: kiosk scan p50/p99 with no load, with 5 open supervisor pages and with 50 polling PDAs;
the time of a full pack (badge → order → items → weigh → pack) around order 100, 1,000 and 10,000 with the
agent's RSS there; start-up time to ``/healthz``; idle CPU and wake-ups of the agent and of the demo (all
emulated devices). Everything it writes lives in one temporary folder, removed at the end.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import requests

from packgate.device.emulation.ports import free_tcp_port
from packgate.sync.common.db import connect, write_tx
from packgate.sync.upstream import store as up_store
from packgate.sync.upstream.demo_data import demo_hash, gtin14

TOKEN = "bench-station-token-0123456789"
TARE_G = 120




def reference(a: argparse.Namespace, today: date) -> dict[str, list[dict]]:
    """The big site: SKUs with GTINs and weights, lots per SKU (some expiring soon), open orders, employees."""
    skus = [{"sku": f"SKU-{i:06d}", "gtin": gtin14(f"69{i:010d}"), "name": f"Item {i}", "unit_weight_g": str(100 + i % 900),
             "special": False, "category": "general", "lot_policy": "FIFO"} for i in range(a.skus)]
    per_sku = max(1, a.lots // max(1, a.skus))
    lots = []
    for i in range(a.skus):
        for k in range(per_sku):
            produced = today - timedelta(days=400 - k * 60)
            lots.append({"sku": f"SKU-{i:06d}", "lot": f"L{i:06d}{k}", "produced": produced.isoformat(),
                         "expires": (today + timedelta(days=1 + (i * 7 + k * 97) % 700)).isoformat(),
                         "bin": f"A-{i % 100:02d}-{k:02d}", "qty": 50})
    employees = []
    for i in range(a.employees):
        role = "supervisor" if i % 50 == 0 else ("picker" if i % 2 else "packer")
        employees.append({"employee_id": f"E{i:04d}", "name": f"Person {i}", "badge_uid": f"{0x04A00000 + i:08X}",
                          "role": role, "pin_hash": demo_hash("1234"), "phone": f"+86 138 0000 {i:04d}"})
    orders = []
    for i in range(a.orders):
        lines = [{"sku": f"SKU-{(i * 13) % a.skus:06d}", "qty": 1}]
        if i % 2:
            lines.append({"sku": f"SKU-{(i * 13 + 7) % a.skus:06d}", "qty": 1})
        orders.append({"order_id": f"SO-{i:06d}", "tote": f"T-{i:06d}", "packaging": "BOX-S", "priority": 0,
                       "status": "open", "lines": lines})
    return {"skus": skus, "lots": lots, "packaging": [{"code": "BOX-S", "name": "Small box", "tare_g": str(TARE_G)}],
            "employees": employees, "orders": orders}


class Agent:
    """``packgate run`` in its own process."""

    def __init__(self, work: Path, upstream_url: str):
        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = work / "packgate.toml"
        self.config.write_text(f"""
[station]
id = "ST01"
data_dir = "{work / 'station'}"
[web]
port = {self.port}
api_tokens = ["{TOKEN}"]
[upstream]
url = "{upstream_url}"
[scale]
enabled = false
[scanner]
enabled = false
[badge]
enabled = false
[log]
level = "WARNING"
""")
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        t = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "packgate.station.runtime.cli", "run", "--config",
                                      str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.url + "/healthz", 600)
        return time.perf_counter() - t

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid) if self.proc else 0.0


def wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.02)
    raise SystemExit(f"{url} did not answer in {timeout_s} s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle(pid: int, seconds: float) -> tuple[float, float, float]:
    """CPU percent of one core, wake-ups (voluntary context switches: a thread blocked and was woken) and
    preemptions (involuntary switches, which grow with the machine's other load) per second over ``seconds``."""
    def sample() -> tuple[float, int, int]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        woken = preempted = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                for line in (task / "status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches"):
                        woken += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        preempted += int(line.split()[1])
            except OSError:
                pass
        return cpu, woken, preempted
    cpu0, w0, p0 = sample()
    t0 = time.monotonic()
    time.sleep(seconds)
    cpu1, w1, p1 = sample()
    span = time.monotonic() - t0
    return 100 * (cpu1 - cpu0) / span, (w1 - w0) / span, (p1 - p0) / span


def idle_row(figures: tuple[float, float, float]) -> str:
    cpu, woken, preempted = figures
    return f"{cpu:.2f} % CPU, {woken:.0f} wake-ups/s (+{preempted:.0f} preempted/s)"


class Packer:
    """Packs orders through the action confirmation API, timing every request."""

    def __init__(self, url: str, ref: dict):
        self.url = url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {TOKEN}"
        self.skus = {s["sku"]: s for s in ref["skus"]}
        self.oldest: dict[str, dict] = {}
        for lot in ref["lots"]:
            best = self.oldest.get(lot["sku"])
            if best is None or lot["produced"] < best["produced"]:
                self.oldest[lot["sku"]] = lot
        self.orders = ref["orders"]
        self.packer = next(e for e in ref["employees"] if e["role"] == "packer")
        self.scans: list[float] = []
        self.failures = 0
        self.codes: list[str] = []
        self.first_failure = ""

    def act(self, body: dict) -> tuple[dict, float]:
        t = time.perf_counter()
        r = self.http.post(self.url + "/api/v1/actions", json={"key": uuid.uuid4().hex, **body}, timeout=60)
        took = (time.perf_counter() - t) * 1000
        if r.status_code >= 500:
            self.failures += 1
        verdict = r.json()
        self.codes.append(str(verdict.get("code")))
        return verdict, took

    def pack(self, order: dict) -> float:
        t = time.perf_counter()
        self.codes.clear()
        verdict, _ = self.act({"action": "scan", "object_id": order["order_id"]})
        if verdict.get("code") == "not_allowed_now":  # signed out (idle): badge in again
            self.act({"action": "badge", "object_id": self.packer["badge_uid"]})
            self.act({"action": "scan", "object_id": order["order_id"]})
        grams = TARE_G
        for line in order["lines"]:
            sku = self.skus[line["sku"]]
            lot = self.oldest[line["sku"]]
            for _ in range(line["qty"]):
                _, took = self.act({"action": "scan", "object_id": f"01{sku['gtin']}10{lot['lot']}"})
                self.scans.append(took)
            grams += int(sku["unit_weight_g"]) * line["qty"]
        self.act({"action": "weigh", "payload": {"grams": str(grams), "stable": True}})
        verdict, _ = self.act({"action": "pack"})
        if verdict.get("code") != "packed":
            self.failures += 1
            self.first_failure = self.first_failure or " ".join(self.codes)
        return (time.perf_counter() - t) * 1000


class Load:
    """Background clients, supervisor pages (every 5 s) or PDAs polling their order list (every second), run
    in a process of their own: they are other devices, so their HTTP work must not queue behind the packer's
    on one interpreter lock (fifty client threads beside it made the packer's own timings the slow part)."""

    def __init__(self, url: str, kind: str, count: int, ref: dict):
        self.url, self.kind, self.count = url, kind, count
        self.latencies: list[float] = []
        self.failures = 0
        mp = multiprocessing.get_context("spawn")
        self._stop, self._ready, self._timing, self._out = mp.Event(), mp.Semaphore(0), mp.Event(), mp.Queue()
        pickers = [e for e in ref["employees"] if e["role"] == "picker"]
        self._proc = mp.Process(target=_clients, args=(url, kind, [pickers[i % len(pickers)] for i in range(count)],
                                                        self._stop, self._ready, self._timing, self._out), daemon=True)

    def __enter__(self) -> "Load":
        self._proc.start()
        for signed_in in range(self.count):  # measure the polling, not the sign-ins before it (an argon2 PIN check each)
            if not self._ready.acquire(timeout=120):
                self._stop.set()
                self._proc.kill()
                raise SystemExit(f"only {signed_in} of {self.count} {self.kind} clients started in 120 s")
        self._timing.set()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        try:
            self.latencies, self.failures = self._out.get(timeout=200)
        finally:
            self._proc.join(30)
            if self._proc.is_alive():
                self._proc.kill()


def _clients(url: str, kind: str, pickers: list[dict], stop: Any, ready: Any, timing: Any, out: Any) -> None:
    """The child process of ``Load``: one thread per client; puts ``(latencies, failures)`` of the requests made
    once ``timing`` is set (every client has started) when stopped."""
    latencies: list[float] = []
    failures = [0]

    def run(picker: dict) -> None:
        http = requests.Session()
        if kind == "supervisor":
            http.headers["Authorization"] = f"Bearer {TOKEN}"
            path, every = "/api/v1/supervisor/overview", 5.0
        else:
            csrf = http.get(url + "/api/v1/csrf", timeout=60).json()["csrf_token"]
            http.headers["X-CSRF-Token"] = csrf
            login = http.post(url + "/api/v1/pda/login", json={"badge": picker["badge_uid"], "pin": "1234"},
                              timeout=60).json()
            http.headers["X-CSRF-Token"] = login.get("csrf_token") or csrf  # a new session at sign-in
            path, every = "/api/v1/pda/orders", 1.0
        ready.release()
        while not stop.is_set():
            t = time.perf_counter()
            try:
                r = http.get(url + path, timeout=120)
                if r.status_code >= 500:
                    failures[0] += 1
            except requests.RequestException:
                failures[0] += 1
            took = time.perf_counter() - t
            if timing.is_set():
                latencies.append(took * 1000)
            stop.wait(max(0.0, every - took))

    threads = [threading.Thread(target=run, args=(picker,), daemon=True) for picker in pickers]
    for t in threads:
        t.start()
        time.sleep(0.01)
    for t in threads:
        t.join(150)
    out.put((latencies, failures[0]))


def q(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[pct - 1]


def demo_idle(seconds: float, camera: bool) -> tuple[float, float, float]:
    port, up = free_tcp_port(), free_tcp_port()
    proc = subprocess.Popen([sys.executable, "-m", "packgate.station.runtime.cli", "--log-level", "WARNING", "demo",
                             "--port", str(port), "--upstream-port", str(up), "--hub-port", str(free_tcp_port()),
                             "--camera" if camera else "--no-camera"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 120)
        time.sleep(3)
        return idle(proc.pid, seconds)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


ROWS = ("start", "scans", "packs", "idle", "demo")


class Table:
    """Prints each row the moment it is measured, so a partial run still tells."""

    WIDTHS = (58, 36)

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []
        self._line("measure", "size", "result")
        self._line(*("-" * w for w in (*self.WIDTHS, 30)))

    def _line(self, *cells: str) -> None:
        print(f"{cells[0]:<{self.WIDTHS[0]}}  {cells[1]:<{self.WIDTHS[1]}}  {cells[2]}", flush=True)

    def add(self, measure: str, size: str, result: str) -> None:
        self.rows.append((measure, size, result))
        self._line(measure, size, result)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench-station", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skus", type=int, default=50_000)
    p.add_argument("--lots", type=int, default=200_000)
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--employees", type=int, default=500)
    p.add_argument("--packs", type=int, default=10_000, help="orders packed in the shift (at most --orders)")
    p.add_argument("--marks", default="100,1000,10000", help="orders around which the pack p50 and RSS are taken")
    p.add_argument("--loaded-packs", type=int, default=100, help="orders packed under each background load")
    p.add_argument("--loaded-s", type=float, default=15.0, help="and for at least this long (s)")
    p.add_argument("--pages", type=int, default=5, help="open supervisor pages")
    p.add_argument("--pdas", type=int, default=50, help="PDAs polling their order list")
    p.add_argument("--idle-s", type=float, default=10.0)
    p.add_argument("--refreshes", type=int, default=720, help="supervisor page refreshes after the shift (720: an hour)")
    p.add_argument("--demo-cameras", choices=("both", "off", "on"), default="both",
                   help="the idle demo with table 1's camera off, filming, or both rows")
    p.add_argument("--window", type=int, default=50, help="packs around each mark the p50 is taken over")
    p.add_argument("--rows", default=",".join(ROWS),
                   help=f"which rows to measure, comma-separated from {', '.join(ROWS)} (start-up always runs)")
    a = p.parse_args(argv)
    a.rows = {r.strip() for r in a.rows.split(",") if r.strip()}
    if a.rows - set(ROWS):
        p.error(f"unknown --rows: {', '.join(sorted(a.rows - set(ROWS)))}")
    a.demo_cameras = {"both": slice(0, 2), "off": slice(0, 1), "on": slice(1, 2)}[a.demo_cameras]
    a.packs = min(a.packs, a.orders - (2 * a.loaded_packs if "scans" in a.rows else 0))
    a.budget = (a.orders - a.packs) // 2  # orders each background load may use
    a.marks = sorted({int(m) for m in a.marks.split(",") if m.strip() and int(m) <= a.packs} | {a.packs})
    return a


def load_reference(a: argparse.Namespace, work: Path) -> tuple[dict, str]:
    ref = reference(a, date.today())
    now = datetime.now(timezone.utc)
    conn = connect(work / "upstream.db")
    up_store.ensure_schema(conn)
    with write_tx(conn):
        for kind, items in ref.items():
            up_store.upsert_reference(conn, kind, items, now)
    conn.close()
    return ref, f"{a.skus} SKUs, {len(ref['lots'])} lots, {a.orders} orders, {a.employees} employees"


def scans_under_load(a: argparse.Namespace, table: Table, agent: Agent, packer: Packer, shift: Callable[[int], None],
                     orders: Iterator[dict], ref: dict) -> None:
    """Kiosk scans of the first packs alone, then beside supervisor pages, then beside polling PDAs."""
    packer.scans.clear()
    shift(min(100, a.packs))
    table.add("kiosk scan, no load", f"{len(packer.scans)} scans", _p50_p99(packer.scans, 1))
    for kind, count in (("supervisor", a.pages), ("pda", a.pdas)):
        packer.scans.clear()
        with Load(agent.url, kind, count, ref) as load:
            time.sleep(1.0)
            started, done = time.monotonic(), 0
            while done < a.budget and (done < a.loaded_packs or time.monotonic() - started < a.loaded_s):
                packer.pack(next(orders))
                done += 1
        what = f"{count} supervisor pages (every 5 s)" if kind == "supervisor" else f"{count} PDAs polling (every 1 s)"
        table.add(f"kiosk scan, {what}", f"{len(packer.scans)} scans", _p50_p99(packer.scans, 1))
        table.add("  their requests", f"{len(load.latencies)} requests, {load.failures} failed",
                  _p50_p99(load.latencies, 0) + f"  (RSS {agent.rss_mb():.0f} MB)")


def views_after_shift(table: Table, agent: Agent, ref: dict, packs: int, calls: int = 10,
                      refreshes: int = 720) -> None:
    """What a supervisor page and a PDA cost once the shift's history is there."""
    sup = requests.Session()
    sup.headers["Authorization"] = f"Bearer {TOKEN}"
    pda = requests.Session()
    pda.headers["X-CSRF-Token"] = pda.get(agent.url + "/api/v1/csrf", timeout=60).json()["csrf_token"]
    picker = next(e for e in ref["employees"] if e["role"] == "picker")
    pda.post(agent.url + "/api/v1/pda/login", json={"badge": picker["badge_uid"], "pin": "1234"}, timeout=60)
    for what, http, path in (("supervisor overview", sup, "/api/v1/supervisor/overview"),
                             ("supervisor counts", sup, "/api/v1/supervisor/counts"),
                             ("PDA order list", pda, "/api/v1/pda/orders")):
        took, size = [], 0
        for _ in range(calls):
            t = time.perf_counter()
            r = http.get(agent.url + path, timeout=60)
            took.append((time.perf_counter() - t) * 1000)
            size = len(r.content)
        table.add(f"{what} after {packs} packs", f"{calls} calls, {size / 1024:.0f} KiB each", _p50_p99(took, 1))
    supervisor_hour(table, agent, sup, refreshes)


def supervisor_hour(table: Table, agent: Agent, sup: requests.Session, refreshes: int) -> None:
    """An hour of one open supervisor page, its refreshes back to back: the page asks for the overview's
    first 50 rows and the counts every 5 s (station/web/static/supervisor.js), 720 times an hour."""
    before = agent.rss_mb()
    took = []
    for _ in range(refreshes):
        t = time.perf_counter()
        sup.get(agent.url + "/api/v1/supervisor/overview?limit=50", timeout=60)
        sup.get(agent.url + "/api/v1/supervisor/counts", timeout=60)
        took.append((time.perf_counter() - t) * 1000)
    table.add("supervisor page open, refreshes back to back", f"{refreshes} refreshes ({refreshes * 5 / 60:.0f} min)",
              _p50_p99(took, 1) + f"  (RSS {before:.0f} -> {agent.rss_mb():.0f} MB)")


def _p50_p99(values: list[float], digits: int) -> str:
    return f"p50 {q(values, 50):.{digits}f} ms / p99 {q(values, 99):.{digits}f} ms"


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    work = Path(tempfile.mkdtemp(prefix="packgate-bench-station-"))
    table = Table()
    upstream = agent = None
    try:
        t = time.perf_counter()
        ref, sizes = load_reference(a, work)
        table.add("reference data generated", sizes, f"{time.perf_counter() - t:.1f} s")
        up_port = free_tcp_port()
        upstream = subprocess.Popen([sys.executable, "-c", "from packgate.sync.upstream.server import serve; "
                                     f"serve('127.0.0.1', {up_port}, {str(work / 'upstream.db')!r}, strict_orders=False)"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{up_port}/healthz", 60)
        agent = Agent(work, f"http://127.0.0.1:{up_port}")
        table.add("first start (pulls all reference data)", "to /healthz", f"{agent.start():.1f} s")
        agent.stop()
        table.add("start-up with the reference data", "to /healthz", f"{agent.start():.2f} s")
        table.add("RSS after start", "", f"{agent.rss_mb():.0f} MB")
        packer = Packer(agent.url, ref)
        orders = iter(ref["orders"])
        packs: list[float] = []

        def shift(until: int) -> None:
            while len(packs) < until:
                packs.append(packer.pack(next(orders)))

        if "scans" in a.rows:
            scans_under_load(a, table, agent, packer, shift, orders, ref)
        if "packs" in a.rows:
            for mark in a.marks:
                shift(mark)
                window = packs[max(0, mark - a.window):mark]
                table.add(f"full pack around order {mark}", f"p50 of {len(window)} packs",
                          f"{statistics.median(window):.1f} ms  (RSS {agent.rss_mb():.0f} MB)")
        if packs:
            views_after_shift(table, agent, ref, len(packs), refreshes=a.refreshes)
            table.add("RSS at the end of the shift", "", f"{agent.rss_mb():.0f} MB")
            table.add("failed requests (HTTP 5xx or not packed)", f"{len(packs)} packs",
                      f"{packer.failures} {packer.first_failure}".strip())
        if "idle" in a.rows and agent.proc:
            table.add("idle agent, no devices (packgate run)", f"{a.idle_s:.0f} s", idle_row(idle(agent.proc.pid, a.idle_s)))
        agent.stop()
        if "demo" in a.rows:
            for camera, what in ((False, "camera off"), (True, "table 1's camera filming"))[a.demo_cameras]:
                table.add(f"idle demo site (WMS, hub, 2 stations, emulated devices; {what})", f"{a.idle_s:.0f} s",
                          idle_row(demo_idle(a.idle_s, camera)))
    finally:
        if agent is not None:
            agent.stop()
        if upstream is not None:
            upstream.terminate()
            upstream.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
