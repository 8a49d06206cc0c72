"""Helpers for the browser tests (imported by the test modules; fixtures live in conftest.py)."""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Callable

import requests
from playwright.sync_api import Page, expect

from packgate.sync.upstream import demo_data

BADGES = demo_data.DEMO_BADGES
PINS = {"picker": "4321", "supervisor": "9876"}


def shot(page: Page, name: str, full_page: bool = False) -> None:
    """Save a screenshot when PACKGATE_E2E_SHOTS names a folder (for looking at the pages while developing)."""
    folder = os.environ.get("PACKGATE_E2E_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


def scanner_types(page: Page, code: str, suffix: str | None = "Enter") -> None:
    """Type ``code`` into the focused field the way a keyboard-wedge scanner does: a fast burst of key presses,
    then the suffix key (``"Enter"``, ``"Tab"``) or nothing at all (the page ends the scan on the pause)."""
    page.keyboard.type(code, delay=8)
    if suffix:
        page.keyboard.press(suffix)


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
