"""The ``locked`` decorator for ``Station`` methods that must run under the station's lock."""
from __future__ import annotations

from typing import Any, Callable


def locked(method: Callable) -> Callable:
    """Views read the station's connection under its lock, so they never see a write that rolls back."""
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper
