"""Every PDA is a device of its own: the PDA page makes its device name once and keeps it in the browser (or takes
the one named in its settings, ``/pda?device=NAME``), and every confirmation it causes carries it."""
from __future__ import annotations

import json

import pytest
from e2e_support import BADGES, PINS
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.timeout(60)


def sign_in(page: Page) -> None:
    page.locator("#login-badge").fill(BADGES["picker"])
    page.locator("#login-pin").fill(PINS["picker"])
    page.locator("#login-go").tap()
    expect(page.locator("#verdict")).to_have_attribute("data-code", "signed_in")


def sign_out(page: Page) -> None:
    page.locator("#logout").tap()
    expect(page.locator("#login")).to_be_visible()


def sign_in_devices(rig) -> list[str]:
    rows = rig.agent.station.parts.conn.execute(
        "SELECT body FROM sync_outbox WHERE action = 'badge' AND object_type = 'employee' ORDER BY seq").fetchall()
    return [json.loads(r[0])["device"] for r in rows if json.loads(r[0])["payload"].get("terminal") == "pda"]


def test_two_pdas_are_two_devices_and_each_keeps_its_own(new_page, rig) -> None:
    first, second = new_page("/pda", mobile=True), new_page("/pda", mobile=True)
    for page in (first, second):
        sign_in(page)
    names = [page.evaluate("localStorage.getItem('packgate.pda.device')") for page in (first, second)]
    assert all(n and n.startswith("pda-") for n in names) and names[0] != names[1], names
    assert sign_in_devices(rig)[-2:] == [f"ST01-{names[0]}", f"ST01-{names[1]}"]

    sign_out(first)
    first.reload()
    sign_in(first)  # the same PDA after a reload: the same device
    assert first.evaluate("localStorage.getItem('packgate.pda.device')") == names[0]
    assert sign_in_devices(rig)[-1] == f"ST01-{names[0]}"

    named = new_page("/pda?device=dock-door-3", mobile=True)  # named in its settings, and kept from then on
    sign_in(named)
    assert sign_in_devices(rig)[-1] == "ST01-pda-dock-door-3"
    named.goto("/pda")
    assert named.evaluate("localStorage.getItem('packgate.pda.device')") == "dock-door-3"
    assert not first.js_errors and not second.js_errors and not named.js_errors  # type: ignore[attr-defined]
