"""Worked examples from docs/devices/protocols.md section 1 (and 6), decoded by every profile."""
from decimal import Decimal

import pytest

from packgate.device.profiles import get_profile

H = bytes.fromhex
# (profile, frame, status, stable, weight, unit, extra checks)
VECTORS = [
    ("mettler-mt-sics", b"S S     100.00 g\r\n", "ok", True, "100.00", "g"),
    ("mettler-mt-sics", b"S D    -0.68 g\r\n", "motion", False, "-0.68", "g"),
    ("mettler-mt-sics", b"S +\r\n", "overload", False, None, None),
    ("mettler-mt-sics", b"S -\r\n", "underload", False, None, None),
    ("mettler-mt-sics", b"S I\r\n", "error", False, None, None),
    ("mettler-mt-sics", b"ES\r\n", "error", False, None, None),
    ("toledo-8217", b"\x0201.234\r", "ok", True, "1.234", "kg"),
    ("toledo-8217", b"\x0201.234N\r", "ok", True, "1.234", "kg"),
    ("toledo-8217", b"\x02?A\r", "motion", False, None, "kg"),
    ("toledo-8217", b"\x02?B\r", "overload", False, None, "kg"),
    ("toledo-8217", b"\x02?D\r", "underload", False, None, "kg"),
    ("toledo-8217", b"\x02?P\r", "ok", True, "0", "kg"),
    ("toledo-8217", b"\x02?@\r", "error", False, None, "kg"),  # bit 6 alone: bad command from host
    ("toledo-continuous", H("022C30203030313233343030303030300D"), "ok", True, "12.34", "kg"),
    ("toledo-continuous-checksum", H("022C3020303031323334303030303030 0D2B".replace(" ", "")), "ok", True, "12.34", "kg"),
    ("nci-brecknell", b"\n001.23lb\r\n00\r\x03", "ok", True, "1.23", "lb"),
    ("nci-brecknell", b"\n20\r\x03", "ok", True, "0", "lb"),
    ("nci-brecknell", b"\n10\r\x03", "motion", False, None, "lb"),
    ("nci-brecknell", b"\n02\r\x03", "overload", False, None, "lb"),
    ("nci-brecknell", b"\n01\r\x03", "underload", False, None, "lb"),
    ("cas-22", b"ST,GS,1\xc4,000013.5 kg\r\n", "ok", True, "13.5", "kg"),
    ("cas-22", b"US,NT,1\x84,-00013.5 kg\r\n", "motion", False, "-13.5", "kg"),
    ("cas-22", b"OL,GS,1\x84,99999999 kg\r\n", "overload", False, None, "kg"),
    ("cas-18", b"ST,GS,+  1.234kg\r\n", "ok", True, "1.234", "kg"),
    ("cas-18", b"US,GS,-  0.020kg\r\n", "motion", False, "-0.020", "kg"),
    ("and-standard", b"ST,+00123.45  g\r\n", "ok", True, "123.45", "g"),
    ("and-standard", b"US,-00001.20  g\r\n", "motion", False, "-1.20", "g"),
    ("and-standard", b"OL,+999999.9  g\r\n", "overload", False, None, None),
    ("and-standard", b"OL,-99999999  g\r\n", "underload", False, None, None),
    ("and-standard", b"QT,+00012345 PC\r\n", "ok", True, "12345", "pcs"),
    ("ohaus", b"     192.21 g\r\n", "ok", True, "192.21", "g"),
    ("ohaus", b"       0.01 g ?\r\n", "motion", False, "0.01", "g"),
    ("ohaus", b"-     12.50 kg    G  \r\n", "ok", True, "-12.50", "kg"),
    ("yaohua-a9", b"\x02+02396001" b"5\x03", "ok", False, "23960", "kg"),
    ("yaohua-a9", b"\x02+00123421D\x03", "ok", False, "12.34", "kg"),
    ("yaohua-a9", b"\x02-00015021B\x03", "ok", False, "-1.50", "kg"),
    ("yaohua-reversed", b"=000.3000", "ok", False, "3.000", "kg"),
    ("yaohua-reversed", b"=00.1000-", "ok", False, "-1.00", "kg"),
    ("yaohua-a12e-wg", H("57473030342E3133396B6733440D0A"), "ok", False, "4.139", "kg"),
    ("yaohua-a12e-wg", b"         OL23\r\n", "overload", False, None, None),
    ("yaohua-a12e-wg", b"         LO23\r\n", "underload", False, None, None),
]


