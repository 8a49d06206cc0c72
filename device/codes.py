"""Canonical forms of the codes every layer compares: GTINs, GS1 keys by their check digit, and badge UIDs.
One home each."""
from __future__ import annotations

import re

from biip.checksums import gs1_standard_check_digit

_NOT_HEX = re.compile(r"[^0-9A-F]")


def gtin14(code: str) -> str | None:
    """GTIN-8/12/13/14 as the canonical 14 digits (zero padded); None when ``code`` is not a GTIN."""
    code = (code or "").strip()
    if code.isascii() and code.isdigit() and len(code) in (8, 12, 13, 14):
        return code.zfill(14)
    return None


def gs1_check_ok(digits: str) -> bool:
    """True when ``digits`` (a GS1 key: GTIN-8/12/13/14, SSCC, GLN, GRAI's 14 digits) ends in its mod-10 check digit."""
    if len(digits) < 2 or not (digits.isascii() and digits.isdigit()):
        return False
    return str(gs1_standard_check_digit(digits[:-1])) == digits[-1]


def canonical_badge(uid: str) -> str:
    """Upper hex without separators or spaces (``04:a1:b2`` → ``04A1B2``): how every badge is compared."""
    return _NOT_HEX.sub("", (uid or "").upper())
