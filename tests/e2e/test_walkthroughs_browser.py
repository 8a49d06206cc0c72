"""The demo's walkthroughs (tests/e2e/walkthroughs.py, the steps the docs print) driven step by step in a browser
against the demo site: the WMS, the site hub and two tables, each with its label printer, as ``packgate demo`` runs.

Both tables' kiosks are open in one browser: each table's session cookie has its own name, so neither page loses its
session to the other (issue 26: "Open the station's page first").
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date

import pytest
import requests
from e2e_support import KIOSK_VIEWPORT, PDA_VIEWPORT, scanner_types
from playwright.sync_api import Browser, BrowserContext, Page, expect
from walkthroughs import ACROSS_THE_SITE, AT_ONE_TABLE, RETURNS, Step

from packgate.station.demo.floor import SiteRig, build_site
from packgate.station.demo.rig import gs1_item

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def site(tmp_path) -> Iterator[SiteRig]:
    s = build_site(ports=(0, 0), hub_port=0, upstream_port=0, data_dir=str(tmp_path / "site"),
                   station_overrides={"label.mode": "print"})
    yield s
    s.stop()


class Walker:
    """Does what a step's acts say, with one browser context for the kiosks and dashboard, one phone for the PDA."""

    def __init__(self, browser: Browser, site: SiteRig):
        self.site = site
        self.desk = browser.new_context(viewport=KIOSK_VIEWPORT, locale="en-US")
        self.phone = browser.new_context(viewport=PDA_VIEWPORT, is_mobile=True, has_touch=True, locale="en-US")
        self.pages: dict[str, Page] = {}
        self.waybills: dict[str, str] = {}
        self.errors: list[str] = []

    def close(self) -> None:
        for ctx in (self.desk, self.phone):
            ctx.close()

    def url(self, table: str) -> str:
        return self.site.hub_url if table == "hub" else self.site.stations[int(table) - 1].agent.url

    def do(self, act: tuple[str, ...]) -> None:
        name, page_name, *args = act
        getattr(self, name)(page_name, *args)

    def open(self, name: str, table: str, path: str) -> None:
        ctx: BrowserContext = self.phone if name == "pda" else self.desk
        page = ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: {exc}"))
        page.goto(self.url(table) + path)
        self.pages[name] = page

    def sign_in(self, name: str, badge: str, pin: str) -> None:
        page = self.pages[name]
        if name == "dashboard":
            page.locator("#badge").fill(badge)
            page.locator("#pin").fill(pin)
            page.locator("#sign-in").click()
        else:
            page.locator("#login-badge").fill(badge)
            page.locator("#login-pin").fill(pin)
            page.locator("#login-go").tap()
            expect(page.locator("#orders")).to_be_visible()

    def pick(self, name: str, order_id: str) -> None:
        page, world = self.pages[name], self.site.world
        page.locator(f'#order-list button[data-order="{order_id}"]').tap()
        expect(page.locator("#picking")).to_be_visible()
        for task in page.evaluate("CURRENT.tasks"):
            scanner_types(page, task["bin"])
            expect(page.locator("#verdict")).to_have_attribute("data-code", "bin_ok")
            sku = world.skus[task["sku"]]
            code = gs1_item(sku["gtin"], task["lot"], date.fromisoformat(task["expires"]) if task.get("expires") else None) \
                if task["lot"] else sku["gtin"]
            for _ in range(task["qty"]):
                scanner_types(page, code)
                expect(page.locator("#verdict")).to_have_attribute("data-status", "ok")
        scanner_types(page, world.orders[order_id]["tote"])

    def tap(self, name: str, who: str) -> None:
        page = self.pages[name]
        option = page.locator("#demo-badge option", has_text=re.compile("^" + re.escape(who)))
        page.locator("#demo-badge").select_option(option.first.get_attribute("value"))
        page.locator("#demo-tap").click()

    def type(self, name: str, code: str) -> None:
        page = self.pages[name]
        page.locator("#scan-input").focus()
        scanner_types(page, code)

    def from_list(self, name: str, label: str) -> None:
        page = self.pages[name]
        code = page.locator("#demo-codes option").filter(has_text=label).first.get_attribute("value")
        page.locator("#demo-code").fill(code or "")
        page.locator("#demo-scan").click()
        expect(page.locator("#last-scan")).not_to_have_text("—")

    def lines_from_list(self, name: str, order_id: str) -> None:
        page = self.pages[name]
        for row in page.locator("#lines tr[data-sku]").all():
            sku = row.get_attribute("data-sku")
            done, qty = (int(x) for x in row.locator(".count").inner_text().split("✓")[0].split("/"))
            for n in range(done, qty):
                self.from_list(name, f"{order_id}: {sku} ")
                expect(row.locator(".count")).to_contain_text(f"{n + 1} / {qty}")

    def grams(self, name: str, grams: str) -> None:
        page = self.pages[name]
        if grams == "expected":
            grams = page.locator("#expected b").inner_text().removesuffix(" g")
        page.locator("#demo-grams").fill(grams)
        page.locator("#demo-weigh").click()

    def empty(self, name: str) -> None:
        """Lift the parcel off and see the scale read 0, steady, as the packer does before the next parcel (the
        emulated scale settles in 0.6 s; after a label scan the station weighs no parcel before it read empty)."""
        page = self.pages[name]
        page.locator("#demo-clear").click()
        expect_empty_scale(page)

    def scan_label(self, name: str) -> None:
        page = self.pages[name]
        waybill = page.locator("#label-waybill").inner_text()
        order = page.locator("#order-id").inner_text()
        assert waybill, "the Label panel shows the waybill"
        self.waybills[order] = waybill
        self.type(name, waybill)

    def scan_label_of(self, name: str, order_id: str) -> None:
        self.type(name, self.waybills[order_id])

    def press(self, name: str, button: str) -> None:
        self.pages[name].locator("#actions").get_by_role("button", name=button).click()

    def reason(self, name: str, preset: str) -> None:
        self.pages[name].locator("#reason-dialog").get_by_role("button", name=preset).click()

    def verdict(self, name: str, status: str, code: str, text: str) -> None:
        page = self.pages[name]
        expect(page.locator("#verdict")).to_have_attribute("data-code", code, timeout=10_000)
        expect(page.locator("#verdict")).to_have_attribute("data-status", status)
        if text:
            expect(page.locator("#verdict-message")).to_contain_text(text)

    def fill(self, name: str, selector: str, text: str) -> None:
        self.pages[name].locator(selector).fill(text)

    def see(self, name: str, selector: str, text: str) -> None:
        target = self.pages[name].locator(selector)
        if text:
            expect(target).to_contain_text(text, timeout=10_000)
        else:
            expect(target).to_be_empty()


