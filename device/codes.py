"""Canonical forms of identifiers the device layer reads: GS1 keys (GTIN, GRAI, GLN) by their check digit."""
from __future__ import annotations

from biip.checksums import gs1_standard_check_digit


def gs1_check_ok(digits: str) -> bool:
    """True when ``digits`` (a GS1 key: GTIN-8/12/13/14, SSCC, GLN, GRAI's 14 digits) ends in its mod-10 check digit."""
    if len(digits) < 2 or not (digits.isascii() and digits.isdigit()):
        return False
    return str(gs1_standard_check_digit(digits[:-1])) == digits[-1]
