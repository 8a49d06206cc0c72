"""Canonical forms of the codes every layer compares: GTINs and badge UIDs. One home each."""
from __future__ import annotations

import re

_NOT_HEX = re.compile(r"[^0-9A-F]")


def gtin14(code: str) -> str | None:
    """GTIN-8/12/13/14 as the canonical 14 digits (zero padded); None when ``code`` is not a GTIN."""
    code = (code or "").strip()
    if code.isascii() and code.isdigit() and len(code) in (8, 12, 13, 14):
        return code.zfill(14)
    return None


def canonical_badge(uid: str) -> str:
    """Upper hex without separators or spaces (``04:a1:b2`` → ``04A1B2``): how every badge is compared."""
    return _NOT_HEX.sub("", (uid or "").upper())
