"""Browser tests: the real pages in headless Chromium against a full demo rig.

The rig is the one ``packgate demo`` runs: a seeded reference upstream, an MT-SICS scale emulator on a
pty, a serial scanner emulator, an NFC badge emulator over nfcpy's udp driver, and the station agent
serving the pages on 127.0.0.1. Each test module gets its own rig (a fresh station); the browser is
shared by the whole session. Debian's Chromium is used (never ``playwright install``).

Set ``PACKGATE_E2E_SHOTS=/tmp/some-dir`` to save a screenshot at every ``shot()``.
"""
from __future__ import annotations

import os
from typing import Callable, Iterator

import pytest
from e2e_support import KIOSK_VIEWPORT, PDA_VIEWPORT
from playwright.sync_api import Browser, BrowserContext, Page, expect

from packgate.station.demo.rig import DemoRig, build_rig
from packgate.station.demo.selftest import OffsetClock

CHROMIUM = os.environ.get("PACKGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 "--autoplay-policy=no-user-gesture-required"]

# Auto-waiting assertions pass as soon as the page shows what they wait for (the scale emulator settles in
# ~0.6 s, everything else is faster); the limit only bounds a failing one, with room for a machine that runs
# the suite's parallel workers on two cores.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRig]:
    """A fresh demo rig per test module, on free ports, with a clock the tests can move forward."""
    clock = OffsetClock()
    r = build_rig(port=0, upstream_port=0, clock=clock,
                  data_dir=str(tmp_path_factory.mktemp("rig")), overrides={"upstream.refresh_s": 5.0})
    r.clock = clock  # type: ignore[attr-defined]
    yield r
    r.stop()


@pytest.fixture(scope="module")
def new_page(browser: Browser, rig: DemoRig) -> Iterator[Callable[..., Page]]:
    """``new_page(path, mobile=False)``: a page in its own browser context (own cookies, own language)."""
    contexts: list[BrowserContext] = []

    def make(path: str = "/", *, mobile: bool = False) -> Page:
        if mobile:
            ctx = browser.new_context(base_url=rig.agent.url, viewport=PDA_VIEWPORT, is_mobile=True, has_touch=True,
                                      device_scale_factor=2, locale="en-US")
        else:
            ctx = browser.new_context(base_url=rig.agent.url, viewport=KIOSK_VIEWPORT, locale="en-US")
        contexts.append(ctx)
        ctx.clock.install()  # runs in real time; scanner_types holds it still while a scanner's keys go in
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors  # type: ignore[attr-defined]
        page.goto(path)
        return page

    yield make
    for ctx in contexts:
        for page in ctx.pages:
            assert not page.js_errors, f"JavaScript errors on {page.url}: {page.js_errors}"  # type: ignore[attr-defined]
        ctx.close()
