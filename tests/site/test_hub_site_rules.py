"""The hub's site rules against real servers (stations' real outboxes delivering to it, the reference WMS behind it):
claims checked when confirmations arrive, a parcel held by one dock batch of the site, a supervisor's release that
the table cannot renew away, and one escalate / escalation_ack per (order, level) at the WMS."""
from __future__ import annotations

import threading

import pytest
import requests
from hubkit import TOKENS, dashboard_sign_in

from packgate.sync.errors import ClaimConflictError, HubError
from packgate.sync.hub import store
from packgate.sync.hub_client import SiteClient
from packgate.sync.upstream.demo_data import DEMO_BADGES


def client(site, station="ST01") -> SiteClient:
    return SiteClient(site.url, station, TOKENS[station])


def conflicts(site, kind: str) -> list[dict]:
    with site.hub.db.read() as conn:
        return [c["detail"] for c in store.conflicts(conn) if c["kind"] == kind]


def wms_confirmations(wms: str, order_id: str) -> list[dict]:
    return list(requests.get(f"{wms}/v1/orders/{order_id}/confirmations", timeout=5).json()["confirmations"])


def supervisor_session(site) -> requests.Session:
    http = requests.Session()
    assert dashboard_sign_in(http, site.url, DEMO_BADGES["supervisor"], "9876").status_code == 303
    return http


def test_a_foreign_cancel_weigh_or_pack_is_a_conflict_and_moves_nothing(site, wms):
    one, two = site.station("ST01"), site.station("ST02")
    one.pick("SO-10013", "T-0013")
    one.push()
    client(site, "ST01").claim("SO-10013", "E001")  # table 1 opened it
    one.confirm("open", "order", "SO-10013", {})
    one.push()
    assert site.hub.order("SO-10013")["stage"] == "packing"
    ids = [two.confirm("cancel", "order", "SO-10013", {"scope": "order", "reason": "wrong table"}, "E002"),
           two.confirm("weigh", "order", "SO-10013", {"result": "pass"}, "E002"),
           two.confirm("pack", "order", "SO-10013", {"units": [{"sku": "SKU-001", "lot": "L20260101"}],
                                                     "waybill": "SF1"}, "E002")]
    two.push()
    order = site.hub.order("SO-10013")
    assert order["stage"] == "packing" and order["station"] == "ST01" and order["claim"]["station"] == "ST01"
    found = conflicts(site, "not_claim_holder")
    assert sorted((c["action"], c["confirmation"]) for c in found) == sorted(zip(("cancel", "weigh", "pack"), ids, strict=True))
    assert all(c["station"] == "ST02" and c["holder"] == "ST01" and c["order_id"] == "SO-10013" for c in found)
    with site.hub.db.read() as conn:
        assert parcels_of(conn) == []  # the foreign pack made no parcel the dock could take
        assert ("SKU-001", "L20260101") not in store.lots_taken(conn)  # ... and took no lot stock
    http = supervisor_session(site)
    shown = http.get(f"{site.url}/api/dashboard", timeout=5).json()["conflicts"]
    assert {c["kind"] for c in shown} == {"not_claim_holder"} and len(shown) == 3
    assert {c["kind_name"] for c in shown} == {"worked at a table that did not hold the order"}  # in words
    site.relay()  # the facts still reach the WMS, each once
    assert [c["action"] for c in wms_confirmations(wms, "SO-10013") if c["station"] == "ST02"] == \
        ["cancel", "weigh", "pack"]
    one.confirm("weigh", "order", "SO-10013", {"result": "pass"})  # the claim holder's own move
    one.push()
    assert site.hub.order("SO-10013")["stage"] == "weighed"


def test_a_confirmation_made_before_another_table_claimed_the_order_arrives_late_and_moves_nothing(site, clock):
    """Table 2 stopped the order and let its claim go; its ``cancel`` reaches the hub after table 1 claimed the order:
    not a conflict (it was table 2's then), and the order stays with table 1."""
    one, two = site.station("ST01"), site.station("ST02")
    two.confirm("cancel", "order", "SO-10013", {"scope": "pack_session", "reason": "stopped"}, "E002")
    clock.advance(2)
    client(site, "ST01").claim("SO-10013", "E001")
    one.confirm("open", "order", "SO-10013", {})
    one.push()
    two.push()
    assert site.hub.order("SO-10013")["stage"] == "packing" and site.hub.order("SO-10013")["claim"]["station"] == "ST01"
    assert conflicts(site, "not_claim_holder") == []


def parcels_of(conn) -> list[dict]:
    return conn.execute("SELECT order_id FROM hub_parcels")


