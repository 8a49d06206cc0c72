"""Supervisor notifications through Apprise (WeCom bots, DingTalk, Slack, e-mail, JSON webhooks), for the
station and the site hub alike."""
from __future__ import annotations

import logging

import apprise

log = logging.getLogger("packgate.notify")


class Notifier:
    """``send(title, body)`` to every configured Apprise URL; returns ``(ok, error)``, never raises."""

    def __init__(self, urls: list[str]):
        self.urls = list(urls)
        self._apprise = apprise.Apprise()
        self.bad_urls = [url for url in self.urls if not self._apprise.add(url)]
        for url in self.bad_urls:
            log.error("escalation.notify: Apprise does not understand %r; it is skipped", _redact(url))

    def send(self, title: str, body: str, context: dict | None = None) -> tuple[bool, str | None]:
        if not self.urls:
            return True, None
        if len(self.bad_urls) == len(self.urls):
            return False, "no usable notification URL (see escalation.notify)"
        try:
            ok = bool(self._apprise.notify(title=title, body=body))
        except Exception as exc:  # noqa: BLE001 - a notification failure is reported and retried
            return False, f"{type(exc).__name__}: {exc}"
        return (True, None) if ok else (False, "at least one notification service refused or was unreachable")


def _redact(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…" if rest else url
