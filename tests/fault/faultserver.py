"""A scripted fault upstream on stdlib ``ThreadingHTTPServer`` with a real dedupe table.

Each POST /v1/confirmations takes the next step of ``schedule`` (then ``"ok"`` forever):

- ``"ok"``                 apply the batch (dedupe in a transaction), answer 200
- ``503`` / ``(429, {"Retry-After": "2"})``  answer that status without applying
- ``"commit_then_500"``    apply, then answer 500 (the effect happened, the answer says failure)
- ``"garbage"``            apply, answer 200 with a body that is not JSON
- ``"truncated"``          apply, promise Content-Length N, send N/2 bytes and close
- ``"reject_400"``         answer 400 to the whole request
- ``"reordered"``          apply, answer the batches of ``/v1/confirmations/batches`` in reverse order

Every request body is recorded (``bodies``) so tests can check that retries are byte-identical. Without ``batches`` it
is a WMS of the contract's first version: any other POST (``/v1/confirmations/batches``) is a 404, recorded in
``unknown``; with it, that call takes the steps too.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from packgate.sync.client import BATCHES
from packgate.sync.common.db import connect, write_tx
from packgate.sync.upstream import store as store


class FaultUpstream:
    def __init__(self, schedule=(), *, batches: bool = False):
        self.schedule = list(schedule)
        self.paths = {"/v1/confirmations", BATCHES} if batches else {"/v1/confirmations"}
        self.bodies: list[bytes] = []
        self.steps: list[object] = []
        self.unknown: list[str] = []
        self._lock = threading.Lock()
        self.conn = connect(":memory:", check_same_thread=False)
        store.ensure_schema(self.conn)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FaultUpstream":
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def stats(self) -> dict:
        with self._lock:
            return store.stats(self.conn)

    def effects(self) -> dict[str, int]:
        with self._lock:
            rows = self.conn.execute("SELECT id FROM up_confirmations").fetchall()
        return {row[0]: 1 for row in rows}

    def apply(self, body: bytes, path: str = "/v1/confirmations", reordered: bool = False) -> bytes:
        envelope = json.loads(body)
        batches = envelope["batches"] if path == BATCHES else [envelope]
        with self._lock, write_tx(self.conn):
            answers = store.receive_many(self.conn, [(b["station"], b["confirmations"]) for b in batches],
                                         datetime.now(timezone.utc), strict_orders=False)
        if path != BATCHES:
            return json.dumps({"results": answers[0]}).encode()
        out = [{"station": b["station"], "results": results} for b, results in zip(batches, answers, strict=True)]
        return json.dumps({"batches": out[::-1] if reordered else out}).encode()

    def _next(self) -> object:
        with self._lock:
            step = self.schedule.pop(0) if self.schedule else "ok"
            self.steps.append(step)
            return step

    def _handler(self):
        fault = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes, headers: dict | None = None, cut: int | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body if cut is None else body[:cut])
                self.wfile.flush()
                if cut is not None:
                    self.close_connection = True

            def do_GET(self):
                self._send(200, json.dumps({"ok": True}).encode())

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path not in fault.paths:
                    fault.unknown.append(self.path)
                    self._send(404, b'{"error": "not found"}')
                    return
                fault.bodies.append(body)
                step = fault._next()
                if isinstance(step, tuple):
                    self._send(step[0], b'{"error": "scripted"}', step[1])
                elif isinstance(step, int):
                    self._send(step, b'{"error": "scripted"}')
                elif step == "reject_400":
                    self._send(400, b'{"error": "scripted permanent refusal"}')
                elif step == "commit_then_500":
                    fault.apply(body, self.path)
                    self._send(500, b'{"error": "internal"}')
                elif step == "garbage":
                    fault.apply(body, self.path)
                    self._send(200, b'{"results": [{"id": "ST01-\x00\xff garbage')
                elif step == "truncated":
                    answer = fault.apply(body, self.path)
                    self._send(200, answer, cut=len(answer) // 2)
                else:
                    self._send(200, fault.apply(body, self.path, reordered=step == "reordered"))

        return Handler


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)
