"""The same barcode through zxing-cpp and pyzbar gives the same interpretation (symbology, GTIN, GS1 fields)."""
from __future__ import annotations

import pytest

from packgate.device.camera.decoders import PyzbarDecoder, ZxingDecoder, identify
from packgate.device.camera.emulator import render_frame
from packgate.device.scanner.barcode import interpret

CODES = [
    ("itf", "10012345678902"),                       # ITF-14: pyzbar reports I25 -> ]I1, a GTIN
    ("itf", "123456"),                               # plain ITF stays plain
    ("code128", "12345670"),                         # 8 digits with a valid check digit: not an EAN-8
    ("code128", "SO-10001"),
    ("code128", "(01)07032069804988(15)260131(10)LOT42", True),
    ("code128", "(15)260131(10)LOT42", True),        # GS1-128 that starts with (15)
    ("code128", "(8003)00614141000012SER", True),
    ("qr", "(01)07032069804988(10)LOT", True),
    ("qr", "https://id.gs1.org/01/09506000134352"),
    ("ean13", "4006381333931"), ("ean8", "96385074"), ("upca", "042100005264"), ("upce", "04252614"),
]


def view(decoded):
    out = []
    for d in decoded:
        s = interpret(d.scan_text)
        out.append((d.symbology, s.kind, s.gtin, s.gs1_hri, s.lot, s.best_before, s.error))
    return out


@pytest.mark.parametrize("code", CODES, ids=[f"{c[0]}:{c[1]}" for c in CODES])
def test_both_decoders_interpret_alike(code):
    frame = render_frame([code], (900, 300))
    z = view(ZxingDecoder().decode(frame))
    p = view(PyzbarDecoder().decode(frame))
    assert z and z == p


def test_itf14_is_a_gtin_and_code128_digits_are_not():
    frame = render_frame([("itf", "10012345678902")], (900, 300))
    for dec in (ZxingDecoder(), PyzbarDecoder()):
        d = dec.decode(frame)[0]
        assert d.symbology == "]I1" and interpret(d.scan_text).gtin == "10012345678902"
    frame = render_frame([("code128", "12345670")], (900, 300))
    for dec in (ZxingDecoder(), PyzbarDecoder()):
        assert interpret(dec.decode(frame)[0].scan_text).kind == "unknown"


def test_identify_rules():
    assert identify(None, "10012345678902", "I25") == "]I1"
    assert identify(None, "10012345678903", "I25") == "]I0"  # wrong check digit: not ITF-14
    assert identify(None, "12345670", "CODE128") == "]C0"
    assert identify(None, "0107032069804988", "CODE128") == "]C1"
    assert identify(None, "SO-1", "QRCODE") == "]Q1"
    assert identify("]I0", "10012345678902") == "]I1" and identify("]C0", "0107032069804988") == "]C0"
