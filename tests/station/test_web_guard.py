"""The web server's guard over the real Flask app on a real Station: who may call what, strict requests, JSON
errors for every status, security headers, allowed hosts, server-side sessions and CSRF rotation."""
from __future__ import annotations

import logging

import pytest

from packgate.station.runtime.logs import _Formatter
from packgate.station.web.app import create_app
from packgate.station.web.guard import COOKIE

TOKEN = "handheld-token-0123456789abcdef"


@pytest.fixture
def app(station):
    return create_app(station, secret_key=b"g" * 32, api_tokens=(TOKEN,))


@pytest.fixture
def kiosk(app):
    client = app.test_client()
    client.token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    return client


def remote(app):
    """A browser on the Wi-Fi (not the station PC itself)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.23"
    client.token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    return client


@pytest.mark.parametrize("path", ["/api/v1/state", "/api/v1/events", "/metrics", "/api/v1/pda/orders",
                                  "/openapi.json", "/api/v1/supervisor/overview"])
def test_only_healthz_answers_without_a_session_or_token(app, path):
    client = app.test_client()
    response = client.get(path)
    assert response.status_code == 401 and response.get_json()["code"] == "not_signed_in"
    assert client.get("/healthz").status_code == 200
    if path in ("/api/v1/state", "/metrics", "/openapi.json"):
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_a_wifi_browser_sees_nothing_until_it_signs_in(app, h):
    pda = remote(app)
    assert pda.get("/api/v1/state").status_code == 401
    login = pda.post("/api/v1/pda/login", json={"badge": h.BADGES["picker"], "pin": h.PINS["picker"]},
                     headers={"X-CSRF-Token": pda.token}).get_json()
    assert login["status"] == "ok"
    assert pda.get("/api/v1/state").status_code == 200


def test_metrics_can_be_made_public(station):
    client = create_app(station, metrics_public=True).test_client()
    assert client.get("/metrics").status_code == 200 and client.get("/api/v1/state").status_code == 401


def test_sign_in_rotates_the_session_and_the_csrf_token_and_sign_out_revokes_it(app, h):
    browser = remote(app)
    before = browser.get_cookie(COOKIE).value
    login = browser.post("/api/v1/pda/login", json={"badge": h.BADGES["supervisor"], "pin": h.PINS["supervisor"]},
                         headers={"X-CSRF-Token": browser.token}).get_json()
    assert login["csrf_token"] != browser.token and browser.get_cookie(COOKIE).value != before
    stale = browser.post("/api/v1/pda/logout", json={}, headers={"X-CSRF-Token": browser.token})
    assert stale.status_code == 403  # the token from before sign-in is dead
    signed_in = browser.get_cookie(COOKIE).value
    assert browser.get("/api/v1/supervisor/overview").status_code == 200
    browser.post("/api/v1/pda/logout", json={}, headers={"X-CSRF-Token": login["csrf_token"]})
    thief = app.test_client()
    thief.environ_base["REMOTE_ADDR"] = "10.0.0.66"
    thief.set_cookie(COOKIE, signed_in)
    assert thief.get("/api/v1/supervisor/overview").status_code == 401  # the old cookie opens nothing


def test_a_sign_in_expires_after_a_shift(app, h, clock):
    browser = remote(app)
    browser.post("/api/v1/pda/login", json={"badge": h.BADGES["supervisor"], "pin": h.PINS["supervisor"]},
                 headers={"X-CSRF-Token": browser.token})
    assert browser.get("/api/v1/supervisor/overview").status_code == 200
    clock.advance(8 * 3600 + 1)
    assert browser.get("/api/v1/supervisor/overview").status_code == 401


def test_every_response_carries_the_security_headers(kiosk):
    for path in ("/", "/api/v1/state", "/healthz", "/api/v1/nothing", "/static/common.js"):
        headers = kiosk.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    assert kiosk.get("/api/v1/state").headers["Cache-Control"] == "no-store"


def test_the_session_cookie_is_httponly_strict_and_secure_with_tls(station):
    plain = create_app(station).test_client().get("/").headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Secure" not in plain
    tls = create_app(station, secure_cookies=True).test_client().get("/").headers["Set-Cookie"]
    assert "Secure" in tls


@pytest.mark.parametrize("headers,status", [({"Host": "evil.example"}, 400), ({"Origin": "http://evil.example"}, 403)])
def test_a_foreign_host_or_origin_is_refused(kiosk, headers, status):
    response = kiosk.get("/api/v1/state", headers=headers)
    assert response.status_code == status and response.get_json()["code"] == "bad_host"


def test_allowed_hosts_are_configurable(station):
    client = create_app(station, hosts=["station-7.local"]).test_client()
    assert client.get("/healthz", headers={"Host": "station-7.local:8080"}).status_code == 200


def test_errors_are_json_for_404_405_and_413(kiosk):
    assert kiosk.get("/nope").get_json()["code"] == "not_found"
    wrong = kiosk.get("/api/v1/actions")
    assert wrong.status_code == 405 and wrong.get_json()["code"] == "method_not_allowed"
    big = kiosk.post("/api/v1/actions", data=b'{"a": "' + b"x" * 100_000 + b'"}', content_type="application/json",
                     headers={"X-CSRF-Token": kiosk.token})
    assert big.status_code == 413 and big.get_json()["data"]["field"] == "body"


def test_a_long_field_is_413_naming_it_and_never_echoed(kiosk, station):
    response = kiosk.post("/api/v1/actions", json={"action": "scan", "object_id": "A" * 5000, "key": "long-0001"},
                          headers={"X-CSRF-Token": kiosk.token})
    assert response.status_code == 413 and response.get_json()["data"]["field"] == "object_id"
    assert "AAAA" not in kiosk.get("/api/v1/state").get_data(as_text=True)


def test_an_action_without_a_key_is_refused(kiosk, station, h):
    response = kiosk.post("/api/v1/actions", json={"action": "badge", "object_id": h.BADGES["packer"]},
                          headers={"X-CSRF-Token": kiosk.token})
    assert response.status_code == 400 and response.get_json()["code"] == "key_required"
    assert station.pack.operator is None


@pytest.mark.parametrize("escalation_id", ["1" * 20, "-1", "abc"])
def test_an_escalation_id_out_of_range_is_a_400(app, h, escalation_id):
    browser = remote(app)
    login = browser.post("/api/v1/pda/login", json={"badge": h.BADGES["supervisor"], "pin": h.PINS["supervisor"]},
                         headers={"X-CSRF-Token": browser.token}).get_json()
    response = browser.post(f"/api/v1/escalations/{escalation_id}/ack", json={}, headers={"X-CSRF-Token": login["csrf_token"]})
    assert response.status_code in (400, 404) and response.is_json


@pytest.mark.parametrize("body", [{"badge": 5, "pin": "1"}, {"badge": "x" * 500, "pin": "1"}, {"badge": "a"}])
def test_pda_login_with_bad_fields_is_not_a_500(kiosk, body):
    response = kiosk.post("/api/v1/pda/login", json=body, headers={"X-CSRF-Token": kiosk.token})
    assert response.status_code in (400, 413) and response.get_json()["code"] in ("bad_request", "too_large")


def test_a_newline_in_a_scan_cannot_write_a_fake_log_line(station):
    record = logging.LogRecord("packgate.station", logging.INFO, __file__, 1, "scan %s", ("SO-1\n2026 ERROR fake",), None)
    record.fields = {"raw": "a\r\nb"}
    line = _Formatter().format(record)
    assert "\n" not in line and "\\n2026 ERROR fake" in line and "a\\r\\nb" in line


def test_an_unknown_code_after_a_pack_is_kept_for_review(station, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    station.handle({"action": "weigh", "payload": {"grams": str(world.expected_g("SO-10009"))}})
    station.handle({"action": "pack"})
    assert str(station.pack.state) == "packed"
    station.handle({"action": "scan", "object_id": "NO-SUCH-CODE-77"})
    kept = station.supervisor_overview()["rejected_input"]
    assert kept and kept[0]["raw"] == "NO-SUCH-CODE-77" and kept[0]["reason"]


def test_the_pages_have_no_inline_scripts_or_handlers_the_policy_would_block(kiosk):
    import re

    for path in ("/", "/pda", "/supervisor"):
        html = kiosk.get(path).get_data(as_text=True)
        assert not re.search(r"\son[a-z]+=", html), path
        assert not re.search(r"<script(?![^>]*\s(src=|type=\"application/json\"))", html), path