def expect_empty_scale(page: Page) -> None:
    weight = page.locator("#weight")
    expect(weight).to_have_attribute("data-grams", re.compile(r"^0(\.0+)?$"), timeout=10_000)
    expect(weight).to_have_attribute("data-stable", "1")


def walk(browser: Browser, site: SiteRig, steps: tuple[Step, ...]) -> Walker:
    walker = Walker(browser, site)
    try:
        for number, step in enumerate(steps, 1):
            for act in step.acts:
                try:
                    walker.do(act)
                except AssertionError as exc:
                    raise AssertionError(f"step {number} ({step.says[:60]}…), {act}: {exc}") from exc
        assert not walker.errors, walker.errors
    except BaseException:
        walker.close()
        raise
    return walker


def test_walk_an_order_across_the_site(browser, site) -> None:
    walker = walk(browser, site, ACROSS_THE_SITE)
    try:  # both tables' pages in one browser: each kept its own session cookie
        names = {c["name"] for c in walker.desk.cookies()}
        assert {"packgate_session_st01", "packgate_session_st02"} <= names, names
    finally:
        walker.close()


def test_walk_an_order_through_at_one_table(browser, site) -> None:
    walk(browser, site, AT_ONE_TABLE).close()


def test_receive_a_return_by_hand(browser, site) -> None:
    walker = walk(browser, site, RETURNS)
    try:  # the WMS refunded it once, from the confirmations the table sent through the hub
        end = time.monotonic() + 15
        outcomes: list = []
        while time.monotonic() < end and not outcomes:
            got = requests.get(f"{walker.site.wms_url}/v1/admin/returns/outcomes", timeout=5).json()
            outcomes = [o for o in got["outcomes"] if o["rma_id"] == "RMA-0002"]
            time.sleep(0.2)
        assert [o["outcome"] for o in outcomes] == ["refunded"]
    finally:
        walker.close()


def test_after_a_label_scan_the_next_parcel_is_weighed_once_the_scale_read_empty(browser, site) -> None:
    """The cause of a walkthrough that waited forever at "put 1100 g on the scale": in print mode the carton just
    packed is still on the scale, so the station weighs nothing until the scale has read empty. A parcel swapped
    in before the scale settled at 0 is not weighed (it could be the packed carton); once the scale read 0, the
    next order's parcel is weighed and a wrong weight shows red at once."""
    walker = walk(browser, site, AT_ONE_TABLE[:6])  # up to "Order SO-10009 packed", its 215 g carton on the scale
    try:
        page, station = walker.pages["kiosk"], site.stations[0].agent.station
        walker.type("kiosk", "SO-10011")
        walker.verdict("kiosk", "ok", "order_opened", "SO-10011")
        for n in (1, 2):
            walker.from_list("kiosk", "SO-10011: SKU-012 Ceramic mug")
            expect(page.locator('#lines tr[data-sku="SKU-012"] .count')).to_contain_text(f"{n} / 2")
        walker.verdict("kiosk", "ok", "item_accepted", "Put the parcel on the scale.")

        walker.grams("kiosk", "1100")  # straight from 215 g to 1100 g: the scale never read empty
        weight = page.locator("#weight")
        expect(weight).to_have_attribute("data-grams", re.compile(r"^1100(\.0+)?$"))
        expect(weight).to_have_attribute("data-stable", "1")
        time.sleep(1.0)  # the station weighs in the same turn as it hears the reading: give it ample time
        assert station.state()["session"]["state"] == "ready_to_weigh"
        expect(page.locator("#verdict")).to_have_attribute("data-code", "item_accepted")

        walker.empty("kiosk")
        walker.grams("kiosk", "1100")
        expect(weight).to_have_attribute("data-grams", re.compile(r"^1100(\.0+)?$"))
        expect(weight).to_have_attribute("data-stable", "1")
        box = page.locator("#verdict")
        expect(box).to_have_attribute("data-code", "weight_out_of_tolerance", timeout=3_000)
        expect(box).to_have_attribute("data-status", "blocked")
        expect(box).to_have_css("background-color", "rgb(196, 22, 28)")
        expect(page.locator("#verdict-message")).to_contain_text("+150.0 g (+15.79 %)")
        assert station.state()["session"]["state"] == "blocked"
        assert not walker.errors, walker.errors
    finally:
        walker.close()
