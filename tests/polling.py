"""Waiting for something another thread or process does, without sleeping longer than it takes."""
from __future__ import annotations

import time
from typing import Any, Callable


def eventually(predicate: Callable[[], Any], timeout: float = 8.0) -> Any:
    """``predicate()``'s first truthy value within ``timeout`` seconds, else its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()
