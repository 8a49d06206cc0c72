"""The dock belongs to the site: two real station agents with label printers, a real hub and the reference WMS.
A parcel packed and labelled at one table is taken at the other table's dock by its waybill or its order id; a
parcel another batch holds is refused naming that batch; a parcel the WMS cancelled is refused as intercepted; the
ship_load and manifest reach the WMS once; with the hub unreachable only a table's own parcels can be checked."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests
from site_tables import BADGES, Table, site_tables, wait_until, wms_confirmations, wms_sets_status

from packgate.station.demo.selftest import OffsetClock
from packgate.sync.common.http import DeadlineHTTP
from packgate.sync.hub import parcels


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def tables(make_site, clock, tmp_path, webhook) -> Iterator[tuple[Any, Table, Table]]:
    site = make_site()
    with site_tables(site, clock, tmp_path, webhook.url) as (one, two):
        yield site, one, two


def hub_stage(site, order_id: str) -> str | None:
    return (site.hub.order(order_id) or {}).get("stage")


def hub_parcel(site, order_id: str) -> dict | None:
    with site.hub.db.read() as conn:
        return parcels.get(conn, order_id)


def test_a_parcel_packed_at_one_table_is_handed_over_at_the_other_once(tables, wms):
    site, one, two = tables
    waybill = two.pack_labelled("SO-10011", BADGES["packer2"])  # SF, packed and labelled at table 2
    mine = one.pack_labelled("SO-10007", BADGES["packer"])  # SF, packed at table 1
    wait_until(lambda: hub_stage(site, "SO-10011") == "packed" and hub_stage(site, "SO-10007") == "packed", 5.0)
    assert hub_parcel(site, "SO-10011")["waybill"] == waybill and hub_parcel(site, "SO-10011")["station"] == "ST02"

    dock_one, dock_two = one.dock(), two.dock()
    first = dock_one.open("SF")
    taken = dock_one.scan(first, waybill)  # table 2's parcel, by its waybill, at table 1's dock
    assert taken["code"] == "dock_parcel_added" and taken["colour"] == "green", taken
    assert hub_parcel(site, "SO-10011")["batch_id"] == first

    second = dock_two.open("SF")
    refused = dock_two.scan(second, "SO-10011")  # the same parcel by its order id at its own table's dock
    assert refused["code"] == "dock_already_handed_over" and refused["colour"] == "red", refused
    assert first in refused["message"] and first in refused["message_zh"]
    assert dock_two.scan(second, "SO-10007")["code"] == "dock_parcel_added"  # table 1's parcel at table 2
    assert dock_one.scan(first, mine)["code"] == "dock_already_handed_over"  # ... and no longer at table 1

    for dock, batch in ((dock_one, first), (dock_two, second)):
        closed = dock.close(batch)
        assert closed["code"] == "dock_batch_handed_over" and closed["data"]["parcels"] == 1, closed
    wait_until(lambda: hub_stage(site, "SO-10011") == "shipped" and hub_stage(site, "SO-10007") == "shipped", 5.0)
    site.relay()
    site.relay()  # nothing more goes
    shipments = {s["order_id"]: s for s in requests.get(f"{wms}/v1/admin/shipments", timeout=5).json()["shipments"]}
    assert shipments["SO-10011"]["action"] == "ship_load" and shipments["SO-10007"]["action"] == "ship_load"
    for order_id, batch, station in (("SO-10011", first, "ST01"), ("SO-10007", second, "ST02")):
        loads = [c for c in wms_confirmations(wms, order_id) if c["action"] == "ship_load"]
        assert len(loads) == 1 and loads[0]["station"] == station and loads[0]["payload"]["batch_id"] == batch
    assert [c for c in wms_confirmations(wms, "SO-10011") if c["action"] == "ship_load"][0]["payload"]["waybill"] \
        == waybill
    stats = requests.get(f"{wms}/v1/admin/stats", timeout=5).json()
    assert stats.get("duplicate", 0) == 0 and stats.get("rejected", 0) == 0
    with site.hub.db.read() as conn:
        manifests = conn.execute("SELECT object_id, relay_state, upstream_status FROM hub_confirmations"
                                 " WHERE action = 'manifest'")
    assert sorted((m["object_id"], m["relay_state"], m["upstream_status"]) for m in manifests) == \
        sorted([(first, "sent", "accepted"), (second, "sent", "accepted")])


def test_a_parcel_the_wms_cancelled_after_it_was_packed_is_refused_at_any_dock(tables, wms):
    site, one, two = tables
    waybill = two.pack_labelled("SO-10011", BADGES["packer2"])
    wait_until(lambda: hub_stage(site, "SO-10011") == "packed", 5.0)
    wms_sets_status(site, wms, "SO-10011", "cancelled", "customer refund")

    dock = one.dock()
    batch = dock.open("SF")
    for code in (waybill, "SO-10011"):
        refused = dock.scan(batch, code)
        # the table has the WMS's word from the hub's feed: interception's verdict (one answer with issue 22 half A)
        assert refused["code"] == "intercepted" and refused["colour"] == "crimson", refused
        assert refused["message"].startswith("Order SO-10011 was cancelled by the WMS at ") and \
            "(customer refund)" in refused["message"] and "interception bin" in refused["message"], refused
        assert "取消" in refused["message_zh"] and "拦截区" in refused["message_zh"]
    assert hub_parcel(site, "SO-10011")["batch_id"] is None  # held for the scan, given back at once
    assert dock.close(batch)["code"] == "dock_batch_empty"
    own = two.dock()
    assert own.scan(own.open("SF"), "SO-10011")["code"] == "intercepted"  # at its own table too


def test_with_the_hub_unreachable_only_the_tables_own_parcels_can_be_checked(tables):
    site, one, two = tables
    theirs = two.pack_labelled("SO-10011", BADGES["packer2"])
    mine = one.pack_labelled("SO-10007", BADGES["packer"])
    wait_until(lambda: hub_stage(site, "SO-10011") == "packed", 5.0)
    dock = one.dock()
    batch = dock.open("SF")
    reachable = one.agent.site_client.http
    one.agent.site_client.http = DeadlineHTTP("http://127.0.0.1:9", deadline_s=1.0)
    try:
        refused = dock.scan(batch, theirs)
        assert refused["code"] == "dock_hub_offline" and theirs in refused["message"], refused
        assert "无法连接现场中枢" in refused["message_zh"]
        assert dock.scan(batch, mine)["code"] == "dock_parcel_added"  # packed here: checked from its own tables
    finally:
        one.agent.site_client.http = reachable
    assert dock.close(batch)["data"]["parcels"] == 1
    wait_until(lambda: hub_stage(site, "SO-10007") == "shipped", 5.0)
    assert hub_parcel(site, "SO-10007")["batch_id"] == batch  # the hub learned the batch from the ship_load
