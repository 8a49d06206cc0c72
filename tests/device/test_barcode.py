"""interpret(): GS1 via biip, EAN/UPC, site codes, errors as data (never exceptions)."""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packgate.device.errors import ProfileError
from packgate.device.scanner import aim
from packgate.device.scanner.barcode import GS, SitePatterns, interpret


def test_gs1_datamatrix_all_fields():
    s = interpret("]d2010703206980498817260200" + GS + "10LOT42" + GS + "3103001250" + GS + "21SER1")
    assert s.kind == "gs1" and s.error is None
    assert s.symbology == "]d2" and s.symbology_name == "GS1 DataMatrix"
    assert s.gtin == "07032069804988"
    assert s.lot == "LOT42" and s.serial == "SER1"
    assert s.expiry == date(2026, 2, 28)  # DD=00 -> last day of month
    assert s.net_weight_g == Decimal("1250.000") and isinstance(s.net_weight_g, Decimal)
    assert s.gs1_hri == "(01)07032069804988(17)260200(10)LOT42(3103)001250(21)SER1"
    assert GS in s.value and GS in s.raw


def test_gs1_128_production_sscc_and_lb_weight():
    s = interpret("]C1" + "0107032069804988" + "11251103" + "10L1" + GS + "3202000500")
    assert s.kind == "gs1" and s.production == date(2025, 11, 3) and s.expiry is None
    assert s.net_weight_g == Decimal("5.00") * Decimal("453.59237")
    p = interpret("]C1" + "00376130321109103420")
    assert p.kind == "gs1" and p.sscc == "376130321109103420" and p.gtin is None


def test_trailing_gs_is_kept_in_raw_and_value():
    s = interpret("]C10107032069804988" + GS)
    assert s.kind == "gs1" and s.raw.endswith(GS) and s.value.endswith(GS)


def test_scan_without_expiry_leaves_expiry_none():
    s = interpret("]C1010703206980498810LOT9")
    assert s.kind == "gs1" and s.lot == "LOT9" and s.expiry is None and s.production is None


@pytest.mark.parametrize("text, fragment", [
    ("]C1010703206980498910ABC", "check digit"),       # GTIN check digit 9, should be 8
    ("]C1010703206980498817260231", "date"),           # 31 February
    ("]C100376130321109103421", "check digit"),        # SSCC
    ("]C1" + "99", "GS1"),                               # truncated element string
    ("]d2", "empty"),
    ("]E04006381333932", "check digit"),
])
def test_bad_gs1_is_unknown_with_clear_error(text, fragment):
    s = interpret(text)
    assert s.kind == "unknown"
    assert s.error and fragment.lower() in s.error.lower()
    assert s.raw == text


def test_plain_ean_upc():
    assert interpret("]E04006381333931").gtin == "04006381333931"
    s = interpret("4006381333931")  # no identifier: a valid 13-digit GTIN
    assert (s.kind, s.gtin, s.symbology) == ("gtin", "04006381333931", None)
    assert interpret("]E4" + "96385074").gtin == "00000096385074"
    assert interpret("012345678905").kind == "gtin"  # UPC-A
    bad = interpret("4006381333932")
    assert bad.kind == "unknown" and "check digit" in bad.error  # not mis-parsed as GS1 AI (400)


@pytest.mark.parametrize("text, kind, value", [
    ("SO-10001", "order", "SO-10001"),
    ("T-0001", "tote", "T-0001"),
    ("A-01-02", "bin", "A-01-02"),
    ("BADGE:04a1b2c3d4e5f6", "badge", "04A1B2C3D4E5F6"),
    ("BOX-M", "packaging", "BOX-M"),
    ("PCL-778899", "parcel", "PCL-778899"),
    ("]C0SO-10001", "order", "SO-10001"),
    ("SO-10001\r\n", "order", "SO-10001"),
])
def test_site_codes(text, kind, value):
    s = interpret(text)
    assert (s.kind, s.value, s.error) == (kind, value, None)


