"""PINs as salted argon2 hashes: how the upstream contract carries them and how they are checked.

A PIN is never stored or sent in plain text: reference data carries ``pin_hash`` (argon2id, the
``argon2-cffi`` encoding with its own salt and cost) and the station and the site hub verify against it.
"""
from __future__ import annotations

import threading
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


def hash_pin(pin: str) -> str:
    return _HASHER.hash(pin)


def pin_matches(stored_hash: object, pin: str) -> bool:
    """True only for a PIN that matches an argon2 ``stored_hash``; a missing or malformed hash never matches."""
    if not isinstance(stored_hash, str) or not stored_hash.startswith("$argon2") or not pin:
        return False
    try:
        return bool(_HASHER.verify(stored_hash, pin))
    except (VerificationError, InvalidHashError):
        return False


class Lockout:
    """Wrong PINs counted per target (an employee id, or the canonical badge when nobody has it): after
    ``attempts`` failures within ``window_s`` the target is locked until the oldest of them leaves the window."""

    def __init__(self, monotonic: Callable[[], float], attempts: int = 5, window_s: float = 300.0, max_targets: int = 10000):
        self.monotonic, self.attempts, self.window_s, self.max_targets = monotonic, attempts, window_s, max_targets
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, target: str) -> int:
        """Seconds until ``target`` may try again (0: now)."""
        now = self.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(target, []) if now - t < self.window_s]
        if len(recent) < self.attempts:
            return 0
        return int(self.window_s - (now - recent[-self.attempts])) + 1

    def failed(self, target: str) -> int:
        """Count one failure; returns the failures within the window."""
        now = self.monotonic()
        with self._lock:
            if len(self._failures) >= self.max_targets:
                for key in [k for k, v in self._failures.items() if not v or now - v[-1] >= self.window_s]:
                    del self._failures[key]
            recent = [t for t in self._failures.get(target, []) if now - t < self.window_s] + [now]
            self._failures[target] = recent
            return len(recent)

    def passed(self, target: str) -> None:
        with self._lock:
            self._failures.pop(target, None)
