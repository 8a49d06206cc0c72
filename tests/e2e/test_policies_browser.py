"""Order review (订单审核) on the kiosk page in a browser: an order a site rule matches opens with the striped amber
SUPERVISOR REVIEW verdict and its own chime, in English and Chinese; the label waits; the supervisor's tap on the
table's badge reader approves it."""
from __future__ import annotations

from typing import Iterator

import pytest
from e2e_support import BADGES, clear_sound, expect_sound, scanner_types
from playwright.sync_api import Page, expect

from packgate.station.demo.rig import DemoRig, build_rig
from packgate.station.demo.selftest import OffsetClock

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRig]:
    """The demo rig with one review rule: orders of more than one unit wait for a supervisor."""
    r = build_rig(port=0, upstream_port=0, clock=OffsetClock(), data_dir=str(tmp_path_factory.mktemp("rig")),
                  overrides={"review.units_over": 1})
    yield r
    r.stop()


def test_an_order_under_review_shows_amber_with_its_chime_and_a_supervisor_tap_approves_it(new_page, rig) -> None:
    page: Page = new_page("/")
    rig.devices.tap(BADGES["packer"])
    expect(page.locator("#operator")).to_contain_text("Li Wei")
    clear_sound(page)
    page.locator("#scan-input").focus()
    scanner_types(page, "SO-10009")  # two units
    box = page.locator("#verdict")
    expect(box).to_have_attribute("data-code", "review_required")
    expect(box).to_have_class("review")
    expect(page.locator("#verdict-title")).to_have_text("SUPERVISOR REVIEW")
    expect(page.locator("#verdict-message")).to_contain_text("needs a supervisor before its label: units 2 > 1")
    expect_sound(page, "review")
    assert page.evaluate("getComputedStyle(document.getElementById('verdict')).backgroundImage").startswith(
        "repeating-linear-gradient")
    page.locator("button.lang").first.click()
    expect(page.locator("#verdict-title")).to_have_text("需主管审核")
    expect(page.locator("#verdict-message")).to_contain_text("需主管审核后才能打印面单：件数2 > 1")
    page.locator("button.lang").first.click()

    clear_sound(page)
    rig.devices.tap(BADGES["supervisor"])
    expect(box).to_have_attribute("data-code", "review_approved")
    expect(page.locator("#verdict-message")).to_contain_text("approved by Priya Nair")
    expect_sound(page, "ok")
    assert page.js_errors == []  # type: ignore[attr-defined]