def test_site_code_that_looks_like_gs1_is_not_gs1():
    # "10" + "12345678" looks like AI 10 (lot) to a GS1 parser; the site says it is a tote.
    site = SitePatterns(tote=r"^10\d{8}$")
    s = interpret("1012345678", site)
    assert s.kind == "tote" and s.lot is None
    # "01..." with a GTIN inside, but the site calls it an order: no identifier -> site wins
    site = SitePatterns(order=r"^01\d{14}$")
    assert interpret("0107032069804988", site).kind == "order"
    # the identifier says GS1: GS1 wins
    assert interpret("]C10107032069804988", site).kind == "gs1"
    # a plain Code 128 lot code is never GS1
    assert interpret("]C010ABC123").kind == "unknown" and interpret("]C010ABC123").lot is None
    assert interpret("10ABC123").kind == "unknown"


def test_no_identifier_gs1_heuristics():
    s = interpret("010703206980498810ABC123" + GS + "17260228")  # AIM ids switched off on the scanner
    assert s.kind == "gs1" and s.lot == "ABC123" and s.expiry == date(2026, 2, 28)
    h = interpret("(01)07032069804988(10)ABC(17)260200")
    assert h.kind == "gs1" and h.expiry == date(2026, 2, 28)
    assert interpret("376130321109103420").sscc == "376130321109103420"


def test_gs_substitute_from_wedge():
    s = interpret("]C1010703206980498810ABC|17260228", gs_substitute="|")
    assert s.kind == "gs1" and s.lot == "ABC" and s.expiry == date(2026, 2, 28)
    assert interpret("010703206980498810ABC{GS}17260228", gs_substitute="{GS}").lot == "ABC"


def test_digital_link():
    s = interpret("]Q1https://id.gs1.org/01/07032069804988/10/ABC?17=251231")
    assert s.kind == "gs1" and s.gtin == "07032069804988" and s.lot == "ABC" and s.expiry == date(2025, 12, 31)
    assert interpret("https://example.com/hello").kind == "unknown"


def test_site_patterns_config():
    p = SitePatterns.from_prefixes(order="ORD", badge=None)
    assert interpret("ORD777", p).kind == "order"
    assert interpret("BADGE:01", p).kind == "unknown"
    q = SitePatterns.from_config({"tote": {"prefix": "TT."}, "bin": r"^B\d+$"})
    assert interpret("TT.9", q).kind == "tote" and interpret("B12", q).kind == "bin"
    with pytest.raises(ProfileError, match="tote"):
        SitePatterns(tote="([")
    with pytest.raises(ProfileError, match="unknown site pattern"):
        SitePatterns.from_config({"pallet": "x"})


def test_as_dict_is_json_ready():
    s = interpret("]d2010703206980498817260200" + GS + "10LOT42" + GS + "3103001250")
    d = json.loads(json.dumps(s.as_dict()))
    assert d["expiry"] == "2026-02-28" and d["net_weight_g"] == "1250.000" and d["kind"] == "gs1"
    assert d["raw"].endswith("3103001250") and "\x1d" in d["raw"]


def test_aim_table():
    assert aim.split("]C1010") == ("]C1", "010") and aim.split("C1010") == (None, "C1010")
    assert aim.is_gs1("]e0") and aim.is_gtin("]E4") and not aim.is_gs1("]C0")
    assert "Aztec" in aim.lookup("]z0").name and not aim.lookup("]z0").gs1


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fuzz_interpret_text_never_raises(text):
    s = interpret(text)
    assert s.kind in {"gs1", "gtin", "order", "tote", "bin", "badge", "packaging", "parcel", "unknown"}
    assert s.raw == text


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["", "]C1", "]d2", "]E0", "]Q3", "]e0", "]C0", "]Q1"]),
       st.text(alphabet="0123456789ABCZ\x1d()|/:.-", max_size=60))
def test_fuzz_interpret_gs1ish_never_raises(sym, body):
    s = interpret(sym + body, gs_substitute="|")
    assert s.kind == "unknown" or s.error is None


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_interpret_bytes_never_raises(data):
    interpret(data)
