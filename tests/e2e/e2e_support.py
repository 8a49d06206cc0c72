"""Helpers for the browser tests (imported by the test modules; fixtures live in conftest.py)."""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Callable

import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from packgate.sync.upstream import demo_data

KIOSK_VIEWPORT = {"width": 1280, "height": 800}
PDA_VIEWPORT = {"width": 412, "height": 915}  # the picker's PDA and the supervisor's phone
DESKTOP_VIEWPORT = {"width": 1920, "height": 1080}  # the supervisor's desktop
BADGES = demo_data.DEMO_BADGES
PINS = {"picker": "4321", "supervisor": "9876"}


def shot(page: Page, name: str, full_page: bool = False) -> None:
    """Save a screenshot when PACKGATE_E2E_SHOTS names a folder (for looking at the pages while developing)."""
    folder = os.environ.get("PACKGATE_E2E_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


def hold_clock(page: Page) -> None:
    """Stop the page's clock a little ahead of its time now (it cannot go back; a loaded machine may take a while
    between reading the time and stopping it: then a bit further ahead)."""
    ahead_s = 0.05
    while True:
        try:
            page.clock.pause_at(page.evaluate("Date.now()") / 1000 + ahead_s)  # Unix seconds
            return
        except PlaywrightError as exc:
            if "to the past" not in str(exc) or ahead_s > 2:
                raise
            ahead_s *= 2


def scanner_types(page: Page, code: str, suffix: str | None = "Enter") -> None:
    """Type ``code`` into the focused field the way a keyboard-wedge scanner does: a fast burst of key presses,
    then the suffix key (``"Enter"``, ``"Tab"``) or nothing at all (the page ends the scan on the pause).

    The page's clock (installed by ``new_page``) stands still while the keys go in: a scanner's burst takes
    milliseconds, but a loaded test machine can stall between two key presses for longer than the page's
    scanner pause (250 ms), which would end the scan early. Time runs again before a suffix-less scan's pause."""
    hold_clock(page)
    try:
        page.keyboard.type(code, delay=8)
        if suffix:
            page.keyboard.press(suffix)
    finally:
        page.clock.resume()


def clear_sound(page: Page) -> None:
    page.evaluate("delete document.body.dataset.lastSound")


def expect_sound(page: Page, kind: str) -> None:
    expect(page.locator("body")).to_have_attribute("data-last-sound", kind)


class StationApi:
    """The station's HTTP API as a second terminal would use it (for setting up a scenario, not for asserting)."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()
        self.csrf = self.http.get(f"{base}/api/v1/csrf", timeout=5).json()["csrf_token"]

    def post(self, path: str, body: dict) -> dict:
        if path == "/api/v1/actions" and "key" not in body:  # as the pages do: a fresh key with every action
            body = {**body, "key": uuid.uuid4().hex}
        answer = self.http.post(f"{self.base}{path}", json=body, headers={"X-CSRF-Token": self.csrf}, timeout=10).json()
        self.csrf = answer.get("csrf_token") or self.csrf  # a new session and token at sign-in and sign-out
        return answer

    def close(self) -> None:
        self.http.close()


def wait_until(predicate: Callable[[], object], timeout: float = 6.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def assert_laid_out(page: Page, selectors: list[str], *, fold: int | None = None, min_button_px: int = 0) -> None:
    """The named blocks do not overlap, end above ``fold`` (px from the top, no scrolling needed), and every
    visible button in them is at least ``min_button_px`` tall (a gloved finger needs a big target)."""
    boxes = {}
    scroll_y = page.evaluate("window.scrollY")
    for sel in selectors:
        box = page.locator(sel).bounding_box()
        assert box, f"{sel} is not on the page"
        box = {**box, "y": box["y"] + scroll_y}  # page coordinates: as laid out, wherever the page is scrolled to
        boxes[sel] = box
        if fold is not None:
            assert box["y"] + box["height"] <= fold, f"{sel} ends at {box['y'] + box['height']:.0f} px, below the fold {fold}"
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            p, q = boxes[a], boxes[b]
            apart = (p["x"] + p["width"] <= q["x"] or q["x"] + q["width"] <= p["x"]
                     or p["y"] + p["height"] <= q["y"] or q["y"] + q["height"] <= p["y"])
            assert apart, f"{a} {p} overlaps {b} {q}"
    if min_button_px:
        for sel in selectors:
            for button in page.locator(f"{sel} button:visible").all():
                box = button.bounding_box()
                assert box and box["height"] >= min_button_px, f"{sel} button {button.inner_text()!r} is {box} (too small)"


# Every visible element with text of its own whose text overflows its box, and every visible control cut off by
# the viewport (sideways) or by an ancestor that clips (overflow other than visible), within a pixel.
_LAYOUT_PROBLEMS = """() => {
  const shown = (el) => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none"; };
  const classes = (el) => (el.className ? "." + String(el.className).trim().split(/\\s+/).join(".") : "");
  const said = (el) => (el.innerText || el.value || el.placeholder || "").trim().slice(0, 40);
  const name = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${classes(el)} "${said(el)}"`;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!shown(el) || ["SCRIPT", "STYLE", "INPUT", "SELECT", "TEXTAREA", "TABLE", "TBODY", "TR"].includes(el.tagName)) continue;
    const s = getComputedStyle(el);
    if (s.display === "inline" || ["auto", "scroll"].includes(s.overflowX) || ["auto", "scroll"].includes(s.overflowY)) continue;
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    // sideways: any overflow; downwards: a clipped box, or more than half a line spilling out (a wrapped line) --
    // the font's own ascent and descent reaching past a tight line-height is drawn in full and is not counted
    const down = el.scrollHeight - el.clientHeight;
    const spills = down > 1 && (s.overflowY !== "visible" || down > parseFloat(s.fontSize) / 2);
    if (ownText && (el.scrollWidth > el.clientWidth + 1 || spills))
      out.push(`text overflows ${name(el)}: ${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight}`);
  }
  for (const el of document.querySelectorAll("button, input, select, a, summary")) {
    if (!shown(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.left < -1 || r.right > window.innerWidth + 1) out.push(`cut by the viewport: ${name(el)} ${r.left}..${r.right}`);
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ps = getComputedStyle(p);
      if (ps.overflowX === "visible" && ps.overflowY === "visible") continue;
      const pr = p.getBoundingClientRect();
      if (r.left < pr.left - 1 || r.right > pr.right + 1 || r.top < pr.top - 1 || r.bottom > pr.bottom + 1)
        out.push(`cut by ${name(p)}: ${name(el)}`);
    }
  }
  return out;
}"""


def layout_problems(page: Page) -> list[str]:
    """What ``assert_nothing_cut`` complains about (empty: every text fits its box, every control is whole)."""
    return page.evaluate(_LAYOUT_PROBLEMS)


def assert_nothing_cut(page: Page, step: str) -> None:
    """No text overflows its box and no control is cut off, at this step; a screenshot of it when asked."""
    shot(page, step)
    problems = layout_problems(page)
    assert not problems, f"{step}: " + "; ".join(problems)


def set_language(page: Page, lang: str) -> None:
    """Switch the page to ``lang`` ("en" / "zh") with its own language button, as a person does."""
    if page.evaluate("LANG") != lang:
        page.locator("button.lang", has_text="中文" if lang == "zh" else "English").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if lang == "zh" else "en")
