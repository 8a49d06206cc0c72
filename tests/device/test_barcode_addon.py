"""EAN/UPC with a 2- or 5-digit add-on, and an element string starting with AI 8003 (GRAI), as their sources
write them (issue 29): a GTIN plus an add-on, and (8003) as biip reads it."""
from __future__ import annotations

import pytest

from packgate.device.scanner.barcode import interpret

BOOK = "09781558604971"  # ISBN 978-1-55860-497-1 as a GTIN-14


@pytest.mark.parametrize("text", [
    "]E3978155860497190000",        # AIM ISO/IEC 15424: ]E3 = EAN-13 with add-on in one packet (13 + 5 digits)
    "9781558604971 90000",          # zxing's text form: main symbol, a space, the add-on
    "]E09781558604971]E290000",     # two packets: ]E0 main symbol, ]E2 5-digit add-on (Honeywell AIM chart)
    "]E09781558604971 90000",       # an identifier with zxing's text
])
def test_five_digit_add_on_is_a_gtin_plus_add_on(text):
    s = interpret(text)
    assert (s.kind, s.gtin, s.addon, s.error) == ("gtin", BOOK, "90000", None), s
    assert s.value == BOOK and s.as_dict()["addon"] == "90000"


@pytest.mark.parametrize("text, addon", [
    ("]E3978155860497112", "12"),        # 2-digit add-on (periodicals' issue number)
    ("]E09781558604971]E112", "12"),
    ("9781558604971 12", "12"),
])
def test_two_digit_add_on(text, addon):
    s = interpret(text)
    assert (s.kind, s.gtin, s.addon) == ("gtin", BOOK, addon), s


def test_upc_a_with_add_on_in_text_form():
    s = interpret("036000291452 12")  # UPC-A 0 36000 29145 2 (GS1 example) with an issue number
    assert (s.kind, s.gtin, s.addon) == ("gtin", "00036000291452", "12")


@pytest.mark.parametrize("text, error", [
    ("]E397815586049719000", "13 digits and a 2- or 5-digit add-on"),   # 17 digits: neither 13+2 nor 13+5
    ("]E39781558604972" + "90000", "check digit"),                       # main symbol's check digit wrong
    ("]E09781558604971]E19000", "carries 2 digits"),                     # ]E1 is the 2-digit add-on
    ("9781558604972 90000", "check digit"),
])
def test_bad_add_on_scans_say_why(text, error):
    s = interpret(text)
    assert s.kind == "unknown" and s.addon is None and error in s.error, s


def test_plain_ean_has_no_add_on():
    s = interpret("]E09781558604971")
    assert (s.kind, s.gtin, s.addon) == ("gtin", BOOK, None)


@pytest.mark.parametrize("text", ["800307071324001022085952", "  800307071324001022085952\r\n", "\t800307071324001022085952 "])
def test_grai_element_string_without_identifier_as_biip_reads_it(text):
    """biip tests/gs1_messages test_parse: "800307071324001022085952" -> (8003) with pattern groups
    0 / 7071324001022 / 085952. Its check digit does not verify (it should be 1): read, with a warning."""
    s = interpret(text)
    assert s.kind == "gs1" and s.gs1_hri == "(8003)07071324001022085952", s
    assert s.elements == (("8003", "07071324001022085952"),)
    assert "check digit is 2, expected 1" in s.warning


def test_grai_with_a_good_check_digit_has_no_warning():
    s = interpret("800300614141000012SER")  # GS1 company prefix 0614141, asset type 00001, check 2, serial SER
    assert s.kind == "gs1" and s.warning is None


@pytest.mark.parametrize("text", ["80031234", "8003ABC", "800317071324001022085952"])  # too short / letters / filler not 0
def test_what_is_not_a_grai(text):
    assert interpret(text).kind == "unknown"
