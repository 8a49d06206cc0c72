"""What the kiosk shows follows the table, not the past (issue 26): a verdict ages back to the next step on an
idle table while a blocked parcel stays red; an answer that never reached the station is not replaced by the
station's older verdict; a page whose session cookie was replaced opens a new session instead of refusing.

The page's own clock is Playwright's (``page.clock``): minutes pass in the browser without waiting for them; the
station's clock is the rig's offset clock.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import BADGES, KIOSK_VIEWPORT, scanner_types
from playwright.sync_api import Browser, Page, expect

from packgate.station.demo.rig import DemoRig, build_rig
from packgate.station.demo.selftest import OffsetClock

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRig]:
    clock = OffsetClock()
    r = build_rig(port=0, upstream_port=0, clock=clock, data_dir=str(tmp_path_factory.mktemp("rig")),
                  overrides={"label.mode": "print", "upstream.refresh_s": 5.0, "printer.poll_s": 0.3})
    r.clock = clock  # type: ignore[attr-defined]
    yield r
    r.stop()


@pytest.fixture(scope="module")
def page(browser: Browser, rig: DemoRig) -> Iterator[Page]:
    ctx = browser.new_context(base_url=rig.agent.url, viewport=KIOSK_VIEWPORT, locale="en-US")
    p = ctx.new_page()
    p.clock.install()
    p.goto("/")
    expect(p.locator("#verdict")).to_have_attribute("data-status", "idle")
    yield p
    ctx.close()


def verdict(page: Page):
    return page.locator("#verdict")


def test_a_refusal_ages_back_to_the_next_step_and_a_blocked_parcel_stays_red(page: Page, rig: DemoRig) -> None:
    rig.devices.tap(BADGES["packer"])
    expect(verdict(page)).to_have_attribute("data-code", "signed_in")
    scanner_types(page, "SO-10009")
    expect(verdict(page)).to_have_attribute("data-code", "order_opened")
    scanner_types(page, rig.world.item_code("SKU-012"))  # not in this order: refused
    expect(verdict(page)).to_have_attribute("data-code", "item_not_in_order")
    page.clock.fast_forward(40_000)
    expect(verdict(page)).to_have_attribute("data-code", "item_not_in_order")  # seen for a while
    page.clock.fast_forward(25_000)  # more than session.verdict_clear_s (60 s) on an idle table
    expect(verdict(page)).to_have_attribute("data-status", "idle")
    expect(verdict(page)).to_have_attribute("data-step", "scan_item")
    expect(page.locator("#verdict-message")).to_have_text("Scan the next item.")

    # found at load: a verdict the station showed two minutes ago is not the news of the table
    scanner_types(page, rig.world.item_code("SKU-012"))
    expect(verdict(page)).to_have_attribute("data-code", "item_not_in_order")
    rig.clock.advance(120)
    page.reload()
    expect(verdict(page)).to_have_attribute("data-status", "idle")
    expect(page.locator("#verdict-message")).to_have_text("Scan the next item.")

    for sku in ("SKU-007", "SKU-025"):
        scanner_types(page, rig.world.item_code(sku, rig.world.good_lot_index(sku)))
        expect(page.locator(f'#lines tr[data-sku="{sku}"] .count')).to_have_text("1 / 1")
    rig.devices.weigh(str(rig.world.expected_g("SO-10009") + 200))
    expect(verdict(page)).to_have_attribute("data-code", "weight_out_of_tolerance")
    page.clock.fast_forward(10 * 60_000)  # a blocked parcel waits for a decision: it stays red with its reason
    expect(verdict(page)).to_have_attribute("data-code", "weight_out_of_tolerance")
    expect(verdict(page)).to_have_attribute("data-status", "blocked")
    for name in ("Re-weigh", "Supervisor override"):
        expect(page.locator("#actions").get_by_role("button", name=name)).to_be_visible()


def test_an_answer_that_never_reached_the_station_is_not_replaced_by_an_older_verdict(page: Page, rig: DemoRig) -> None:
    before = verdict(page).get_attribute("data-code")
    page.route("**/api/v1/actions", lambda route: route.abort())
    scanner_types(page, rig.world.item_code("SKU-007"))
    expect(verdict(page)).to_have_attribute("data-code", "network", timeout=10_000)
    rig.printer.set_state("paper_out")  # the station pushes its state (with its own, older verdict) meanwhile
    expect(page.locator("#printer-state")).to_have_attribute("data-state", "not_ready")
    expect(verdict(page)).to_have_attribute("data-code", "network")
    expect(verdict(page)).to_have_attribute("data-status", "error")
    rig.printer.set_state()
    expect(page.locator("#printer-state")).to_have_attribute("data-state", "connected")
    expect(verdict(page)).to_have_attribute("data-code", "network")
    page.unroute("**/api/v1/actions")
    assert before == "weight_out_of_tolerance"
    page.locator("#btn-reweigh").click()  # something newer from the station replaces it: the re-weigh's answer,
    expect(verdict(page)).not_to_have_attribute("data-code", "network")  # or, the parcel still on the scale, its
    assert verdict(page).get_attribute("data-code") in ("reweigh", "weight_out_of_tolerance")  # weighing again


def test_a_page_whose_cookie_was_replaced_opens_a_new_session(page: Page, rig: DemoRig) -> None:
    # the re-weigh before may still be on its way: its answer (the parcel still 200 g over) redraws the buttons, and
    # a click while they move can land on another one (the dialog then never opens)
    expect(verdict(page)).to_have_attribute("data-code", "weight_out_of_tolerance")
    expect(verdict(page)).to_have_attribute("data-status", "blocked")
    # another table's page on the same host name used to overwrite this one's cookie: "Open the station's page first"
    page.context.clear_cookies()
    page.locator("#btn-cancel").click()
    page.locator("#reason-dialog").get_by_role("button", name="Item missing / damaged").click()
    expect(verdict(page)).to_have_attribute("data-code", "cancelled")
    expect(page.locator("#finished-summary")).to_contain_text("SO-10009 stopped")
    assert page.context.cookies(), "a new session cookie"
