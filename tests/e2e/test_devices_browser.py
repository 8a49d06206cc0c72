"""A kiosk whose devices are missing or misconfigured is never "Ready" (issue 12, points 2 and 3).

The agent is ``missing_devices_agent`` (tests/conftest.py): a scanner port and an NFC reader that do not exist,
and a Toledo 8217 scale read with the MT-SICS profile; the supervisor page names the same states.
"""
from __future__ import annotations

import pytest
from e2e_support import KIOSK_VIEWPORT, shot
from playwright.sync_api import expect

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def kiosk(browser, missing_devices_agent):
    ctx = browser.new_context(base_url=missing_devices_agent.url, viewport=KIOSK_VIEWPORT, locale="en-US")
    page = ctx.new_page()
    page.goto("/")
    yield page
    ctx.close()


def test_the_kiosk_says_which_device_is_missing_and_what_to_do(kiosk):
    verdict = kiosk.locator("#verdict")
    expect(kiosk.locator('#devices [data-device="scale"]')).to_have_attribute("data-state", "not_understood")
    expect(verdict).to_have_attribute("data-status", "prompt")
    expect(kiosk.locator("#verdict-title")).to_have_text("Check")
    message = kiosk.locator("#verdict-message")
    expect(message).to_contain_text("Scanner: disconnected — plug it in")
    expect(message).to_contain_text("Badge reader: disconnected")
    expect(message).to_contain_text("Scale: data not understood — call IT")  # no commands and no markup for a packer
    expect(message).not_to_contain_text("`")
    expect(kiosk.locator("#device-alert")).to_be_hidden()  # said once: the verdict box says it
    expect(kiosk.locator("#devices")).to_contain_text("Badge reader disconnected")
    shot(kiosk, "devices-1-kiosk-missing")
    kiosk.get_by_role("button", name="中文").click()
    expect(kiosk.locator("#verdict-message")).to_contain_text("读卡器: 未连接")
    expect(kiosk.locator("#verdict-message")).to_contain_text("电子秤: 数据无法识别")
    shot(kiosk, "devices-2-kiosk-missing-zh")
    kiosk.get_by_role("button", name="English").click()
