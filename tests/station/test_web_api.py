"""The action confirmation API over the real Flask app, on a real Station (real upstream, real SQLite)."""
from __future__ import annotations

import itertools

import pytest

from packgate.station.web.app import create_app

TOKEN = "handheld-token-0123456789abcdef"


@pytest.fixture
def app(station):
    return create_app(station, secret_key=b"k" * 32, api_tokens=(TOKEN,))


@pytest.fixture
def api(app):
    """A browser-like client: cookie session plus the CSRF token from GET /api/v1/csrf."""
    client = app.test_client()
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    keys = itertools.count(1)

    def post(body, path="/api/v1/actions", **kw):
        if path == "/api/v1/actions" and "key" not in body:  # the page's JS sends a fresh key with every action
            body = {**body, "key": f"test-key-{next(keys):06d}"}
        return client.post(path, json=body, headers={"X-CSRF-Token": token}, **kw)

    post.client = client
    post.token = token
    return post


def act(api, body) -> dict:
    response = api(body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


SHAPE = {"status", "code", "message", "message_zh", "next", "sound", "colour"}
STYLE = {"ok": ("ok", "green"), "prompt": ("prompt", "amber"), "blocked": ("error", "red"), "error": ("error", "red")}


def check_shape(answer: dict, status: str, code: str) -> None:
    assert SHAPE <= set(answer), answer
    assert (answer["status"], answer["code"]) == (status, code), answer
    assert (answer["sound"], answer["colour"]) == STYLE[status]
    assert answer["message"] and answer["message_zh"] and answer["next"] is not None


# ---------------------------------------------------------------------------- verdict shapes
def test_every_verdict_status_comes_back_in_the_same_shape(api, world, h):
    ok = act(api, {"action": "badge", "object_id": h.BADGES["packer"], "key": "k-shape-0001"})
    check_shape(ok, "ok", "signed_in")
    assert ok["next"] == "scan_order" and len(ok["confirmation_ids"]) == 1

    check_shape(act(api, {"action": "scan", "object_id": "SO-10001"}), "ok", "order_opened")
    prompt = act(api, {"action": "scan", "object_id": h.item(world, "SKU-001", -1)})
    check_shape(prompt, "prompt", "fifo_older_lot")
    oldest = world.lots("SKU-001")[0]
    assert prompt["data"]["older_lot"] == oldest["lot"] and prompt["data"]["older_bin"] == oldest["bin"]

    check_shape(act(api, {"action": "fifo_take_older"}), "prompt", "lot_swap")
    error = act(api, {"action": "scan", "object_id": h.item(world, "SKU-012")})
    check_shape(error, "error", "item_not_in_order")
    assert error["data"]["sku"] == "SKU-012"

    for _ in range(2):
        check_shape(act(api, {"action": "scan", "object_id": h.item(world, "SKU-001")}), "ok", "item_accepted")
    check_shape(act(api, {"action": "scan", "object_id": h.item(world, "SKU-013")}), "ok", "item_accepted")
    expected = world.expected_g("SO-10001")
    blocked = act(api, {"action": "weigh", "payload": {"grams": str(expected + 200), "stable": True}})
    check_shape(blocked, "blocked", "weight_out_of_tolerance")
    assert blocked["next"] == "reweigh_or_override"
    assert blocked["data"]["expected_g"] == f"{expected:.1f}"

    refused = act(api, {"action": "pack"})
    check_shape(refused, "error", "not_allowed_now")


def test_validation_errors_name_the_field(api):
    cases = [
        ({"action": "scan", "object_id": 12}, "object_id"),
        ({"action": "scan", "operator": ["E001"]}, "operator"),
        ({"action": "scan", "device": 1}, "device"),
        ({"action": "scan", "payload": "grams=5"}, "payload"),
        ({"action": "scan", "key": "short"}, "key"),
        ({"action": "scan", "key": "k" * 129}, "key"),
        ({"action": "pack", "image_sha256": "ABC"}, "image_sha256"),
        ({"action": "pack", "image_sha256": "A" * 64}, "image_sha256"),
        ({"object_id": "SO-10001"}, "action"),
    ]
    for body, field in cases:
        answer = act(api, body)
        assert answer["status"] == "error" and answer["code"] == "bad_request", (body, answer)
        assert answer["message"].startswith(field), (body, answer["message"])


def test_unknown_action_lists_the_valid_ones(api):
    answer = act(api, {"action": "teleport", "object_id": "SO-10001"})
    assert answer["code"] == "bad_request"
    assert "'teleport'" in answer["message"] and "badge" in answer["message"] and "weigh" in answer["message"]


def test_an_action_the_kiosk_does_not_take_is_refused_by_name(api, h):
    act(api, {"action": "badge", "object_id": h.BADGES["packer"]})
    answer = act(api, {"action": "load", "object_id": "T-0001"})
    assert answer["code"] == "bad_request" and "'load'" in answer["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[1, 2]", b'"scan"'])
