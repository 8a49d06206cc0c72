"""The wake pipe that lets a stop end a thread's wait on its device at once."""
from __future__ import annotations

import os
import threading

from packgate.device.waker import Waker


def test_wake_ends_a_wait_on_silent_descriptors_and_every_later_one():
    waker = Waker()
    silent_r, silent_w = os.pipe()
    result: list[list[int]] = []
    waiting = threading.Thread(target=lambda: result.append(waker.wait([silent_r], 30.0)))
    waiting.start()
    waker.wake()
    waiting.join(5)
    assert not waiting.is_alive() and result == [[]]  # woken, and the silent pipe is not reported
    assert waker.wait([silent_r], 30.0) == []  # still woken: a loop that checks its stop flag next ends
    os.write(silent_w, b"x")
    assert waker.wait([silent_r], 30.0) == [silent_r]
    waker.close()
    os.close(silent_r)
    os.close(silent_w)


def test_wake_after_close_does_nothing():
    waker = Waker()
    waker.close()
    waker.wake()
    waker.close()
    assert waker.closed
