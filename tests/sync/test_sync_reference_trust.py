"""Reference data is never resolved silently: clashes are refused and listed, a page that does not move its
cursor is an error (not a loop), refused rows are counted, old rows are pruned, and a huge page is written in
chunks so the station's own writes never wait for its whole transaction."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from packgate.device.clock import FakeClock
from packgate.sync.client import UpstreamClient
from packgate.sync.common.db import connect
from packgate.sync.reference import ReferenceCache
from packgate.sync.upstream.demo_data import DEMO_BADGES


class Pages:
    """A real HTTP upstream answering /v1/reference with crafted pages (what a buggy WMS sends)."""

    def __init__(self, pages):
        self.pages, self.calls = pages, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                since = parse_qs(urlsplit(self.path).query).get("since", ["0"])[0]
                outer.calls += 1
                body = json.dumps(outer.pages(since)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.client = UpstreamClient(f"http://127.0.0.1:{self.server.server_address[1]}", deadline_s=5)

    def close(self):
        self.client.close()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def crafted():
    made = []

    def make(pages):
        made.append(Pages(pages))
        return made[-1]
    yield make
    for p in made:
        p.close()


def test_two_employees_with_one_badge_are_refused_and_listed(station_db, client):
    cache = ReferenceCache(station_db, client, FakeClock())
    cache.refresh()
    client.admin("employees", [{"employee_id": "E099", "name": "New Boss", "badge_uid": DEMO_BADGES["packer"].lower(),
                                "role": "supervisor"}])
    result = cache.refresh()
    assert result["ok"] and result["rejected"] == 1
    assert cache.employee_by_badge(DEMO_BADGES["packer"]) is None  # never the packer, never the "supervisor"
    assert "E001 and E099" in cache.ambiguity("badge", DEMO_BADGES["packer"])
    problems = cache.problems()
    assert problems["ambiguous"][0]["kind"] == "badge" and problems["rejected"][0]["key"] == "E099"
    assert cache.status()["rejected"] == 1 and cache.status()["ambiguous"] == 1


def test_two_open_orders_on_one_tote_are_ambiguous(station_db, client):
    cache = ReferenceCache(station_db, client, FakeClock())
    cache.refresh()
    tote = cache.get_order("SO-10001")["tote"]
    client.admin("orders", [{"order_id": "SO-00001", "tote": tote, "status": "open", "lines": [{"sku": "SKU-001", "qty": 1}]}])
    cache.refresh()
    assert cache.order_by_tote(tote) is None
    assert "SO-00001 and SO-10001" in cache.ambiguity("tote", tote)


def test_the_same_order_twice_in_a_page_is_refused(station_db, crafted):
    order = {"order_id": "SO-1", "tote": "T-1", "status": "open", "lines": []}
    up = crafted(lambda since: {"orders": [order, {**order, "tote": "T-2"}], "cursor": "5", "more": False})
    cache = ReferenceCache(station_db, up.client, FakeClock())
    result = cache.refresh()
    assert result["rejected"] == 1 and cache.get_order("SO-1") is None
    assert "appears 2 times" in cache.ambiguity("order", "SO-1")


def test_a_page_that_does_not_move_its_cursor_is_an_error_not_a_loop(station_db, crafted):
    up = crafted(lambda since: {"orders": [], "cursor": "7", "more": True})
    cache = ReferenceCache(station_db, up.client, FakeClock())
    first = cache.refresh()  # 0 -> 7 is progress
    assert not first["ok"] and "did not move" in first["error"] and up.calls == 2
    assert cache.status()["cursor"] == "7"


def test_a_null_cursor_is_an_error_and_never_stored_as_text(station_db, crafted):
    up = crafted(lambda since: {"orders": [], "cursor": None, "more": False})
    cache = ReferenceCache(station_db, up.client, FakeClock())
    result = cache.refresh()
    assert not result["ok"] and "cursor" in result["error"]
    assert cache.status()["cursor"] is None


def test_a_row_without_its_key_is_refused_and_counted(station_db, crafted):
    up = crafted(lambda since: {"skus": [{"name": "no sku code"}, {"sku": "S-1", "name": "ok"}], "cursor": "3",
                                "more": False})
    cache = ReferenceCache(station_db, up.client, FakeClock())
    result = cache.refresh()
    assert result["ok"] and result["rejected"] == 1 and cache.get_sku("S-1") is not None
    assert cache.status()["rejected"] == 1 and "without sku" in cache.problems()["rejected"][0]["reason"]


def test_closed_orders_not_updated_for_two_weeks_are_pruned(station_db, crafted):
    clock = FakeClock()
    old = (clock.now().replace(year=clock.now().year - 1)).isoformat()
    up = crafted(lambda since: {"orders": [{"order_id": "SO-OLD", "status": "packed", "updated_at": old, "lines": []},
                                           {"order_id": "SO-NEW", "status": "open", "updated_at": old, "lines": []}],
                                "cursor": "9", "more": False})
    cache = ReferenceCache(station_db, up.client, clock)
    cache.refresh()
    assert cache.get_order("SO-OLD") is None and cache.get_order("SO-NEW") is not None


def test_a_huge_page_is_written_in_chunks(station_db, crafted):
    orders = [{"order_id": f"SO-{i:06d}", "tote": f"T-{i}", "status": "open", "lines": []} for i in range(5000)]
    up = crafted(lambda since: {"orders": orders, "cursor": "11", "more": False})
    commits = []

    def traced():
        conn = connect(station_db)
        conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        return conn

    cache = ReferenceCache(traced, up.client, FakeClock())
    assert cache.refresh()["ok"]
    assert len(commits) >= 5 and len(cache.list_orders()) == 5000
