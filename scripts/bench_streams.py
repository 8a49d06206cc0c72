"""Many open pages: the station agent (cheroot, a real Station, a seeded reference upstream) runs in its own
process; this process holds the event streams and times the actions.

* for 0, 20 and 100 open ``/api/v1/events`` streams: ``--requests`` actions (a badge tap each, which pushes the
  new state to every stream), requests/s and latency p50/p99;
* a closed stream: time until the agent's server has freed it (its open-stream count drops);
* the agent's RSS and open file descriptors before and after ``--duration`` s of mixed load (4 clients doing
  actions, state and health reads while 20 streams stay open and 10 more open and close all the time).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests

TOKEN = "bench-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BADGE = "04A1B2C3D4E5F6"


def serve() -> None:
    from packgate.station.runtime.agent import Agent
    from packgate.station.runtime.config import validate
    from packgate.sync.upstream.server import start_in_thread

    root = tempfile.mkdtemp(prefix="bench-streams-")
    up, _stop = start_in_thread("127.0.0.1", 0, os.path.join(root, "up.db"), seed_demo=True)
    cfg = validate({"station.data_dir": os.path.join(root, "st"), "upstream.url": up, "web.api_tokens": [TOKEN],
                    "scale.enabled": False, "scanner.enabled": False, "badge.enabled": False})
    agent = Agent(cfg, port=0, start_devices=False).start()
    print(agent.url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    agent.stop()


class Stream:
    """One page's event stream over a raw socket (as light as a browser's EventSource)."""

    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.bytes = 0
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while not self.closed:
                data = self.sock.recv(65536)
                if not data:
                    return
                self.bytes += len(data)
        except OSError:
            return

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def proc(pid: int) -> tuple[float, int]:
    with open(f"/proc/{pid}/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def streams_open(http: requests.Session, url: str) -> int:
    for line in http.get(f"{url}/metrics", headers=AUTH, timeout=5).text.splitlines():
        if line.startswith("packgate_event_streams"):
            return int(float(line.rsplit(" ", 1)[1]))
    raise SystemExit("the agent's /metrics has no packgate_event_streams")


def act(http: requests.Session, url: str) -> float:
    started = time.perf_counter()
    r = http.post(f"{url}/api/v1/actions", json={"action": "badge", "object_id": BADGE, "key": uuid.uuid4().hex},
                  headers=AUTH, timeout=10)
    elapsed = time.perf_counter() - started
    assert r.status_code == 200 and r.json()["code"] in ("signed_in", "signed_out"), r.text[:200]
    return elapsed


def wait_streams(http: requests.Session, url: str, n: int, timeout: float = 20.0) -> float:
    started = time.monotonic()
    while streams_open(http, url) != n:
        if time.monotonic() - started > timeout:
            raise SystemExit(f"expected {n} open streams, the agent has {streams_open(http, url)}")
        time.sleep(0.02)
    return time.monotonic() - started


def main() -> None:
    p = argparse.ArgumentParser(prog="scripts/bench-streams")
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve:
        return serve()
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()
        host, port = url.split("//", 1)[1].split(":")
        http = requests.Session()
        for _ in range(20):
            act(http, url)  # warm up
        print(f"agent pid {child.pid} at {url}; {a.requests} badge actions per row (each pushes state to every stream)")
        print(f"{'streams':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for n in (0, 20, 100):
            streams = [Stream(host, int(port)) for _ in range(n)]
            wait_streams(http, url, n)
            times = [act(http, url) for _ in range(a.requests)]
            total = sum(times)
            q = statistics.quantiles(times, n=100)
            print(f"{n:>8} {a.requests / total:>8.0f} {q[49] * 1000:>8.1f} {q[98] * 1000:>8.1f}")
            for s in streams:
                s.close()
            wait_streams(http, url, 0)
        frees = []
        for _ in range(10):
            s = Stream(host, int(port))
            wait_streams(http, url, 1)
            s.close()
            frees.append(wait_streams(http, url, 0))
        print(f"closed stream freed within: max {max(frees) * 1000:.0f} ms, median {statistics.median(frees) * 1000:.0f} ms "
              f"(10 closes)")

        rss0, fds0 = proc(child.pid)
        stop = threading.Event()
        done = {"actions": 0, "reads": 0, "churn": 0}
        steady = [Stream(host, int(port)) for _ in range(20)]

        def client() -> None:
            s = requests.Session()
            while not stop.is_set():
                act(s, url)
                done["actions"] += 1
                assert s.get(f"{url}/api/v1/state", headers=AUTH, timeout=10).status_code == 200
                s.get(f"{url}/healthz", timeout=10)
                done["reads"] += 2

        def churn() -> None:
            while not stop.is_set():
                batch = [Stream(host, int(port)) for _ in range(10)]
                time.sleep(0.5)
                for s in batch:
                    s.close()
                done["churn"] += 10

        workers = [threading.Thread(target=client, daemon=True) for _ in range(4)] + [threading.Thread(target=churn, daemon=True)]
        for w in workers:
            w.start()
        time.sleep(a.duration)
        stop.set()
        for w in workers:
            w.join(15)
        for s in steady:
            s.close()
        wait_streams(http, url, 0)
        time.sleep(1)
        rss1, fds1 = proc(child.pid)
        print(f"mixed load {a.duration:.0f} s: {done['actions']} actions, {done['reads']} reads, {done['churn']} streams "
              f"opened and closed, 20 held open")
        print(f"agent RSS {rss0:.1f} MiB -> {rss1:.1f} MiB; open fds {fds0} -> {fds1}")
    finally:
        child.stdin.close()
        child.wait(20)


if __name__ == "__main__":
    main()
