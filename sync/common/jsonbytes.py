"""Canonical JSON bytes: sorted keys, no whitespace, UTF-8, no floats.

A confirmation's bytes are frozen with ``dumps`` at commit and re-sent unchanged; upstream
fingerprints an item by re-serialising it the same way (``fingerprint``). Decimal travels as a
string ("250.0"), never as a float.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def freeze(value: Any, path: str = "$") -> Any:
    """Plain JSON data from ``value``; floats are refused (use Decimal or str)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        raise TypeError(f"{path}: floats are not allowed in confirmations; use Decimal or str ({value!r})")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"{path}: {value} is not a finite decimal")
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError(f"{path}: naive datetime; every timestamp needs a UTC offset")
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be strings, got {key!r}")
            out[key] = freeze(item, f"{path}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [freeze(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} is not JSON data")


def dumps(value: Any) -> bytes:
    return json.dumps(freeze(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Parse JSON keeping numbers exact (Decimal for non-integers)."""
    return json.loads(data, parse_float=Decimal)


def fingerprint(value: Any) -> str:
    return hashlib.sha256(dumps(value)).hexdigest()
