"""Layout of the three pages at the sizes they are used at, in English and Chinese (issue 12, points 4, 7, 8).

Kiosk 1280×800, PDA and supervisor phone 412×915, supervisor desktop 1920×1080: at each step no element's text
overflows its box and no control is cut off (``assert_nothing_cut``); a screenshot of every step is saved when
``PACKGATE_E2E_SHOTS`` names a folder. One page per size, reused across steps and languages.
"""
from __future__ import annotations

import pytest
from e2e_support import BADGES, DESKTOP_VIEWPORT, KIOSK_VIEWPORT, PDA_VIEWPORT, PINS, StationApi, assert_nothing_cut, set_language, wait_until
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.timeout(90)
LANGS = ("en", "zh")


@pytest.fixture(scope="module")
def pages(browser, rig):
    """``pages(name, viewport, mobile)``: one page per name for the whole module."""
    made: dict[str, Page] = {}
    contexts = []

    def get(name: str, path: str, viewport: dict, mobile: bool = False) -> Page:
        if name not in made:
            ctx = browser.new_context(base_url=rig.agent.url, viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                      locale="en-US")
            contexts.append(ctx)
            made[name] = ctx.new_page()
            made[name].goto(path)
        return made[name]

    yield get
    for ctx in contexts:
        ctx.close()


def sign_in(page: Page, who: str) -> None:
    page.locator("#login-badge").fill(BADGES[who])
    page.locator("#login-pin").fill(PINS[who])
    page.locator("#login-go").click()


def test_kiosk_at_1280x800(pages, rig):
    page = pages("kiosk", "/", KIOSK_VIEWPORT)
    for lang in LANGS:
        set_language(page, lang)
        assert_nothing_cut(page, f"layout-kiosk-1-idle-{lang}")
    rig.devices.tap(BADGES["packer"])
    expect(page.locator("#operator")).to_have_class("pill operator on")
    rig.devices.scan("SO-10009")
    expect(page.locator("#order-id")).to_have_text("SO-10009")
    rig.devices.scan(rig.world.item_code("SKU-001", -1))  # not in this order: a red refusal with its long text
    expect(page.locator("#verdict")).to_have_attribute("data-code", "item_not_in_order")
    for lang in LANGS:
        set_language(page, lang)
        assert_nothing_cut(page, f"layout-kiosk-2-refusal-{lang}")
    for lang in LANGS:  # the Stop dialog with its big preset reasons
        set_language(page, lang)
        page.locator("#btn-cancel").click()
        assert_nothing_cut(page, f"layout-kiosk-3-stop-dialog-{lang}")
        page.locator("#reason-dialog .dlg-close").click()
    set_language(page, "en")


def test_chinese_renders_with_a_cjk_font_not_boxes(pages):
    page = pages("kiosk", "/", KIOSK_VIEWPORT)
    set_language(page, "en")
    button = page.locator("#lang")
    expect(button).to_have_text("中文")
    family = button.evaluate("(b) => getComputedStyle(b).fontFamily")
    assert "Noto Sans CJK" in family, family
    # 中文 drawn in the button's font against two characters no font has (two .notdef boxes): other pixels
    same = button.evaluate("""(b) => { const draw = (text) => { const c = document.createElement("canvas");
        c.width = 100; c.height = 50; const g = c.getContext("2d"); g.font = `40px ${getComputedStyle(b).fontFamily}`;
        g.fillText(text, 0, 40); return Array.from(g.getImageData(0, 0, 100, 50).data).join(); };
        return draw("中文") === draw("\uE000\uE001"); }""")
    assert not same, "中文 is drawn as .notdef boxes"
    assert page.evaluate("document.fonts.check('40px \"Noto Sans CJK SC\"', '中文')")


def test_the_sync_pill_goes_to_0_through_the_event_stream(pages, rig):
    page = pages("kiosk", "/", KIOSK_VIEWPORT)
    set_language(page, "en")
    page.evaluate("""() => { window.pillSeen = []; new MutationObserver(() =>
        window.pillSeen.push(document.getElementById("sync").textContent)).observe(
        document.getElementById("sync"), { childList: true, characterData: true, subtree: true }); }""")
    rig.agent.worker.stop()  # confirmations wait until it is back: the pill must show them, then 0
    api = StationApi(rig.agent.url)  # another terminal acts; this page does nothing
    try:
        assert api.post("/api/v1/pda/login", {"badge": BADGES["picker"], "pin": PINS["picker"]})["status"] == "ok"
        expect(page.locator("#sync")).not_to_have_text("0 to sync")
        rig.agent.worker.start()
        expect(page.locator("#sync")).to_have_text("0 to sync", timeout=10_000)
    finally:
        rig.agent.worker.start()
        api.close()
    assert page.evaluate("window.pillSeen")[-1] == "0 to sync"


def test_pda_at_412x915(pages):
    page = pages("pda", "/pda", PDA_VIEWPORT, mobile=True)
    for lang in LANGS:
        set_language(page, lang)
        assert_nothing_cut(page, f"layout-pda-1-sign-in-{lang}")
    sign_in(page, "picker")
    expect(page.locator("#orders")).to_be_visible()
    for lang in LANGS:
        set_language(page, lang)
        assert_nothing_cut(page, f"layout-pda-2-orders-{lang}")
    page.locator("#order-list button").first.click()
    expect(page.locator("#orders")).to_be_hidden()
    for lang in LANGS:
        set_language(page, lang)
        assert_nothing_cut(page, f"layout-pda-3-picking-{lang}")
    set_language(page, "en")


@pytest.mark.parametrize("size,viewport,mobile", [("phone", PDA_VIEWPORT, True), ("desktop", DESKTOP_VIEWPORT, False)])
def test_supervisor(pages, rig, size, viewport, mobile):
    page = pages(f"supervisor-{size}", "/supervisor", viewport, mobile=mobile)
    for lang in LANGS:
        set_language(page, lang)
        assert_nothing_cut(page, f"layout-supervisor-{size}-1-sign-in-{lang}")
    sign_in(page, "supervisor")
    expect(page.locator("#stations")).to_be_visible()
    wait_until(lambda: page.locator("#stations tr[data-station]").count() == 1, what="the stations table")
    for lang in LANGS:
        set_language(page, lang)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
        assert_nothing_cut(page, f"layout-supervisor-{size}-2-overview-{lang}")
    set_language(page, "en")
