"""Retry-After parsing (seconds or HTTP-date) and the HTTP Date header; the backoff itself is
``packgate.device.backoff.Backoff``."""
from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: datetime, server_date: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header; None if absent or unparseable.

    The HTTP-date form is measured against the response's own Date header when given
    (immune to our clock skew), else against ``now``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(min(int(text), 10**9))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    reference = server_date if server_date is not None else now
    try:
        return max(0.0, (when - reference).total_seconds())
    except (OverflowError, TypeError):
        return None


def parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when is not None and when.tzinfo is not None else None
