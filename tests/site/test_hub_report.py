"""The day report checked against a scripted shift (real stations' outboxes, a real hub on SQLite and PostgreSQL, the
reference WMS, all on one fake clock), as JSON, CSV and the page; the daily reconciliation with the WMS finding planted
differences (a confirmation posted around the hub, one not yet relayed), scheduled at ``reports.daily_at`` hub-local
and sent once (a restart sends nothing again), and on demand.

The shift (2026-01-05, +08:00; minutes from 08:00):

=========  =====================================================================================================
SO-10001   picked at ST01's PDA 0-4, opened at Packing table 1 at 10, weighed and packed at 15, handed over at 45
SO-10002   picked 0-4, opened at Packing table 2 at 12, weight failed at 14, overridden at 16, packed at 20
SO-10003   opened at Packing table 1 at 20, weighed and packed at 22, handed over at 50
SO-10004   picked 0-4; the WMS holds it at 30 (an interception)
=========  =====================================================================================================
"""
from __future__ import annotations

import csv
import io
import threading
from datetime import date
from typing import Any

import requests
from hubkit import TOKENS, FakeStation

from packgate.sync.client import UpstreamClient
from packgate.sync.hub import store

BEARER = {"Authorization": f"Bearer {TOKENS['ST01']}"}
RECONCILIATION_RULE = {"alerts.rules": [{"kind": "reconciliation"}]}


def run_shift(site: Any, clock: Any) -> dict[str, FakeStation]:
    one, two = site.station("ST01"), site.station("ST02")

    def at(minute: int, station: FakeStation, action: str, kind: str, object_id: str, payload: dict | None = None,
           operator: str = "E002") -> None:
        elapsed = (clock.now() - site.clock.now()).total_seconds()
        assert elapsed == 0
        target = minute * 60 - (clock.now().hour * 3600 + clock.now().minute * 60 - 8 * 3600)
        clock.advance(target)
        station.confirm(action, kind, object_id, payload or {}, operator)
        assert station.push() == 1

    for order, tote, sku in (("SO-10001", "T-0001", "SKU-001"), ("SO-10002", "T-0002", "SKU-008"),
                             ("SO-10004", "T-0004", "SKU-003")):
        at(0, one, "pick", "order", order, {"sku": sku, "lot": "L1", "qty": 1, "tote": tote}, "E004")
    for order, tote in (("SO-10001", "T-0001"), ("SO-10002", "T-0002"), ("SO-10004", "T-0004")):
        at(4, one, "load", "tote", tote, {"order_id": order, "units": 1}, "E004")
    at(10, one, "open", "order", "SO-10001")
    at(12, two, "open", "order", "SO-10002", operator="E003")
    at(14, two, "weigh", "order", "SO-10002", {"result": "fail", "grams": 512}, "E003")
    at(15, one, "weigh", "order", "SO-10001", {"result": "pass"})
    at(15, one, "pack", "order", "SO-10001", {"units": []})
    at(16, two, "override", "order", "SO-10002", {"kind": "weight", "by": "E005"}, "E003")
    at(20, two, "pack", "order", "SO-10002", {"units": []}, "E003")
    at(20, one, "open", "order", "SO-10003")
    at(22, one, "weigh", "order", "SO-10003", {"result": "pass"})
    at(22, one, "pack", "order", "SO-10003", {"units": []})
    clock.advance(8 * 60)  # 30
    UpstreamClient(site.hub.config["site.upstream_url"], deadline_s=5).decide("SO-10004", "hold",
                                                                             {"reason": "address check"})
    assert site.hub.pull_orders()["decisions"] == 1
    at(45, one, "ship_load", "order", "SO-10001", {"batch_id": "ST01-B1"})
    at(50, one, "ship_load", "order", "SO-10003", {"batch_id": "ST01-B1"})
    return {"ST01": one, "ST02": two}


