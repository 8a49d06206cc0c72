"""The live dashboard's JSON (``/api/dashboard/summary``, ``/orders``, ``/counts``, ``/orders/<id>``) and its event
stream, over real HTTP against a real hub and the reference WMS, on SQLite and PostgreSQL: the open orders from the
WMS's release to the dock with names, ages and SLA colours, filtered, paged and counted; the backlog; today's
totals; stage times; parcels per hour; pass rates; stations; an order's timeline; a change on the stream within a
second; only for a signed-in supervisor; and Schemathesis over these operations with a supervisor's session."""
from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest
import requests
import schemathesis
from hubkit import TOKENS, dashboard_sign_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from packgate.sync.client import UpstreamClient
from packgate.sync.hub import dashboard
from packgate.sync.hub.openapi import openapi_document
from packgate.sync.hub_client import SiteClient

SUPERVISOR = ("04D2E8F1A2B390", "9876")
WMS_ORDERS = 20  # the reference WMS's demo orders


@pytest.fixture
def http(site) -> Iterator[requests.Session]:
    session = requests.Session()
    assert dashboard_sign_in(session, site.url, *SUPERVISOR).status_code == 303
    yield session
    session.close()


def get(http: requests.Session, site: Any, path: str, **params: Any) -> Any:
    resp = http.get(site.url + path, params=params, timeout=15)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.parametrize("path", ["/api/dashboard/summary", "/api/dashboard/orders", "/api/dashboard/counts",
                                  "/api/dashboard/orders/SO-10012", "/api/dashboard/stream", "/api/dashboard"])
def test_only_a_signed_in_supervisor_reads_the_floor(site, path):
    resp = requests.get(site.url + path, timeout=5)
    assert resp.status_code == 401 and resp.json()["error"] == "sign in first"
    resp = requests.get(site.url + path, headers={"Authorization": f"Bearer {TOKENS['ST01']}"}, timeout=5)
    assert resp.status_code == 401


def test_every_wms_order_nobody_started_is_in_the_backlog_and_moves_with_the_floor(site, clock, http):
    counts = get(http, site, "/api/dashboard/counts")
    stages = {s["stage"]: s for s in counts["stages"]}
    assert stages["backlog"]["total"] == WMS_ORDERS == counts["total"]
    summary = get(http, site, "/api/dashboard/summary")
    assert summary["backlog"]["count"] == WMS_ORDERS and summary["backlog"]["oldest_order"]
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    clock.advance(7 * 60)
    [order] = get(http, site, "/api/dashboard/orders", stage="picked")["orders"]
    assert order["order_id"] == "SO-10012" and order["table"] == "Packing table 1" and order["person"] == "Zhang Min"
    assert order["stage_name"] == "Picked" and order["carrier"] == "YTO"
    assert order["age_s"] == 420 and order["age"] == "7 min" and order["sla"] == "green"
    clock.advance(2 * 60)  # 9 min: past picked's amber (8)
    assert get(http, site, "/api/dashboard/orders", stage="picked")["orders"][0]["sla"] == "amber"
    zh = get(http, site, "/api/dashboard/orders", stage="picked", lang="zh")["orders"][0]
    assert zh["age"] == "9 分钟" and zh["stage_name"] == "已拣货"
    backlog = get(http, site, "/api/dashboard/counts")["stages"][0]
    assert backlog["stage"] == "backlog" and backlog["total"] == WMS_ORDERS - 1


def test_filters_paging_and_counts(site, clock, http):
    a, b = site.station("ST01"), site.station("ST02")
    a.pick("SO-10012", "T-0012")
    a.confirm("weigh", "order", "SO-10013", {"result": "fail"})
    b.pick("SO-10014", "T-0014")
    b.pack("SO-10014")
    a.push()
    b.push()
    page = get(http, site, "/api/dashboard/orders", per_page=5)
    assert page["total"] == WMS_ORDERS and page["pages"] == 4 and len(page["orders"]) == 5
    everything = [o for n in range(1, 5) for o in get(http, site, "/api/dashboard/orders", per_page=5, page=n)["orders"]]
    assert len({o["order_id"] for o in everything}) == WMS_ORDERS
    order = ["backlog", "picking", "picked", "packing", "weighed", "blocked", "packed"]
    assert [order.index(o["stage"]) for o in everything] == sorted(order.index(o["stage"]) for o in everything)
    assert {o["order_id"] for o in get(http, site, "/api/dashboard/orders", table="ST01")["orders"]} == {"SO-10012", "SO-10013"}
    assert {o["stage"] for o in get(http, site, "/api/dashboard/orders", carrier="SF")["orders"]} <= set(order)
    assert all(o["carrier"] == "SF" for o in get(http, site, "/api/dashboard/orders", carrier="SF")["orders"])
    [packed] = get(http, site, "/api/dashboard/orders", stage="packed")["orders"]
    assert packed["order_id"] == "SO-10014" and packed["table"] == "Packing table 2" and packed["person"] == "Maria Garcia"
    assert get(http, site, "/api/dashboard/orders", min_age=5)["total"] == 0
    clock.advance(6 * 60)
    assert get(http, site, "/api/dashboard/orders", min_age=5)["total"] == WMS_ORDERS
    assert get(http, site, "/api/dashboard/orders", page=99, per_page=5)["page"] == 4  # the last page
    counts = get(http, site, "/api/dashboard/counts", table="ST01")
    assert {s["stage"]: s["total"] for s in counts["stages"] if s["total"]} == {"picked": 1, "blocked": 1}
    assert {t["station"]: t["name"] for t in counts["tables"]} == {"ST01": "Packing table 1", "ST02": "Packing table 2"}
    assert counts["carriers"] == ["SF", "YTO"]
    bad = http.get(site.url + "/api/dashboard/orders", params={"stage": "lunch"}, timeout=5)
    assert bad.status_code == 400 and "stage must be one of" in bad.json()["error"]


