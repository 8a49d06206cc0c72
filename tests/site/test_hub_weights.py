"""The hub's side of the site's learned weights (``sync/hub/weights.py``) over real HTTP, on SQLite and PostgreSQL:
tables' snapshots pooled into the site's figures, a garbled snapshot refused whole, one decision per SKU and review
(the second decider told who came first), a supervisor only, a reset dropping what tables learned of the SKU before
it, the dashboard's weights section deciding as the signed-in supervisor, and a restarted hub serving the same."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import requests
from hubkit import TOKENS, dashboard_sign_in

from packgate.sync.hub import weights
from packgate.sync.upstream.demo_data import DEMO_BADGES as BADGES

AUTH = {s: {"Authorization": f"Bearer {t}"} for s, t in TOKENS.items()}
SUPERVISOR, PACKER = "E005", "E002"


def figure(mean: str, sigma: str, n: int, se: str = "0.5", samples: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"mean_g": mean, "sigma_g": sigma, "n": n, "se_g": se, "samples": list(samples)}


def snapshot(sku_mean: str, n: int, sig_mean: str, parcel: str) -> dict[str, Any]:
    return {"parcels": n, "upto_seq": n,
            "skus": {"SKU-903": figure(sku_mean, "1.0", n, samples=(parcel,))},
            "boxes": {"BOX-S": figure("120.0", "1.0", n)},
            "signatures": [{"box": "BOX-S", "items": [["SKU-903", 1]], **figure(sig_mean, "1.0", n, samples=(parcel,))}],
            "overridden": {}}


SUSPECT = {"sku": "SKU-903", "reference_g": "150.0", "accepted": False, "proposed_g": "160.0", "source": "passing",
           "passing": figure("160.0", "1.0", 12), "overridden": None, "deviation_pct": "6.7", "name": "Screen protector"}


def put(url: str, station: str, learned: dict, suspects: list | None = None, decisions_n: int = 0) -> requests.Response:
    return requests.put(f"{url}/v1/weights/figures/{station}", headers=AUTH[station], timeout=5,
                        json={"learned": learned, "review": {"suspects": suspects or [], "decisions_n": decisions_n}})


def decide(url: str, station: str, action: str, by: str = SUPERVISOR, prev: int = 0) -> requests.Response:
    decision = {"sku": "SKU-903", "action": action, "by": by, "before_g": "150.0", "reason": "checked",
                "value_g": "160.0" if action == "accept" else None}
    return requests.post(f"{url}/v1/weights/decisions", headers=AUTH[station], timeout=5,
                         json={"station": station, "decision": decision, "prev": prev, "evidence": {"passing": None}})


def site_weights(url: str, station: str = "ST01") -> dict[str, Any]:
    resp = requests.get(f"{url}/v1/weights", headers=AUTH[station], timeout=5)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_pooling_weights_each_table_by_its_parcels_and_counts_the_spread_between_tables():
    one = figure("159.0", "1.0", 10, "0.3")
    two = figure("161.0", "1.0", 30, "0.2")
    pooled = weights.pool([one, two])
    assert pooled is not None and pooled["n"] == 40
    assert Decimal(pooled["mean_g"]) == Decimal("160.50")
    # within: 9·1 + 29·1 = 38; between: 10·1.5² + 30·0.5² = 30; (38 + 30) / 39 → σ 1.32
    assert Decimal(pooled["sigma_g"]) == Decimal("1.32")
    assert weights.pool([figure("1", "0", 0)]) is None
    assert weights.pool([one]) == {**one, "mean_g": "159.00", "sigma_g": "1.00", "se_g": "0.30"}


def test_tables_snapshots_are_pooled_and_every_table_reads_the_sites_figures(site):
    assert site_weights(site.url) == {"version": 0, "learned": {"parcels": 0, "upto_seq": 0, "skus": {}, "boxes": {},
                                                                "overridden": {}, "signatures": []},
                                      "decisions": [], "tables": []}
    assert put(site.url, "ST01", snapshot("159.0", 10, "279.0", "SO-1")).json()["version"] == 1
    assert put(site.url, "ST01", snapshot("159.0", 10, "279.0", "SO-1")).json()["version"] == 1  # a repeat: nothing
    assert put(site.url, "ST02", snapshot("161.0", 10, "281.0", "SO-2")).json()["version"] == 2
    assert requests.get(f"{site.url}/v1/weights?known=2", headers=AUTH["ST01"], timeout=5).json() == \
        {"version": 2, "unchanged": True}  # a table with the current figures is sent nothing again
    assert "learned" in requests.get(f"{site.url}/v1/weights?known=1", headers=AUTH["ST01"], timeout=5).json()
    found = site_weights(site.url, "ST02")
    assert found["version"] == 2 and [t["station"] for t in found["tables"]] == ["ST01", "ST02"]
    sku = found["learned"]["skus"]["SKU-903"]
    assert (sku["mean_g"], sku["n"], sku["samples"]) == ("160.00", 20, ["SO-1", "SO-2"])
    [sig] = found["learned"]["signatures"]
    assert (sig["box"], sig["items"], sig["mean_g"], sig["n"]) == ("BOX-S", [["SKU-903", 1]], "280.00", 20)
    assert found["learned"]["parcels"] == 20
    feed = requests.get(f"{site.url}/v1/feed?since=0", headers=AUTH["ST02"], timeout=5).json()["events"]
    assert [e["data"]["version"] for e in feed if e["kind"] == "weights"] == [1, 2]  # tables look again on these


def test_a_garbled_snapshot_is_refused_whole_with_the_reason(site):
    put(site.url, "ST01", snapshot("159.0", 10, "279.0", "SO-1"))
    bad = snapshot("159.0", 10, "279.0", "SO-1")
    bad["skus"]["SKU-904"] = figure("NaN", "1.0", 3)
    resp = put(site.url, "ST01", bad)
    assert resp.status_code == 400 and "learned.skus[SKU-904].mean_g must be a number of grams" in resp.json()["error"]
    resp = put(site.url, "ST01", {**snapshot("159.0", 10, "279.0", "SO-1"), "signatures": [{"box": "BOX-S", "items": []}]})
    assert resp.status_code == 400 and "signatures[0]" in resp.json()["error"]
    other = requests.put(f"{site.url}/v1/weights/figures/ST02", headers=AUTH["ST01"], timeout=5, json={"learned": {}})
    assert other.status_code == 403
    assert "SKU-904" not in site_weights(site.url)["learned"]["skus"]  # the earlier snapshot stands


def test_one_decision_per_sku_and_review_by_a_supervisor_with_one_weight_learned_for_the_wms(site):
    put(site.url, "ST01", snapshot("160.0", 12, "280.0", "SO-1"), [SUSPECT])
    review = requests.get(f"{site.url}/v1/weights/review", headers=AUTH["ST02"], timeout=5).json()
    assert [s["sku"] for s in review["suspects"]] == ["SKU-903"] and review["station"] == "ST01"

    packer = decide(site.url, "ST01", "accept", by=PACKER)
    assert packer.status_code == 403 and "not a supervisor" in packer.json()["error"]
    taken = decide(site.url, "ST01", "accept")
    assert taken.status_code == 200, taken.text
    assert (taken.json()["n"], taken.json()["value_g"], taken.json()["station"]) == (1, "160.0", "ST01")
    late = decide(site.url, "ST02", "accept")  # table 2 decided on the same review: it came second
    assert late.status_code == 409 and "decided already (accept) by E005 at ST01" in late.json()["error"]
    assert requests.get(f"{site.url}/v1/weights/review", headers=AUTH["ST02"], timeout=5).json()["suspects"] == []
    found = site_weights(site.url)
    assert [(d["n"], d["sku"], d["action"], d["decision"]["value_g"]) for d in found["decisions"]] == \
        [(1, "SKU-903", "accept", "160.0")]
    with site.hub.db.read() as conn:
        own = conn.execute("SELECT action, object_type, object_id, operator FROM hub_confirmations"
                           " WHERE action = 'weight_learned'")
        audit = conn.execute("SELECT who, what, subject FROM hub_audit WHERE what LIKE 'weight_%'")
    assert [tuple(r.values()) for r in own] == [("weight_learned", "sku", "SKU-903", SUPERVISOR)]
    assert [tuple(r.values()) for r in audit] == [(SUPERVISOR, "weight_accept", "SKU-903")]
    assert site.relay() == 1


def test_a_reset_drops_what_tables_learned_of_the_sku_before_it(site, clock):
    put(site.url, "ST01", snapshot("160.0", 12, "280.0", "SO-1"), [SUSPECT])
    clock.advance(1)
    assert decide(site.url, "ST01", "reset").status_code == 200
    found = site_weights(site.url)
    assert found["learned"]["skus"] == {} and found["learned"]["signatures"] == []
    assert found["learned"]["boxes"]["BOX-S"]["n"] == 12  # the box stays learned
    with site.hub.db.read() as conn:
        assert conn.value("SELECT COUNT(*) FROM hub_confirmations WHERE action = 'weight_learned'") == 0
    clock.advance(1)
    put(site.url, "ST01", snapshot("150.5", 3, "270.5", "SO-9"), [], decisions_n=1)  # learned again since
    assert site_weights(site.url)["learned"]["skus"]["SKU-903"]["n"] == 3


def test_the_dashboard_lists_suspect_weights_and_a_signed_in_supervisor_decides_there(site):
    put(site.url, "ST01", snapshot("160.0", 12, "280.0", "SO-1"), [SUSPECT])
    browser = requests.Session()
    assert browser.get(f"{site.url}/weights", timeout=5).text.count('name="badge"') == 1  # the sign-in form
    assert dashboard_sign_in(browser, site.url, BADGES["supervisor"], "9876").status_code == 303
    page = browser.get(f"{site.url}/weights?lang=zh", timeout=5).text
    assert "可疑重量" in page and 'data-sku="SKU-903"' in page and "160.0 ± 1.0 g, n=12" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    forged = browser.post(f"{site.url}/weights/decide", data={"sku": "SKU-903", "action": "accept", "csrf": "x"},
                          allow_redirects=False, timeout=5)
    assert forged.status_code == 403
    done = browser.post(f"{site.url}/weights/decide", data={"sku": "SKU-903", "action": "accept", "csrf": csrf.group(1),
                                                            "reason": "weighed ten"}, allow_redirects=False, timeout=5)
    assert done.status_code == 303
    page = browser.get(f"{site.url}/weights?lang=en", timeout=5).text
    assert 'class="suspect"' not in page and 'class="decision" data-sku="SKU-903"' in page and "dashboard" in page
    again = browser.post(f"{site.url}/weights/decide", data={"sku": "SKU-903", "action": "accept",
                                                             "csrf": csrf.group(1)}, allow_redirects=False, timeout=5)
    assert again.status_code == 409
    with site.hub.db.read() as conn:
        assert conn.value("SELECT COUNT(*) FROM hub_confirmations WHERE action = 'weight_learned'") == 1


def test_a_restarted_hub_serves_the_same_figures_and_decisions(make_site, site):
    put(site.url, "ST01", snapshot("160.0", 12, "280.0", "SO-1"), [SUSPECT])
    assert decide(site.url, "ST01", "accept").status_code == 200
    before = site_weights(site.url)
    site.stop()
    again = make_site()
    assert site_weights(again.url) == before


def test_two_tables_deciding_the_same_line_at_once_make_one_decision(site):
    from concurrent.futures import ThreadPoolExecutor

    put(site.url, "ST01", snapshot("160.0", 12, "280.0", "SO-1"), [SUSPECT])
    for _ in range(3):
        with site.hub.db.read() as conn:
            prev = weights.last_decision(conn, "SKU-903")
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda s, p=prev: decide(site.url, s, "accept", prev=p), ("ST01", "ST02")))
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    with site.hub.db.read() as conn:
        assert conn.value("SELECT COUNT(*) FROM hub_weight_decisions") == 3
        assert conn.value("SELECT COUNT(*) FROM hub_confirmations WHERE action = 'weight_learned'") == 3
