"""One load-generator process of ``scripts/bench-site``: simulated stations that post confirmations and follow the feed.

``bench_site.py`` starts several of these (the generator must not share a process, and so a GIL, with what it
measures). The spec arrives as one JSON line on stdin; the process connects every follower, prints ``ready``,
waits for ``go`` and runs for ``seconds``, then prints one JSON line of raw timings and exits. Times are
``time.monotonic()`` seconds, which on Linux is one clock for every process of the machine, so the parent can
match a POST answered here with the same change arriving at a follower of another process.

A station posts one ``pick`` of an order of its own every ``1/rate`` s (one order-stage change on the feed
each), waiting for the answer before the next one (a station sends in order; behind its schedule it sends at
once, and it stops at the end of the run, so a slow hub is offered fewer than it was due); its follower reads the feed as a
stream (``/v1/feed/stream``, server-sent events) or, on a hub without streams or with ``follow = "poll"``, by
long-polling ``/v1/feed``. A streamed batch's order-stage changes are found in its bytes (one regular expression:
the hub writes every change's keys in one order) rather than parsed into dicts, and so are the orders a reference
page names in the surge: the generator plays 100-200 stations on the hub's own two cores, and what it measures is
the hub (parsing 20,000 orders on each of 100 stations cost the generator three times the hub's CPU). With
``surge`` set, a ``reference`` change on the feed makes the station pull ``/v1/reference`` from its cursor to the
end, as the agent's refresher does, and it notes when it has seen every order of the surge.
"""
from __future__ import annotations

import http.client
import json
import re
import sys
import threading
import time
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from packgate.device.clock import isoformat
from packgate.sync.common.ids import make_id
from packgate.sync.common.jsonbytes import dumps

POST_DEADLINE_S = 10.0
ORDER_STAGE = re.compile(rb'"kind":"order_stage","subject":"([^"\\]*)"')
PAGE_END = re.compile(rb'"cursor":"(\d+)","more":(true|false)}$')
CURSOR = re.compile(rb'"cursor":"(\d+)","head":"\d+"}$')


def _conn(base: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)


