"""The supervisor page: sign in, stations, blocked parcels, audit after an override, lots near expiry,
an escalation (an order picked and not packed for 12 minutes) with its Acknowledge button.

The scenario is set up the way the floor would produce it: a packer at the kiosk (badge taps, scans and
weights through the emulators), a supervisor approving an override, a picker picking on a PDA (over
the station API); the 12 minutes pass on the rig's offset clock, not in real time.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from e2e_support import BADGES, PINS, StationApi, shot, wait_until
from playwright.sync_api import Page, expect

from packgate.station.demo.rig import gs1_item

pytestmark = pytest.mark.timeout(60)


def _verdict_code(rig) -> str | None:
    v = rig.agent.station.verdict
    return v.get("code") if v else None


def _do(rig, act, code: str) -> None:
    """Act like a person at the table and wait until the kiosk shows ``code``."""
    seq = (rig.agent.station.verdict or {}).get("seq", 0)
    act()
    wait_until(lambda: (rig.agent.station.verdict or {}).get("seq", 0) > seq and _verdict_code(rig) == code,
               what=f"verdict {code} (last: {_verdict_code(rig)})")


def _pick(api: StationApi, world, order_id: str) -> None:
    """A picker picks ``order_id`` on a PDA, bin by bin, the lots the pick list names, into its tote."""
    start = api.post("/api/v1/actions", {"action": "pick", "object_type": "order", "object_id": order_id,
                                         "terminal": "pda", "device": "pda-1"})
    for task in start["data"]["pick"]["tasks"]:
        api.post("/api/v1/actions", {"action": "scan", "object_id": task["bin"], "terminal": "pda", "device": "pda-1"})
        sku = world.skus[task["sku"]]
        code = gs1_item(sku["gtin"], task["lot"], date.fromisoformat(task["expires"]) if task.get("expires") else None) \
            if task["lot"] else sku["gtin"]
        for _ in range(task["qty"]):
            answer = api.post("/api/v1/actions", {"action": "scan", "object_id": code, "terminal": "pda", "device": "pda-1"})
            assert answer["status"] == "ok", answer
    done = api.post("/api/v1/actions", {"action": "scan", "object_id": world.orders[order_id]["tote"],
                                        "terminal": "pda", "device": "pda-1"})
    assert done["code"] == "order_picked", done


@pytest.fixture(scope="module")
def scenario(rig):
    world, dev = rig.world, rig.devices
    api = StationApi(rig.agent.url)
    # A packer's parcel is overweight; a supervisor approves it with a reason; it is packed.
    _do(rig, lambda: dev.tap(BADGES["packer"]), "signed_in")
    _do(rig, lambda: dev.scan("SO-10011"), "order_opened")
    for _ in range(2):
        _do(rig, lambda: dev.scan(world.item_code("SKU-012")), "item_accepted")
    _do(rig, lambda: dev.weigh(str(world.expected_g("SO-10011") + 150)), "weight_out_of_tolerance")
    _do(rig, lambda: api.post("/api/v1/actions", {"action": "override", "payload": {"reason": "extra flyer"}}),
        "override_requested")
    _do(rig, lambda: dev.tap(BADGES["supervisor"]), "weight_overridden")
    _do(rig, lambda: dev.weigh("0"), "packed")
    # The next parcel is blocked and stays blocked.
    _do(rig, lambda: dev.scan("SO-10009"), "order_opened")
    for sku in ("SKU-007", "SKU-025"):
        _do(rig, lambda sku=sku: dev.scan(world.item_code(sku)), "item_accepted")
    _do(rig, lambda: dev.weigh(str(world.expected_g("SO-10009") + Decimal(120))), "weight_out_of_tolerance")
    # A picker picks SO-10012 on a PDA; nobody packs it for 12 minutes.
    picker = StationApi(rig.agent.url)
    assert picker.post("/api/v1/pda/login", {"badge": BADGES["picker"], "pin": PINS["picker"]})["status"] == "ok"
    _pick(picker, world, "SO-10012")
    picker.close()
    rig.clock.advance(12 * 60 + 1)
    rig.agent._wake()
    wait_until(lambda: rig.agent.station.supervisor_overview()["escalations"], what="the 12-minute escalation")
    yield
    api.close()


@pytest.fixture(scope="module")
def sup(new_page, scenario) -> Page:
    return new_page("/supervisor")


def sign_in(page: Page, who: str, pin: str) -> None:
    page.locator("#login-badge").fill(BADGES[who])
    page.locator("#login-pin").fill(pin)
    page.locator("#login-go").click()


def ack_box(page: Page) -> dict:
    """SO-10012's Acknowledge button, measured in one step in the page (its periodic refresh may replace the row
    between two calls from here): where it is, its size, and whether its label is cut."""
    return page.wait_for_function("""() => {
        const b = document.querySelector('#escalations tr[data-order="SO-10012"] button.ack');
        if (!b) return null;
        const r = b.getBoundingClientRect();
        return {x: r.x, width: r.width, height: r.height, cut: b.scrollWidth > b.clientWidth + 1};
    }""").json_value()


def test_only_a_supervisor_sees_the_page(sup: Page) -> None:
    page = sup
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#escalations")).to_be_hidden()
    expect(page.locator("#audit")).to_be_hidden()
    shot(page, "sup-0-sign-in")

    sign_in(page, "supervisor", "1111")
    expect(page.locator("#login-msg")).to_have_text("Badge code or PIN is wrong.")
    expect(page.locator("#login-msg")).to_have_class("msg error")
    expect(page.locator("#escalations")).to_be_hidden()

    sign_in(page, "picker", PINS["picker"])
    expect(page.locator("#login-msg")).to_have_text("Only a supervisor can open this page.")
    expect(page.locator("#escalations")).to_be_hidden()
    # refused is signed out: no name, no Sign out button, and the API agrees
    expect(page.locator("#who")).to_be_hidden()
    expect(page.locator("#logout")).to_be_hidden()
    assert page.evaluate("fetch('/api/v1/pda/me').then((r) => r.json())")["employee"] is None

    sign_in(page, "supervisor", PINS["supervisor"])
    expect(page.locator("#who")).to_contain_text("Priya Nair")
    expect(page.locator("#signin")).to_be_hidden()
    expect(page.locator("#escalations")).to_be_visible()


def test_stations_blocked_parcels_and_audit_after_override(sup: Page) -> None:
    page = sup
    station = page.locator('#stations tr[data-station="ST01"]')
    expect(station).to_contain_text("Li Wei")
    expect(station).to_contain_text("SO-10009")
    expect(station).to_contain_text("blocked")
    blocked = page.locator('#blocked tr[data-order="SO-10009"]')
    expect(blocked).to_be_visible()
    expect(page.locator("#blocked-count")).to_have_text("1")
    override = page.locator("#audit tr", has_text="extra flyer")
    expect(override).to_have_count(1)
    expect(override).to_contain_text("SO-10011")
    expect(override).to_contain_text("Priya Nair")
    shot(page, "sup-1-overview", full_page=True)


def test_supervisor_page_on_a_phone(new_page, scenario) -> None:
    page = new_page("/supervisor", mobile=True)
    sign_in(page, "supervisor", PINS["supervisor"])
    expect(page.locator("#who")).to_contain_text("Priya Nair")
    expect(page.locator("#stations")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    # the escalation's Acknowledge button whole at 412 px (this test runs before the one that acknowledges it)
    ack = page.locator('#escalations tr[data-order="SO-10012"]').get_by_role("button", name="Acknowledge")
    expect(ack).to_be_visible()
    box = ack_box(page)
    assert box["x"] >= 0 and box["x"] + box["width"] <= 412, box
    assert not box["cut"], "the Acknowledge label is cut"
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="工作站")).to_be_visible()
    expect(page.locator("#stations th").first).to_have_text("工作站")
    shot(page, "sup-2-phone")


def test_escalation_acknowledged(sup: Page) -> None:
    page = sup
    row = page.locator('#escalations tr[data-order="SO-10012"]')
    expect(row).to_be_visible()
    expect(page.locator("#esc-count")).to_have_text("1")
    expect(page.locator("#esc-count")).to_have_class("count-badge hot")
    ack = row.get_by_role("button", name="Acknowledge")
    box = ack_box(page)
    assert box["height"] >= 44, f"the Acknowledge button is too small to tap: {box}"
    ack.click()
    expect(page.locator("#ack-msg")).to_have_text("Escalation of SO-10012 acknowledged.")
    expect(row).to_have_count(0)
    expect(page.locator("#esc-count")).to_have_text("0")
    expect(page.locator("#audit tr[data-action=\"escalation_ack\"]")).to_contain_text("SO-10012")
    expect(page.locator("#audit tr[data-action=\"escalation_ack\"]")).to_contain_text("escalation acknowledged")


def test_kiosk_offers_the_escalated_order_to_any_packer(new_page, scenario) -> None:
    kiosk = new_page("/")
    banner = kiosk.locator("#priority")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("SO-10012")
    expect(banner).to_contain_text("T-0012")


def test_lots_expiring_soon_highlighted(sup: Page, rig) -> None:
    page = sup
    page.locator("#refresh").click()
    soon = [l for l in rig.world.reference["lots"] if l.get("expires")
            and 0 <= (date.fromisoformat(l["expires"]) - rig.world.today).days <= 90]
    expired = [l for l in rig.world.reference["lots"] if l.get("expires")
               and date.fromisoformat(l["expires"]) < rig.world.today]
    assert soon and expired
    for lot in soon:
        expect(page.locator(f'#lots tr[data-lot="{lot["lot"]}"]')).to_have_class("expiring", timeout=2_000)
    for lot in expired:
        expect(page.locator(f'#lots tr[data-lot="{lot["lot"]}"]')).to_have_class("expired")
        expect(page.locator(f'#lots tr[data-lot="{lot["lot"]}"]')).to_contain_text("expired")


def test_lists_come_in_pages_with_more_and_counts_from_counts(new_page, scenario, rig) -> None:
    total = rig.agent.station.counts()["expiring_lots"]
    assert total > 4
    page = new_page("/supervisor?limit=2")
    sign_in(page, "supervisor", PINS["supervisor"])
    lots = page.locator("#lots tr[data-lot]")
    expect(lots).to_have_count(2)
    expect(page.locator("#lots-count")).to_have_text(str(total))  # the count of the list, not of the page
    more = page.locator("section", has=page.locator("#lots")).get_by_role("button", name="More")
    more.click()
    expect(lots).to_have_count(4)
    page.locator("#refresh").click()  # a refresh keeps the pages fetched with "more"
    expect(lots).to_have_count(4)
    assert not page.js_errors  # type: ignore[attr-defined]


def test_evidence_audit_and_milestones_read_in_words_in_chinese(sup: Page) -> None:
    from screen_checks import words_not_from_the_catalog

    page = sup
    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.locator("#evidence-order").fill("SO-10011")
    page.locator("#evidence-go").click()
    view = page.locator("#evidence-view")
    expect(view.locator("h3")).to_contain_text("SO-10011")
    expect(view).to_contain_text("Li Wei")  # people by name, not E001
    expect(view).to_contain_text("Priya Nair")
    expect(view.locator(".ev-verdict")).to_contain_text("超出允许范围")  # the weighing against its range, in words
    expect(view.locator(".ev-verdict")).to_contain_text("Priya Nair已审批：extra flyer")
    expect(view.locator("h4", has_text="面单")).to_be_visible()  # the label section
    weighing = view.locator("li[data-weighing]").last
    expect(weighing.locator(".frame.judged")).to_contain_text(" g · 稳定")  # decoded; the raw bytes on demand
    expect(weighing.locator("code").first).to_be_hidden()
    weighing.locator("summary").click()
    expect(weighing.locator("li.judged code")).to_be_visible()
    view.scroll_into_view_if_needed()
    shot(page, "sup-3-evidence-zh")
    problems = words_not_from_the_catalog(page, "zh", "#evidence-view")
    assert problems == [], "\n".join(problems)
    page.get_by_role("button", name="English").click()
    expect(view.locator(".ev-verdict")).to_contain_text("outside the allowed range")  # drawn again in English
    problems = words_not_from_the_catalog(page, "en", "#evidence-view")
    assert problems == [], "\n".join(problems)
    page.get_by_role("button", name="中文").click()

    wrong_pin = page.locator('#audit tr[data-action="pin_failed"]').first
    expect(wrong_pin).to_contain_text("密码错误")
    expect(wrong_pin).to_contain_text("连续密码错误次数: 1")
    expect(wrong_pin).to_contain_text("手持终端登录")
    expect(page.locator("#audit")).not_to_contain_text("pin_failed")
    expect(page.locator("#audit")).not_to_contain_text("pda_sign_in")
    expect(page.locator("#milestones th")).to_have_count(7)  # no column that is always empty
    page.get_by_role("button", name="English").click()
