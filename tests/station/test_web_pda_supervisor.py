"""PDA and supervisor endpoints over the real Flask app (session cookie + CSRF), on a real Station."""
from __future__ import annotations

import itertools
from datetime import date

import pytest

from packgate.station.demo.rig import gs1_item
from packgate.station.web.app import create_app
from packgate.sync.common.notify import Notifier


class Browser:
    """What the page's JS does: a fresh key on every action, and the new CSRF token after sign-in or sign-out."""

    def __init__(self, app):
        self.client = app.test_client()
        self.token = self.client.get("/api/v1/csrf").get_json()["csrf_token"]
        self.keys = itertools.count(1)

    def post(self, path, body):
        if path == "/api/v1/actions" and "key" not in body:
            body = {**body, "key": f"browser-key-{next(self.keys):06d}"}
        response = self.client.post(path, json=body, headers={"X-CSRF-Token": self.token})
        rotated = (response.get_json(silent=True) or {}).get("csrf_token")
        if rotated:
            self.token = rotated
        return response

    def get(self, path):
        return self.client.get(path)

    def login(self, badge, pin):
        return self.post("/api/v1/pda/login", {"badge": badge, "pin": pin}).get_json()


@pytest.fixture
def app(station):
    return create_app(station, secret_key=b"s" * 32)


def test_pda_login_needs_the_right_pin(app, station, h):
    pda = Browser(app)
    wrong = pda.login(h.BADGES["picker"], "0000")
    assert wrong["status"] == "error" and wrong["code"] == "bad_login"
    assert pda.get("/api/v1/pda/me").get_json() == {"employee": None}
    assert pda.get("/api/v1/pda/orders").status_code == 401
    ok = pda.login(h.BADGES["picker"].lower(), "4321")
    assert ok["status"] == "ok" and ok["employee"]["employee_id"] == "E004"
    me = pda.get("/api/v1/pda/me").get_json()["employee"]
    assert me["employee_id"] == "E004" and "pin" not in me and me["phone"].endswith("9001") and "+" not in me["phone"]
    login_conf = h.outbox_rows(station)[-1]["body"]
    assert (login_conf["action"], login_conf["object_id"], login_conf["device"]) == ("badge", "E004", "ST01-pda")
    pda.post("/api/v1/pda/logout", {})
    assert pda.get("/api/v1/pda/orders").status_code == 401


def test_pda_orders_are_listed_priority_first(app, h):
    pda = Browser(app)
    pda.login(h.BADGES["picker"], "4321")
    orders = pda.get("/api/v1/pda/orders").get_json()["orders"]
    assert orders[0]["order_id"] == "SO-10002" and orders[0]["priority"] == 2
    priorities = [o["priority"] for o in orders]
    assert priorities == sorted(priorities, reverse=True)
    assert {"order_id", "tote", "lines", "units", "priority", "status"} <= set(orders[0])


def test_a_whole_pick_over_http_with_the_operator_from_the_session(app, station, world, h):
    pda = Browser(app)
    pda.login(h.BADGES["picker"], "4321")
    plan = pda.get("/api/v1/pda/picks/SO-10012").get_json()
    assert plan["tote"] == "T-0012" and plan["current_index"] == 0
    bins = [t["bin"] for t in plan["tasks"]]
    assert bins == sorted(bins)  # walking order
    start = pda.post("/api/v1/actions", {"action": "pick", "object_id": "SO-10012", "terminal": "pda"}).get_json()
    assert start["code"] == "pick_started"
    wrong = pda.post("/api/v1/actions", {"action": "scan", "object_id": "Z-99-99", "terminal": "pda"}).get_json()
    assert wrong["code"] == "wrong_bin" and wrong["data"]["expected_bin"] == bins[0]
    for task in plan["tasks"]:
        pda.post("/api/v1/actions", {"action": "scan", "object_id": task["bin"], "terminal": "pda"})
        sku = world.skus[task["sku"]]
        lot = next(l for l in world.lots(task["sku"]) if l["lot"] == task["lot"])
        code = gs1_item(sku["gtin"], task["lot"], date.fromisoformat(lot["expires"]))
        for _ in range(task["qty"]):
            answer = pda.post("/api/v1/actions", {"action": "scan", "object_id": code, "terminal": "pda"}).get_json()
            assert answer["status"] == "ok", answer
    done = pda.post("/api/v1/actions", {"action": "scan", "object_id": "T-0012", "terminal": "pda"}).get_json()
    assert done["code"] == "order_picked"
    picks = [r["body"] for r in h.outbox_rows(station, "action = 'pick'")]
    assert {p["operator"] for p in picks} == {"E004"} and {p["device"] for p in picks} == {"ST01-pda"}
    assert all(p["location"] == p["payload"]["bin"] for p in picks)  # a pick is located at its bin tag
    assert "SO-10012" not in [o["order_id"] for o in pda.get("/api/v1/pda/orders").get_json()["orders"]]


def test_five_wrong_pins_lock_the_badge_for_five_minutes(app, station, clock, h):
    pda = Browser(app)
    for _ in range(5):
        assert pda.login(h.BADGES["picker"], "0000")["code"] == "bad_login"
    locked = pda.login(h.BADGES["picker"], "4321")
    assert locked["code"] == "login_locked" and "try again in" in locked["message"]
    assert pda.login(h.BADGES["supervisor"], "9876")["status"] == "ok"  # other badges are not affected
    clock.advance(301)
    assert pda.login(h.BADGES["picker"], "4321")["status"] == "ok"


