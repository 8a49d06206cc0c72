"""The picker's PDA page on a phone-sized screen (412 x 915, touch).

The PDA's built-in scanner types like a keyboard into the focused field; scans here end with Enter,
with Tab, or with nothing (the page ends them on the pause), as the scanners on the floor are set up.
"""
from __future__ import annotations

import pytest
from e2e_support import BADGES, PINS, assert_laid_out, clear_sound, expect_sound, scanner_types, shot
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.timeout(60)


def expect_verdict(page: Page, status: str, code: str, *texts: str) -> None:
    expect(page.locator("#verdict")).to_have_attribute("data-code", code)
    expect(page.locator("#verdict")).to_have_attribute("data-status", status)
    for text in texts:
        expect(page.locator("#verdict-message")).to_contain_text(text)


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"


def test_sign_in_pick_with_fifo_prompt_into_tote(new_page, rig) -> None:
    world = rig.world
    page = new_page("/pda", mobile=True)
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-badge")).to_be_focused()
    no_horizontal_scroll(page)
    shot(page, "pda-0-login")

    # The badge code is typed (or scanned) and Tab moves on to the PIN; a wrong PIN is a red refusal.
    scanner_types(page, BADGES["picker"], "Tab")
    expect(page.locator("#login-pin")).to_be_focused()
    page.keyboard.type("0000")
    page.keyboard.press("Enter")
    expect_verdict(page, "error", "bad_login", "Badge code or PIN is wrong.")
    expect(page.locator("#verdict")).to_have_css("background-color", "rgb(196, 22, 28)")
    expect_sound(page, "error")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-pin")).to_have_value("")
    shot(page, "pda-1-wrong-pin")
    page.locator("#login-pin").fill(PINS["picker"])
    page.locator("#login-go").tap()
    expect_verdict(page, "ok", "signed_in", "Hello Zhang Min.")
    expect(page.locator("#who")).to_have_text("Zhang Min")

    # The order list: priority orders first; SO-10001 is the FIFO tea order.
    orders = page.locator("#order-list button")
    expect(orders.first).to_be_visible()
    expect(page.locator('#order-list button[data-order="SO-10001"]')).to_contain_text("3 items")
    no_horizontal_scroll(page)
    shot(page, "pda-2-orders")
    page.locator('#order-list button[data-order="SO-10001"]').tap()

    # The pick list in bin order, the first bin big on the screen.
    expect(page.locator("#picking")).to_be_visible()
    expect_verdict(page, "ok", "pick_started", "next bin A-01-01")
    bins = page.locator("#pick-list li").evaluate_all("items => items.map(li => li.dataset.bin)")
    assert bins == sorted(bins) == ["A-01-01", "D-01-02"]
    expect(page.locator("#task-bin")).to_have_text("A-01-01")
    expect(page.locator("#task-bin")).to_have_css("font-size", "68px")
    expect(page.locator("#task-item")).to_contain_text("Take 2 × SKU-001")
    expect(page.locator("#pick-input")).to_be_focused()
    no_horizontal_scroll(page)
    shot(page, "pda-3-first-bin")

    scanner_types(page, "A-01-01", "Enter")
    expect_verdict(page, "ok", "bin_ok", "Bin A-01-01: take 2 x SKU-001")

    # A newer tea lot: the same FIFO prompt as at the packing table, naming the older lot and its bin.
    oldest, newest = world.lots("SKU-001")[0], world.lots("SKU-001")[-1]
    clear_sound(page)
    scanner_types(page, world.item_code("SKU-001", -1), "Tab")
    expect_verdict(page, "prompt", "fifo_older_lot",
                   f"lot {oldest['lot']} of SKU-001", f"in bin {oldest['bin']} goes before lot {newest['lot']}")
    expect(page.locator("#verdict-title")).to_have_text("Check")
    expect_sound(page, "prompt")
    take_older = page.get_by_role("button", name="Take older lot")
    expect(take_older).to_be_visible()
    # Prompt, bin, scan field and the button all on the first screen, none on top of another.
    assert_laid_out(page, ["header", "#verdict", "#task-bin", ".scanrow", "#take-older"], fold=915, min_button_px=48)
    no_horizontal_scroll(page)
    shot(page, "pda-4-fifo")
    take_older.tap()
    expect_verdict(page, "prompt", "lot_swap", f"take lot {oldest['lot']} from bin {oldest['bin']}")
    expect(take_older).to_be_hidden()
    expect(page.locator("#pick-input")).to_be_focused()

    # The older lot: one scan ends with Tab, the next with Enter.
    clear_sound(page)
    scanner_types(page, world.item_code("SKU-001", 0), "Tab")
    expect_verdict(page, "ok", "item_picked", "SKU-001: 1 of 2")
    expect_sound(page, "ok")
    expect(page.locator('#pick-list li[data-bin="A-01-01"] .q')).to_have_text("1/2")
    scanner_types(page, world.item_code("SKU-001", 0), "Enter")
    expect_verdict(page, "ok", "go_to_bin", "go to bin D-01-02")
    expect(page.locator('#pick-list li[data-bin="A-01-01"]')).to_have_class("done")
    expect(page.locator("#task-bin")).to_have_text("D-01-02")

    # A scanner with no suffix: the pause ends the scan.
    scanner_types(page, "D-01-02", None)
    expect_verdict(page, "ok", "bin_ok", "Bin D-01-02")
    scanner_types(page, world.item_code("SKU-013"), "Enter")
    expect_verdict(page, "ok", "pick_complete", "tote T-0001")
    expect(page.locator("#task-label")).to_have_text("Scan tote")
    expect(page.locator("#task-bin")).to_have_text("T-0001")
    shot(page, "pda-5-to-tote")

    scanner_types(page, "T-0001", "Enter")
    expect_verdict(page, "ok", "order_picked", "Order SO-10001 picked into tote T-0001.")
    expect(page.locator("#orders")).to_be_visible()
    expect(page.locator('#order-list button[data-order="SO-10001"]')).to_have_count(0)
    shot(page, "pda-6-picked")


