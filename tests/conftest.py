import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parent.parent
TOOLING = ROOT / "tests" / "tooling"
# test tooling (temporary PostgreSQL, the crash harness) lives beside the tests, not in the installed package
if str(TOOLING) not in sys.path:
    sys.path.insert(0, str(TOOLING))
os.environ.setdefault("PACKGATE_PROFILES", str(ROOT / "firmware-profiles"))
# the site's own profiles (~/.config/packgate/profiles on the machine running the tests) stay out of the tests;
# the tests of site profiles give their own directory
os.environ.setdefault("PACKGATE_USER_PROFILES", "")


pytest_plugins = ["schedule"]  # tests/tooling/schedule.py: the order files run in, and what a run measures


CHROMIUM = os.environ.get("PACKGATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(autouse=True)
def root_logger_as_found() -> Iterator[None]:
    """A command run in-process (click's CliRunner) or a test installs a log handler on the stderr it has then; once
    the test ends that stream is closed, and the next record from any later test would print "--- Logging error ---"
    into that test's stderr. The root logger's own handlers and level go back to how the test found them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers and (getattr(handler, "_packgate", False) or type(handler) is logging.StreamHandler):
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def browser() -> Iterator["Browser"]:
    """One headless Debian Chromium for every browser test of the session (playwright allows one sync loop)."""
    from playwright.sync_api import sync_playwright

    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: ./scripts/test installs Debian's chromium (or set PACKGATE_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def missing_devices_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real agent as a new site starts it wrong (issue 12, points 2 and 3): a scanner port and an NFC reader
    that do not exist, and a Toledo 8217 scale (emulated on a pty) configured as MT-SICS; upstream unreachable.
    "Data not understood" comes after 0.5 s here (3 s on a station), the log summary every second (5 min)."""
    from packgate.device.profiles import load_profiles
    from packgate.device.scale.emulator import ScaleEmulator
    from packgate.station.runtime.agent import Agent
    from packgate.station.runtime.config import validate

    tmp = tmp_path_factory.mktemp("devices")
    emulator = ScaleEmulator(load_profiles(kind="scale")["toledo-8217"], grams="990", seed=1)
    cfg = validate({"station.data_dir": str(tmp / "data"), "upstream.url": "http://127.0.0.1:9",
                    "scale.port": emulator.start_pty(tmp / "scale"), "scale.profile": "mettler-mt-sics",
                    "scanner.port": str(tmp / "no-scanner"), "badge.reader": "tty:no-such-reader:pn532",
                    "web.host": "127.0.0.1", "web.api_tokens": ["devices-test-api-token-0123456789"]})
    agent = Agent(cfg, port=0)
    agent.devices.build()["scale"].NOT_UNDERSTOOD_S = 0.5
    agent.devices.SUMMARY_S = 1.0
    agent.start()
    yield agent
    agent.stop()
    emulator.stop()
