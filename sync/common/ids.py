"""Human-readable, globally unique confirmation ids with an ISO 7064 MOD 37,36 check character.

Format ``<STATION>-<YYYYMMDD>-<SEQ, at least 6 digits>-<CHECK>``, e.g. ``ST01-20260105-000042-K``.
The check character is computed over the characters without the hyphens and detects every
single-character substitution and most adjacent transpositions.
"""
from __future__ import annotations

import re
from datetime import date

from packgate.sync.errors import InvalidConfirmationIdError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_M = 36
STATION_RE = re.compile(r"^[A-Z0-9]{1,16}$")
ID_RE = re.compile(r"^(?P<station>[A-Z0-9]{1,16})-(?P<date>\d{8})-(?P<seq>\d{6,})-(?P<check>[0-9A-Z])$")


def _running(text: str) -> int:
    p = _M
    for ch in text:
        value = ALPHABET.find(ch)
        if value < 0:
            raise InvalidConfirmationIdError(f"character {ch!r} is not in 0-9A-Z")
        p = (p + value) % _M or _M
        p = (p * 2) % (_M + 1)
    return p


def check_char(text: str) -> str:
    """ISO 7064 MOD 37,36 (hybrid) check character for ``text`` (hyphens ignored)."""
    p = _running(text.replace("-", "").upper())
    return ALPHABET[(_M + 1 - p) % _M]


def is_valid_check(text_with_check: str) -> bool:
    body = text_with_check.replace("-", "").upper()
    if len(body) < 2:
        return False
    try:
        p = _running(body[:-1])
    except InvalidConfirmationIdError:
        return False
    last = ALPHABET.find(body[-1])
    return last >= 0 and (p + last) % _M == 1


def check_station(station: str) -> str:
    if not isinstance(station, str) or not STATION_RE.match(station):
        raise InvalidConfirmationIdError(f"station code {station!r} must be 1-16 characters A-Z/0-9")
    return station


def make_id(station: str, day: date, seq: int) -> str:
    check_station(station)
    if seq < 1:
        raise InvalidConfirmationIdError(f"sequence must be >= 1, got {seq}")
    stem = f"{station}-{day:%Y%m%d}-{seq:06d}"
    return f"{stem}-{check_char(stem)}"


def parse_id(text: str) -> dict:
    """Validate ``text``; returns ``{"station", "date", "seq"}`` or raises InvalidConfirmationIdError."""
    match = ID_RE.match(text or "")
    if not match:
        raise InvalidConfirmationIdError(f"{text!r} is not STATION-YYYYMMDD-NNNNNN-C")
    if not is_valid_check(text):
        raise InvalidConfirmationIdError(f"{text!r} has a wrong check character")
    try:
        day = date(int(match["date"][:4]), int(match["date"][4:6]), int(match["date"][6:]))
    except ValueError as exc:
        raise InvalidConfirmationIdError(f"{text!r} has an invalid date") from exc
    return {"station": match["station"], "date": day, "seq": int(match["seq"])}


def is_valid_id(text: str) -> bool:
    try:
        parse_id(text)
    except InvalidConfirmationIdError:
        return False
    return True
