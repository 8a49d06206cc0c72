"""PINs as salted argon2 hashes: how the upstream contract carries them and how they are checked.

A PIN is never stored or sent in plain text: reference data carries ``pin_hash`` (argon2id, the
``argon2-cffi`` encoding with its own salt and cost) and the station and the site hub verify against it.
"""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


def hash_pin(pin: str) -> str:
    return _HASHER.hash(pin)


@lru_cache(maxsize=64)
def demo_hash(pin: str) -> str:
    """One hash per demo PIN per process (seeding the demo upstream many times stays fast)."""
    return hash_pin(pin)


def pin_matches(stored_hash: object, pin: str) -> bool:
    """True only for a PIN that matches an argon2 ``stored_hash``; a missing or malformed hash never matches."""
    if not isinstance(stored_hash, str) or not stored_hash.startswith("$argon2") or not pin:
        return False
    try:
        return bool(_HASHER.verify(stored_hash, pin))
    except (VerificationError, InvalidHashError):
        return False
