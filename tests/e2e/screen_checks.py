"""What every kiosk screen must hold, at every size and in both languages (issue 26).

``screen_problems(page, lang)`` lists what is wrong with the screen as it is now: the page scrolls, a text
overflows or a control is cut off (``e2e_support.layout_problems``), the control the verdict's next step names
(``data-next~=<step>``) is missing or outside the viewport, or a visible word is not from the catalog in the page's
language (raw keys, backticks, English words in Chinese, Chinese in English; text that is data -- names, codes, a
station verdict's message -- is marked ``data-value`` by the page and left out).
"""
from __future__ import annotations

import re

from e2e_support import layout_problems
from playwright.sync_api import Page

SIZES = {"1280x800": {"width": 1280, "height": 800}, "1366x768": {"width": 1366, "height": 768},
         "1920x1080": {"width": 1920, "height": 1080}}
STEPS_WITHOUT_CONTROL = {"", "done"}
ALLOWED_LATIN = {"SKU", "GTIN", "SHA", "packgate"}  # product and standard names, the same in both languages

_SCROLLS = "() => [document.scrollingElement.scrollHeight - innerHeight, document.scrollingElement.scrollWidth - innerWidth]"

_NEXT = """(step) => {
  const targets = [...document.querySelectorAll("[data-next]")].filter((el) => el.dataset.next.split(" ").includes(step));
  const shown = targets.filter((el) => el.checkVisibility());
  return { named: targets.map((el) => el.id), shown: shown.map((el) => { const r = el.getBoundingClientRect();
    return { id: el.id, top: r.top, bottom: r.bottom, left: r.left, right: r.right }; }) };
}"""

_WORDS = """(root) => {
  const out = [];
  const skip = "[data-value], script, style, option, datalist, select, #texts, button.lang";  // lang: the other one's name
  const walker = document.createTreeWalker(document.querySelector(root), NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || el.closest(skip) || !el.checkVisibility()) continue;
    out.push(text);
  }
  for (const input of document.querySelector(root).querySelectorAll("input[placeholder]")) {
    if (input.placeholder && !input.closest(skip) && input.checkVisibility()) out.push(input.placeholder);
  }
  return out;
}"""


def words_not_from_the_catalog(page: Page, lang: str, root: str = "body") -> list[str]:
    """Visible text under ``root`` that is not the catalog's in ``lang`` (data marked ``data-value`` left out)."""
    bad = []
    for text in page.evaluate(_WORDS, root):
        if re.search(r"\b[a-z]+_[a-z_]+\b", text) or "`" in text:
            bad.append(f"raw key or markup: {text!r}")
        elif lang == "zh" and set(re.findall(r"[A-Za-z]{3,}", text)) - ALLOWED_LATIN:
            bad.append(f"English in Chinese: {text!r}")
        elif lang == "en" and re.search(r"[\u4e00-\u9fff]", text):
            bad.append(f"Chinese in English: {text!r}")
    return bad


def next_control_problems(page: Page) -> list[str]:
    step = page.locator("#verdict").get_attribute("data-step") or ""
    if step in STEPS_WITHOUT_CONTROL:
        return []
    found = page.evaluate(_NEXT, step)
    if not found["shown"]:
        return [f"the next step {step!r} names no control on screen (controls for it: {found['named']})"]
    size = page.viewport_size or {"width": 0, "height": 0}
    return [f"{c['id']} for the next step {step!r} is outside the viewport: {c}" for c in found["shown"]
            if c["top"] < -1 or c["left"] < -1 or c["bottom"] > size["height"] + 1 or c["right"] > size["width"] + 1]


def screen_problems(page: Page, lang: str) -> list[str]:
    down, sideways = page.evaluate(_SCROLLS)
    problems = [f"the page scrolls {down} px down"] if down > 0 else []
    problems += [f"the page scrolls {sideways} px sideways"] if sideways > 0 else []
    return problems + layout_problems(page) + next_control_problems(page) + words_not_from_the_catalog(page, lang)