class Station:
    def __init__(self, spec: dict[str, Any], sid: str, index: int, out: "Results"):
        self.spec, self.sid, self.index, self.out = spec, sid, index, out
        self.token = spec["tokens"][sid]
        self.stop = threading.Event()
        self.follow_conn: http.client.HTTPConnection | None = None
        self.ref_wanted = threading.Event()
        self.ref_cursor = "0"
        self.surge_seen: set[str] = set()

    # ---- posting ---------------------------------------------------------------------------------
    def post_loop(self, start: float) -> None:
        rate, n = self.spec["rate"], self.spec["n_total"]
        end = start + self.spec["seconds"]
        conn = _conn(self.spec["post_urls"][self.sid], POST_DEADLINE_S)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        seq, next_at = 0, start + (self.index / n) / rate
        while True:
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if next_at >= end or time.monotonic() >= end + self.spec.get("linger_s", 1.0):  # a slot more than linger_s late
                break  # at the end (the station waiting for an answer) is not sent: not answered
            next_at += 1 / rate
            seq += 1
            order = f"SO-{self.sid}-{seq}"
            conf = {"id": make_id(self.sid, date(2026, 1, 5), seq), "key": f"{self.sid}-{seq}", "station": self.sid,
                    "seq": seq, "action": "pick", "object_type": "order", "object_id": order, "operator": "E004",
                    "device": None, "location": self.sid, "at": isoformat(datetime.now(timezone.utc)),
                    "payload": {"sku": "SKU-001", "qty": 1}, "image_sha256": None}
            body = b'{"station":' + json.dumps(self.sid).encode() + b',"confirmations":[' + dumps(conf) + b"]}"
            started = time.monotonic()
            try:
                conn.request("POST", "/v1/confirmations", body, headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                status = 0
            done = time.monotonic()
            self.out.posted(order, started, done, status)
        conn.close()

    # ---- following -------------------------------------------------------------------------------
    def head(self, base: str) -> str:
        conn = _conn(base, 10)
        conn.request("GET", "/v1/feed?since=0&wait=0&limit=1", headers={"Authorization": f"Bearer {self.token}"})
        resp = conn.getresponse()
        data = json.loads(resp.read())
        conn.close()
        return str(data["head"])

    def connect_follower(self) -> None:
        """Open the stream now (before ``go``): a follower that is not connected would miss no change, but its
        first answer would carry every change since its cursor at once."""
        base = self.spec["follow_urls"][self.sid]
        self.cursor = self.head(base)
        self.mode = self.spec["follow"]
        if self.mode in ("stream", "auto"):
            self.mode = "stream" if self._open_stream(base) else "poll"

    def _open_stream(self, base: str) -> bool:
        conn = _conn(base, 60)
        conn.request("GET", f"/v1/feed/stream?since={self.cursor}",
                     headers={"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"})
        resp = conn.getresponse()
        if resp.status != 200:
            resp.read()
            conn.close()
            return False
        self.follow_conn, self.stream = conn, resp
        return True

    def follow_loop(self) -> None:
        base = self.spec["follow_urls"][self.sid]
        while not self.stop.is_set():
            try:
                if self.mode == "stream":
                    if self.follow_conn is None and not self._open_stream(base):
                        raise OSError("stream refused")
                    self._read_stream()
                else:
                    self._poll(base)
            except (OSError, http.client.HTTPException, ValueError):
                if self.follow_conn is not None:
                    self.follow_conn.close()
                    self.follow_conn = None
                if not self.stop.is_set():
                    self.out.follow_error()
                    time.sleep(0.2)

    def _read_stream(self) -> None:
        data: list[bytes] = []
        while not self.stop.is_set():
            line = self.stream.readline()
            if not line:
                raise OSError("stream ended")
            line = line.rstrip(b"\r\n")
            if line:
                if line.startswith(b"data:"):
                    data.append(line[5:].lstrip(b" "))
                continue
            if data:
                self._frame(b"\n".join(data), time.monotonic())
                data = []

    def _poll(self, base: str) -> None:
        conn = self.follow_conn = _conn(base, 30)
        while not self.stop.is_set():
            conn.request("GET", f"/v1/feed?since={self.cursor}&wait=5&limit=5000",
                         headers={"Authorization": f"Bearer {self.token}"})
            resp = conn.getresponse()
            body = resp.read()
            self._batch(json.loads(body), time.monotonic())

    def _frame(self, body: bytes, now: float) -> None:
        """One server-sent batch: its order-stage changes found in the bytes (the hub writes every change's keys in
        one order: seq, at, kind, subject, data), so the 200 followers of a run do not build every change's dicts."""
        self.out.arrived_many([m.decode() for m in ORDER_STAGE.findall(body)], now)
        if self.spec.get("surge") and b'"kind":"reference"' in body:
            self.out.told(self.sid, now)
            self.ref_wanted.set()
        cursor = CURSOR.search(body[-64:])
        if cursor is not None:
            self.cursor = cursor.group(1).decode()

    def _batch(self, data: dict[str, Any], now: float) -> None:
        events = data.get("events") or []
        for event in events:
            if event["kind"] == "order_stage":
                self.out.arrived(event["subject"], now)
            elif event["kind"] == "reference" and self.spec.get("surge"):
                self.out.told(self.sid, now)
                self.ref_wanted.set()
        self.cursor = str(data.get("cursor", self.cursor))

    # ---- reference (the surge) -------------------------------------------------------------------
    def reference_loop(self) -> None:
        surge = self.spec["surge"]
        base = self.spec["follow_urls"][self.sid]
        conn = _conn(base, 60)
        while not self.stop.is_set():
            if not self.ref_wanted.wait(0.2):
                continue
            self.ref_wanted.clear()
            more = True
            while more and not self.stop.is_set():
                try:
                    conn.request("GET", f"/v1/reference?since={self.ref_cursor}",
                                 headers={"Authorization": f"Bearer {self.token}"})
                    page = conn.getresponse().read()
                    end = PAGE_END.search(page[-64:])
                    if end is None:
                        raise ValueError("not a reference page")
                except (OSError, http.client.HTTPException, ValueError):
                    conn.close()
                    self.out.follow_error()
                    time.sleep(0.2)
                    continue
                self.surge_seen.update(found.decode() for found in re.findall(
                    b'"order_id":"(' + re.escape(surge["prefix"].encode()) + b'[^"]*)"', page))
                self.ref_cursor, more = end.group(1).decode(), end.group(2) == b"true"
            if len(self.surge_seen) >= surge["count"]:
                self.out.knew(self.sid, time.monotonic())
                return
        conn.close()

    def close(self) -> None:
        self.stop.set()
        conn = self.follow_conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(2)
            except OSError:
                pass


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ingest: list[tuple[float, float, int]] = []  # (started, answered, status)
        self.answered: dict[str, float] = {}
        self.arrivals: dict[str, list[float]] = {}
        self.known: dict[str, float] = {}
        self.first_told: dict[str, float] = {}
        self.last_told: dict[str, float] = {}
        self.follow_errors = 0

    def posted(self, order: str, started: float, done: float, status: int) -> None:
        with self.lock:
            self.ingest.append((started, done, status))
            if status == 200:
                self.answered[order] = done

    def arrived(self, order: str, now: float) -> None:
        with self.lock:
            self.arrivals.setdefault(order, []).append(now)

    def arrived_many(self, orders: list[str], now: float) -> None:
        with self.lock:
            for order in orders:
                self.arrivals.setdefault(order, []).append(now)

    def told(self, sid: str, now: float) -> None:
        with self.lock:
            self.first_told.setdefault(sid, now)
            self.last_told[sid] = now

    def knew(self, sid: str, now: float) -> None:
        with self.lock:
            self.known[sid] = now

    def follow_error(self) -> None:
        with self.lock:
            self.follow_errors += 1

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {"ingest": [[round(s, 5), round(d, 5), st] for s, d, st in self.ingest],
                    "answered": {k: round(v, 5) for k, v in self.answered.items()},
                    "arrivals": {k: [round(t, 5) for t in v] for k, v in self.arrivals.items()},
                    "known": self.known, "told": self.first_told, "told_last": self.last_told, "follow_errors": self.follow_errors}


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    out = Results()
    stations = [Station(spec, sid, spec["index"][sid], out) for sid in spec["stations"]]
    following = spec["follow"] != "none"
    if following:
        for station in stations:
            station.connect_follower()
    threads = []
    if following:
        threads += [threading.Thread(target=s.follow_loop, daemon=True) for s in stations]
    if spec.get("surge"):
        threads += [threading.Thread(target=s.reference_loop, daemon=True) for s in stations]
    for thread in threads:
        thread.start()
    modes = sorted({getattr(s, "mode", "none") for s in stations})
    print(json.dumps({"ready": True, "modes": modes}), flush=True)
    go = json.loads(sys.stdin.readline())
    start = float(go["start"])
    posters = [threading.Thread(target=s.post_loop, args=(start,), daemon=True) for s in stations]
    for thread in posters:
        thread.start()
    for thread in posters:
        thread.join(spec["seconds"] + POST_DEADLINE_S + 5)
    linger = start + spec["seconds"] + spec.get("linger_s", 1.0) - time.monotonic()
    if linger > 0:
        time.sleep(linger)  # the last changes still reach the followers
    for station in stations:
        station.close()
    print(json.dumps(out.as_json()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
