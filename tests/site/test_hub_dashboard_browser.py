"""The site dashboard in headless Chromium: sign-in with badge + PIN, the floor, acknowledge, sign-out."""
from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from packgate.sync.hub_client import SiteClient


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 412, "height": 915})
    yield context.new_page()
    context.close()


def test_supervisor_signs_in_sees_the_floor_acknowledges_and_signs_out(site, clock, page):
    a = site.station("ST01")
    a.pick("SO-10012", "T-0012")
    a.confirm("weigh", "order", "SO-10013", {"result": "fail"})
    a.push()
    SiteClient(site.url, "ST02", "token-of-station-02-abcdef").heartbeat(
        operator="E002", order_id="SO-10014", state="scanning", devices={"scale": "connected"}, outbox_depth=3)
    clock.advance(12 * 60 + 1)
    site.hub.tick()

    page.goto(site.url + "/")
    page.fill("#badge", "04D2E8F1A2B390")
    page.fill("#pin", "0000")
    page.click("#sign-in")
    expect(page.locator("#sign-in-error")).to_be_visible()
    page.fill("#badge", "04:D2:E8:F1:A2:B3:90")
    page.fill("#pin", "9876")
    page.click("#sign-in")
    station = page.locator('tr.station[data-station="ST02"]')
    expect(station).to_contain_text("Packing table 2")
    expect(station).to_contain_text("Maria Garcia")
    expect(station).to_contain_text("Scale: connected")
    expect(station.locator('td[data-label="Unsent"]')).to_have_text("3")
    expect(page.locator('tr.order[data-order="SO-10012"]')).to_contain_text("Picked")
    expect(page.locator("#blocked")).to_contain_text("SO-10013")
    expect(page.locator("#chart-tables")).to_contain_text("No data yet")  # nothing packed yet
    expect(page.locator('#escalations tr.escalation[data-order="SO-10012"]')).to_contain_text("level 1")
    page.click("#escalations button.ack")
    expect(page.locator("#escalations")).to_contain_text("✓ Priya Nair")
    expect(page.locator("#audit")).to_contain_text("escalation acknowledged")
    page.goto(site.url + "/?lang=zh")
    expect(page.locator("#stations h2")).to_have_text("工作台")
    old = {c["name"]: c["value"] for c in page.context.cookies()}
    assert requests.get(site.url + "/api/dashboard", cookies=old, timeout=5).status_code == 200
    page.click("#sign-out")
    expect(page.locator("#sign-in")).to_be_visible()
    assert requests.get(site.url + "/api/dashboard", cookies=old, timeout=5).status_code == 401  # revoked


def test_forms_without_a_session_are_refused(site):
    resp = requests.post(site.url + "/escalations/ack", data={"order_id": "SO-10012", "level": "1"}, timeout=5)
    assert resp.status_code == 401 and resp.json()["error"] == "sign in first"
