"""Canonical JSON bytes: sorted keys, no whitespace, UTF-8, no floats; and strict parsing of what clients send.

A confirmation's bytes are frozen with ``dumps`` at commit and re-sent unchanged; upstream
fingerprints an item by re-serialising it the same way (``fingerprint``). Decimal travels as a
string ("250.0"), never as a float.

``loads_request`` is how a server reads a client's body: it refuses (``JSONInputError``, a ``ValueError`` whose
message names the place, e.g. ``$.confirmations[3].object_id``) what SQLite and PostgreSQL would store
differently or not at all, so both engines answer the same 400: nesting deeper than ``MAX_DEPTH``, NaN and
Infinity, integers outside a signed 64-bit column, text with NUL or a lone surrogate.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any


class _Refused(Exception):
    """Something ``_freeze_fast`` does not take: ``_freeze_named`` walks again to say where and why."""


_PLAIN = (bool, int, str)


def freeze(value: Any, path: str = "$") -> Any:
    """Plain JSON data from ``value``; floats are refused (use Decimal or str)."""
    try:
        return _freeze_fast(value)
    except _Refused:
        return _freeze_named(value, path)


def _freeze_fast(value: Any) -> Any:
    """``freeze`` without building the path of every value (the common case: nothing is refused)."""
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _Refused
            out[key] = item if item is None or type(item) in _PLAIN else _freeze_fast(item)
        return out
    if isinstance(value, (list, tuple)):
        return [item if item is None or type(item) in _PLAIN else _freeze_fast(item) for item in value]
    if isinstance(value, (bool, int, str)):  # subclasses (an IntEnum, a str subclass) as they are
        return value
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    raise _Refused


def _freeze_named(value: Any, path: str) -> Any:
    """``freeze`` that names the place of what it refuses (the slow walk, only after the fast one refused)."""
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
            out[key] = _freeze_named(item, f"{path}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_freeze_named(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{path}: {type(value).__name__} is not JSON data")


def dumps(value: Any) -> bytes:
    return json.dumps(freeze(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Parse JSON keeping numbers exact (Decimal for non-integers)."""
    return json.loads(data, parse_float=Decimal)


MAX_DEPTH = 32
MAX_INT = 2**63 - 1


class JSONInputError(ValueError):
    """A client's JSON that the servers refuse; the message names the place and the problem."""


def _no_constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not a JSON number (NaN and Infinity are refused)")


def loads_request(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a client's JSON like ``loads``, refusing what the database cannot keep exactly (see the module)."""
    try:
        value = json.loads(data, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        raise JSONInputError(f"nested deeper than {max_depth} levels") from None
    problem = None if _clean(value, max_depth) else _problem(value, max_depth)
    if problem:
        raise JSONInputError(problem)
    return value


def _clean(value: Any, max_depth: int) -> bool:
    """Whether ``_problem`` would find nothing, without building the path of every value (the common case)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if "\x00" in item or not item.isascii() and text_problem(item):
                return False
        elif item is None or kind is bool or kind is Decimal:
            continue
        elif kind is int:
            if not -MAX_INT <= item <= MAX_INT:
                return False
        elif depth >= max_depth:
            return False
        elif kind is dict:
            for key, child in item.items():
                if "\x00" in key or not key.isascii() and text_problem(key):
                    return False
                stack.append((child, depth + 1))
        elif kind is list:
            stack.extend((child, depth + 1) for child in item)
        else:
            return False  # not what json.loads makes: the named walk decides
    return True


def _problem(value: Any, max_depth: int) -> str | None:
    stack: list[tuple[Any, int, str]] = [(value, 0, "$")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return f"{path}: {problem}"
        elif isinstance(item, bool) or item is None or isinstance(item, Decimal):
            continue
        elif isinstance(item, int):
            if not -MAX_INT <= item <= MAX_INT:
                digits = str(item)
                return f"{path}: the integer {digits[:20]}{'…' if len(digits) > 20 else ''} is out of range (at most 2^63-1)"
        elif depth >= max_depth:
            return f"{path}: nested deeper than {max_depth} levels"
        elif isinstance(item, dict):
            for key in item:
                problem = text_problem(key)
                if problem:
                    return f"{path}: a key {problem}"
            stack.extend((child, depth + 1, f"{path}.{key[:40]}") for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((item[i], depth + 1, f"{path}[{i}]") for i in range(len(item) - 1, -1, -1))
    return None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored alike by SQLite and PostgreSQL (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return "text must not contain NUL (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"text must not contain a lone surrogate ({text[exc.start]!r})"
    return None


def fingerprint(value: Any) -> str:
    return hashlib.sha256(dumps(value)).hexdigest()
