"""Scans without a symbology identifier (keyboard wedges strip it): the decision rules of device.barcode,
checked on GS1's published examples (General Specifications, GS1 Barcode Syntax Engine test vectors,
GS1 Digital Link standard) and on the cases the field reported."""
from __future__ import annotations

from datetime import date

import pytest

from packgate.device.codes import gs1_check_ok
from packgate.device.scanner import aim
from packgate.device.scanner.barcode import GS, interpret, looks_like_gs1


@pytest.mark.parametrize("digits, ok", [
    # GS1 Barcode Syntax Engine, scandata.c test_scandata_validateParity
    ("24012345678905", True), ("24012345678909", False), ("2112233789657", True), ("2112233789658", False),
    ("416000336108", True), ("416000336107", False), ("02345680", True), ("02345689", False),
    ("", False), ("12a4", False),
])
def test_gs1_check_digit(digits, ok):
    assert gs1_check_ok(digits) is ok


@pytest.mark.parametrize("text, gtin", [
    ("425261", "00042100005264"),    # UPC-E 0 425261 4 = UPC-A 042100005264 (GS1 zero-suppression example)
    ("123456", "00012345000065"),
    ("24012345678905", "24012345678905"),
    ("2112233789657", "02112233789657"),
    ("416000336108", "00416000336108"),
    ("02345680", "00000002345680"),
    ("10012345678902", "10012345678902"),  # ITF-14 typed by a wedge
])
def test_upc_e_and_gtins_without_identifier(text, gtin):
    s = interpret(text)
    assert (s.kind, s.gtin, s.error, s.symbology) == ("gtin", gtin, None, None)


@pytest.mark.parametrize("text, field, value", [
    ("15260131", "best_before", date(2026, 1, 31)),  # 8 digits: not a GTIN-8 (check digit would be 0), but (15)
    ("1526013110LOT42", "lot", "LOT42"),
    ("1726022810ABC" + GS + "21S1", "expiry", date(2026, 2, 28)),
    ("11251103" + "0107032069804988", "production", date(2025, 11, 3)),
    ("800300614141000012SER", "elements", (("8003", "00614141000012SER"),)),  # GRAI, GS1 company prefix 0614141
    ("41406141410000293103001250", "net_weight_g", None),
])
def test_element_strings_starting_with_other_ais(text, field, value):
    s = interpret(text)
    assert s.kind == "gs1", s
    if value is not None:
        assert getattr(s, field) == value


def test_gln_start_with_weight():
    s = interpret("4140614141000029" + "3103001250")  # GLN 0614141 00002 9
    assert s.kind == "gs1" and str(s.net_weight_g) == "1250.000"
    assert s.elements[0] == ("414", "0614141000029")
    assert interpret("4140614141000028" + "3103001250").kind == "unknown"  # GLN check digit wrong


@pytest.mark.parametrize("text, error", [
    ("15261331", "bad GTIN"),              # month 13: not (15), and not a valid GTIN-8 either: said so
    ("4006381333932", "check digit"),      # not AI (400): a GTIN-13 with a wrong check digit
    ("10ABC123", None),                    # variable-length AI (10) never starts an unidentified element string
    ("1012345678", None),
    ("9012345", None),
    ("123456789012345678", "bad SSCC"),
])
def test_what_is_not_taken_as_gs1(text, error):
    s = interpret(text)
    assert s.kind == "unknown", s
    if error is None:
        assert s.error is None and s.lot is None
    else:
        assert s.error and error in s.error


def test_site_code_still_wins_over_every_rule():
    from packgate.device.scanner.barcode import SitePatterns

    site = SitePatterns(bin=r"^\d{6}$")
    assert interpret("425261", site).kind == "bin"  # a site with 6-digit bins: not UPC-E
    assert interpret("15260131", SitePatterns(tote=r"^15\d{6}$")).kind == "tote"


def test_gs1_aztec_identifier():
    assert aim.lookup("]z1").gs1 and not aim.lookup("]z0").gs1
    # Syntax Engine test data "^011231231231233310ABC123^99TESTING" as GS1 Aztec scan data
    s = interpret("]z1011231231231233310ABC123" + GS + "99TESTING")
    assert s.kind == "gs1" and s.gtin == "12312312312333" and s.lot == "ABC123"
    assert s.symbology_name.startswith("GS1 Aztec")
    assert interpret("]z0011231231231233310ABC123").kind == "unknown"  # plain Aztec is not GS1


@pytest.mark.parametrize("uri, ok", [
    ("https://id.gs1.org/01/09506000134352", True),  # GS1 Digital Link standard example (Dal Giardino)
    ("HTTPS://ID.GS1.ORG/01/09506000134352", True),
    ("http://id.gs1.org/01/09506000134352/10/ABC", True),
    ("HTTP://id.gs1.org/01/09506000134352", True),
    ("Https://id.gs1.org/01/09506000134352", False),  # syntax engine dl.c: URI_CONTAINS_ILLEGAL_SCHEME
    ("hTTp://id.gs1.org/01/09506000134352", False),
])
@pytest.mark.parametrize("prefix", ["", "]Q1", "]Q3"])
def test_digital_link_scheme_case(uri, ok, prefix):
    s = interpret(prefix + uri)
    if ok:
        assert s.kind == "gs1" and s.gtin == "09506000134352", s
    else:
        assert s.kind == "unknown" and "scheme" in s.error


def test_other_urls_stay_plain_data():
    assert interpret("Https://example.com/hello").error is None


def test_looks_like_gs1_is_the_shared_rule():
    assert looks_like_gs1("1526013110LOT42") and looks_like_gs1("10ABC" + GS + "17260228")
    assert not looks_like_gs1("12345670") and not looks_like_gs1("10ABC123") and not looks_like_gs1("")
