"""The label contract through the site hub: a station asks the hub, the hub asks the WMS (the reference
upstream) with the station's body as it is, so the WMS's idempotency by the parcel's key holds end to end."""
from __future__ import annotations

import requests
from hubkit import TOKENS

from packgate.sync.client import UpstreamClient
from packgate.sync.errors import TransientUpstreamError


def test_a_station_gets_its_label_and_reserved_waybills_through_the_hub(site, clock):
    client = UpstreamClient(site.url, deadline_s=5, clock=clock, token=TOKENS["ST01"])
    body = {"key": "ST01:SO-10009:C1", "order_id": "SO-10009", "carton": 1, "cartons": 1, "weight_g": 215,
            "box": "BOX-S", "format": "s10"}
    first = client.request_label(body)
    again = client.request_label(body)
    assert first["waybill"] == again["waybill"] and again["replay"] is True
    assert first["fields"]["order"] == "SO-10009" and first["fields"]["carton"] == 1
    reserved = client.reserve_waybills({"key": "ST01:reserve:SO-10011", "order_id": "SO-10011", "count": 2,
                                        "format": "numeric"})
    assert len(reserved["waybills"]) == 2 and reserved["waybills"][0] != first["waybill"]
    assert client.reserve_waybills({"key": "ST01:reserve:SO-10011", "order_id": "SO-10011", "count": 2,
                                    "format": "numeric"})["waybills"] == reserved["waybills"]


def test_the_hub_passes_the_wms_refusals_on_and_asks_for_a_token(site, clock):
    client = UpstreamClient(site.url, deadline_s=5, clock=clock, token=TOKENS["ST01"])
    body = {"key": "ST01:SO-10009:C1", "order_id": "SO-10009", "carton": 1, "cartons": 1, "weight_g": 215}
    waybill = client.request_label(body)["waybill"]
    other_key = requests.post(f"{site.url}/v1/labels", json={**body, "key": "ST02:SO-10009:C1"},
                              headers={"Authorization": f"Bearer {TOKENS['ST01']}"}, timeout=5)
    assert other_key.status_code == 409 and waybill in other_key.json()["error"]  # never a second waybill
    unknown = requests.post(f"{site.url}/v1/labels", json={**body, "key": "ST01:SO-99999:C1", "order_id": "SO-99999"},
                            headers={"Authorization": f"Bearer {TOKENS['ST01']}"}, timeout=5)
    assert unknown.status_code == 404 and "SO-99999" in unknown.json()["error"]
    assert requests.post(f"{site.url}/v1/labels", json=body, timeout=5).status_code == 401


def test_an_unreachable_wms_is_a_503_so_the_station_uses_its_pre_issued_waybills(make_site, clock):
    site = make_site(**{"site.upstream_url": "http://127.0.0.1:9"})
    client = UpstreamClient(site.url, deadline_s=5, clock=clock, token=TOKENS["ST01"])
    try:
        client.request_label({"key": "ST01:SO-10009:C1", "order_id": "SO-10009", "carton": 1, "cartons": 1,
                              "weight_g": 215})
    except TransientUpstreamError as exc:
        assert exc.status == 503
    else:
        raise AssertionError("expected a 503 from the hub")
