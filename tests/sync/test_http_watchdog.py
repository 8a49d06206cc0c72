"""The request deadline's watchdog: one thread that cuts requests past their deadline, woken only when a new
deadline comes before the end of its current wait (requests one after another with the same budget, as the hub's
relay sends them, used to wake it once each)."""
from __future__ import annotations

import http.client
import threading
import time
from typing import Any

from packgate.sync.common.http import _Watchdog


def test_requests_one_after_another_do_not_wake_the_watchdog_and_an_earlier_deadline_does() -> None:
    watchdog = _Watchdog()
    conn = http.client.HTTPConnection("127.0.0.1", 9)  # never connected: an abort only marks it fired
    wakes: list[int] = []
    notify = watchdog._cond.notify

    def counted(n: int = 1) -> Any:
        wakes.append(n)
        return notify(n)

    watchdog._cond.notify = counted
    for _ in range(50):
        token = watchdog.arm(time.monotonic() + 10, conn, threading.Event())
        watchdog.disarm(token)
    assert len(wakes) == 1  # the first arm: the thread then waits for that deadline, the later ones come after it
    late = threading.Event()
    early = threading.Event()
    held = watchdog.arm(time.monotonic() + 30, conn, late)
    began = time.monotonic()
    watchdog.arm(time.monotonic() + 0.2, conn, early)  # before the end of the thread's wait: it is woken
    assert early.wait(3) and time.monotonic() - began >= 0.19
    assert not late.is_set()
    watchdog.disarm(held)
