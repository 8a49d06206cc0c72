"""The live site dashboard in headless Debian Chromium: a confirmation shows within a second without a reload; at a
wall screen, a laptop and a phone, in English and Chinese, nothing overflows or is clipped, every table has column
headers (and on a phone every cell names its column), no English word of the catalog is left on the Chinese page;
an order's timeline opens with one click; the charts are drawn by the vendored uPlot."""
from __future__ import annotations

import re
import time
from typing import Any

import pytest
from hubkit import TOKENS
from playwright.sync_api import expect

from packgate.sync.hub import dashtext
from packgate.sync.hub_client import SiteClient

SUPERVISOR = ("04:D2:E8:F1:A2:B3:90", "9876")
CHINESE_NAMES = {"ST01": "一号打包台", "ST02": "二号打包台"}
VIEWPORTS = [(1920, 1080), (1366, 768), (412, 915)]


def sign_in(page: Any, url: str, lang: str = "en") -> None:
    page.goto(f"{url}/?lang={lang}")
    page.fill("#badge", SUPERVISOR[0])
    page.fill("#pin", SUPERVISOR[1])
    page.click("#sign-in")
    dashboard_up(page)


def dashboard_up(page: Any) -> None:
    """The dashboard is up: its live stream connected and the stage counts drawn."""
    expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"), timeout=10000)
    expect(page.locator("#stage-counts button").first).to_be_visible()


def busy_floor(site: Any, clock: Any) -> None:
    """Some of everything: picked, blocked, packed (with weighings), a station with devices and an old clock."""
    a, b = site.station("ST01"), site.station("ST02")
    a.pick("SO-10012", "T-0012")
    a.confirm("weigh", "order", "SO-10013", {"result": "fail", "measured_g": 812, "expected_g": 640})
    a.pick("SO-10014", "T-0014")
    clock.advance(90)
    b.pack("SO-10014", operator="E002")
    a.push()
    b.push()
    for station, operator, order in (("ST01", "E001", "SO-10015"), ("ST02", "E002", None)):
        SiteClient(site.url, station, TOKENS[station]).heartbeat(
            operator=operator, order_id=order, state="scanning", devices={"scale": "connected", "printer": "disconnected"},
            outbox_depth=0, clock=(clock.now()).isoformat(), version="0.1.0")
    clock.advance(8 * 60)
    site.hub.tick()


@pytest.fixture
def context(browser):
    contexts = []

    def make(width: int = 1366, height: int = 768) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def test_a_confirmation_reaches_the_open_dashboard_within_a_second_without_reload(site, clock, context):
    page = context()
    sign_in(page, site.url)
    page.evaluate("window.__not_reloaded = true")
    expect(page.locator('tr.order[data-order="SO-10012"]')).to_have_attribute("data-stage", "backlog")
    table = site.station("ST01")
    table.pick("SO-10012", "T-0012")
    started = time.monotonic()
    table.push()
    expect(page.locator('#orders tr.order[data-order="SO-10012"]')).to_have_attribute("data-stage", "picked",
                                                                                      timeout=3000)
    took = time.monotonic() - started
    assert took < 1.0, f"the dashboard showed the pick after {took:.2f} s"
    assert page.evaluate("window.__not_reloaded") is True
    table.pack("SO-10012")
    started = time.monotonic()
    table.push()
    expect(page.locator('[data-v="packed"]')).to_have_text("1", timeout=3000)
    assert time.monotonic() - started < 1.0
    assert page.evaluate("window.__not_reloaded") is True


OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const bad = [];
  if (document.documentElement.scrollWidth > vw + 1) bad.push('page is ' + document.documentElement.scrollWidth + ' px wide');
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!r.width || !r.height || style.visibility === 'hidden' || el.closest('dialog:not([open])')) continue;
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className.split(' ').join('.') : '';
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + cls;
    if (r.right > vw + 1 || r.left < -1) bad.push(name + ' sticks out (' + Math.round(r.left) + '..' + Math.round(r.right) + ')');
    const clips = ['hidden', 'clip', 'auto', 'scroll'];  // sideways, even a scroll bar hides part of a row
    if ((clips.includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1) ||
        (['hidden', 'clip'].includes(style.overflowY) && el.scrollHeight > el.clientHeight + 1))  // down: may scroll
      bad.push(name + ' clips its content (' + el.scrollWidth + 'x' + el.scrollHeight + ' in ' + el.clientWidth + 'x' + el.clientHeight + ')');
    if (el.matches('input, select, button') && el.scrollWidth > el.clientWidth + 2) bad.push(name + ' text cut');
    if (el.clientWidth && el.scrollWidth > el.clientWidth + 1) bad.push(name + ' is wider inside than out');
  }
  return bad.slice(0, 20);
}"""

TEXT_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('script, style, dialog:not([open])')) continue;
    const r = el.getBoundingClientRect();
    if (r.width && r.height) out.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll('input[placeholder], [aria-label], [title]'))
    out.push(el.getAttribute('placeholder') || '', el.getAttribute('aria-label') || '', el.getAttribute('title') || '');
  return out.join('\\n');
}"""


def english_words() -> set[str]:
    """Words (4+ letters) of the catalog's English texts of the hub's pages."""
    found: set[str] = set()
    for value in dashtext.words("en").values():
        texts = value.values() if isinstance(value, dict) else [value]
        for text in texts:
            found |= {w.lower() for w in re.findall(r"[A-Za-z]{4,}", str(text))}
    return found


