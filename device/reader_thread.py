"""The lifecycle every device reader shares: one daemon thread, a stop event, state reports, backoff.

    class MyReader(ReaderThread):
        thread_name = "my"                  # the thread is named "my:<thread_subject()>"
        def thread_subject(self): return self.path
        def _run(self):                     # loop until self._stop is set; report via _set_state,
            ...                             # reconnect via _disconnected/_retry

    with MyReader(on_state=print, backoff=Backoff()) as r:   # start() ... stop() (returns within its timeout)
        ...

States are reported through ``on_state(state, detail)`` and kept in ``state``/``state_detail``
(``"idle"`` until the thread reports). User callbacks (``on_state``, ``on_scan``, ...) go through
``call_safely``: an exception in one is logged, never raised, so it cannot kill the thread that
owns the device.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from packgate.device.backoff import Backoff
from packgate.device.errors import ReaderError

log = logging.getLogger(__name__)

StateCallback = Callable[[str, "str | None"], None]


def call_safely(callback: Callable | None, name: str, *args) -> None:
    """``callback(*args)`` unless it is None; an exception is logged as "<name> callback failed", not raised."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:  # noqa: BLE001 - a callback must not kill the thread that owns the device
        log.exception("%s callback failed", name)


class ReaderThread:
    """Base class: owns the thread, the stop ``Event``, state reporting and the reconnect backoff.

    Subclasses implement ``_run``.
    """

    thread_name = "reader"

    def __init__(self, on_state: StateCallback | None, backoff: Backoff):
        self.on_state = on_state
        self.backoff = backoff
        self.state = "idle"
        self.state_detail: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- subclass hooks ---------------------------------------------------------------------
    def thread_subject(self) -> str:
        """What the thread reads (port, path, source); part of the thread's name."""
        return ""

    def _run(self) -> None:
        raise NotImplementedError

    def _interrupt(self) -> None:
        """Called by ``stop()`` after the stop event is set: wake a blocked read (default: nothing)."""

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self):
        name = f"{self.thread_name}:{self.thread_subject()}"
        if self._thread is not None:
            raise ReaderError(f"{name} already started")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to finish by itself (e.g. a video file ended); True if it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _set_state(self, state: str, detail: str | None = None) -> None:
        self.state, self.state_detail = state, detail
        call_safely(self.on_state, "on_state", state, detail)

    # -- reconnecting -----------------------------------------------------------------------
    def _disconnected(self, detail: str) -> None:
        """Report ``disconnected`` unless already reported (a device that stays away is reported once)."""
        if self.state != "disconnected":
            self._set_state("disconnected", detail)

    def _retry(self, subject: str) -> bool:
        """Wait the next backoff delay, then report ``retrying``; False (no report) if ``stop()`` came first."""
        if self.backoff.wait(self._stop):
            return False
        self._set_state("retrying", subject)
        return True