def test_the_sla_thresholds_come_from_the_config(make_site, clock):
    site = make_site(**{"dashboard.sla": {"backlog": [1.0, 2.0]}})
    with requests.Session() as http:
        dashboard_sign_in(http, site.url, *SUPERVISOR)
        clock.advance(90)
        assert {s["stage"]: s["amber"] for s in get(http, site, "/api/dashboard/counts")["stages"]}["backlog"] == WMS_ORDERS
        clock.advance(60)
        stages = get(http, site, "/api/dashboard/counts")["stages"]
        assert stages[0]["red"] == WMS_ORDERS and stages[0]["oldest"] == "2 min"


def test_the_summary_figures(site, clock, http):
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    clock.advance(5 * 60)
    a.confirm("weigh", "order", "SO-10012", {"result": "fail"}, "E001")
    a.pack("SO-10012", operator="E001")  # a passed weighing and the pack
    a.push()
    SiteClient(site.url, "ST01", TOKENS["ST01"]).heartbeat(
        operator="E001", state="scanning", devices={"scale": "connected"}, outbox_depth=2,
        clock=(clock.now()).isoformat(), version="1.2.3")
    summary = get(http, site, "/api/dashboard/summary")
    assert summary["today"] == {"packed": 1, "shipped": 0, "intercepted": 0}
    assert summary["backlog"]["count"] == WMS_ORDERS - 1
    times = {row["stage"]: row for row in summary["stage_times"]}
    assert times["picked"]["hour"]["n"] == 1 and times["picked"]["hour"]["avg_s"] == 300.0
    assert times["picked"]["hour"]["avg"] == "5 min" and times["picked"]["shift"]["p90"] == "5 min"
    assert times["packing"]["hour"]["n"] == 0
    assert summary["throughput"]["per_table"]["Packing table 1"][-1] == 1
    assert summary["throughput"]["per_packer"]["Li Wei"][-1] == 1
    assert summary["throughput"]["tables_shift"] == [{"name": "Packing table 1", "parcels": 1,
                                                      "per_hour": summary["throughput"]["tables_shift"][0]["per_hour"]}]
    assert summary["pass_rates"] == [{"station": "ST01", "table": "Packing table 1", "checks": 2, "passed": 1,
                                      "rate": 0.5}]
    [station] = summary["stations"]
    assert station["version"] == "1.2.3" and station["table"] == "Packing table 1" and station["person"] == "Li Wei"
    assert station["state_name"] == "items are still to scan" and station["clock_offset_s"] == 0
    assert station["devices"] == [{"device": "scale", "name": "Scale", "state": "connected", "state_name": "connected"}]
    zh = get(http, site, "/api/dashboard/summary", lang="zh")["stations"][0]
    assert zh["devices"][0]["name"] == "电子秤" and zh["devices"][0]["state_name"] == "已连接"


def test_an_orders_timeline_with_who_where_and_evidence(site, clock, http):
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.push()
    clock.advance(120)
    a.pack("SO-10012")
    a.push()
    clock.advance(60)
    found = get(http, site, "/api/dashboard/orders/SO-10012")
    assert [b["stage"] for b in found["bars"]] == ["backlog", "picked", "weighed", "packed"]
    assert found["bars"][1]["seconds"] == 120 and found["bars"][1]["duration"] == "2 min"
    assert found["bars"][-1]["end"] is None and found["bars"][-1]["seconds"] == 60
    weighed = next(b for b in found["bars"] if b["stage"] == "weighed")
    assert weighed["table"] == "Packing table 1" and weighed["person"] == "Maria Garcia"
    assert [e["action_name"] for e in found["evidence"]] == ["weighed", "packed, label printed"]
    assert found["evidence"][0]["detail"] == "result pass"
    nobody = get(http, site, "/api/dashboard/orders/SO-10001")  # in the backlog: released, nothing else
    assert [b["stage"] for b in nobody["bars"]] == ["backlog"] and nobody["evidence"] == []
    missing = http.get(site.url + "/api/dashboard/orders/SO-NOPE", timeout=5)
    assert missing.status_code == 404 and "SO-NOPE" in missing.json()["error"]