def test_pda_in_chinese_and_wrong_bin(new_page, rig) -> None:
    page = new_page("/pda", mobile=True)
    # The session cookie of this context is new: sign in again.
    page.locator("#login-badge").fill(BADGES["picker"])
    page.locator("#login-pin").fill(PINS["picker"])
    page.locator("#login-pin").press("Enter")
    expect(page.locator("#orders")).to_be_visible()
    page.get_by_role("button", name="中文").tap()
    expect(page.locator("#orders h2")).to_have_text("待拣订单")
    page.locator('#order-list button[data-order="SO-10004"]').tap()
    expect(page.locator("#task-bin")).to_have_text("B-01-01")
    expect(page.locator("#task-label")).to_contain_text("前往库位")
    scanner_types(page, "B-01-02", "Enter")
    expect_verdict(page, "error", "wrong_bin", "库位B-01-02错误：请前往库位B-01-01。")
    expect(page.locator("#verdict-title")).to_have_text("拒绝")
    shot(page, "pda-7-chinese")
    page.get_by_role("button", name="← 订单").tap()
    expect(page.locator("#orders")).to_be_visible()


def test_order_list_comes_in_pages_with_more(new_page, rig) -> None:
    page = new_page("/pda?limit=2", mobile=True)
    page.locator("#login-badge").fill(BADGES["picker"])
    page.locator("#login-pin").fill(PINS["picker"])
    page.locator("#login-go").tap()
    orders = page.locator("#order-list button")
    expect(orders).to_have_count(2)
    page.locator("#orders").get_by_role("button", name="More").tap()
    expect(orders).to_have_count(4)
    assert not page.js_errors  # type: ignore[attr-defined]


def hold(page: Page, url: str) -> list[Route]:
    """The page's requests to ``url`` are held in the list returned until the test continues them."""
    held: list[Route] = []
    page.route(url, lambda route: held.append(route))
    return held


def wait_held(page: Page, held: list[Route]) -> None:
    """Until one request is held (the page's events are handled meanwhile)."""
    for _ in range(500):
        if held:
            break
        page.wait_for_timeout(10)
    assert len(held) == 1


