"""``packgate kiosk``: the packing table's screen, Chromium full screen on the station's own kiosk page.

Started by the desktop session (the autostart entry ``packgate install station`` writes). It waits until the agent
answers on this PC, then replaces itself with the browser, so the packer never sees a "cannot connect" page
while the agent is still starting at boot.

Invariants: the kiosk page is always opened over the loopback address (only a page opened from the station PC
itself is the kiosk's session), so a ``web.host`` the loopback cannot reach is refused with a message; any HTTP
answer from ``/healthz`` counts as up (503 only means a device needs attention, which the kiosk page shows);
the wait is on the injected clock's monotonic time and ends after ``timeout_s`` whatever happens, and the
browser starts then anyway.
"""
from __future__ import annotations

import ssl
import urllib.error
import urllib.request

from packgate.device.clock import Clock
from packgate.station.errors import ConfigError
from packgate.station.runtime.config import Config

#: web.host values the station PC reaches over loopback
LOOPBACK_REACHABLE = ("0.0.0.0", "::", "127.0.0.1", "::1", "localhost")
#: full screen, no first-run or crash-restore bubbles, no translate bar, sounds without a first touch
KIOSK_FLAGS = ("--kiosk", "--noerrdialogs", "--disable-infobars", "--no-first-run", "--hide-crash-restore-bubble",
               "--disable-features=Translate", "--password-store=basic", "--autoplay-policy=no-user-gesture-required",
               "--check-for-update-interval=31536000")


def kiosk_url(cfg: Config) -> str:
    """The kiosk page as the station PC reaches it: loopback, the configured port, https when TLS is on."""
    host = str(cfg["web.host"])
    if host not in LOOPBACK_REACHABLE:
        raise ConfigError(f"{cfg.source or 'packgate.toml'}: web.host: the kiosk opens the station's page from this PC "
                          f"(127.0.0.1), which {host!r} does not answer; set web.host to \"0.0.0.0\" (kiosk and PDAs)"
                          " or \"127.0.0.1\" (kiosk only)")
    if cfg["web.tls_cert"]:
        return f"https://localhost:{cfg['web.port']}/"  # the certificate should name localhost (subjectAltName)
    return f"http://127.0.0.1:{cfg['web.port']}/"


def browser_argv(cfg: Config, browser: str = "chromium") -> list[str]:
    """The browser's command line: kiosk mode on the kiosk page."""
    return [browser, *KIOSK_FLAGS, kiosk_url(cfg)]


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Does anything answer HTTP at ``url``? Any status counts; a refused or silent connection does not."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # loopback only: the question is whether the agent is up, not who it is
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=context):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def wait_for_station(url: str, *, timeout_s: float, clock: Clock | None = None, every_s: float = 1.0) -> bool:
    """Ask ``url`` + ``healthz`` every ``every_s`` until it answers or ``timeout_s`` has passed; True if it answered."""
    clock = clock or Clock()
    deadline = clock.monotonic() + timeout_s
    while True:
        if answers(url + "healthz", timeout_s=min(2.0, max(0.1, timeout_s))):
            return True
        if clock.monotonic() + every_s > deadline:
            return False
        clock.sleep(every_s)
