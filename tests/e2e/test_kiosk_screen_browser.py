"""The kiosk on one screen (issue 26): every state × 1280×800, 1366×768, 1920×1080 × English and Chinese.

One page per language watches the same station (with the label gate on and its printer); the station is walked
through every state a packer meets -- idle, signed in, order open, mid-order, FIFO prompt, override waiting for the
supervisor's badge, blocked, label printed, packed, stopped -- and a second agent whose devices are missing gives
the last one. At each state and size, each page must hold ``screen_checks.screen_problems``: no page scrolling,
nothing overflowing or cut off, the control the verdict's next step names inside the viewport, every visible word
from the catalog in the page's language; and what the panels show must belong to the order on the table.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_support import BADGES, KIOSK_VIEWPORT, StationApi, shot
from playwright.sync_api import Browser, Page, expect
from screen_checks import SIZES, screen_problems

from packgate.station.demo.rig import DemoRig, build_rig
from packgate.station.demo.selftest import OffsetClock

pytestmark = pytest.mark.timeout(240)
LANGS = ("en", "zh")
TESTED: list[tuple[str, str, str]] = []  # (state, size, language) checked, for the report at the end


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRig]:
    r = build_rig(port=0, upstream_port=0, clock=OffsetClock(), data_dir=str(tmp_path_factory.mktemp("rig")),
                  overrides={"label.mode": "print", "upstream.refresh_s": 5.0})
    yield r
    r.stop()


def _open(browser: Browser, url: str, lang: str) -> Page:
    ctx = browser.new_context(base_url=url, viewport=KIOSK_VIEWPORT, locale="en-US")
    ctx.add_init_script(f"localStorage.setItem('packgate.lang', '{lang}')")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if lang == "zh" else "en")
    return page


@pytest.fixture(scope="module")
def pages(browser: Browser, rig: DemoRig) -> Iterator[dict[str, Page]]:
    opened = {lang: _open(browser, rig.agent.url, lang) for lang in LANGS}
    yield opened
    for page in opened.values():
        assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
        page.context.close()


@pytest.fixture(scope="module")
def api(rig: DemoRig) -> Iterator[StationApi]:
    terminal = StationApi(rig.agent.url)
    yield terminal
    terminal.close()


def _settled(page: Page) -> None:
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def check_every_size(pages: dict[str, Page], state: str) -> None:
    """The screen problems at each size in each language (all of them gathered, then asserted)."""
    found = []
    for lang, page in pages.items():
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            _settled(page)
            shot(page, f"screen-{state}-{size}-{lang}")
            found += [f"{state} {size} {lang}: {p}" for p in screen_problems(page, lang)]
            TESTED.append((state, size, lang))
        page.set_viewport_size(KIOSK_VIEWPORT)
    assert not found, "\n".join(found)


def reach(pages: dict[str, Page], state: str, code: str | None = None, status: str | None = None) -> None:
    for page in pages.values():
        expect(page.locator("body")).to_have_attribute("data-state", state)
        if code is not None:
            expect(page.locator("#verdict")).to_have_attribute("data-code", code)
        if status is not None:
            expect(page.locator("#verdict")).to_have_attribute("data-status", status)


def test_every_state_fits_every_size_in_both_languages(pages, rig, api) -> None:
    world, dev = rig.world, rig.devices
    reach(pages, "idle")
    check_every_size(pages, "idle")

    dev.tap(BADGES["packer"])
    reach(pages, "signed_in", "signed_in", "ok")
    check_every_size(pages, "signed-in")

    dev.scan("SO-10001")
    reach(pages, "order_open", "order_opened")
    check_every_size(pages, "order-open")

    dev.scan(world.item_code("SKU-013", world.good_lot_index("SKU-013")))
    reach(pages, "scanning", "item_accepted")
    check_every_size(pages, "mid-order")

    dev.scan(world.item_code("SKU-001", -1))  # the newest lot: an older one goes first
    reach(pages, "awaiting_fifo_decision", "fifo_older_lot", "prompt")
    for page in pages.values():
        expect(page.locator("#actions #btn-take-older")).to_be_visible()
    check_every_size(pages, "fifo-prompt")

    assert api.post("/api/v1/actions", {"action": "override", "payload": {"reason": "Older lot damaged"}})["code"] \
        == "override_requested"
    reach(pages, "awaiting_fifo_decision", "override_requested")
    expect(pages["zh"].locator("#verdict-message")).to_contain_text("较早批次破损")  # the preset reason in words
    check_every_size(pages, "override-waiting-for-the-badge")

    dev.tap(BADGES["supervisor"])
    reach(pages, "scanning", "lot_overridden")
    dev.scan(world.item_code("SKU-001", world.good_lot_index("SKU-001")))
    reach(pages, "ready_to_weigh", "item_accepted")
    expected = world.expected_g("SO-10001")
    dev.weigh(str(expected + 300))
    reach(pages, "blocked", "weight_out_of_tolerance", "blocked")
    check_every_size(pages, "blocked")

    dev.weigh(str(expected))  # the parcel moved and settled: weighed again by itself
    reach(pages, "label_printed", "label_printed", "ok")  # weight OK and the label out: green with the next step
    waybill = rig.agent.station.state()["label"]["waybill"]
    for page in pages.values():
        expect(page.locator("#label-waybill")).to_have_text(waybill)
        expect(page.locator("#label-preview")).to_be_visible()
    check_every_size(pages, "label-printed")

    dev.scan(waybill)
    reach(pages, "packed", "packed")
    for lang, page in pages.items():  # the screen is ready for the next order and says what was done
        expect(page.locator("#finished")).to_be_visible()
        expect(page.locator("#finished-summary")).to_contain_text("SO-10001")
        expect(page.locator("#finished-summary")).to_contain_text("3 items" if lang == "en" else "3件")
        expect(page.locator("#lines-scroll table")).to_be_hidden()
        expect(page.locator("#order-id")).to_have_text("—")
        expect(page.locator("#expected")).to_be_empty()
        expect(page.locator("#label-waybill")).to_be_empty()
        expect(page.locator("#label-preview")).to_be_hidden()
        expect(page.locator("#weight")).not_to_have_class("weight outrange")
    check_every_size(pages, "packed")

    dev.weigh("0")
    dev.scan("SO-10009")
    reach(pages, "order_open", "order_opened")
    for page in pages.values():  # the label of SO-10001 belongs to SO-10001, not to the order now on the table
        expect(page.locator("#label-waybill")).to_be_empty()
        expect(page.locator("#label-state")).to_have_attribute("data-order", "")
        expect(page.locator("#lines tr")).to_have_count(2)
    dev.scan(world.item_code("SKU-007", world.good_lot_index("SKU-007")))
    reach(pages, "scanning", "item_accepted")
    answer = api.post("/api/v1/actions", {"action": "cancel", "payload": {"reason": "Item missing / damaged",
                                                                           "scope": "pack_session"}})
    assert answer["code"] == "cancelled", answer
    reach(pages, "cancelled", "cancelled")
    for lang, page in pages.items():
        expect(page.locator("#finished-summary")).to_contain_text("SO-10009")
        expect(page.locator("#finished-summary")).to_contain_text("stopped" if lang == "en" else "已中止")
        expect(page.locator("#lines-scroll table")).to_be_hidden()
    check_every_size(pages, "stopped")


def test_a_kiosk_with_missing_devices_fits_and_says_it_once(browser, missing_devices_agent) -> None:
    missing = {lang: _open(browser, missing_devices_agent.url, lang) for lang in LANGS}
    try:
        for page in missing.values():
            expect(page.locator('#devices [data-device="scale"]')).to_have_attribute("data-state", "not_understood")
            expect(page.locator("#verdict")).to_have_attribute("data-code", "devices")
            expect(page.locator("#device-alert")).to_be_hidden()  # said once, in the verdict box
        expect(missing["en"].locator("#verdict-message")).to_contain_text("Badge reader: disconnected — plug it in")
        expect(missing["zh"].locator("#verdict-message")).to_contain_text("读卡器: 未连接")
        check_every_size(missing, "device-missing")
    finally:
        for page in missing.values():
            assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
            page.context.close()


def test_the_matrix_was_walked_whole() -> None:
    """11 states × 3 sizes × 2 languages (the list the issue asks for)."""
    states = {s for s, _, _ in TESTED}
    assert len(states) == 11 and len(TESTED) == 11 * len(SIZES) * len(LANGS), sorted(states)
