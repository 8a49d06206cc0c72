"""``scripts/bench-site``: N simulated stations against real hub processes, side by side with what the hub stands on.

Every row runs real processes: the reference upstream (the WMS) in its own process, the hub (one, or two on one
PostgreSQL), and the load generator in ``--procs`` processes of its own (``bench_site_load.py``: each station
posts a ``pick`` every 1/rate s and follows the feed). For each store and N it prints, in one run:

* ``hub`` — ingest p50/p99 (the POST's answer time), feed propagation p50/p99 (from a POST's answer to the
  change arriving at every station's follower; with two hubs a station posts to one and follows the other),
  the relay rate to the WMS and its worst lag (``/healthz``: the age of the oldest unrelayed confirmation,
  sampled every second), the hub processes' CPU-ms per answered confirmation (``/proc``: user + system of the
  hub processes only, from ``go`` to the last answer) and RSS;
* ``minimal`` — the same stations posting (no followers) to ``bench_site_minimal.py``: Flask on the hub's server
  stack, one INSERT + COMMIT per request, nothing else; as many processes as hubs (two for ``pg2``, the stations
  split between them as between the hubs), their CPU summed as the hubs' is;
* ``raw`` — one-row ``INSERT`` + ``COMMIT`` in a loop on the same engine and durability (no HTTP at all).

Stores: ``sqlite`` (one hub on a SQLite file), ``pg1`` (one hub on PostgreSQL), ``pg2`` (two hubs on one
PostgreSQL). PostgreSQL is a throwaway durable server (``pgtemp``, fsync on) started by the bench.

``--surge``: 100 stations at work (posting and following), then the WMS releases 20,000 orders at once; the hub
pulls them (``site.refresh_s`` 1 s in the bench) and every station pulls them from the hub when the feed says the
reference data changed. Prints the time until every station knows every order (p50 and the last station), the
ingest p50/p99 during the wave, and the hub's RSS before and at its peak.

The load average is printed with every row: on a shared machine the figures are only comparable within one run.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pgtemp import TempPostgres

from packgate.device.emulation.ports import free_tcp_port
from packgate.sync.common.db import connect
from packgate.sync.common.http import DeadlineHTTP

HERE = Path(__file__).resolve().parent
CLK = os.sysconf("SC_CLK_TCK")
STATION_PREFIX = "B"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, peak RSS) in MiB."""
    rss = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return rss, peak


def database_cpu_s(pg: TempPostgres | None) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster (with its reaped children) and every live
    backend (0 without PostgreSQL)."""
    if pg is None:
        return 0.0
    try:
        master = int((pg.root / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == master:
            total += sum(int(f) for f in fields[11:15]) / CLK
        elif int(fields[1]) == master:
            total += (int(fields[11]) + int(fields[12])) / CLK
    return total


def load_average() -> float:
    return os.getloadavg()[0]


def _wait_for_line(proc: subprocess.Popen[str], what: str) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{what} exited before it was ready (code {proc.wait()})")
    return line


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Processes:
    """Every process a row started, stopped however the row ends."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, args: list[str], *, stdin: bool = False) -> subprocess.Popen[str]:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        self.procs.append(proc)
        return proc

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            _stop(proc)


def start_wms(procs: Processes, workdir: Path, name: str) -> str:
    port = free_tcp_port()
    proc = procs.start([sys.executable, "-m", "packgate.station.runtime.cli", "upstream", "--open", "--lenient-orders",
                        "--port", str(port), "--db", str(workdir / f"wms-{name}.db")])
    url = f"http://127.0.0.1:{port}"
    _wait_http(url + "/healthz", proc)
    return url


def _wait_http(url: str, proc: subprocess.Popen[str], timeout_s: float = 30.0) -> None:
    http = DeadlineHTTP(url.rsplit("/", 1)[0], deadline_s=2)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited (code {proc.returncode})")
        try:
            http.request("GET", "/" + url.rsplit("/", 1)[1])
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {timeout_s:g} s")


