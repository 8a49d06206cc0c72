"""Exponential backoff with full jitter, and Retry-After parsing (seconds or HTTP-date).

``next delay = max(min(Retry-After, retry_after_cap), uniform(0, min(cap, base * 2**(n-1))))``
(AWS "full jitter"); the random source is injectable so tests are deterministic.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Backoff:
    base_s: float = 1.0
    cap_s: float = 300.0
    retry_after_cap_s: float = 900.0

    def ceiling(self, attempts: int) -> float:
        """The upper bound of the jitter window after ``attempts`` failed attempts (>= 1)."""
        exponent = max(0, min(attempts, 64) - 1)
        return min(self.cap_s, self.base_s * (2.0 ** exponent))

    def delay(self, attempts: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        wait = rng.uniform(0.0, self.ceiling(attempts))
        if retry_after_s is not None:
            wait = max(wait, min(max(0.0, retry_after_s), self.retry_after_cap_s))
        return wait


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