@pytest.mark.parametrize("name,frame,status,stable,weight,unit", VECTORS,
                         ids=[f"{v[0]}:{v[1][:12]!r}" for v in VECTORS])
def test_vector(name, frame, status, stable, weight, unit):
    r = get_profile(name).codec.decode(frame)
    assert r.status.value == status, r
    assert r.stable is stable
    assert r.weight == (None if weight is None else Decimal(weight))
    if weight is not None:
        assert str(r.weight) == weight  # as displayed, decimals kept
        assert isinstance(r.weight, Decimal)
    assert r.unit == unit
    assert r.raw == frame
    assert not r.extra.get("bad_frame")


def test_toledo_continuous_vector_bytes_and_checksum():
    frame = H("022C30203030313233343030303030300D2B")
    assert len(frame) == 18
    assert (-sum(b & 0x7F for b in frame[:17])) & 0x7F == 0x2B
    assert get_profile("toledo-continuous").codec.decode(frame[:17]).weight == Decimal("12.34")


def test_grams_are_exact_decimals():
    r = get_profile("toledo-continuous").codec.decode(H("022C30203030313233343030303030300D"))
    assert r.grams == Decimal("12340") and r.usable
    r = get_profile("nci-brecknell").codec.decode(b"\n001.00lb\r\n00\r\x03")
    assert r.grams == Decimal("453.59237")


def test_toledo_net_flag_and_repeat_marker():
    assert get_profile("toledo-8217").codec.decode(b"\x0201.234N\r").net is True
    assert get_profile("toledo-8217-raw").codec.decode(b"\x02?\x00\r").extra.get("repeat") is True


@pytest.mark.parametrize("name,frame,reason", [
    ("yaohua-a9", b"\x02+00123421E\x03", "checksum"),
    ("yaohua-a12e-wg", b"WG004.139kg3E\r\n", "checksum"),
    ("toledo-continuous-checksum", H("022C30203030313233343030303030300D2C"), "checksum"),
    ("mettler-mt-sics", b"S X     100.00 g\r\n", "pattern"),
    ("toledo-continuous", H("022C30203030313233343030303030"), "length"),
])
def test_bad_frames_are_errors_with_reason(name, frame, reason):
    r = get_profile(name).codec.decode(frame)
    assert r.status.value == "error" and r.extra.get("bad_frame")
    assert reason in r.reason


def test_toledo_continuous_decimal_positions_and_units():
    from packgate.device.scale.parsers.common import checksum

    codec = get_profile("toledo-continuous-checksum").codec

    def frame(swa, swb, swc, digits=b"001234"):
        body = bytes([2, swa, swb, swc]) + digits + b"000000\r"
        return body + bytes([checksum("twos7", body)])

    expected = ["123400", "12340", "1234", "123.4", "12.34", "1.234", "0.1234", "0.01234"]
    for code, want in enumerate(expected):
        r = codec.decode(frame(0x28 | code, 0x30, 0x20))
        assert r.weight == Decimal(want), (code, r)
    assert codec.decode(frame(0x2C, 0x20, 0x20)).unit == "lb"
    assert codec.decode(frame(0x2C, 0x30, 0x21)).unit == "g"
    assert codec.decode(frame(0x2C, 0x30, 0x22)).unit == "t"
    assert codec.decode(frame(0x2C, 0x30, 0x23)).unit == "oz"
    assert codec.decode(frame(0x2C, 0x32, 0x20)).weight == Decimal("-12.34")  # sign bit
    assert codec.decode(frame(0x2C, 0x32, 0x20)).status.value == "ok"  # negative is ok; the station decides
    assert codec.decode(frame(0x2C, 0x38, 0x20)).status.value == "motion"
    assert codec.decode(frame(0x2C, 0x34, 0x20)).status.value == "overload"
    assert codec.decode(frame(0x2C, 0x36, 0x20)).status.value == "underload"
    assert codec.decode(frame(0x2C, 0x31, 0x20)).net is True
    assert codec.decode(frame(0x2C, 0x70, 0x20)).status.value == "error"  # zero not captured


def test_seven_bit_frames_with_parity_bit_decode():
    from packgate.device.scale.emulator import with_parity

    frame = with_parity(b"\x0201.234\r", "E")
    assert frame != b"\x0201.234\r"  # some bytes carry the parity bit
    assert get_profile("toledo-8217").codec.decode(frame).weight == Decimal("1.234")
