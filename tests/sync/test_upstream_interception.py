"""The reference WMS's side of interception (订单拦截): it holds, releases, cancels and changes an order through its
admin API, serves the changed orders alone after a cursor, and never lets a pack, a dock hand-over or a manifest
undo a cancellation."""
from __future__ import annotations

from datetime import date

import pytest

from packgate.device.clock import parse_iso
from packgate.sync.common.ids import make_id
from packgate.sync.common.jsonbytes import dumps
from packgate.sync.errors import PermanentUpstreamError, TransientUpstreamError

SEQ = iter(range(1, 10_000))


def conf(action: str, object_id: str = "SO-10008", object_type: str = "order", **payload):
    seq = next(SEQ)
    return {"id": make_id("ST01", date(2026, 1, 5), seq), "key": f"key-{seq:08d}-interception", "station": "ST01",
            "seq": seq, "action": action, "object_type": object_type, "object_id": object_id, "operator": "E001",
            "device": "ST01-kiosk", "location": "ST01", "at": "2026-01-05T08:00:00.000+08:00", "payload": payload,
            "image_sha256": None}


def send(client, item) -> dict:
    return client.send_confirmations("ST01", [dumps(item)])[item["id"]]


def order(client, order_id: str) -> dict:
    rows = client.get_order_changes(since="0")["orders"]
    return next(row for row in rows if row["order_id"] == order_id)


def test_a_cancellation_carries_its_reason_and_time_and_reaches_the_fast_pull_alone(client):
    cursor = client.get_reference()["cursor"]
    assert client.get_order_changes(since=cursor) == {"orders": [], "cursor": cursor, "more": False}
    record = client.decide("SO-10008", "cancel", {"reason": "customer refund"})
    assert record["status"] == "cancelled" and record["status_reason"] == "customer refund"
    assert parse_iso(record["status_at"]).utcoffset() is not None and record["revision"] == 1
    changes = client.get_order_changes(since=cursor)
    assert [o["order_id"] for o in changes["orders"]] == ["SO-10008"] and int(changes["cursor"]) > int(cursor)
    assert client.get_order_changes(since=changes["cursor"])["orders"] == []
    assert client.get_reference(since=cursor)["orders"] == changes["orders"]  # one cursor for both calls


def test_a_pack_a_dock_hand_over_and_a_manifest_of_a_cancelled_order_are_refused_for_good(client):
    assert send(client, conf("scan"))["status"] == "accepted"
    client.decide("SO-10008", "cancel", {"reason": "customer refund"})
    for item in (conf("pack", units=[]), conf("ship_load", carrier="SF"),
                 conf("manifest", "SF-H00001", "manifest", parcels=[{"order_id": "SO-10009"}, {"order_id": "SO-10008"}])):
        result = send(client, item)
        assert (result["status"], result["code"], result["error"]) == ("rejected", 409, "order_cancelled"), result
        assert "cancelled by the WMS" in result["reason"] and "customer refund" in result["reason"]
        assert send(client, item)["status"] == "rejected"  # the same answer again: nothing was recorded
    assert order(client, "SO-10008")["status"] == "cancelled"  # never flipped back to packed or shipped
    assert client._json(client._call("GET", "/v1/admin/shipments"))["shipments"] == []
    intercept = conf("intercept", step="weigh", status="cancelled", reason="customer refund")
    assert send(client, intercept)["status"] == "accepted"  # the table's record of the stopped step
    actions = [c["action"] for c in client.order_confirmations("SO-10008")]
    assert actions == ["scan", "intercept"]


def test_a_hold_stops_nothing_at_the_wms_and_a_release_brings_back_the_status_before_it(client):
    assert send(client, conf("tote_load", "T-0009", "tote", order_id="SO-10009"))["status"] == "accepted"
    held = client.decide("SO-10009", "hold", {"reason": "address check"})
    assert (held["status"], held["status_reason"]) == ("held", "address check")
    assert send(client, conf("pack", "SO-10009", units=[]))["status"] == "accepted"  # an offline table's pack
    assert order(client, "SO-10009")["status"] == "held"  # held until the WMS says otherwise
    released = client.decide("SO-10009", "release", {})
    assert released["status"] == "packed" and released["status_reason"] is None  # what happened while it was held
    assert parse_iso(released["status_at"]) >= parse_iso(held["status_at"])


def test_a_release_brings_back_the_status_before_the_hold(client):
    assert send(client, conf("pack", "SO-10014", units=[]))["status"] == "accepted"
    client.decide("SO-10014", "hold", {"reason": "fraud review"})
    assert client.decide("SO-10014", "release", {"reason": "cleared"})["status"] == "packed"
    client.decide("SO-10015", "hold", {"reason": "fraud review"})
    assert client.decide("SO-10015", "release", {})["status"] == "open"


def test_a_change_of_lines_address_or_carrier_bumps_the_revision_and_nothing_else_does(client):
    first = client.decide("SO-10010", "change", {"lines": [{"sku": "SKU-003", "qty": 1}], "reason": "customer edit"})
    assert first["revision"] == 2 and first["lines"] == [{"sku": "SKU-003", "qty": 1}]
    assert first["status_reason"] == "customer edit"
    held = client.decide("SO-10010", "hold", {"reason": "fraud review"})
    assert held["revision"] == 2
    client.decide("SO-10010", "release", {})
    assert client.decide("SO-10010", "change", {"carrier": "EMS"})["revision"] == 3
    row = {**order(client, "SO-10010"), "priority": 5}
    client.admin("orders", [row])  # a plain upsert of the same contents
    assert order(client, "SO-10010")["revision"] == 3


@pytest.mark.parametrize("decision,body,status,words", [
    ("hold", {}, 400, "needs a reason"),
    ("cancel", {"reason": 7}, 400, "reason must be a text"),
    ("release", {}, 409, "not held"),
    ("change", {"lines": [{"sku": "SKU-001", "qty": 0}]}, 400, "lines must be"),
    ("change", {}, 400, "at least one of"),
])
def test_a_bad_decision_is_a_clear_answer(client, decision, body, status, words):
    with pytest.raises((PermanentUpstreamError, TransientUpstreamError)) as caught:
        client.decide("SO-10011", decision, body)
    assert caught.value.status == status and words in str(caught.value)


def test_what_left_or_is_cancelled_is_final(client):
    client.decide("SO-10012", "cancel", {"reason": "refund"})
    assert client.decide("SO-10012", "cancel", {"reason": "again"})["status_reason"] == "refund"  # one decision
    with pytest.raises(TransientUpstreamError) as caught:
        client.decide("SO-10012", "hold", {"reason": "late"})
    assert caught.value.status == 409 and "cancelled" in str(caught.value)
    with pytest.raises(TransientUpstreamError) as unknown:
        client.decide("SO-99999", "cancel", {"reason": "x"})
    assert unknown.value.status == 404
    assert send(client, conf("pack", "SO-10013", units=[]))["status"] == "accepted"
    with pytest.raises(TransientUpstreamError) as packed:
        client.decide("SO-10013", "change", {"carrier": "EMS"})
    assert packed.value.status == 409 and "cancel it instead" in str(packed.value)
    assert client.decide("SO-10013", "cancel", {"reason": "refund after packing"})["status"] == "cancelled"
