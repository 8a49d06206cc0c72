"""A busy server leaves Python's cycle collector little to do: a request through the gated server is freed as it
ends (no reference cycle holds it), and ``settle()`` sets start-up's objects aside and collects the young
generation less often."""
from __future__ import annotations

import gc
import http.client
import json
import subprocess
import sys
import textwrap
from typing import Any, Callable, Iterable

from cheroot.server import HTTPRequest

from packgate.sync.common.collector import YOUNG
from packgate.sync.common.webserver import GatedServer, serve_in_thread


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def test_a_request_is_freed_when_it_ends_not_by_the_cycle_collector():
    server = GatedServer(("127.0.0.1", 0), app, numthreads=2)
    stop = serve_in_thread(server, name="collector-test")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

    def post(k: int) -> None:
        conn.request("POST", "/", body=b"request %d" % k)
        answer = conn.getresponse()
        assert answer.status == 200 and answer.read() == b"request %d" % k

    try:
        post(0)
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage, to be looked at
        try:
            for k in range(1, 51):
                post(k)
            conn.close()
            gc.collect()
            found = list(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    finally:
        stop()
    held = [type(o).__name__ for o in found
            if isinstance(o, HTTPRequest) or (isinstance(o, dict) and "wsgi.input" in o)
            or type(o).__name__.endswith("Gateway")]
    assert held == []


def test_settle_freezes_what_start_up_built_and_collects_the_young_less_often():
    script = textwrap.dedent("""
        import gc, json
        from packgate.sync.common.collector import settle
        before = gc.get_threshold()
        settle()
        print(json.dumps({"frozen": gc.get_freeze_count(), "before": before, "after": gc.get_threshold()}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(out.stdout)
    assert seen["frozen"] > 1000  # the interpreter's and packgate's modules
    assert seen["after"] == [YOUNG, *seen["before"][1:]] and YOUNG > seen["before"][0]