def test_the_day_report_matches_the_scripted_shift(site: Any, clock: Any) -> None:
    run_shift(site, clock)
    report = requests.get(f"{site.url}/api/reports/day?day=2026-01-05", headers=BEARER, timeout=10).json()
    assert report["since"] == "2026-01-05T00:00:00.000+08:00" and report["until"] == "2026-01-06T00:00:00.000+08:00"
    assert report["parcels"] == 3
    assert [(t["table"], t["parcels"], t["weighings"], t["weight_failures"], t["pass_rate"])
            for t in report["per_table"]] == [("Packing table 1", 2, 2, 0, 1.0), ("Packing table 2", 1, 1, 1, 0.0)]
    assert [(p["name"], p["parcels"]) for p in report["per_packer"]] == [("Maria Garcia", 2), ("Sam Okafor", 1)]
    assert report["weighings"] == 3 and report["weight_failures"] == 1 and report["pass_rate"] == 0.6667
    assert report["overrides"] == 1 and report["overrides_by_kind"] == {"weight": 1}
    assert report["interceptions"] == 1 and report["intercepted"][0]["order_id"] == "SO-10004"
    assert report["stage_minutes"] == {"pick": 4.0, "wait_for_table": 7.0, "pack": 5.0, "dock": 29.0}
    assert (report["started"], report["shipped_within_24h"], report["ship_rate_24h"]) == (4, 2, 0.5)
    with site.hub.db.read() as conn:
        released = [o["order_id"] for o in store.ref_all(conn, "orders") if o.get("status") == "open"]
    not_started = sorted(set(released) - {"SO-10001", "SO-10002", "SO-10003", "SO-10004"})
    assert report["backlog"] == len(not_started) > 0 and report["backlog_order_ids"] == not_started[:50]
    assert report["reconciliation"] is None  # not run yet

    # the same figures as CSV and on the page; the day before holds nothing
    rows = list(csv.reader(io.StringIO(requests.get(f"{site.url}/api/reports/day.csv?day=2026-01-05",
                                                    headers=BEARER, timeout=10).text)))
    assert ["total", "parcels", "3"] in rows and ["table Packing table 2", "pass_rate", "0.0"] in rows
    assert ["stage minutes", "dock", "29.0"] in rows and ["packer Maria Garcia", "parcels", "2"] in rows
    assert ["total", "ship_rate_24h", "0.5"] in rows
    empty = requests.get(f"{site.url}/api/reports/day?day=2026-01-04", headers=BEARER, timeout=10).json()
    assert empty["parcels"] == 0 and empty["pass_rate"] is None
    shift = requests.get(f"{site.url}/api/reports/day", headers=BEARER, timeout=10, params={
        "since": "2026-01-05T08:00:00+08:00", "until": "2026-01-05T08:16:00+08:00"}).json()
    assert shift["parcels"] == 1 and shift["weight_failures"] == 1  # a shift: only what fell inside it
    bad = requests.get(f"{site.url}/api/reports/day?day=2026-13-01", headers=BEARER, timeout=10)
    assert bad.status_code == 400 and "day must be a date YYYY-MM-DD" in bad.json()["error"]


