"""Interception (订单拦截) on the kiosk page in a browser: the WMS cancels the order open at the table and the page
shows the striped crimson INTERCEPTED verdict at once, with its own sound, in English and Chinese; the next scan
is refused the same way. The decision is the reference WMS's admin call; the station learns it by its fast pull."""
from __future__ import annotations

import pytest
from e2e_support import BADGES, clear_sound, expect_sound, scanner_types
from playwright.sync_api import Page, expect

from packgate.sync.client import UpstreamClient

pytestmark = pytest.mark.timeout(60)


def test_the_kiosk_shows_an_order_cancelled_by_the_wms_at_once_and_refuses_the_next_scan(new_page, rig) -> None:
    page: Page = new_page("/")
    rig.devices.tap(BADGES["packer"])
    expect(page.locator("#operator")).to_contain_text("Li Wei")
    page.locator("#scan-input").focus()
    scanner_types(page, "SO-10009")
    expect(page.locator("#order-id")).to_have_text("SO-10009")
    clear_sound(page)
    wms = UpstreamClient(rig.upstream_url, deadline_s=5, token=rig.admin_token)
    try:
        wms.decide("SO-10009", "cancel", {"reason": "customer refund"})
    finally:
        wms.close()
    box = page.locator("#verdict")
    expect(box).to_have_attribute("data-code", "intercepted", timeout=3_000)  # no step needed: the table is told
    expect(box).to_have_class("intercepted")
    expect(page.locator("#verdict-title")).to_have_text("INTERCEPTED")
    expect(page.locator("#verdict-message")).to_contain_text(
        "was cancelled by the WMS at")
    expect(page.locator("#verdict-message")).to_contain_text("Put the parcel in the interception bin.")
    expect_sound(page, "intercept")

    clear_sound(page)
    scanner_types(page, rig.world.item_code("SKU-007", rig.world.good_lot_index("SKU-007")))
    expect_sound(page, "intercept")
    expect(box).to_have_attribute("data-status", "intercepted")
    page.locator("button.lang").first.click()
    expect(page.locator("#verdict-title")).to_have_text("订单拦截")
    expect(page.locator("#verdict-message")).to_contain_text("被WMS取消（customer refund）。请把包裹放入拦截区。")
    assert page.js_errors == []  # type: ignore[attr-defined]
