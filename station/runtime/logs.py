"""Structured log lines: ``ts level logger station=.. order=.. message key=value``.

Every line carries the station id and, when known, the order id: pass
``extra={"order": "SO-1"}`` or use ``order_context``.
"""
from __future__ import annotations

import contextvars
import logging
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_order: contextvars.ContextVar[str | None] = contextvars.ContextVar("packgate_order", default=None)
_station = {"id": "-"}


@contextmanager
def order_context(order_id: str | None) -> Iterator[None]:
    token = _order.set(order_id)
    try:
        yield
    finally:
        _order.reset(token)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).astimezone().isoformat(timespec="milliseconds")
        order = getattr(record, "order", None) or _order.get() or "-"
        station = getattr(record, "station", None) or _station["id"]
        fields = getattr(record, "fields", None) or {}
        tail = "".join(f" {k}={_quote(v)}" for k, v in fields.items())
        line = (f"{ts} {record.levelname:<7} {record.name} station={station} order={_escape(str(order))} "
                f"{_escape(record.getMessage())}{tail}")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7f)} | {0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t"}


def _escape(text: str) -> str:
    """Control characters as escapes: a scanned or typed newline can never start a fake log line."""
    return text.translate(_CONTROL)


def _quote(value: object) -> str:
    text = _escape(str(value))
    return f'"{text}"' if (" " in text or not text) else text


def setup_logging(level: str = "INFO", station: str | None = None) -> None:
    if station:
        _station["id"] = station
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_packgate", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler._packgate = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("werkzeug", "waitress", "urllib3", "nfc"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
