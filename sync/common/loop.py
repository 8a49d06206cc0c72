"""One base for every background loop: a thread that runs a job's pass, waits, and runs it again.

The model is Home Assistant's ``DataUpdateCoordinator``: the base owns the thread, the schedule, waking,
stopping and what a failure does; a job writes ``run_once()`` (one pass, synchronous, raising on failure:
tests call it directly) and, when its next pass is not ``every_s`` away, ``wait_after(result)``.
``Ticker`` is the base around a plain function.

Invariants:

* **The thread never dies of a pass.** An exception is logged when the loop starts failing or fails in a
  new way (one line; a traceback only for an exception that is not an outage of storage, network or
  upstream), not again while it keeps failing the same way, and once more when a pass succeeds
  ("recovered"); an exception of one of the ``outage`` types is not logged at all (an ``OutageLog`` of the
  failing thing reports it, once for every part of the process). A failing loop waits
  ``failure_backoff.delay(failures)`` (full jitter), not its interval.
* **Every wait is ``clock.sleep(seconds, signal)``**: ``wake()`` and ``stop()`` set the signal and end the
  wait at once, and the clock (a test's) decides what a second is. A wake during a pass makes one more pass.
* **``stop()`` is prompt and idempotent.** It asks the pass in progress to end (``interrupt()``: a job
  blocked in a long-poll cancels it), waits up to ``timeout`` and returns whether the thread ended; a
  loop never started, or stopped already, returns True. A stopped loop can be started again: each run has
  its own stop flag, so a thread still ending never sees the next run's.
* ``release()`` (close a connection the passes held) runs in the thread when it ends, and in ``stop()``
  once no thread runs (a job whose ``run_once`` was only called synchronously).
"""
from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from typing import Any, Callable, Generic, Iterable, Self, TypeVar

from packgate.device.backoff import Backoff, Random
from packgate.device.clock import Clock
from packgate.sync.errors import SyncError

T = TypeVar("T")
log = logging.getLogger(__name__)
#: what an outage raises (disk, network, upstream): one line in the log, no traceback
OUTAGES: tuple[type[BaseException], ...] = (SyncError, OSError, sqlite3.Error)


