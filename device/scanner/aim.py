"""AIM / ISO/IEC 15424 symbology identifiers (``]cm``) as data.

A scanner with "transmit AIM ID" enabled prefixes every scan with three characters: ``]``, a
code character and a modifier. The identifier is the only reliable way to tell a GS1-128 (``]C1``)
from a plain Code 128 (``]C0``) that happens to start with digits, so it is kept end to end.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

FLAG = "]"
AIM_RE = re.compile(r"\][A-Za-z][0-9A-Za-z]")


@dataclass(frozen=True)
class Symbology:
    aim: str  # e.g. "]C1"
    name: str  # human name, e.g. "GS1-128"
    gs1: bool = False  # carries GS1 element strings (FNC1 in first position)
    gtin: bool = False  # EAN/UPC/ITF-14 family: the payload is a GTIN


# Exact identifiers (code character + modifier). Kept to the ones a packing station meets;
# anything else still parses through ``CODE_NAMES`` below.
_TABLE: tuple[Symbology, ...] = (
    Symbology("]C0", "Code 128"),
    Symbology("]C1", "GS1-128", gs1=True),
    Symbology("]C2", "Code 128 (FNC1 in 2nd position)"),
    Symbology("]C4", "Code 128 (ISO 15417 concatenation)"),
    Symbology("]E0", "EAN-13/UPC-A/UPC-E", gtin=True),
    Symbology("]E1", "EAN/UPC 2-digit add-on"),
    Symbology("]E2", "EAN/UPC 5-digit add-on"),
    Symbology("]E3", "EAN-13/UPC with add-on", gtin=True),
    Symbology("]E4", "EAN-8", gtin=True),
    Symbology("]I0", "Interleaved 2 of 5"),
    Symbology("]I1", "ITF-14 / ITF (check digit validated)", gtin=True),
    Symbology("]I3", "Interleaved 2 of 5 (check digit stripped)"),
    Symbology("]d0", "Data Matrix ECC 000-140"),
    Symbology("]d1", "Data Matrix"),
    Symbology("]d2", "GS1 DataMatrix", gs1=True),
    Symbology("]d3", "Data Matrix (FNC1 in 2nd position)"),
    Symbology("]Q0", "QR Code model 1"),
    Symbology("]Q1", "QR Code"),
    Symbology("]Q2", "QR Code (ECI)"),
    Symbology("]Q3", "GS1 QR Code", gs1=True),
    Symbology("]Q4", "GS1 QR Code (ECI)", gs1=True),
    Symbology("]Q5", "QR Code (FNC1 in 2nd position)"),
    Symbology("]Q6", "QR Code (FNC1 in 2nd position, ECI)"),
    Symbology("]e0", "GS1 DataBar", gs1=True),
    Symbology("]e1", "GS1 Composite (component)", gs1=True),
    Symbology("]e2", "GS1 Composite (component, escape)", gs1=True),
    Symbology("]J1", "GS1 DotCode", gs1=True),
    Symbology("]z0", "Aztec"),
    Symbology("]z1", "GS1 Aztec (FNC1 in 1st position)", gs1=True),
    Symbology("]z2", "Aztec (FNC1 in 2nd position)"),
    Symbology("]z3", "Aztec (ECI)"),
)
BY_AIM: dict[str, Symbology] = {s.aim: s for s in _TABLE}

# Code character -> family name, for identifiers not in the exact table.
CODE_NAMES: dict[str, str] = {
    "A": "Code 39",
    "C": "Code 128",
    "E": "EAN/UPC",
    "F": "Codabar",
    "G": "Code 93",
    "H": "Code 11",
    "I": "Interleaved 2 of 5",
    "J": "DotCode",
    "L": "PDF417",
    "M": "MSI",
    "Q": "QR Code",
    "R": "Straight 2 of 5",
    "S": "Straight 2 of 5",
    "U": "MaxiCode",
    "X": "other",
    "d": "Data Matrix",
    "e": "GS1 DataBar",
    "z": "Aztec",
}


def lookup(aim: str) -> Symbology:
    """The Symbology for an identifier; unknown ones get a family name and no GS1/GTIN flags."""
    known = BY_AIM.get(aim)
    if known is not None:
        return known
    family = CODE_NAMES.get(aim[1:2], "unknown symbology")
    return Symbology(aim, f"{family} (modifier {aim[2:3]})")


def split(text: str) -> tuple[str | None, str]:
    """Split a leading ``]cm`` identifier off a scan: ``"]C1010..." -> ("]C1", "010...")``."""
    if AIM_RE.match(text):
        return text[:3], text[3:]
    return None, text


def is_gs1(aim: str | None) -> bool:
    return aim is not None and lookup(aim).gs1


def is_gtin(aim: str | None) -> bool:
    return aim is not None and lookup(aim).gtin
