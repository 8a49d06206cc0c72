"""A wake pipe for a thread that blocks in ``select()`` on a device's descriptors.

The thread waits with ``wait(fds, timeout)``, which also watches the pipe; ``wake()`` (from any thread, any
number of times) ends that wait at once and every later one, so a stop never waits out a timeout. The owner
closes it once the waiting thread has ended; ``wake()`` after ``close()`` does nothing (never a write to a
descriptor number the process may have reused).
"""
from __future__ import annotations

import os
import select
import threading


class Waker:
    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self.closed = False
        self._lock = threading.Lock()

    def wait(self, fds: list[int], timeout: float | None) -> list[int]:
        """Those of ``fds`` that are readable, once one is, ``timeout`` seconds pass or ``wake()`` was called."""
        ready, _, _ = select.select([*fds, self._read], [], [], timeout)
        return [fd for fd in ready if fd != self._read]

    def wake(self) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                os.write(self._write, b"!")
            except BlockingIOError:  # the pipe is full: woken long ago
                pass

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                os.close(self._read)
                os.close(self._write)

    def __del__(self) -> None:  # an owner that never started its thread
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
