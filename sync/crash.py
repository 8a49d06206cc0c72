"""Named crash points for the crash harness (the SQLite ``test6.c`` idea, one process up).

``point(name)`` does nothing unless ``PACKGATE_CRASH_AT`` names this point; then the
``PACKGATE_CRASH_NTH``-th time (default 1st) the point is reached, the process SIGKILLs itself.
Points: before_commit, after_commit, after_send, after_2xx_before_mark, during_mark.
"""
from __future__ import annotations

import os
import signal
import threading

POINTS = ("before_commit", "after_commit", "after_send", "after_2xx_before_mark", "during_mark")

_target = os.environ.get("PACKGATE_CRASH_AT") or None
_nth = int(os.environ.get("PACKGATE_CRASH_NTH", "1") or 1)
_hits = 0
_lock = threading.Lock()


def point(name: str) -> None:
    """Kill the process here (SIGKILL, no cleanup) if the harness asked for this point."""
    global _hits
    if _target != name:
        return
    with _lock:
        _hits += 1
        fire = _hits >= _nth
    if fire:
        os.kill(os.getpid(), signal.SIGKILL)