def test_a_pin_typed_while_the_page_still_asks_who_is_signed_in_stays_in_the_pin_field(new_page, rig) -> None:
    """The login form shows at once; the page then asks who is signed in. When that answer comes late, the page
    must not pull the focus back to the badge field while the picker types the PIN (it did: "5E7D10B44321", no such
    badge)."""
    page = new_page("/pda", mobile=True)
    held = hold(page, "**/api/v1/pda/me")
    page.reload()
    wait_held(page, held)
    page.locator("#login-badge").fill(BADGES["picker"])
    page.locator("#login-pin").fill(PINS["picker"])
    held[0].continue_()  # nobody is signed in: the login view is shown (again)
    page.wait_for_timeout(300)
    assert page.evaluate("document.activeElement.id") == "login-pin"
    assert page.locator("#login-badge").input_value() == BADGES["picker"]
    page.keyboard.press("Enter")
    expect(page.locator("#orders")).to_be_visible()


def test_sign_in_shows_progress_and_a_second_tap_does_nothing(new_page, rig) -> None:
    page = new_page("/pda", mobile=True)
    logins: list[str] = []
    page.on("request", lambda r: logins.append(r.url) if r.url.endswith("/api/v1/pda/login") else None)
    page.evaluate("""() => { window.seen = []; const b = document.getElementById("login-go");
        new MutationObserver(() => window.seen.push([b.disabled, b.textContent])).observe(b,
          { attributes: true, childList: true, characterData: true, subtree: true }); }""")
    held = hold(page, "**/api/v1/pda/login")  # as if the station took its time checking the PIN
    page.locator("#login-badge").fill(BADGES["picker"])
    page.locator("#login-pin").fill(PINS["picker"])
    page.locator("#login-go").tap()
    wait_held(page, held)
    page.locator("#login-go").dispatch_event("click")  # a second tap while the PIN is checked
    page.wait_for_timeout(200)
    assert len(held) == 1 and len(logins) == 1, logins
    held[0].continue_()
    expect_verdict(page, "ok", "signed_in")
    assert [True, "Signing in…"] in page.evaluate("window.seen"), page.evaluate("window.seen")
    expect(page.locator("#login-go")).to_be_enabled()
    expect(page.locator("#login-go")).to_have_text("Sign in")
    assert len(logins) == 1, logins


def test_a_pick_taken_up_again_says_the_step_it_is_at(new_page, rig) -> None:
    """Every item picked, the tote not yet scanned: taken up again, the PDA asks for the tote, not the next bin."""
    from e2e_support import StationApi

    page = new_page("/pda", mobile=True)
    page.locator("#login-badge").fill(BADGES["picker"])
    page.locator("#login-pin").fill(PINS["picker"])
    page.locator("#login-go").tap()
    expect(page.locator("#orders")).to_be_visible()
    page.locator('#order-list button[data-order="SO-10012"]').tap()
    expect_verdict(page, "ok", "pick_started")
    same_picker = StationApi(rig.agent.url)  # the picker's other terminal: the same pick session
    try:
        assert same_picker.post("/api/v1/pda/login", {"badge": BADGES["picker"], "pin": PINS["picker"]})["status"] == "ok"
        view = same_picker.post("/api/v1/actions", {"action": "pick", "object_type": "order", "object_id": "SO-10012",
                                                    "terminal": "pda"})["data"]["pick"]
        for task in view["tasks"]:
            same_picker.post("/api/v1/actions", {"action": "scan", "object_id": task["bin"], "terminal": "pda"})
            lot = next(i for i, lot in enumerate(rig.world.lots(task["sku"])) if lot["lot"] == task["lot"]) if task["lot"] else 0
            for _ in range(task["qty"]):
                answer = same_picker.post("/api/v1/actions", {"action": "scan", "terminal": "pda",
                                                              "object_id": rig.world.item_code(task["sku"], lot)})
        assert answer["code"] == "pick_complete", answer
    finally:
        same_picker.close()
    page.get_by_role("button", name="← Orders").tap()
    page.locator('#order-list button[data-order="SO-10012"]').tap()
    expect_verdict(page, "ok", "pick_complete", "load them into tote T-0012")
    expect(page.locator("#verdict-message")).not_to_contain_text("next bin")
    expect(page.locator("#task-label")).to_have_text("Scan tote")
    expect(page.locator("#task-bin")).to_have_text("T-0012")
