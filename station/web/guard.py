"""Who may talk to the station's web server, and how every answer is protected.

* ``Sessions``: server-side browser sessions. The cookie holds only a random id; the station holds the
  CSRF token, the signed-in employee and the expiry. Sign-out deletes the session (the old cookie opens
  nothing), an employee's sign-in ends ``SIGN_IN_S`` after it began and a session unused for ``IDLE_S`` is
  dropped; signing in issues a new id and a new CSRF token (no fixation). A session opened from the
  station PC itself (a loopback address) is the kiosk's.
* ``allowed_host``: the Host (and any Origin) must be one this station answers to.
* ``HEADERS``: security headers on every response; ``no-store`` on the API.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Callable

from packgate.sync.common.hosts import LOOPBACK_NAMES, allowed_hosts, host_of

COOKIE = "packgate_session"
SIGN_IN_S = 8 * 3600.0  # one shift
IDLE_S = 12 * 3600.0
MAX_SESSIONS = 5000
LOOPBACK = LOOPBACK_NAMES
__all__ = ["COOKIE", "HEADERS", "LOOPBACK", "Sessions", "WebSession", "allowed_hosts", "host_of"]

HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass
class WebSession:
    id: str
    csrf: str
    kiosk: bool
    used: float
    employee: str | None = None
    signed_in_at: float | None = None
    data: dict = field(default_factory=dict)


class Sessions:
    def __init__(self, monotonic: Callable[[], float]):
        self._monotonic = monotonic
        self._by_id: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def open(self, kiosk: bool) -> WebSession:
        now = self._monotonic()
        s = WebSession(secrets.token_urlsafe(32), secrets.token_urlsafe(24), kiosk, now)
        with self._lock:
            if len(self._by_id) >= MAX_SESSIONS:
                self._expire(now)
            if len(self._by_id) >= MAX_SESSIONS:  # still full: the least recently used goes
                del self._by_id[min(self._by_id.values(), key=lambda x: x.used).id]
            self._by_id[s.id] = s
        return s

    def get(self, sid: str | None) -> WebSession | None:
        if not sid:
            return None
        now = self._monotonic()
        with self._lock:
            s = self._by_id.get(sid)
            if s is None:
                return None
            if now - s.used > IDLE_S:
                del self._by_id[sid]
                return None
            if s.employee and s.signed_in_at is not None and now - s.signed_in_at > SIGN_IN_S:
                s.employee = s.signed_in_at = None
            s.used = now
            return s

    def sign_in(self, old: WebSession, employee: str) -> WebSession:
        """A new session (new id, new CSRF token) for ``employee``; the old one is gone."""
        new = self.open(old.kiosk)
        new.employee, new.signed_in_at = employee, self._monotonic()
        self.revoke(old.id)
        return new

    def revoke(self, sid: str) -> None:
        with self._lock:
            self._by_id.pop(sid, None)

    def _expire(self, now: float) -> None:
        for sid in [sid for sid, s in self._by_id.items() if now - s.used > IDLE_S]:
            del self._by_id[sid]