class Loop(Generic[T]):
    """``start()`` runs ``run_once()`` in a daemon thread named ``name`` until ``stop()``."""

    def __init__(self, name: str, *, every_s: float = 1.0, clock: Clock | None = None,
                 failure_backoff: Backoff | None = None, rng: Random | None = None,
                 signal: threading.Event | None = None, run_at_start: bool = True,
                 logger: logging.Logger | None = None, what: str | None = None,
                 outage: tuple[type[BaseException], ...] = ()):
        self.name = name
        self.every_s = every_s
        self.clock = clock or Clock()
        self.failure_backoff = failure_backoff or Backoff(base_s=1.0, cap_s=30.0)
        self.rng: Random = rng or random.SystemRandom()
        self.run_at_start = run_at_start
        self.log = logger or log
        self.what = what or name
        self.failures = 0
        self.last_error: str | None = None
        self._failing_as: str | None = None
        # failures of these types are an outage someone else reports (``sync.common.outage``): not logged here
        self.reported_elsewhere = outage
        self._quiet = False
        self._signal = signal or threading.Event()
        self._wakes_held_until = float("-inf")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()

    # ---- what a job writes ------------------------------------------------------------------
    def run_once(self) -> T:
        """One pass, in the caller's thread; raises what went wrong."""
        raise NotImplementedError

    def wait_after(self, result: T) -> float:
        """Seconds from the end of a successful pass to the next one."""
        return self.every_s

    def on_failure(self, exc: Exception) -> None:
        """After a failed pass (e.g. drop a connection that may be broken)."""

    def interrupt(self) -> None:
        """Called by ``stop()`` from the stopping thread: cut a blocking pass short."""

    def release(self) -> None:
        """Close what the passes hold; must be harmless to call twice."""

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> Self:
        ending = self._thread
        if ending is not None and self._stopping.is_set() and ending is not threading.current_thread():
            ending.join(5.0)  # a thread still ending would release() what the new one opens
        with self._lifecycle:
            if self._thread is not None and self._thread.is_alive() and not self._stopping.is_set():
                return self
            self._stopping = threading.Event()
            self._signal.clear()  # set by the last stop(); the first pass comes anyway
            self._thread = threading.Thread(target=self._run, args=(self._stopping,), name=self.name, daemon=True)
            self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the thread to end (without waiting): the wait ends now, a blocking pass is interrupted."""
        with self._lifecycle:
            self._stopping.set()
            self._signal.set()
        self.interrupt()

    def join(self, timeout: float = 5.0) -> bool:
        """Wait up to ``timeout`` for the thread; True if none runs (then what the passes held is released)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, timeout))
        if thread is not None and thread.is_alive():
            return False
        self.release()
        return True

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the thread; True if it ended within ``timeout`` (or never ran)."""
        self.request_stop()
        return self.join(timeout)

    def wake(self) -> None:
        """Run the next pass now (or right after the one in progress), unless wakes are held (``hold_wakes``)."""
        if self.clock.monotonic() < self._wakes_held_until:
            return
        self._signal.set()

    def hold_wakes(self, seconds: float) -> None:
        """``wake()`` does nothing for ``seconds`` (0: from now on it works again): the wait runs out as planned (a
        loop pacing itself, or on standby while another process holds its lease). ``stop()`` is never held."""
        self._wakes_held_until = self.clock.monotonic() + seconds

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # ---- the thread -------------------------------------------------------------------------
    def _run(self, stopping: threading.Event) -> None:
        try:
            if not self.run_at_start:
                self._wait(self.every_s, stopping)
            while not stopping.is_set():
                wait = self._pass(stopping)
                self._wait(wait, stopping)
        finally:
            self.release()

    def _wait(self, seconds: float, stopping: threading.Event) -> None:
        if seconds > 0 and not stopping.is_set():
            self.clock.sleep(seconds, self._signal)
        if not stopping.is_set():
            self._signal.clear()

    def _pass(self, stopping: threading.Event) -> float:
        try:
            result = self.run_once()
        except Exception as exc:  # the loop never dies; the next pass tries again
            if stopping.is_set():  # interrupted by stop(): not a failure
                return 0.0
            return self._failed(exc)
        if self.last_error is not None and not self._quiet:
            self.log.warning("%s recovered after %d failed pass(es) (was: %s)", self.what, self.failures,
                             self.last_error)
        self.failures, self.last_error, self._failing_as, self._quiet = 0, None, None, False
        return self.wait_after(result)

    def _failed(self, exc: Exception) -> float:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        kind = type(exc).__name__
        self._quiet = isinstance(exc, self.reported_elsewhere)
        if self._quiet:
            self._failing_as = kind
        elif kind != self._failing_as:
            outage = isinstance(exc, OUTAGES)
            self.log.log(logging.WARNING if outage else logging.ERROR, "%s failed: %s", self.what, self.last_error,
                         exc_info=None if outage else exc)
            self._failing_as = kind
        else:
            self.log.debug("%s failed again (%d): %s", self.what, self.failures, self.last_error)
        self.on_failure(exc)
        return self.failure_backoff.delay(self.failures, self.rng)


class Ticker(Loop[float | None]):
    """A loop around ``tick()``, which returns the seconds until the next pass (None: ``every_s``)."""

    def __init__(self, name: str, tick: Callable[[], float | None], **kwargs: Any):
        super().__init__(name, **kwargs)
        self.tick = tick

    def run_once(self) -> float | None:
        return self.tick()

    def wait_after(self, result: float | None) -> float:
        return self.every_s if result is None else max(0.0, result)


def stop_all(loops: Iterable[Loop[Any] | None], timeout: float = 5.0) -> bool:
    """Stop several loops at once (all asked first, then joined against one deadline); True if all ended."""
    running = [loop for loop in loops if loop is not None]
    for loop in running:
        loop.request_stop()
    deadline = time.monotonic() + timeout
    return all([loop.join(deadline - time.monotonic()) for loop in running])


__all__ = ["OUTAGES", "Loop", "Ticker", "stop_all"]