def test_the_stream_tells_of_a_change_within_a_second(site, http):
    with http.get(site.url + "/api/dashboard/stream", stream=True, timeout=10) as resp:
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        lines = resp.iter_lines(decode_unicode=True)
        first = _event(lines)
        table = site.station("ST01")
        table.pick("SO-10012", "T-0012")
        started = time.monotonic()
        table.push()
        second = _event(lines)
        assert second["head"] > first["head"] and time.monotonic() - started < 1.0


def _event(lines: Any) -> dict[str, Any]:
    kind = None
    for line in lines:
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and kind == "change":
            return dict(json.loads(line.split(":", 1)[1]))
    raise AssertionError("the stream ended")


SCHEMA = schemathesis.openapi.from_dict(openapi_document())
DASHBOARD_OPS = [r.ok() for r in SCHEMA.get_all_operations() if r.ok().path.startswith("/api/dashboard")
                 and not r.ok().path.endswith("/stream")]


@pytest.mark.parametrize("operation", DASHBOARD_OPS, ids=lambda op: op.label)
def test_no_input_from_a_signed_in_supervisor_gives_a_server_error(operation, site, http):
    cookies = http.cookies.get_dict()

    @settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
    @given(case=st.one_of(*(operation.as_strategy(generation_mode=m)
                            for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))))
    def no_server_error(case: Any) -> None:
        resp = case.call(base_url=site.url, cookies=cookies, timeout=15)
        assert resp.status_code < 500, (case.path, case.query, resp.status_code, resp.text[:300])
        assert (resp.headers.get("content-type") or [""])[0].startswith("application/json")

    no_server_error()


def test_streams_are_bounded_and_give_their_place_back_when_closed(make_site, monkeypatch):
    monkeypatch.setattr(dashboard, "STREAM_PING_S", 0.5)  # a closed stream is noticed at its next ping
    site = make_site(**{"feed.max_waits_per_station": 2})
    with requests.Session() as http:
        dashboard_sign_in(http, site.url, *SUPERVISOR)
        one = http.get(site.url + "/api/dashboard/stream", stream=True, timeout=10)
        two = http.get(site.url + "/api/dashboard/stream", stream=True, timeout=10)
        assert one.status_code == two.status_code == 200
        third = requests.get(site.url + "/api/dashboard/stream", cookies=http.cookies.get_dict(), timeout=10)
        assert third.status_code == 429 and "long-polls" in third.json()["error"]
        one.close()
        two.close()
        deadline = time.monotonic() + 25  # the server notices the closed connection at its next write (a ping)
        while site.hub.long_polls.open and time.monotonic() < deadline:
            time.sleep(0.1)
        assert site.hub.long_polls.open == 0


def test_open_dashboards_hold_no_thread_and_each_hears_of_a_change(make_site):
    """On the hub's server a dashboard's stream is written by the server's stream pump: past the threads' share of
    long-polls (site.threads 10: 2) four dashboards are served, every one hears of a change, and a closed one gives
    its place back without waiting for a ping."""
    site = make_site(**{"site.threads": 10, "feed.max_waits_per_station": 5})
    with requests.Session() as http:
        dashboard_sign_in(http, site.url, *SUPERVISOR)
        streams = [http.get(site.url + "/api/dashboard/stream", stream=True, timeout=10) for _ in range(4)]
        try:
            assert [s.status_code for s in streams] == [200] * 4
            assert site.hub.long_polls.open == 4
            lines = [s.iter_lines(decode_unicode=True) for s in streams]
            firsts = [_event(each) for each in lines]
            table = site.station("ST01")
            table.pick("SO-10012", "T-0012")
            table.push()
            for first, each in zip(firsts, lines, strict=True):
                assert _event(each)["head"] > first["head"]
            assert http.get(site.url + "/healthz", timeout=5).status_code == 200
        finally:
            for each in streams:
                each.close()
        deadline = time.monotonic() + 5  # the pump sees the client go at once (STREAM_PING_S is 5 s)
        while site.hub.long_polls.open and time.monotonic() < deadline:
            time.sleep(0.05)
        assert site.hub.long_polls.open == 0


def test_a_wms_decision_moves_the_backlog_at_once(site, http):
    """The WMS's orders are read again when the hub's reference data changes (the views keep them between)."""
    assert get(http, site, "/api/dashboard/summary")["backlog"]["count"] == WMS_ORDERS
    client = UpstreamClient(site.hub.config["site.upstream_url"], deadline_s=5)
    client.decide("SO-10008", "cancel", {"reason": "customer refund"})
    client.decide("SO-10009", "hold", {"reason": "address check"})
    site.hub.pull_orders()
    assert get(http, site, "/api/dashboard/summary")["backlog"]["count"] == WMS_ORDERS - 1  # cancelled: gone
    [held] = [o for o in get(http, site, "/api/dashboard/orders", stage="backlog", per_page=50)["orders"]
              if o["order_id"] == "SO-10009"]
    assert held["wms_status"] == "held"
    assert get(http, site, "/api/dashboard/summary")["today"]["intercepted"] == 2
