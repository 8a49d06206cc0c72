"""The demo's routes belong to the demo: a production station's app has no ``/api/v1/demo/*`` route (a 404 like any
unknown path) and its kiosk no "demo devices" panel; a demo station (``build_rig``: the agent on real HTTP, the
scale, scanner and NFC emulators) serves them, behind the same guard, and every press reaches the station through
the emulator's bytes."""
from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from polling import eventually

from packgate.station.demo.rig import build_rig
from packgate.station.web.app import create_app
from packgate.sync.upstream.demo_data import DEMO_BADGES

DEMO_ROUTES = ("/api/v1/demo/tap", "/api/v1/demo/scan", "/api/v1/demo/scale")


def test_a_production_station_answers_404_on_the_demo_routes_and_shows_no_panel(station):
    app = create_app(station, secret_key=b"d" * 32)
    assert [rule.rule for rule in app.url_map.iter_rules() if "/demo/" in rule.rule] == []
    kiosk = app.test_client()
    page = kiosk.get("/").get_data(as_text=True)
    assert 'data-page="kiosk"' in page
    assert 'id="demo-panel"' not in page and DEMO_BADGES["packer"] not in page
    token = kiosk.get("/api/v1/csrf").get_json()["csrf_token"]
    for path in DEMO_ROUTES:  # with the kiosk's session and CSRF token: the guard lets it through, nothing is there
        response = kiosk.post(path, json={"uid": DEMO_BADGES["packer"], "code": "T-0009", "grams": "1"},
                              headers={"X-CSRF-Token": token})
        assert response.status_code == 404, path
        assert response.get_json()["code"] == "not_found" and response.get_json()["data"]["path"] == path


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    rig = build_rig(port=0, upstream_port=0, data_dir=str(tmp_path_factory.mktemp("demo-web")))
    yield rig
    rig.stop()


@pytest.fixture
def kiosk(rig):
    http = requests.Session()
    page = http.get(f"{rig.agent.url}/", timeout=5)
    http.headers["X-CSRF-Token"] = http.get(f"{rig.agent.url}/api/v1/csrf", timeout=5).json()["csrf_token"]
    http.page = page.text  # type: ignore[attr-defined]
    yield http
    http.close()


def test_a_demo_station_shows_the_panel_with_the_demo_badges(kiosk):
    assert 'id="demo-panel"' in kiosk.page
    assert all(uid in kiosk.page for uid in DEMO_BADGES.values())


def test_a_demo_stations_presses_go_through_the_emulators_to_the_station(rig, kiosk):
    url, station = rig.agent.url, rig.agent.station
    tapped = kiosk.post(f"{url}/api/v1/demo/tap", json={"uid": DEMO_BADGES["packer"]}, timeout=10)
    assert tapped.status_code == 200 and tapped.json()["ok"] is True
    assert tapped.json()["message"] and tapped.json()["message_zh"]
    assert eventually(lambda: (station.state()["operator"] or {}).get("employee_id") == "E001"), station.state()
    scanned = kiosk.post(f"{url}/api/v1/demo/scan", json={"code": "T-0009"}, timeout=10).json()
    assert scanned["ok"] is True
    assert eventually(lambda: ((station.state()["session"] or {}).get("order") or {}).get("order_id") == "SO-10009")
    weighed = kiosk.post(f"{url}/api/v1/demo/scale", json={"grams": "250"}, timeout=10).json()
    assert weighed["ok"] is True

    def on_scale() -> bool:
        scale = station.state()["scale"]
        return bool(scale["stable"] and scale["grams"] is not None and Decimal(scale["grams"]) == 250)

    assert eventually(on_scale), station.state()["scale"]
    kiosk.post(f"{url}/api/v1/demo/scale", json={"grams": "0"}, timeout=10)


def test_the_demo_routes_are_guarded_and_refuse_bad_fields_with_a_verdict(rig, kiosk):
    url = rig.agent.url
    no_csrf = requests.post(f"{url}/api/v1/demo/tap", json={"uid": DEMO_BADGES["packer"]}, timeout=5,
                            cookies=kiosk.cookies)
    assert no_csrf.status_code == 403 and no_csrf.json()["code"] == "csrf"
    bad = kiosk.post(f"{url}/api/v1/demo/scale", json={"grams": 5}, timeout=5)
    assert bad.status_code == 400 and bad.json()["data"]["field"] == "grams"
    too_long = kiosk.post(f"{url}/api/v1/demo/scan", json={"code": "x" * 513}, timeout=5)
    assert too_long.status_code == 400 and too_long.json()["data"]["field"] == "code"
    assert kiosk.get(f"{url}/api/v1/demo/tap", timeout=5).status_code == 405
