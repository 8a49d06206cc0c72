"""The hub's supervisor notifications through Apprise (WeCom, DingTalk, Slack, e-mail, JSON webhooks)."""
from __future__ import annotations

import logging

import apprise

log = logging.getLogger(__name__)


class Notifier:
    """``send(title, body)`` to every Apprise URL; returns ``(ok, error)`` and never raises."""

    def __init__(self, urls: list[str]):
        self.urls = list(urls)
        self._apprise = apprise.Apprise()
        for url in self.urls:
            if not self._apprise.add(url):
                log.error("escalation.notify: Apprise does not understand a %s:// URL; it is skipped",
                          url.split("://", 1)[0])

    def send(self, title: str, body: str) -> tuple[bool, str | None]:
        if not self.urls:
            return True, None
        if not len(self._apprise):
            return False, "no usable notification URL (see escalation.notify)"
        try:
            ok = bool(self._apprise.notify(title=title, body=body))
        except Exception as exc:  # noqa: BLE001 - a failed notification is recorded and retried
            return False, f"{type(exc).__name__}: {exc}"
        return (True, None) if ok else (False, "a notification service refused or was unreachable")
