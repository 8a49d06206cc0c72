"""Returns across the site (逆向物流) on SQLite and PostgreSQL: the RMAs reach the tables through the hub's reference
mirror, the tables' return confirmations are relayed to the WMS exactly once (one refund), and the dashboard shows the
returns waiting, in progress and closed with their processing time and grades, the top ten reasons, and the returns
waiting longer than ``returns.alert_after_h``."""
from __future__ import annotations

from datetime import timedelta

import requests
from hubkit import dashboard_sign_in

from packgate.sync.client import UpstreamClient
from packgate.sync.upstream.demo_data import DEMO_BADGES

TOKEN = "token-of-station-01-abcdef"


def _closing(rma_id: str, order_id: str, reason: str, grades: dict[str, int], units: list[dict]) -> dict:
    return {"rma_id": rma_id, "order_id": order_id, "reason": reason, "units": units, "missing": {}, "grades": grades,
            "weight": {"measured_g": "95.0", "expected_g": "93.0", "gap_g": "2.0", "allowed_g": "20.0",
                       "flagged": False},
            "outcome": "refund" if grades.get("A") == len(units) else "review", "review_reasons": [],
            "evidence_sha256": "0" * 64}


def test_returns_flow_through_the_hub_to_the_wms_and_onto_the_dashboard(site, wms, clock):
    reference = UpstreamClient(site.url, deadline_s=5, token=TOKEN).get_reference()
    assert {r["rma_id"] for r in reference["rmas"]} >= {"RMA-0001", "RMA-0002", "RMA-0003", "RMA-0004"}
    st = site.station("ST01")
    units = [{"sku": "SKU-007", "serial": None, "lot": None, "grade": "A", "swapped": None},
             {"sku": "SKU-025", "serial": None, "lot": None, "grade": "A", "swapped": None}]
    base = {"rma_id": "RMA-0001", "order_id": "SO-10009"}
    st.confirm("return_received", "rma", "RMA-0001", {**base, "reason": "not_as_described", "waybill": "RT-SF-0001"})
    for n, unit in enumerate(units):
        st.confirm("return_item", "rma", "RMA-0001", {**base, "index": n, **unit})
    st.push()
    http = requests.Session()
    assert dashboard_sign_in(http, site.url, DEMO_BADGES["supervisor"], "9876").status_code == 303
    shown = http.get(f"{site.url}/api/dashboard", timeout=5).json()["returns"]
    assert [r["rma_id"] for r in shown["in_progress"]] == ["RMA-0001"] and shown["in_progress"][0]["units"] == 2
    assert "RMA-0001" not in {r["rma_id"] for r in shown["waiting"]} and len(shown["waiting"]) == 3
    clock.advance(timedelta(minutes=6).total_seconds())
    st.confirm("return_closed", "rma", "RMA-0001", _closing("RMA-0001", "SO-10009", "not_as_described",
                                                            {"A": 2, "B": 0, "C": 0}, units))
    st.push()
    assert site.relay() >= 4
    st.push()  # nothing left; and a resent batch is a duplicate at the hub and at the WMS
    assert site.relay() == 0
    outcomes = requests.get(f"{wms}/v1/admin/returns/outcomes", timeout=5).json()["outcomes"]
    assert [(o["rma_id"], o["outcome"]) for o in outcomes] == [("RMA-0001", "refunded")]

    shown = http.get(f"{site.url}/api/dashboard", timeout=5).json()["returns"]
    [done] = shown["closed"]
    assert done["rma_id"] == "RMA-0001" and done["outcome"] == "refund" and done["processing_min"] >= 6
    assert shown["grades"] == {"A": 2, "B": 0, "C": 0} and shown["processing_min"] >= 6
    reasons = {r["reason"]: r["count"] for r in shown["top_reasons"]}
    assert reasons == {"not_as_described": 1, "damaged_in_transit": 1, "defective": 1, "changed_mind": 1}
    assert shown["overdue"] == []
    clock.advance(timedelta(hours=73).total_seconds())  # returns.alert_after_h = 72 by default
    http = requests.Session()  # the supervisor's sign-in has expired meanwhile
    assert dashboard_sign_in(http, site.url, DEMO_BADGES["supervisor"], "9876").status_code == 303
    shown = http.get(f"{site.url}/api/dashboard", timeout=5).json()["returns"]
    assert {r["rma_id"] for r in shown["overdue"]} == {"RMA-0002", "RMA-0003", "RMA-0004"}
    page = http.get(f"{site.url}/", timeout=5).text
    assert 'id="returns"' in page and 'id="returns-overdue"' in page  # the rows are drawn from the JSON above
    assert "Top 10 return reasons" in page or "十大退货原因" in page