def test_one_parcel_is_held_by_one_dock_batch_of_the_site(site):
    one = site.station("ST01")
    one.confirm("weigh", "order", "SO-10009", {"result": "pass"})
    one.confirm("pack", "order", "SO-10009", {"units": [], "waybill": "SF000009"})
    one.push()
    answers: dict[str, dict] = {}

    def hold(station: str) -> None:
        answers[station] = client(site, station).hold_parcel(f"{station}-H00001", "SF000009", "E004") or {}

    threads = [threading.Thread(target=hold, args=(s,)) for s in ("ST01", "ST02")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [s for s, a in answers.items() if a["taken"]]
    assert len(winners) == 1, answers
    loser = "ST02" if winners == ["ST01"] else "ST01"
    assert answers[loser]["batch_id"] == f"{winners[0]}-H00001" and answers[loser]["order_id"] == "SO-10009"
    assert answers[loser]["packed_station"] == "ST01" and answers[loser]["waybill"] == "SF000009"
    assert client(site, loser).give_back("SO-10009", f"{loser}-H00001") is False  # it never held it
    assert client(site, winners[0]).give_back("SO-10009", f"{winners[0]}-H00001") is True
    assert client(site, loser).hold_parcel(f"{loser}-H00001", "SO-10009", None)["taken"] is True
    assert client(site, "ST01").hold_parcel("ST01-H00002", "NO-SUCH-LABEL", None) is None
    foreign = requests.post(f"{site.url}/v1/dock/holds", json={"station": "ST01", "batch_id": "ST02-H00001",
                                                               "code": "SO-10009"},
                            headers={"Authorization": f"Bearer {TOKENS['ST01']}"}, timeout=5)
    assert foreign.status_code == 403 and "ST02-H00001" in foreign.json()["error"]


def test_a_supervisors_release_needs_a_reason_and_the_table_cannot_renew_it_away(site):
    one, two = client(site, "ST01"), client(site, "ST02")
    one.claim("SO-10013", "E001")
    http = supervisor_session(site)
    csrf = http.get(f"{site.url}/", timeout=5).text.split('name="csrf" value="')[1].split('"')[0]
    bare = http.post(f"{site.url}/claims/release", data={"csrf": csrf, "order_id": "SO-10013", "reason": "  "},
                     allow_redirects=False, timeout=5)
    assert bare.status_code == 400 and "reason is required" in bare.json()["error"]
    assert site.hub.order("SO-10013")["claim"]["station"] == "ST01"
    done = http.post(f"{site.url}/claims/release", data={"csrf": csrf, "order_id": "SO-10013",
                                                          "reason": "packer went home"}, allow_redirects=False, timeout=5)
    assert done.status_code == 303 and site.hub.order("SO-10013")["claim"] is None
    event = [e["data"] for e in one.feed(0, 0)["events"] if e["kind"] == "claim_released"][-1]
    assert event == {"order_id": "SO-10013", "station": "ST01", "why": "supervisor", "by": "E005",
                     "by_name": "Priya Nair", "reason": "packer went home"}
    with site.hub.db.read() as conn:
        audit = [a for a in store.audit_log(conn) if a["what"] == "release_claim"]
    assert len(audit) == 1 and audit[0]["who"] == "E005" and "packer went home" in audit[0]["after"]

    told = one.heartbeat(order_id="SO-10013", operator="E001")  # the table still says it has it open
    assert [(r["order_id"], r["by_name"], r["reason"]) for r in told] == [("SO-10013", "Priya Nair", "packer went home")]
    with pytest.raises(ClaimConflictError) as refused:
        one.renew("SO-10013", "E001")
    assert refused.value.claim["released"]["reason"] == "packer went home" and "Priya Nair" in str(refused.value)
    assert site.hub.order("SO-10013")["claim"] is None  # the release won
    assert two.claim("SO-10013", "E002")["station"] == "ST02"  # another table opens it afresh
    assert one.heartbeat(order_id=None) == []


def test_each_level_reaches_the_wms_as_one_escalate_and_its_acknowledgement_once(site, wms, clock):
    one = site.station("ST01")
    one.pick("SO-10012", "T-0012")
    one.push()
    clock.advance(12 * 60 + 1)
    assert site.hub.tick()["escalations"] == ["SO-10012/1"]
    clock.advance(10 * 60)
    assert site.hub.tick()["escalations"] == ["SO-10012/2"]
    for _ in range(3):
        site.hub.tick()
        site.relay()
    escalated = [c for c in wms_confirmations(wms, "SO-10012") if c["action"] == "escalate"]
    assert [(c["station"], c["payload"]["level"], c["payload"]["id"]) for c in escalated] == \
        [("HUB", 1, "SO-10012/1"), ("HUB", 2, "SO-10012/2")]
    assert escalated[0]["payload"]["picked_at"] and escalated[0]["payload"]["release_priority"] is True
    assert [e["id"] for e in client(site).escalations()] == ["SO-10012/1", "SO-10012/2"]

    first = client(site).acknowledge("SO-10012", 1, "E005")
    again = client(site, "ST02").acknowledge("SO-10012", 1, "E005")
    assert first["acknowledged"] is True and again["acknowledged"] is False and again["acked_by_name"] == "Priya Nair"
    with pytest.raises(HubError, match="not a supervisor"):
        client(site).acknowledge("SO-10012", 2, "E001")
    assert client(site).acknowledge("SO-10099", 1, "E005") is None
    assert [e["id"] for e in client(site).escalations()] == ["SO-10012/2"]
    for _ in range(2):
        site.relay()
    acks = [c for c in wms_confirmations(wms, "SO-10012") if c["action"] == "escalation_ack"]
    assert [(c["station"], c["operator"], c["payload"]["level"]) for c in acks] == [("HUB", "E005", 1)]
    with site.hub.db.read() as conn:
        audit = [a for a in store.audit_log(conn) if a["what"] == "acknowledge_escalation"]
    assert [(a["who"], a["subject"]) for a in audit] == [("E005", "SO-10012/1")]


def test_a_release_queued_offline_of_a_claim_another_table_took_since_is_nothing_to_release(site, clock):
    """A table stopped an order while offline; its claim expired and another table took the order: the release it
    sends when it is back is answered 403 by the hub, which the table takes as done (its heartbeats go on)."""
    one, two = client(site, "ST01"), client(site, "ST02")
    one.claim("SO-10013", "E001")
    clock.advance(site.hub.config["claims.expire_after_s"] + 1)
    two.claim("SO-10013", "E002")
    assert one.release("SO-10013") is False
    assert site.hub.order("SO-10013")["claim"]["station"] == "ST02"
    assert one.heartbeat(operator="E001") == []