def test_bad_json_is_a_400_with_a_clear_message(api, raw):
    response = api.client.post("/api/v1/actions", data=raw, content_type="application/json",
                               headers={"X-CSRF-Token": api.token})
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "bad_json" and "JSON" in body["message"]


# ---------------------------------------------------------------------------- idempotency
def test_a_repeated_key_returns_the_first_answer_and_records_nothing_new(api, station, h):
    body = {"action": "badge", "object_id": h.BADGES["packer"], "key": "kiosk-0001-badge"}
    first = act(api, body)
    assert first["code"] == "signed_in" and "replayed" not in first
    rows = h.count(station, "sync_outbox")
    audit, answers = h.count(station, "audit"), h.count(station, "answers")

    again = act(api, body)
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "seq"}
    assert (h.count(station, "sync_outbox"), h.count(station, "audit"), h.count(station, "answers")) == \
        (rows, audit, answers)
    # without the key the same tap is a new action: it signs the packer out
    assert act(api, {"action": "badge", "object_id": h.BADGES["packer"]})["code"] == "signed_out"
    assert h.count(station, "sync_outbox") == rows + 1


def test_a_replayed_refusal_is_the_stored_refusal(api, station, h):
    act(api, {"action": "badge", "object_id": h.BADGES["packer"]})
    body = {"action": "scan", "object_id": "SO-99999", "key": "kiosk-unknown-order-1"}
    first = act(api, body)
    assert first["code"] == "unknown_order"
    act(api, {"action": "scan", "object_id": "SO-10009"})  # the station has moved on since
    again = act(api, body)
    assert again["replayed"] is True and again["code"] == "unknown_order"
    assert station.pack.order.order_id == "SO-10009"


def test_the_same_key_with_a_different_body_is_key_reused(api, station, h):
    act(api, {"action": "badge", "object_id": h.BADGES["packer"], "key": "kiosk-0002-badge"})
    rows = h.count(station, "sync_outbox")
    answer = act(api, {"action": "badge", "object_id": h.BADGES["packer2"], "key": "kiosk-0002-badge"})
    assert answer["status"] == "error" and answer["code"] == "key_reused"
    assert "kiosk-0002-badge" in answer["message"]
    assert h.count(station, "sync_outbox") == rows
    assert station.pack.operator.employee_id == "E001"


# ---------------------------------------------------------------------------- CSRF and API tokens
def test_post_without_csrf_token_is_403_and_changes_nothing(app, station, h):
    client = app.test_client()
    client.get("/api/v1/csrf")
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = client.post("/api/v1/actions", json={"action": "badge", "object_id": h.BADGES["packer"],
                                                         "key": "no-csrf-0001"}, headers=headers)
        assert response.status_code == 403
        assert response.get_json()["code"] == "csrf"
    assert station.pack.operator is None and h.count(station, "sync_outbox") == 0


def test_csrf_token_of_another_session_is_refused(app, h):
    alice, mallory = app.test_client(), app.test_client()
    alice_token = alice.get("/api/v1/csrf").get_json()["csrf_token"]
    mallory.get("/api/v1/csrf")
    response = mallory.post("/api/v1/actions", json={"action": "badge", "object_id": h.BADGES["packer"]},
                            headers={"X-CSRF-Token": alice_token})
    assert response.status_code == 403


def test_post_with_the_csrf_token_is_accepted(api, h):
    assert act(api, {"action": "badge", "object_id": h.BADGES["packer"]})["code"] == "signed_in"


