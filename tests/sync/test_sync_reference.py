from packgate.device.clock import FakeClock
from packgate.sync.client import UpstreamClient
from packgate.sync.reference import ReferenceCache
from packgate.sync.upstream.demo_data import DEMO_BADGES, DEMO_ORDERS


def test_full_then_incremental_refresh(station_db, client):
    cache = ReferenceCache(station_db, client, FakeClock())
    first = cache.refresh()
    assert first["ok"] and first["changed"]["skus"] == 30 and first["changed"]["orders"] == 20
    again = cache.refresh()
    assert again["ok"] and sum(again["changed"].values()) == 0 and again["cursor"] == first["cursor"]
    client.admin("packaging", [{"code": "BOX-XL", "name": "Extra large", "tare_g": "610"}])
    third = cache.refresh()
    assert third["changed"] == {"skus": 0, "lots": 0, "packaging": 1, "employees": 0, "orders": 0, "rmas": 0,
                                "carriers": 0}
    assert cache.get_packaging("BOX-XL")["tare_g"] == "610"


def test_paged_refresh_gets_everything(station_db, client):
    cache = ReferenceCache(station_db, client, page_limit=7)
    result = cache.refresh()
    assert result["ok"] and sum(result["changed"].values()) == 30 + 52 + 4 + 5 + 20 + 4  # 4 RMAs


def test_offline_the_cache_keeps_serving_and_health_says_why(station_db, client):
    clock = FakeClock()
    ReferenceCache(station_db, client, clock).refresh()
    offline = ReferenceCache(station_db, UpstreamClient("http://127.0.0.1:9", deadline_s=1), clock)
    result = offline.refresh()
    assert not result["ok"] and "Connection" in result["error"]
    assert offline.get_order(DEMO_ORDERS["fifo"])["tote"] == "T-0001"
    assert offline.employee_by_badge(DEMO_BADGES["supervisor"])["role"] == "supervisor"
    assert offline.status()["last_error"]
    from packgate.sync.outbox import Outbox
    status = Outbox(station_db, "ST01", clock).status()
    assert not status["ok"] and status["reference"]["last_error"]
    ReferenceCache(station_db, client, clock).refresh()
    assert Outbox(station_db, "ST01", clock).status()["reference"]["last_error"] is None


def test_lookups(station_db, client):
    cache = ReferenceCache(station_db, client)
    cache.refresh()
    sku = cache.get_sku("SKU-001")
    assert cache.sku_by_gtin(sku["gtin"]) == sku
    assert cache.sku_by_gtin(sku["gtin"].lstrip("0")) == sku  # GTIN-13 form finds it too
    assert cache.employee_by_badge("04:a1:b2:c3:d4:e5:f6")["employee_id"] == "E001"
    assert cache.employee_by_id("E005")["role"] == "supervisor"
    assert {e["employee_id"] for e in cache.list_employees("packer")} == {"E001", "E002", "E003"}
    assert len(cache.list_orders("open")) == 20
    fifo = cache.lots_for_sku("SKU-001")
    assert [l["produced"] for l in fifo] == sorted(l["produced"] for l in fifo)
    fefo = cache.lots_for_sku("SKU-015")
    assert [l["expires"] for l in fefo] == sorted(l["expires"] for l in fefo)
    assert cache.get_order("SO-99999") is None
    assert len(cache.list_lots()) == 52 and len(cache.list_packaging()) == 4


def test_cache_never_touches_station_tables_and_offers_a_merge_hook(station_db, conn, client):
    conn.execute("CREATE TABLE station_orders (order_id TEXT PRIMARY KEY, state TEXT)")
    conn.execute("INSERT INTO station_orders VALUES ('SO-10001', 'picked')")
    seen = []

    def on_update(c, changes):
        assert c.in_transaction
        for order in changes["orders"]:
            c.execute("INSERT OR IGNORE INTO station_orders VALUES (?, 'new')", (order["order_id"],))
        seen.append(len(changes["orders"]))

    ReferenceCache(station_db, client, on_update=on_update).refresh()
    assert seen == [20]
    assert conn.execute("SELECT state FROM station_orders WHERE order_id = 'SO-10001'").fetchone()[0] == "picked"
    assert conn.execute("SELECT COUNT(*) FROM station_orders").fetchone()[0] == 20
