"""The packing kiosk in a browser: badge, order, items, scale, verdict colours, sounds, language.

Codes are typed into the focused scan field the way a keyboard-wedge scanner types them (a fast
burst of keys, then Enter, Tab or nothing); badges and weights go through the emulators, either via
the page's demo panel or directly.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from e2e_support import BADGES, StationApi, assert_laid_out, clear_sound, expect_sound, scanner_types, shot
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def kiosk(new_page) -> Page:
    page = new_page("/")
    expect(page.locator("#verdict")).to_have_attribute("data-status", "idle")
    return page


def g(value) -> str:
    """Grams as the station writes them: one decimal."""
    return str(Decimal(str(value)).quantize(Decimal("0.1")))


ORDER_STATES = ("order_open", "scanning", "awaiting_fifo_decision", "awaiting_second_badge", "ready_to_weigh",
                "blocked", "weighed_ok")


def verdict(page: Page):
    return page.locator("#verdict")


def expect_verdict(page: Page, status: str, code: str, *texts: str) -> None:
    box = verdict(page)
    expect(box).to_have_attribute("data-code", code)
    expect(box).to_have_attribute("data-status", status)
    for text in texts:
        expect(page.locator("#verdict-message")).to_contain_text(text)


def line_count(page: Page, sku: str):
    return page.locator(f'#lines tr[data-sku="{sku}"] .count')


def ensure_signed_in(page: Page, rig) -> None:
    if not page.locator("#operator").get_attribute("data-employee"):
        rig.devices.tap(BADGES["packer"])
        expect(page.locator("#operator")).to_contain_text("Li Wei")


def no_open_order(page: Page, rig, keep: str | None = None) -> None:
    """Signed in, with no order open (cancelling one an earlier test left open), unless it is ``keep``."""
    ensure_signed_in(page, rig)
    if rig.agent.station.state()["session"]["state"] in ORDER_STATES and page.locator("#order-id").inner_text() != keep:
        api = StationApi(rig.agent.url)
        assert api.post("/api/v1/actions", {"action": "cancel", "payload": {"reason": "test reset"}})["code"] == "cancelled"
        api.close()
        expect(page.locator("#verdict")).to_have_attribute("data-code", "cancelled")
    page.locator("#scan-input").focus()


def fresh_order(page: Page, rig, order_id: str) -> None:
    """Open ``order_id`` at the kiosk (or keep it if it is the one open)."""
    no_open_order(page, rig, keep=order_id)
    if page.locator("#order-id").inner_text() != order_id:
        scanner_types(page, order_id)
        expect(page.locator("#order-id")).to_have_text(order_id)


def put_on_scale(page: Page, grams) -> None:
    page.locator("#demo-grams").fill(str(grams))
    page.locator("#demo-weigh").click()


def test_badge_order_items_weight_packed(kiosk: Page, rig) -> None:
    page, world = kiosk, rig.world
    expect(page.locator("#verdict-title")).to_have_text("Ready")
    expect(page.locator("#operator")).to_have_text("Tap your badge")
    expect(page.locator("#weight")).to_contain_text("0")
    shot(page, "kiosk-0-ready")

    # Badge tap through the demo panel -> the NFC emulator -> the reader -> the station.
    page.locator("#demo-badge").select_option(BADGES["packer"])
    page.locator("#demo-tap").click()
    expect(page.locator("#operator")).to_contain_text("Li Wei")
    expect_verdict(page, "ok", "signed_in", "Hello Li Wei.")
    expect(page.locator("#verdict-title")).to_have_text("OK")
    expect_sound(page, "ok")
    scan = page.locator("#scan-input")
    expect(scan).to_be_focused()

    scanner_types(page, "SO-10009")
    expect_verdict(page, "ok", "order_opened", "Order SO-10009")
    expect(page.locator("#order-id")).to_have_text("SO-10009")
    expect(page.locator("#lines tr")).to_have_count(2)
    expect(line_count(page, "SKU-007")).to_have_text("0 / 1")
    expect(line_count(page, "SKU-025")).to_have_text("0 / 1")
    expect(page.locator('#lines tr[data-sku="SKU-007"]')).to_contain_text("Charging cable 1 m")

    # A mug is not in this order: big red refusal, error sound, nothing counted.
    clear_sound(page)
    scanner_types(page, world.item_code("SKU-012"), "Enter")
    expect_verdict(page, "error", "item_not_in_order", "SKU-012 (Ceramic mug) is not in order SO-10009")
    expect(page.locator("#verdict-title")).to_have_text("Refused")
    expect(verdict(page)).to_have_css("background-color", "rgb(196, 22, 28)")
    expect_sound(page, "error")
    expect(page.locator("#last-scan")).to_have_text(world.item_code("SKU-012"))
    shot(page, "kiosk-1-refused")

    # The right items: one scan ends with Tab, the other with no suffix at all (the page ends it on the pause).
    clear_sound(page)
    scanner_types(page, world.item_code("SKU-007"), "Tab")
    expect(line_count(page, "SKU-007")).to_have_text("1 / 1")
    expect_verdict(page, "ok", "item_accepted", "SKU-007")
    expect_sound(page, "ok")
    expect(scan).to_be_focused()
    expect(scan).to_have_value("")
    scanner_types(page, world.item_code("SKU-025"), None)
    expect(line_count(page, "SKU-025")).to_have_text("1 / 1")
    expect(page.locator("#lines tr.done")).to_have_count(2)
    expected = world.expected_g("SO-10009")
    shot(page, "kiosk-2-complete")

    # The parcel on the scale (demo panel -> MT-SICS emulator -> serial reader): live weight, then green OK.
    clear_sound(page)
    put_on_scale(page, expected + 2)
    expect(page.locator("#weight")).to_contain_text(str(int(expected + 2)))
    expect_verdict(page, "ok", "weight_ok", f"Weight OK: {g(expected + 2)} g, expected {g(expected)} g")
    expect(page.locator("#verdict-title")).to_have_text("OK")
    expect(verdict(page)).to_have_css("background-color", "rgb(10, 143, 60)")
    expect(page.locator("#weight")).to_have_class("weight inrange")
    expect(page.locator("#btn-pack")).to_be_enabled()
    expect_sound(page, "ok")
    shot(page, "kiosk-3-weight-ok")

    # Lifting the parcel off the scale confirms it packed.
    page.locator("#demo-clear").click()
    expect_verdict(page, "ok", "packed", "Order SO-10009 packed.")
    expect(page.locator("#weight")).to_contain_text("0")


def test_overweight_blocked_then_supervisor_override(kiosk: Page, rig) -> None:
    page, world = kiosk, rig.world
    fresh_order(page, rig, "SO-10011")
    expect(line_count(page, "SKU-012")).to_have_text("0 / 2")
    scanner_types(page, world.item_code("SKU-012"))
    expect(line_count(page, "SKU-012")).to_have_text("1 / 2")
    scanner_types(page, world.item_code("SKU-012"))
    expect(line_count(page, "SKU-012")).to_have_text("2 / 2")
    expect(page.locator("#btn-override")).to_be_disabled()

    expected = world.expected_g("SO-10011")
    clear_sound(page)
    rig.devices.weigh(str(expected + 150))
    expect_verdict(page, "blocked", "weight_out_of_tolerance",
                   f"Weight {g(expected + 150)} g is +150.0 g", f"off the expected {g(expected)} g")
    expect(page.locator("#verdict-title")).to_have_text("Blocked")
    expect(verdict(page)).to_have_css("background-color", "rgb(196, 22, 28)")
    expect(page.locator("#weight")).to_have_class("weight outrange")
    expect_sound(page, "error")
    shot(page, "kiosk-4-blocked")

    # The override asks for a reason with big buttons, then the supervisor's badge.
    expect(page.locator("#btn-override")).to_be_enabled()
    page.locator("#btn-override").click()
    dialog = page.locator("#reason-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".dlg-title")).to_have_text("Supervisor override: why?")
    shot(page, "kiosk-5-reason")
    clear_sound(page)
    dialog.get_by_role("button", name="Extra flyer / insert").click()
    expect(dialog).to_be_hidden()
    expect_verdict(page, "prompt", "override_requested", "Extra flyer / insert")
    expect(page.locator("#verdict-title")).to_have_text("Check")
    expect_sound(page, "prompt")
    rig.devices.tap(BADGES["supervisor"])
    expect_verdict(page, "ok", "weight_overridden", "Weight approved by Priya Nair: Extra flyer / insert")

    page.locator("#btn-pack").click()
    expect_verdict(page, "ok", "packed", "Order SO-10011 packed.")
    rig.devices.weigh("0")
    expect(page.locator("#weight")).to_contain_text("0.00")
    expect(page.locator("#scan-input")).to_be_focused()


def test_fifo_prompt_take_older_then_cancel(kiosk: Page, rig) -> None:
    page, world = kiosk, rig.world
    no_open_order(page, rig)
    scanner_types(page, "SO-10001")
    expect_verdict(page, "ok", "order_opened", "Order SO-10001")
    oldest, newest = world.lots("SKU-001")[0], world.lots("SKU-001")[-1]

    clear_sound(page)
    scanner_types(page, world.item_code("SKU-001", -1), "Tab")
    expect_verdict(page, "prompt", "fifo_older_lot",
                   f"lot {oldest['lot']} of SKU-001", f"in bin {oldest['bin']} goes before lot {newest['lot']}")
    expect(verdict(page)).to_have_css("background-color", "rgb(240, 160, 0)")
    expect_sound(page, "prompt")
    take_older = page.get_by_role("button", name="Take older lot")
    expect(take_older).to_be_visible()
    # The busiest screen (a long prompt, extra buttons) still fits 1280 x 800 without overlaps or scrolling.
    assert_laid_out(page, ["header", "#verdict", ".scanbar", "main.kiosk", ".actions"], fold=800, min_button_px=60)
    shot(page, "kiosk-6-fifo")
    # what the prompt names is on the bar: take the older lot, put it back, or a supervisor approves
    for name in ("Take older lot", "Put back", "Supervisor override"):
        expect(page.locator("#actions").get_by_role("button", name=name)).to_be_visible()
    take_older.click()
    # the swap is not an acceptance: amber, the prompt sound, the line still 0 / 2, until the older lot is scanned
    expect_verdict(page, "prompt", "lot_swap", f"take lot {oldest['lot']} from bin {oldest['bin']}", "0 of 2 counted")
    expect_sound(page, "prompt")
    expect(line_count(page, "SKU-001")).to_have_text("0 / 2")
    expect(page.locator("#btn-take-older")).to_be_disabled()  # nothing to take now: off the bar (and disabled)
    expect(page.locator("#btn-take-older")).to_be_hidden()
    shot(page, "kiosk-7-lot-swap-amber")
    expect(page.locator("#scan-input")).to_be_focused()
    scanner_types(page, world.item_code("SKU-001", 0))
    expect(line_count(page, "SKU-001")).to_have_text("1 / 2")

    # Cancelling needs a reason: typed into the dialog's own field this time.
    page.locator("#btn-cancel").click()
    dialog = page.locator("#reason-dialog")
    expect(dialog.locator(".dlg-title")).to_have_text("Stop packing this order (it goes back to the queue): why?")
    dialog.locator("input").fill("customer called")
    dialog.get_by_role("button", name="Confirm").click()
    expect_verdict(page, "ok", "cancelled", "Packing of SO-10001 stopped (customer called); it is back in the queue.")


def test_slow_hand_typing_is_not_cut_short(kiosk: Page, rig) -> None:
    """A person typing a code by hand pauses between keys: only Enter ends it, never the scanner pause."""
    page = kiosk
    no_open_order(page, rig)
    scan = page.locator("#scan-input")
    scan.focus()
    before = verdict(page).get_attribute("data-code")
    page.keyboard.type("SO-10", delay=330)
    page.wait_for_timeout(450)
    expect(scan).to_have_value("SO-10")
    assert verdict(page).get_attribute("data-code") == before
    page.keyboard.type("004")
    page.keyboard.press("Enter")
    expect_verdict(page, "ok", "order_opened", "Order SO-10004")
    expect(scan).to_have_value("")


def test_language_switch_to_chinese(kiosk: Page, rig) -> None:
    page = kiosk
    fresh_order(page, rig, "SO-10004")
    shown = rig.agent.station.verdict
    page.locator("#lang").click()
    expect(page.locator("#lang")).to_have_text("English")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("th", has_text="货号")).to_be_visible()
    expect(page.get_by_role("heading", name="电子秤")).to_be_visible()
    expect(page.locator("#btn-reweigh")).to_have_text("重新称重")
    expect(page.locator("#scan-input")).to_have_attribute("placeholder", "扫描或输入条码后回车")
    # The verdict already shown switches language too.
    expect(page.locator("#verdict-title")).to_have_text({"ok": "通过", "prompt": "请确认", "blocked": "拦截",
                                                         "error": "拒绝"}[shown["status"]])
    expect(page.locator("#verdict-message")).to_have_text(shown["message_zh"])

    page.locator("#scan-input").focus()
    clear_sound(page)
    scanner_types(page, rig.world.item_code("SKU-012"))
    expect_verdict(page, "error", "item_not_in_order", "SKU-012（Ceramic mug）不在订单SO-10004中，请放到一边。")
    expect(page.locator("#verdict-title")).to_have_text("拒绝")
    expect_sound(page, "error")
    shot(page, "kiosk-7-chinese")
    page.locator("#demo-clear").click()  # the demo panel answers in the page's language too
    expect(page.locator("#demo-hint")).to_have_text("电子秤：0 克（稳定中）")

    # The choice survives a reload (the kiosk browser restarts), and switches back.
    page.reload()
    expect(page.locator("#lang")).to_have_text("English")
    expect(page.locator("#verdict-title")).to_have_text("拒绝")
    page.locator("#lang").click()
    expect(page.locator("#verdict-title")).to_have_text("Refused")
    expect(page.locator("#verdict-message")).to_contain_text("SKU-012 (Ceramic mug) is not in order SO-10004")


def test_reload_does_not_replay_the_last_sound(kiosk: Page, rig) -> None:
    """A reloaded page shows the current verdict silently: the packer is not buzzed again for an old refusal."""
    page = kiosk
    no_open_order(page, rig)
    scanner_types(page, "SO-99999")
    expect_verdict(page, "error", "unknown_order")
    expect_sound(page, "error")
    page.reload()
    expect(page.locator("#verdict")).to_have_attribute("data-code", "unknown_order")
    expect(page.locator("#verdict")).to_have_attribute("data-status", "error")
    page.wait_for_timeout(300)
    assert page.evaluate("document.body.dataset.lastSound") is None


def test_expected_weight_range_shown_before_weighing(kiosk: Page, rig) -> None:
    page, world = kiosk, rig.world
    fresh_order(page, rig, "SO-10006")
    for _ in range(2):
        scanner_types(page, world.item_code("SKU-015", world.good_lot_index("SKU-015")))
    expect(line_count(page, "SKU-015")).to_have_text("2 / 2")
    expect(page.locator("#expected")).to_contain_text(f"{g(world.expected_g('SO-10006'))} g", timeout=2_000)