def test_the_reconciliation_finds_planted_differences_on_schedule_once_and_on_demand(make_site: Any, tmp_path: Any,
                                                                                    clock: Any, webhook: Any) -> None:
    site = make_site(**RECONCILIATION_RULE)
    stations = run_shift(site, clock)
    site.relay()
    assert site.hub.reconcile(date(2026, 1, 5))["differences"] == []  # all relayed: hub and WMS agree
    late = stations["ST01"].confirm("scan", "order", "SO-10005")  # received by the hub, not yet relayed
    stations["ST01"].push()
    around = FakeStation(tmp_path, "ST02", site.hub.config["site.upstream_url"], clock)  # ST02's outbox, to the WMS
    planted = around.confirm("scan", "order", "SO-10006", operator="E003")
    assert around.push() == 1

    clock.advance(17 * 3600)  # 2026-01-06 01:50: the report of the 5th is not due yet
    assert site.hub.tick()["schedule"] == {}
    clock.advance(10 * 60 + 5)  # 02:00:05
    out = site.hub.tick()
    assert out["schedule"]["report"] is True
    diffs = {(d["station"], d["id"], d["side"], d["relay_state"]) for d in out["schedule"]["reconciliation"]["differences"]}
    assert diffs == {("ST01", late, "hub_only", "pending"), ("ST02", planted, "wms_only", None)}
    assert out["alerts"]["reports"] == ["report.daily/2026-01-05"]
    assert "reconciliation/2026-01-05" in out["alerts"]["sent"]  # the reconciliation alert: differences found
    report_messages = [m for m in webhook.received if m["title"] == "packgate report 2026-01-05"]
    assert len(report_messages) == 1
    body = report_messages[0]["message"]
    assert "parcels 3; pass rate 66.7%" in body and "reconciliation with the WMS: 2 difference(s)" in body
    assert planted in body
    rec_alert = [m for m in webhook.received if m["title"].startswith("packgate: reconciliation 2026-01-05")]
    assert len(rec_alert) == 1 and late in rec_alert[0]["message"]

    # the next pass, a restarted hub: nothing again
    clock.advance(3600)
    assert site.hub.tick()["alerts"]["reports"] == []
    site.stop()
    again = make_site(**RECONCILIATION_RULE)
    again.hub.tick()
    assert len([m for m in webhook.received if "2026-01-05" in m["title"]]) == 2

    # the report of the day shows the kept result; on demand after the late one is relayed: one difference left
    report = requests.get(f"{again.url}/api/reports/day?day=2026-01-05", headers=BEARER, timeout=10).json()
    assert len(report["reconciliation"]["differences"]) == 2
    again.relay()
    result = again.hub.reconcile(date(2026, 1, 5))
    assert [(d["station"], d["side"]) for d in result["differences"]] == [("ST02", "wms_only")]
    kept = requests.get(f"{again.url}/api/reconciliation?day=2026-01-05", headers=BEARER, timeout=10).json()
    assert kept["stations"]["ST01"]["hub_only"] == 0 and kept["stations"]["ST02"]["wms_only"] == 1
    missing = requests.get(f"{again.url}/api/reconciliation?day=2026-01-01", headers=BEARER, timeout=10)
    assert missing.status_code == 404


def test_two_hubs_at_the_scheduled_time_send_the_report_once(make_site: Any, clock: Any, webhook: Any) -> None:
    first, second = make_site(**{"reports.daily_at": "02:30"}), make_site(**{"reports.daily_at": "02:30"})
    station = first.station("ST01")
    station.confirm("weigh", "order", "SO-10012", {"result": "pass"})
    station.confirm("pack", "order", "SO-10012", {"units": []})
    station.push()
    clock.advance(18 * 3600 + 29 * 60)  # 2026-01-06 02:29
    assert first.hub.tick()["schedule"] == {} and second.hub.tick()["schedule"] == {}
    clock.advance(61)
    outcomes: list[dict] = [{}, {}]
    threads = [threading.Thread(target=lambda i=i, s=s: outcomes.__setitem__(i, s.hub.tick()))
               for i, s in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [o["alerts"]["reports"] for o in outcomes]
    assert sorted(sent, key=len) == [[], ["report.daily/2026-01-05"]]
    reports = [m for m in webhook.received if m["title"] == "packgate report 2026-01-05"]
    assert len(reports) == 1 and "parcels 1; pass rate 100.0%" in reports[0]["message"]
    clock.advance(24 * 3600)  # the next night: the 6th, a day with nothing packed, is reported once too
    first.hub.tick()
    second.hub.tick()
    assert [m["title"] for m in webhook.received].count("packgate report 2026-01-06") == 1