@pytest.mark.parametrize("hub_db", ["sqlite"], indirect=True)  # the page's layout: the engine behind it is tested above
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_screen_size_and_language_fits_has_headers_and_speaks_the_catalog(make_site, clock, context, lang):
    site = make_site(station_names=CHINESE_NAMES, **{"site.name": "上海仓"}) if lang == "zh" else make_site()
    busy_floor(site, clock)
    english = english_words()
    data_words = {"maria", "garcia", "priya", "nair", "zhang"}  # employees' names (data, not words)
    page = context(*VIEWPORTS[0])
    sign_in(page, site.url, lang)
    for width, height in VIEWPORTS:  # one signed-in session, the page loaded anew at each size
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{site.url}/?lang={lang}")
        dashboard_up(page)
        expect(page.locator('#stations tr.station[data-station="ST02"]')).to_be_visible()
        expect(page.locator("#chart-tables canvas").first).to_be_visible()
        page.wait_for_timeout(300)
        problems = page.evaluate(OVERFLOW_JS)
        assert problems == [], f"{width}x{height} {lang}: {problems}"
        tables = page.locator("main table:not(.u-legend), dialog table")
        for i in range(tables.count()):
            assert tables.nth(i).locator("thead th").count() >= 2, f"table {i} has no column headers"
        legends = page.locator("table.u-legend")  # the charts' legends: a header cell per series
        for i in range(legends.count()):
            assert legends.nth(i).locator("th").count() >= 2
        if width < 760:
            labels = page.evaluate("() => [...document.querySelectorAll('main table.cards > tbody > tr > td:not(.empty-row)')]"
                                   ".filter(td => !td.dataset.label).length")
            assert labels == 0, "on a phone every cell must name its column"
        shown = page.evaluate(TEXT_JS)
        if lang == "zh":
            left = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", shown)} & english - data_words
            assert not left, f"{width}x{height}: English words on the Chinese page: {sorted(left)}"
            assert "工作台" in shown and "待拣货" in shown
        else:
            assert re.search(r"\d{4}-\d{2}-\d{2}T", shown) is None, "raw ISO timestamps on the page"
            for code in ("order_open", "label_printed", "weighed_ok", "scanning"):
                assert code not in shown
            assert "Maria Garcia" in shown and "Packing table 2" in shown
        page.locator('#orders tr.order[data-order="SO-10014"] a').click()  # the timeline fits too
        expect(page.locator('#timeline .gantt .row[data-stage="packed"]')).to_be_visible()
        assert page.evaluate(OVERFLOW_JS) == [], f"{width}x{height} {lang}: the timeline"
        if lang == "zh":
            shown = page.evaluate(TEXT_JS)
            assert not {w.lower() for w in re.findall(r"[A-Za-z]{4,}", shown)} & english - data_words


def test_an_orders_timeline_opens_with_one_click_with_who_where_and_evidence(site, clock, context):
    busy_floor(site, clock)
    page = context(1920, 1080)
    sign_in(page, site.url)
    page.select_option('#filters [name="stage"]', "packed")
    row = page.locator('#orders tr.order[data-order="SO-10014"]')
    expect(row).to_contain_text("Packing table 2")
    expect(row).to_contain_text("Maria Garcia")
    dialog = page.locator("#timeline")
    for attempt in range(3):  # a click that lands while the list is redrawn hits a row already replaced: click again
        row.locator("a").click()
        try:
            expect(dialog).to_be_visible(timeout=5000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    for stage in ("backlog", "picked", "weighed", "packed"):
        expect(dialog.locator(f'.gantt .row[data-stage="{stage}"]')).to_be_visible()
    expect(dialog.locator(".bars")).to_contain_text("Packing table 2")
    expect(dialog.locator(".evidence")).to_contain_text("weighed")
    expect(dialog.locator(".evidence")).to_contain_text("result pass")
    page.click("#timeline-close")
    expect(dialog).to_be_hidden()
    page.goto(site.url + "/#order=SO-10013")  # a link to the order opens its timeline
    expect(page.locator("#timeline")).to_be_visible()
    expect(page.locator('#timeline .gantt .row[data-stage="blocked"]')).to_be_visible()


def test_filters_paging_and_counts_on_the_page(site, clock, context):
    busy_floor(site, clock)
    page = context(1366, 768)
    sign_in(page, site.url)
    backlog = page.locator('#stage-counts button[data-stage="backlog"] .n')
    expect(backlog).not_to_have_text("0")
    total = int(backlog.inner_text())
    page.click('#stage-counts button[data-stage="blocked"]')
    expect(page.locator("#orders tbody tr.order")).to_have_count(1)
    expect(page.locator('#orders tr.order[data-order="SO-10013"]')).to_be_visible()
    page.click('#stage-counts button[data-stage="blocked"]')  # off again
    page.fill('#filters [name="min_age"]', "100000")
    page.locator('#filters [name="min_age"]').dispatch_event("change")
    expect(page.locator("#orders tbody")).to_contain_text("No open orders match the filters")
    page.click("#filters button[type=reset]")
    expect(page.locator("#orders tbody tr.order").first).to_be_visible()
    assert total >= 10
