"""A fake clock for a loop running in its own thread: each ``sleep`` is recorded, then parked until the test
lets the time pass, so a test sees every pass of a loop that waits hours and never sleeps for real."""
from __future__ import annotations

import threading

from packgate.device.clock import FakeClock


class ParkedClock(FakeClock):
    """``sleep`` records what was asked, then waits for ``let_pass()`` (or the loop's signal) before moving on."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float] = []
        self._asleep = threading.Semaphore(0)
        self._go = threading.Semaphore(0)

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        self.asked.append(seconds)
        self._asleep.release()
        while not self._go.acquire(timeout=0.05):
            if stop is not None and stop.is_set():
                return True
        self.advance(seconds)
        return bool(stop and stop.is_set())

    def wait_asleep(self) -> None:
        assert self._asleep.acquire(timeout=10), "the loop did not go back to sleep"

    def let_pass(self) -> None:
        """Let the sleeping loop's time pass, and wait until it sleeps again."""
        self._go.release()
        self.wait_asleep()