def test_pda_actions_without_a_signed_in_picker_are_refused(app):
    pda = Browser(app)
    answer = pda.post("/api/v1/actions", {"action": "pick", "object_id": "SO-10012", "terminal": "pda"}).get_json()
    assert answer["code"] == "not_signed_in"


def test_a_packer_refused_on_the_supervisor_page_is_not_signed_in_there(app, h):
    page = Browser(app)
    refused = page.post("/api/v1/pda/login", {"badge": h.BADGES["picker"], "pin": "4321", "page": "supervisor"})
    assert refused.status_code == 403 and refused.get_json()["code"] == "not_supervisor"
    assert page.get("/api/v1/pda/me").get_json()["employee"] is None
    assert page.get("/api/v1/supervisor/overview").status_code == 401
    ok = page.post("/api/v1/pda/login", {"badge": h.BADGES["supervisor"], "pin": "9876", "page": "supervisor"})
    assert ok.get_json()["status"] == "ok" and page.get("/api/v1/supervisor/overview").status_code == 200


def test_the_api_docs_give_the_statuses_the_supervisor_api_answers():
    from pathlib import Path

    api = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    row = next(line for line in api.splitlines() if line.startswith("| `GET /api/v1/supervisor/overview`"))
    assert "401 `not_signed_in`" in row and "403 `not_supervisor`" in row


def test_overview_is_for_supervisors_only_and_masks_for_everyone_else(app, h):
    anonymous, picker, supervisor = Browser(app), Browser(app), Browser(app)
    picker.login(h.BADGES["picker"], "4321")
    supervisor.login(h.BADGES["supervisor"], "9876")
    response = anonymous.client.get("/api/v1/supervisor/overview")
    assert response.status_code == 401 and response.get_json()["code"] == "not_signed_in"
    response = picker.client.get("/api/v1/supervisor/overview")
    assert response.status_code == 403 and response.get_json()["code"] == "not_supervisor"
    overview = supervisor.get("/api/v1/supervisor/overview").get_json()
    phones = {e["employee_id"]: e["phone"] for e in overview["employees"]}
    assert phones["E001"] == "+86 138 0013 8000"
    assert all("pin" not in e for e in overview["employees"])
    me = picker.get("/api/v1/pda/me").get_json()["employee"]
    assert me["phone"] == "*********9001" and "pin" not in me


@pytest.fixture
def escalated(make_station, clock, world, h, webhook):
    station = make_station(notifier=Notifier([webhook.url]))
    h.pick_order(station, world, "SO-10012")
    clock.advance(12 * 60)
    station.tick()
    [esc] = station.supervisor_overview()["escalations"]
    return station, esc["id"]


def test_only_a_signed_in_supervisor_can_acknowledge(escalated, h):
    station, esc_id = escalated
    app = create_app(station, secret_key=b"s" * 32)
    stranger = Browser(app)
    claimed = stranger.post(f"/api/v1/escalations/{esc_id}/ack", {"operator": "E005"})  # naming the supervisor
    assert claimed.status_code == 401 and claimed.get_json()["code"] == "not_signed_in"
    picker = Browser(app)
    picker.login(h.BADGES["picker"], "4321")
    assert picker.post(f"/api/v1/escalations/{esc_id}/ack", {}).get_json()["code"] == "not_supervisor"
    assert len(station.supervisor_overview()["escalations"]) == 1
    supervisor = Browser(app)
    supervisor.login(h.BADGES["supervisor"], "9876")
    ok = supervisor.post(f"/api/v1/escalations/{esc_id}/ack", {}).get_json()
    assert ok["code"] == "acknowledged"
    assert station.supervisor_overview()["escalations"] == []
    assert supervisor.post("/api/v1/escalations/99999/ack", {}).get_json()["code"] == "unknown_escalation"


def test_an_api_token_client_acknowledges_for_a_named_supervisor(escalated):
    station, esc_id = escalated
    app = create_app(station, secret_key=b"s" * 32, api_tokens=("wms-integration-token-0001",))
    headers = {"Authorization": "Bearer wms-integration-token-0001"}
    client = app.test_client()
    assert client.post(f"/api/v1/escalations/{esc_id}/ack", json={"operator": "E001"},
                       headers=headers).get_json()["code"] == "not_supervisor"
    assert client.post(f"/api/v1/escalations/{esc_id}/ack", json={"operator": "E005"},
                       headers=headers).get_json()["code"] == "acknowledged"


def test_a_browser_cannot_act_as_a_pda_operator_it_merely_names(app, station, h):
    stranger = Browser(app)
    answer = stranger.post("/api/v1/actions", {"action": "pick", "object_id": "SO-10012", "terminal": "pda",
                                               "operator": "E004"}).get_json()
    assert answer["code"] == "not_signed_in" and "E004" not in station.picks
    picker = Browser(app)
    picker.login(h.BADGES["picker"], "4321")
    started = picker.post("/api/v1/actions", {"action": "pick", "object_id": "SO-10012", "terminal": "pda",
                                              "operator": "E005"}).get_json()
    assert started["code"] == "pick_started"
    assert set(station.picks) == {"E004"}
