"""What the hub tells about itself and shares between stations: ``/metrics`` (Prometheus text: ingest, relay depth
and lag, dead letters, the feed), the relay's lag on ``/healthz``, the ``synced`` milestone the relay writes, and
reference pages built once for every station asking the same page."""
from __future__ import annotations

import json
import threading

import requests
from prometheus_client.parser import text_string_to_metric_families

from packgate.sync.hub import store

TOKENS = {"ST01": "token-of-station-01-abcdef", "ST02": "token-of-station-02-abcdef"}


def scrape(site) -> dict[str, float]:
    """Every sample of /metrics by name and labels, parsed with prometheus-client's own parser."""
    resp = requests.get(f"{site.url}/metrics", timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_metrics_count_ingest_and_show_the_relay_and_the_feed(site):
    one = site.station("ST01")
    for order in ("SO-10011", "SO-10012", "SO-10013"):
        one.confirm("pick", "order", order, {"sku": "SKU-001", "qty": 1})
    one.push()
    one.push()  # nothing new: no second count
    site.clock.advance(42)
    m = scrape(site)
    assert m['packgate_hub_confirmations_total{status=accepted}'] == 3
    assert m["packgate_hub_ingest_seconds_count"] >= 1 and m["packgate_hub_write_group_size_sum"] >= 1
    assert m["packgate_hub_relay_depth"] == 3 and m["packgate_hub_relay_lag_seconds"] >= 42
    assert m["packgate_hub_relay_dead_letters"] == 0
    with site.hub.db.read() as conn:
        assert m["packgate_hub_feed_head"] == store.feed_head(conn)
    assert m["process_resident_memory_bytes"] > 0 and "process_cpu_seconds_total" in m
    health = requests.get(f"{site.url}/healthz", timeout=5).json()
    assert health["relay"]["lag_s"] >= 42 and health["relay"]["depth"] == 3
    assert site.relay() == 3
    m = scrape(site)
    assert m["packgate_hub_relay_depth"] == 0 and m["packgate_hub_relay_lag_seconds"] == 0
    assert m["packgate_hub_relay_sent"] == 3
    assert requests.get(f"{site.url}/healthz", timeout=5).json()["relay"]["lag_s"] == 0


def test_metrics_show_open_streams_and_sealed_batches(site):
    auth = {"Authorization": f"Bearer {TOKENS['ST01']}"}
    with requests.get(f"{site.url}/v1/feed/stream", headers=auth, stream=True, timeout=10) as held:
        assert held.status_code == 200
        before = scrape(site)
        site.hub.claim("ST02", "SO-10011", "E003")
        site.hub.feed.poke()
        after = scrape(site)
    assert before["packgate_hub_feed_streams"] == 1
    assert after["packgate_hub_feed_batches_total"] == before["packgate_hub_feed_batches_total"] + 1
    assert after["packgate_hub_feed_changes_total"] == before["packgate_hub_feed_changes_total"] + 1
    assert after["packgate_hub_feed_sealed"] == after["packgate_hub_feed_head"]


def test_the_relay_records_when_a_packed_order_reached_the_wms(site):
    one = site.station("ST01")
    one.pack("SO-10011")
    one.push()
    assert "synced" not in site.hub.order("SO-10011")["milestones"]
    assert site.relay() == 2
    milestones = site.hub.order("SO-10011")["milestones"]
    assert milestones["synced"] >= milestones["packed"]


def test_every_station_asking_the_same_reference_page_shares_one_build(site):
    auth = {"Authorization": f"Bearer {TOKENS['ST01']}"}
    pages = site.hub.reference_pages
    first = requests.get(f"{site.url}/v1/reference?since=0&limit=7", headers=auth, timeout=5)
    builds = pages.builds
    bodies: list[bytes] = []

    def ask() -> None:
        bodies.append(requests.get(f"{site.url}/v1/reference?since=0&limit=7", headers=auth, timeout=5).content)

    askers = [threading.Thread(target=ask) for _ in range(12)]
    for thread in askers:
        thread.start()
    for thread in askers:
        thread.join(10)
    assert pages.builds == builds and set(bodies) == {first.content}  # no station caused a build of its own
    page = first.json()
    kinds = ("skus", "lots", "packaging", "employees", "orders")
    with site.hub.db.read() as conn:
        rows = conn.execute("SELECT kind, data FROM hub_ref ORDER BY version LIMIT 7")
        order = store.ref_get(conn, "orders", "SO-10011")
    assert sorted((kind, json.dumps(item, sort_keys=True)) for kind in kinds for item in page[kind]) == \
        sorted((r["kind"], json.dumps(json.loads(r["data"]), sort_keys=True)) for r in rows)  # the 7 oldest rows
    assert page["more"] is True and int(page["cursor"]) > 0
    assert order is not None
    site.hub.db.run(lambda conn: store.upsert_ref(conn, [("orders", {**order, "priority": 9})]))
    fresh = requests.get(f"{site.url}/v1/reference?since={page['cursor']}", headers=auth, timeout=5).json()
    assert pages.builds > builds  # the data moved: built again
    assert [o["priority"] for o in fresh["orders"] if o["order_id"] == "SO-10011"] == [9]