def test_bearer_api_token_is_accepted_without_a_session(app, h):
    client = app.test_client()
    body = {"action": "badge", "object_id": h.BADGES["packer"], "key": "token-0001"}
    assert client.post("/api/v1/actions", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 403
    response = client.post("/api/v1/actions", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.get_json()["code"] == "signed_in"


def test_unknown_endpoint_is_a_json_404(api):
    response = api.client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


def test_openapi_describes_the_action_api(api):
    doc = api.client.get("/openapi.json").get_json()
    action = doc["paths"]["/api/v1/actions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    from packgate.station.service import ACTIONS

    assert set(action["properties"]["action"]["enum"]) == set(ACTIONS)


PAGES = ("/", "/pda", "/supervisor", "/supervisor/access-report", "/returns", "/static/<path:filename>")


def test_every_route_is_in_the_openapi_document_and_every_operation_in_it_is_served(app):
    from openapi_routes import compare

    from packgate.station.web.openapi import OPENAPI

    undocumented, unserved = compare(app, OPENAPI, pages=PAGES)
    assert undocumented == [] and unserved == []
    assert compare(app, {"paths": {**OPENAPI["paths"], "/api/v1/nowhere": {"get": {}}}}, pages=PAGES)[1] == \
        ["GET /api/v1/nowhere"]  # the comparison sees an operation nothing serves


def test_openapi_lists_every_api_route_and_the_paging_parameters(api, app):
    doc = api.client.get("/openapi.json").get_json()
    routes = {str(rule).replace("<int:", "{").replace("<", "{").replace(">", "}") for rule in app.url_map.iter_rules()
              if str(rule).startswith("/api/v1/") and "/demo/" not in str(rule)}
    routes = {r.replace("{kind}", kind) for r in routes
              for kind in (("milestones", "expiring-lots", "audit", "rejected-input", "employees") if "{kind}" in r else
                           ("",))}
    routes = {r.replace("{escalation_id}", "{id}") for r in routes}
    assert routes <= set(doc["paths"]), routes - set(doc["paths"])
    for path in ("/api/v1/pda/orders", "/api/v1/supervisor/milestones", "/api/v1/supervisor/expiring-lots"):
        names = {param["name"] for param in doc["paths"][path]["get"]["parameters"]}
        assert {"limit", "cursor"} <= names
    pda = doc["paths"]["/api/v1/pda/orders"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "next_cursor" in pda["required"]
    assert "orders_to_pick" in str(doc["paths"]["/api/v1/supervisor/counts"])


def test_a_repeated_key_on_the_pda_is_replayed_too(app, station, h):
    pda = app.test_client()
    token = pda.get("/api/v1/csrf").get_json()["csrf_token"]
    headers = {"X-CSRF-Token": token}
    login = pda.post("/api/v1/pda/login", json={"badge": h.BADGES["picker"], "pin": "4321"}, headers=headers).get_json()
    assert login["status"] == "ok"
    headers = {"X-CSRF-Token": login["csrf_token"]}  # a new session and token at sign-in
    body = {"action": "pick", "object_id": "SO-10012", "terminal": "pda", "key": "pda-1-pick-SO-10012"}
    first = pda.post("/api/v1/actions", json=body, headers=headers).get_json()
    assert first["code"] == "pick_started"
    again = pda.post("/api/v1/actions", json=body, headers=headers).get_json()
    assert again["replayed"] is True and again["data"]["pick"] == first["data"]["pick"]
    other = pda.post("/api/v1/actions", json={**body, "object_id": "SO-10013"}, headers=headers).get_json()
    assert other["code"] == "key_reused"
    task = first["data"]["pick"]["tasks"][0]
    scan = {"action": "scan", "object_id": task["bin"], "terminal": "pda", "key": "pda-1-scan-bin-0001"}
    assert pda.post("/api/v1/actions", json=scan, headers=headers).get_json()["code"] == "bin_ok"
    rows = h.count(station, "sync_outbox")
    assert pda.post("/api/v1/actions", json=scan, headers=headers).get_json()["replayed"] is True
    assert h.count(station, "sync_outbox") == rows


def test_a_malformed_call_of_another_terminal_never_replaces_the_kiosks_verdict(api, station, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    shown = station.verdict
    for body in ({"action": "weigh", "payload": {"grams": 990.5}}, {"action": "scan", "payload": "x"},
                 {"action": "picks"}, {"action": "weigh", "payload": {"grams": "lots"}}):
        answer = act(api, body)
        assert answer["code"] == "bad_request"
        assert station.verdict == shown  # the packer still sees their own verdict
    answer = act(api, {"action": "scan", "payload": "x"})
    assert answer["message_zh"] == "请求无效：payload必须是对象"
    float_answer = act(api, {"action": "weigh", "payload": {"grams": 990.5}})
    assert "浮点数" in float_answer["message_zh"] and "JSON number" in float_answer["message"]


def test_an_unknown_code_after_a_pack_is_an_unknown_order_not_an_item(api, station, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g("SO-10009"))}})
    assert act(api, {"action": "pack"})["code"] == "packed"
    answer = act(api, {"action": "scan", "object_id": "XYZ-123"})
    assert answer["code"] == "unknown_order" and "not possible now" not in answer["message"]
