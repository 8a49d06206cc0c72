"""Supervisor notifications through Apprise (WeCom bots, DingTalk, Slack, e-mail, JSON webhooks), for the
station and the site hub alike.

Invariants: ``send`` never raises; each configured URL is a channel of its own, sent to in turn, and keeps its own
state (the last success or failure, and since when it fails), which ``channels()`` reports for a health check
without the URL's secrets (``wecombot://…``). A message counts as delivered only when every usable channel took it.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any, Callable, Collection

import apprise

from packgate.device.clock import isoformat

log = logging.getLogger("packgate.notify")


class _Channel:
    def __init__(self, number: int, url: str):
        self.number, self.url, self.shown = number, url, _redact(url)
        self.apprise = apprise.Apprise()
        self.usable = bool(self.apprise.add(url))
        self.failing_since: datetime | None = None
        self.last_error: str | None = None
        self.last_ok: datetime | None = None


class Notifier:
    """``send(title, body)`` to every configured Apprise URL; returns ``(ok, error)``, never raises."""

    def __init__(self, urls: list[str], *, now: Callable[[], datetime] | None = None):
        self.urls = list(urls)
        self._now = now or (lambda: datetime.now().astimezone())
        self._channels = [_Channel(number, url) for number, url in enumerate(self.urls, 1)]
        self._lock = threading.Lock()
        self.bad_urls = [c.url for c in self._channels if not c.usable]
        for channel in self._channels:
            if not channel.usable:
                log.error("escalation.notify: Apprise does not understand %r; it is skipped", channel.shown)

    def reach(self, skip: Collection[int] = ()) -> int:
        """How many configured channels a message would go to, leaving out the numbers in ``skip`` (0: none is
        configured, and nothing is sent)."""
        return sum(1 for c in self._channels if c.number not in skip)

    def send(self, title: str, body: str, context: dict | None = None, *,
             skip: Collection[int] = ()) -> tuple[bool, str | None]:
        """Send to every channel but those numbered in ``skip``; ``(True, None)`` only when each usable one took it
        (with no channel configured there is nothing to send: ask ``reach()`` first)."""
        if not self.urls:
            return True, None
        if len(self.bad_urls) == len(self.urls):
            return False, "no usable notification URL (see escalation.notify)"
        errors = []
        for channel in self._channels:
            if not channel.usable or channel.number in skip:
                continue
            try:
                ok, error = bool(channel.apprise.notify(title=title, body=body)), None
            except Exception as exc:  # noqa: BLE001 - a notification failure is reported and retried
                ok, error = False, f"{type(exc).__name__}: {exc}"
            if not ok:
                error = error or "the service refused the message or was unreachable"
                errors.append(f"channel {channel.number} ({channel.shown}): {error}")
            self._record(channel, error)
        return (True, None) if not errors else (False, "; ".join(errors))

    def _record(self, channel: _Channel, error: str | None) -> None:
        with self._lock:
            if error is None:
                if channel.failing_since is not None:
                    log.warning("notification channel %d (%s) delivers again", channel.number, channel.shown)
                channel.last_ok, channel.failing_since, channel.last_error = self._now(), None, None
                return
            if channel.failing_since is None:
                channel.failing_since = self._now()
                log.warning("notification channel %d (%s) failing: %s", channel.number, channel.shown, error)
            channel.last_error = error

    def channels(self) -> list[dict[str, Any]]:
        """Each channel's state, secrets left out: number, scheme, usable, failing since, last error, last success."""
        with self._lock:
            return [{"channel": c.number, "url": c.shown, "usable": c.usable,
                     "failing_since": isoformat(c.failing_since) if c.failing_since else None,
                     "last_error": c.last_error if c.usable else "Apprise does not understand this URL",
                     "last_ok": isoformat(c.last_ok) if c.last_ok else None} for c in self._channels]


def _redact(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…" if rest else url
