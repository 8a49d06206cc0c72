"""Structured log lines: ``ts level logger station=.. order=.. message key=value``.

Every line carries the station id and, when known, the order id: pass ``extra={"order": "SO-1"}`` or use
``order_context``. The station is the record's own (``extra={"station": ...}``), else the one the logging thread
works for (``station_threads``: every thread started while a station agent starts, e.g. its device readers, web
server and sync worker; two stations in one process, as in the demo, each get their own lines), else the
process's (``setup_logging(station=...)``).

Third-party libraries speak through packgate's own lines: nfcpy's "searching for reader" / "no reader available",
repeated on every retry, is left out (the badge reader's state line says it once, and a summary follows while it
stays away); its warnings and errors otherwise pass. ``--log-level DEBUG`` shows everything.
"""
from __future__ import annotations

import contextvars
import logging
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

_order: contextvars.ContextVar[str | None] = contextvars.ContextVar("packgate_order", default=None)
_station = {"id": "-"}
_threads: dict[int, str] = {}  # thread ident -> the station it works for
_threads_lock = threading.Lock()

# logger prefix -> message starts its lines are dropped with below DEBUG (what packgate's own lines already say)
REPEATS = {"nfc": ("searching for reader", "no reader available", "using ")}


@contextmanager
def order_context(order_id: str | None) -> Iterator[None]:
    token = _order.set(order_id)
    try:
        yield
    finally:
        _order.reset(token)


@contextmanager
def station_threads(station: str) -> Iterator[None]:
    """Every thread started inside the block (and this one, meanwhile) logs as ``station``."""
    before = {t.ident for t in threading.enumerate()}
    me = threading.get_ident()
    with _threads_lock:
        mine = me not in _threads
        _threads.setdefault(me, station)
    try:
        yield
    finally:
        with _threads_lock:
            for t in threading.enumerate():
                if t.ident is not None and t.ident not in before:
                    _threads[t.ident] = station
            if mine:
                _threads.pop(me, None)


def forget_station(station: str) -> None:
    """The station stopped: its threads no longer name it (an ident may be reused by a later thread)."""
    with _threads_lock:
        for ident in [i for i, s in _threads.items() if s == station]:
            del _threads[ident]


def station_of(record: logging.LogRecord) -> str:
    with _threads_lock:
        bound = _threads.get(record.thread) if record.thread is not None else None
    return getattr(record, "station", None) or bound or _station["id"]


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).astimezone().isoformat(timespec="milliseconds")
        order = getattr(record, "order", None) or _order.get() or "-"
        fields = getattr(record, "fields", None) or {}
        tail = "".join(f" {k}={_quote(v)}" for k, v in fields.items())
        line = (f"{ts} {record.levelname:<7} {record.name} station={station_of(record)} order={_escape(str(order))} "
                f"{_escape(record.getMessage())}{tail}")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _Repeats(logging.Filter):
    """Drops a library's lines that repeat what packgate's own lines say (``REPEATS``), unless at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger().level <= logging.DEBUG:
            return True
        for prefix, starts in REPEATS.items():
            if record.name == prefix or record.name.startswith(prefix + "."):
                return record.levelno >= logging.WARNING and not record.getMessage().startswith(starts)
        return True


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
    handler.addFilter(_Repeats())
    handler._packgate = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("werkzeug", "waitress", "urllib3", "nfc"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