def site_toml(path: Path, db: str, wms: str, port: int, tokens: dict[str, str], extra: dict[str, Any]) -> Path:
    lines = ["[site]", f"db = {json.dumps(db)}", f"upstream_url = {json.dumps(wms)}", f"port = {port}"]
    lines += [f"{k.split('.', 1)[1]} = {json.dumps(v)}" for k, v in extra.items() if k.startswith("site.")]
    for section in sorted({k.split(".", 1)[0] for k in extra} - {"site"}):
        lines += ["", f"[{section}]"] + [f"{k.split('.', 1)[1]} = {json.dumps(v)}" for k, v in extra.items()
                                         if k.startswith(section + ".")]
    lines += ["", "[stations]"] + [f'{k} = "{v}"' for k, v in tokens.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_hubs(procs: Processes, workdir: Path, db: str, wms: str, tokens: dict[str, str], count: int,
               extra: dict[str, Any]) -> list[tuple[str, int]]:
    hubs = []
    for k in range(count):
        port = free_tcp_port()
        config = site_toml(workdir / f"site-{k}-{port}.toml", db, wms, port, tokens, extra)
        proc = procs.start([sys.executable, "-m", "packgate.station.runtime.cli", "site", "--config", str(config)])
        _wait_for_line(proc, "the hub")
        hubs.append((f"http://127.0.0.1:{port}", proc.pid))
    return hubs


def start_minimal(procs: Processes, db: str, stack: str = "cheroot") -> tuple[str, int]:
    port = free_tcp_port()
    proc = procs.start([sys.executable, str(HERE / "bench_site_minimal.py"), "--db", db, "--port", str(port),
                        "--server", stack])
    _wait_for_line(proc, "the minimal endpoint")
    return f"http://127.0.0.1:{port}", proc.pid


class Generator:
    """``procs`` load-generator processes sharing the stations out."""

    def __init__(self, procs: Processes, n: int, count: int, spec: dict[str, Any]):
        self.children = []
        ids = [f"{STATION_PREFIX}{i:03d}" for i in range(n)]
        for k in range(count):
            mine = ids[k::count]
            if not mine:
                continue
            child = procs.start([sys.executable, str(HERE / "bench_site_load.py")], stdin=True)
            assert child.stdin is not None
            child.stdin.write(json.dumps({**spec, "stations": mine, "n_total": n,
                                          "index": {sid: ids.index(sid) for sid in mine}}) + "\n")
            child.stdin.flush()
            self.children.append(child)
        self.modes = set()
        for child in self.children:
            self.modes.update(json.loads(_wait_for_line(child, "a load generator"))["modes"])

    def go(self, start: float) -> None:
        for child in self.children:
            assert child.stdin is not None
            child.stdin.write(json.dumps({"start": start}) + "\n")
            child.stdin.flush()

    def results(self) -> dict[str, Any]:
        merged: dict[str, Any] = {"ingest": [], "answered": {}, "arrivals": {}, "known": {}, "told": {}, "told_last": {},
                                  "follow_errors": 0}
        for child in self.children:
            part = json.loads(_wait_for_line(child, "a load generator"))
            merged["ingest"] += part["ingest"]
            merged["answered"].update(part["answered"])
            for order, times in part["arrivals"].items():
                merged["arrivals"].setdefault(order, []).extend(times)
            merged["known"].update(part["known"])
            merged["told"].update(part["told"])
            merged["told_last"].update(part["told_last"])
            merged["follow_errors"] += part["follow_errors"]
        return merged


class HealthSampler(threading.Thread):
    """The relay's worst lag, sampled every second while a row runs."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.http = DeadlineHTTP(base, deadline_s=5)
        self.stop = threading.Event()
        self.lag_max = 0.0
        self.depth_max = 0

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                relay = json.loads(self.http.request("GET", "/healthz").body)["relay"]
            except Exception:  # noqa: BLE001 - a missed sample
                continue
            self.lag_max = max(self.lag_max, relay.get("oldest_age_s") or 0.0)
            self.depth_max = max(self.depth_max, relay.get("depth") or 0)


def group_size(base: str) -> tuple[float, float] | None:
    """POSTs per write transaction and its mean ms so far, from the hub's /metrics (None: a hub without them)."""
    try:
        text = DeadlineHTTP(base, deadline_s=5).request("GET", "/metrics").body.decode()
    except Exception:  # noqa: BLE001 - a hub without /metrics
        return None
    found = dict(line.split()[:2] for line in text.splitlines()
                 if line.startswith(("packgate_hub_write_group_size_sum", "packgate_hub_write_group_size_count",
                                     "packgate_hub_write_group_seconds_sum")))
    count = float(found.get("packgate_hub_write_group_size_count", 0))
    if not count:
        return None
    return (float(found["packgate_hub_write_group_size_sum"]) / count,
            1000 * float(found.get("packgate_hub_write_group_seconds_sum", 0)) / count)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """``--set key=value`` pairs for the hub's site.toml (values as TOML/JSON: numbers, true/false, "strings"). Every
    simulated station connects from 127.0.0.1, so the hub's per-address connection cap is lifted by default."""
    out: dict[str, Any] = {"site.max_connections_per_client": 100_000}
    for pair in args.set or []:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def wms_count(wms: str) -> int:
    return int(json.loads(DeadlineHTTP(wms).request("GET", "/v1/admin/stats").body).get("confirmations", 0))


def run_load(procs: Processes, n: int, args: argparse.Namespace, tokens: dict[str, str], post: list[str],
             follow: list[str] | None, pids: list[int], *, wms: str | None = None, surge: dict[str, Any] | None = None,
             during: Any = None, pg: TempPostgres | None = None) -> dict[str, Any]:
    ids = [f"{STATION_PREFIX}{i:03d}" for i in range(n)]
    spec = {"tokens": tokens, "rate": args.rate, "seconds": args.seconds, "follow": "none" if follow is None else args.follow,
            "post_urls": {sid: post[i % len(post)] for i, sid in enumerate(ids)},
            "follow_urls": {sid: (follow or post)[(i + 1) % len(follow or post)] for i, sid in enumerate(ids)},
            "surge": surge, "linger_s": 1.0}
    gen = Generator(procs, n, args.procs, spec)
    sampler = HealthSampler(post[0]) if wms else None
    before_wms = wms_count(wms) if wms else 0
    load = load_average()
    cpu0 = sum(cpu_s(pid) for pid in pids)
    gen0 = sum(cpu_s(child.pid) for child in gen.children)
    db0 = database_cpu_s(pg)
    start = time.monotonic() + 0.5
    gen.go(start)
    if sampler is not None:
        sampler.start()
    if during is not None:
        during(start)
    time.sleep(max(0.0, start + args.seconds - time.monotonic()))
    after_wms = wms_count(wms) if wms else 0
    result = gen.results()
    groups = group_size(post[0]) if wms else None
    cpu1 = sum(cpu_s(pid) for pid in pids)
    gen1 = sum(cpu_s(child.pid) for child in gen.children)
    db1 = database_cpu_s(pg)
    elapsed = time.monotonic() - start
    memory = [memory_mb(pid) for pid in pids]
    if sampler is not None:
        sampler.stop.set()
    answered = [d - s for s, d, status in result["ingest"] if status == 200]
    propagation = [t - result["answered"][order] for order, times in result["arrivals"].items()
                   if order in result["answered"] for t in times]
    return {"n": n, "offered": int(n * args.rate * args.seconds), "answered": len(answered),
            "failed": len(result["ingest"]) - len(answered), "ingest": answered,
            "statuses": dict(Counter(status for _, _, status in result["ingest"] if status != 200)),
            "unsent": max(0, int(n * args.rate * args.seconds) - len(result["ingest"])),
            "ingest_p50": _pct(answered, 0.5), "ingest_p99": _pct(answered, 0.99),
            "prop_p50": _pct(propagation, 0.5), "prop_p99": _pct(propagation, 0.99), "prop_n": len(propagation),
            "relay_rate": (after_wms - before_wms) / args.seconds if wms else None,
            "lag_max": sampler.lag_max if sampler else None,
            "cpu_ms": 1000 * (cpu1 - cpu0) / max(1, len(answered)), "hub_cpu": (cpu1 - cpu0) / elapsed,
            "gen_cpu": (gen1 - gen0) / elapsed, "db_cpu": (db1 - db0) / elapsed,
            "rss": sum(m[0] for m in memory), "rss_peak": sum(m[1] for m in memory), "load": load,
            "modes": sorted(gen.modes), "follow_errors": result["follow_errors"], "raw": result, "start": start,
            "groups": groups}


def hub_row(store: str, n: int, args: argparse.Namespace, workdir: Path, pg: TempPostgres | None) -> dict[str, Any]:
    tokens = {f"{STATION_PREFIX}{i:03d}": f"bench-token-{i:03d}-xxxxxxxx" for i in range(n)}
    db = str(workdir / f"hub-{n}.db") if store == "sqlite" else pg.create_database(f"bench_{store}_{n}")  # type: ignore[union-attr]
    with Processes() as procs:
        wms = start_wms(procs, workdir, f"{store}-{n}")
        hubs = start_hubs(procs, workdir, db, wms, tokens, 2 if store == "pg2" else 1, settings(args))
        bases = [base for base, _ in hubs]
        return run_load(procs, n, args, tokens, bases, bases, [pid for _, pid in hubs], wms=wms,
                        pg=None if store == "sqlite" else pg)


def minimal_row(store: str, n: int, args: argparse.Namespace, workdir: Path, pg: TempPostgres | None) -> dict[str, Any]:
    tokens = {f"{STATION_PREFIX}{i:03d}": f"bench-token-{i:03d}-xxxxxxxx" for i in range(n)}
    db = str(workdir / f"min-{n}.db") if store == "sqlite" else pg.create_database(f"min_{store}_{n}")  # type: ignore[union-attr]
    with Processes() as procs:
        minimal = [start_minimal(procs, db) for _ in range(2 if store == "pg2" else 1)]  # as many as hubs
        return run_load(procs, n, args, tokens, [base for base, _ in minimal], None, [pid for _, pid in minimal],
                        pg=None if store == "sqlite" else pg)


class IdleConnections:
    """``count`` keep-alive connections that asked once and then say nothing (stations between two posts)."""

    def __init__(self, base: str, count: int):
        host, port = base.rsplit("//", 1)[1].split(":")
        self.socks = []
        for _ in range(count):
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            reply = b""
            while not reply.endswith(b"ok"):
                chunk = sock.recv(4096)
                if not chunk:
                    raise SystemExit("the server closed an idle keep-alive connection at once")
                reply += chunk
            self.socks.append(sock)

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


def server_row(stack: str, n: int, idle: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The minimal endpoint on ``stack`` with ``idle`` keep-alive connections held open beside the posting stations."""
    tokens = {f"{STATION_PREFIX}{i:03d}": f"bench-token-{i:03d}-xxxxxxxx" for i in range(n)}
    with Processes() as procs:
        base, pid = start_minimal(procs, str(workdir / f"srv-{stack}-{idle}.db"), stack)
        held = IdleConnections(base, idle)
        try:
            idle_cpu0 = cpu_s(pid)
            time.sleep(2.0)
            idle_cpu = (cpu_s(pid) - idle_cpu0) / 2.0
            row = run_load(procs, n, args, tokens, [base], None, [pid])
        finally:
            held.close()
    return {**row, "idle_cpu": idle_cpu}


def servers(args: argparse.Namespace, workdir: Path) -> None:
    print("server    idle conns  N    answered  ingest p50/p99 ms   CPU-ms/conf  CPU while idle  load", flush=True)
    for idle in (int(x) for x in args.idle.split(",")):
        for stack in ("waitress", "cheroot"):
            for n in (int(x) for x in args.stations.split(",")):
                r = server_row(stack, n, idle, args, workdir)
                print(f"{stack:9s} {idle:10d} {n:3d} {r['answered']:6d}/{r['offered']:<6d} {r['ingest_p50']:7.1f} /"
                      f" {r['ingest_p99']:7.1f}   {r['cpu_ms']:9.2f}   {100 * r['idle_cpu']:9.1f} %   {r['load']:4.1f}",
                      flush=True)


def raw_row(store: str, workdir: Path, pg: TempPostgres | None, seconds: float = 2.0) -> dict[str, Any]:
    """One-row INSERT + COMMIT in a loop for ``seconds``: latency and this process's CPU per commit."""
    body = "x" * 450  # a confirmation's frozen bytes are about this long
    if store == "sqlite":
        conn: Any = connect(workdir / "raw.db")
        conn.execute("CREATE TABLE IF NOT EXISTS raw (n INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        insert, begin = "INSERT INTO raw (body) VALUES (?)", "BEGIN IMMEDIATE"
    else:
        import psycopg

        assert pg is not None
        conn = psycopg.connect(pg.create_database(f"raw_{store}"), autocommit=True)
        conn.execute("CREATE TABLE IF NOT EXISTS raw (n BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)")
        insert, begin = "INSERT INTO raw (body) VALUES (%s)", "BEGIN"
    times = []
    cpu0 = time.process_time()
    load = load_average()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        conn.execute(begin)
        conn.execute(insert, (body,))
        conn.execute("COMMIT")
        times.append(time.monotonic() - t0)
    cpu = time.process_time() - cpu0
    conn.close()
    return {"n": len(times), "p50": _pct(times, 0.5), "p99": _pct(times, 0.99), "rate": len(times) / seconds,
            "cpu_ms": 1000 * cpu / len(times), "load": load}


HEADER = ("store   N  what     answered/offered  ingest p50/p99 ms   propagation p50/p99 ms  relay /s  lag max s"
          "  CPU-ms/conf  RSS MB  load")


def print_row(store: str, what: str, r: dict[str, Any]) -> None:
    relay = f"{r['relay_rate']:7.1f}" if r.get("relay_rate") is not None else "      -"
    lag = f"{r['lag_max']:8.1f}" if r.get("lag_max") is not None else "       -"
    prop = (f"{r['prop_p50']:8.1f} / {r['prop_p99']:7.1f}" if r["prop_n"] else "       - /       -")
    print(f"{store:6s} {r['n']:3d}  {what:7s} {r['answered']:7d} / {r['offered']:<7d}  {r['ingest_p50']:7.1f} / {r['ingest_p99']:7.1f}"
          f"   {prop}     {relay}  {lag}   {r['cpu_ms']:9.2f}  {r['rss']:6.0f}  {r['load']:4.1f}"
          f"  (CPU of one core: hub {100 * r['hub_cpu']:.0f} %, generator {100 * r['gen_cpu']:.0f} %"
          + (f", PostgreSQL {100 * r['db_cpu']:.0f} %)" if r.get("db_cpu") else ")")
          + (f"  (follow: {','.join(r['modes'])}; {r['follow_errors']} follower errors)" if r["prop_n"] else "")
          + (f"  {r['groups'][0]:.1f} POSTs per commit, {r['groups'][1]:.1f} ms each" if r.get("groups") else "")
          + (f"  [{r['failed']} failed: HTTP status {r['statuses']} (0: no answer)]" if r["failed"] else "")
          + (f"  [{r['unsent']} not sent: their station still waited for an answer a second after the run's end]" if r.get("unsent")
             else ""), flush=True)


def print_raw(store: str, r: dict[str, Any]) -> None:
    print(f"{store:6s}   -  raw      {r['n']:7d} commits in 2 s  {r['p50']:7.2f} / {r['p99']:7.2f}"
          f"   {'':40s} {r['cpu_ms']:9.2f}  {'':6s}  {r['load']:4.1f}", flush=True)


def surge(args: argparse.Namespace, workdir: Path, pg: TempPostgres | None) -> None:
    n, count = args.surge_stations, args.surge_orders
    store = args.stores.split(",")[0]
    tokens = {f"{STATION_PREFIX}{i:03d}": f"bench-token-{i:03d}-xxxxxxxx" for i in range(n)}
    db = str(workdir / "surge.db") if store == "sqlite" else pg.create_database(f"surge_{store}")  # type: ignore[union-attr]
    orders = [{"order_id": f"SURGE-{k:06d}", "tote": f"T-S{k:06d}", "status": "released", "priority": 0,
               "lines": [{"sku": "SKU-001", "qty": 1 + k % 3}, {"sku": "SKU-002", "qty": 1}]} for k in range(count)]
    released: dict[str, float] = {}
    args.seconds = args.surge_after + args.surge_wait  # the stations keep posting through the wave
    with Processes() as procs:
        wms = start_wms(procs, workdir, "surge")
        hubs = start_hubs(procs, workdir, db, wms, tokens, 2 if store == "pg2" else 1,
                          {"site.refresh_s": 1.0, **settings(args)})
        bases = [base for base, _ in hubs]
        pids = [pid for _, pid in hubs]
        rss_before = sum(memory_mb(pid)[0] for pid in pids)

        def release(start: float) -> None:
            time.sleep(max(0.0, start + args.surge_after - time.monotonic()))
            DeadlineHTTP(wms, deadline_s=120).request("POST", "/v1/admin/orders",
                                                      json.dumps({"items": orders}).encode(),
                                                      {"Content-Type": "application/json"})
            released["at"] = time.monotonic()

        r = run_load(procs, n, args, tokens, bases, bases, pids, wms=wms,
                     surge={"prefix": "SURGE-", "count": count}, during=lambda start: threading.Thread(
                         target=release, args=(start,), daemon=True).start())
    at = released.get("at")
    known = sorted(t - at for t in r["raw"]["known"].values()) if at else []
    wave = [d - s for s, d, status in r["raw"]["ingest"] if status == 200 and at and s >= at - 1
            and (not known or s <= at + known[-1])]
    print(f"surge on {store}: {count} orders released to {n} stations (posting {args.rate:g}/s each, following the feed)")
    told = sorted(t - at for t in r["raw"]["told"].values()) if at else []
    told_last = sorted(t - at for t in r["raw"]["told_last"].values()) if at else []
    print(f"  stations that know every order: {len(known)} of {n}; time to know p50 {_pct(known, 0.5) / 1000:.2f} s,"
          f" last {known[-1] if known else float('nan'):.2f} s after the release (the feed told them of new reference"
          f" data after {told[0] if told else float('nan'):.2f} s, of the last of it after"
          f" {told_last[0] if told_last else float('nan'):.2f} s)")
    print(f"  CPU of one core during the run: hub {100 * r['hub_cpu']:.0f} %, load generator {100 * r['gen_cpu']:.0f} %")
    print(f"  ingest during the wave: {len(wave)} answered, p50 {_pct(wave, 0.5):.1f} ms, p99 {_pct(wave, 0.99):.1f} ms;"
          f" whole run {r['answered']} of {r['offered']} answered")
    print(f"  hub RSS {rss_before:.0f} MB before, {r['rss']:.0f} MB after, peak {r['rss_peak']:.0f} MB;"
          f" hub CPU {r['cpu_ms']:.2f} ms per confirmation; load {r['load']:.1f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", default="10,100,200", help="N values, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per row")
    parser.add_argument("--rate", type=float, default=2.0, help="confirmations per second per station")
    parser.add_argument("--stores", default="sqlite,pg1,pg2", help="sqlite, pg1 (one hub), pg2 (two hubs)")
    parser.add_argument("--what", default="hub,minimal,raw", help="rows per store: hub, minimal, raw")
    parser.add_argument("--procs", type=int, default=4, help="load-generator processes")
    parser.add_argument("--follow", default="auto", choices=("auto", "stream", "poll", "none"),
                        help="how stations follow the feed (auto: the stream where the hub has one; none: they do not)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="a site.toml setting for the hubs, e.g. --set feed.seal_s=0.25 (repeatable)")
    parser.add_argument("--surge", action="store_true", help="the surge drill instead of the table")
    parser.add_argument("--servers", action="store_true",
                        help="the minimal endpoint on waitress and on cheroot with --idle keep-alive connections held")
    parser.add_argument("--idle", default="0,400", help="idle keep-alive connections held open (--servers)")
    parser.add_argument("--surge-stations", type=int, default=100)
    parser.add_argument("--surge-orders", type=int, default=20000)
    parser.add_argument("--surge-after", type=float, default=3.0, help="seconds of normal load before the release")
    parser.add_argument("--surge-wait", type=float, default=30.0, help="seconds the stations get to learn the surge")
    args = parser.parse_args(argv)
    stores = args.stores.split(",")[:1] if args.surge else [] if args.servers else args.stores.split(",")
    what = args.what.split(",")
    pg = TempPostgres(durable=True, max_connections=300).start() if any(s.startswith("pg") for s in stores) else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.surge:
                surge(args, Path(tmp), pg)
                return 0
            if args.servers:
                servers(args, Path(tmp))
                return 0
            print(HEADER, flush=True)
            for store in stores:
                if "raw" in what:
                    print_raw(store, raw_row(store, Path(tmp), pg))
                for n in (int(x) for x in args.stations.split(",")):
                    if "minimal" in what:
                        print_row(store, "minimal", minimal_row(store, n, args, Path(tmp), pg))
                    if "hub" in what:
                        print_row(store, "hub", hub_row(store, n, args, Path(tmp), pg))
    finally:
        if pg is not None:
            pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
