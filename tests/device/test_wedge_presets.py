"""Keyboard-wedge badge formats met in the field: byte separators, per-byte decimal, EM4100 "3.5"/"5.5",
12-digit "UID + 00". The worked examples are the ones in the README (one card throughout: EM4100 ID
11 22 33 44 55; MIFARE UID 04 A1 B2 C3, 7-byte 04 A1 B2 C3 D4 E5 F6)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packgate.device.badge.wedge import PRESETS, WedgeFormat, encode_badge, normalise_badge
from packgate.device.errors import FrameError, ProfileError


@pytest.mark.parametrize("typed, fmt, uid", [
    ("051.17493", "em-3.5", "334455"),              # 0x33 = 51, 0x4455 = 17493
    ("051,17493", "em-3.5", "334455"),
    ("08755.17493", "em-5.5", "22334455"),          # 0x2233 = 8755
    ("08755;17493", "em-5.5", "22334455"),
    ("111.27706", "em-2h4h", "6F6C3A"),             # the "2H+4H" form with a dot instead of a comma
    ("04.A1.B2.C3", "hex", "04A1B2C3"),
    ("04;a1;b2;c3", "hex", "04A1B2C3"),
    ("04,A1,B2,C3", "hex-dotted", "04A1B2C3"),
    ("4.A1.B2.C3", "hex", "04A1B2C3"),              # a reader that drops leading zeros per byte
    ("C3.B2.A1.04", "hex-reversed", "04A1B2C3"),
    ("4.161.178.195", "dec-bytes", "04A1B2C3"),
    ("4;161;178;195;212;229;246", "dec-bytes", "04A1B2C3D4E5F6"),
    ("004.161.178.195", "dec-bytes-3", "04A1B2C3"),
    ("007770592300", "dec10-00", "04A1B2C3"),       # 0077705923 + "00"
    ("007770592300\r\n", "dec10-00", "04A1B2C3"),
])
def test_field_presets(typed, fmt, uid):
    assert normalise_badge(typed, fmt) == uid


@pytest.mark.parametrize("uid, fmt, typed", [
    ("1122334455", "em-3.5", "051.17493"),
    ("1122334455", "em-5.5", "08755.17493"),
    ("1122334455", "em-8h10d", "0573785173"),
    ("04A1B2C3", "dec-bytes", "4.161.178.195"),
    ("04A1B2C3", "dec-bytes-3", "004.161.178.195"),
    ("04A1B2C3", "hex-dotted", "04.A1.B2.C3"),
    ("04A1B2C3", "dec10-00", "007770592300"),
])
def test_worked_examples_encode(uid, fmt, typed):
    assert encode_badge(uid, fmt) == typed


@pytest.mark.parametrize("typed, fmt, fragment", [
    ("0077705923", "dec10-00", "suffix"),
    ("00", "dec10-00", "suffix"),
    ("4.161.278.195", "dec-bytes", "0-255"),
    ("4..161", "dec-bytes", "not a byte"),
    ("051-17493", "em-3.5", "separated by"),
    ("04.A1G.B2", "hex", "hex digits"),
])
def test_bad_reads_name_the_problem(typed, fmt, fragment):
    with pytest.raises(FrameError, match=fragment):
        normalise_badge(typed, fmt)


def test_config_table_with_separator_and_suffix():
    f = WedgeFormat.from_config({"encoding": "dec-bytes", "separator": ";", "nbytes": 4})
    assert normalise_badge("4;161;178;195", f) == "04A1B2C3"
    with pytest.raises(FrameError, match="3 bytes, the reader sends 4"):
        normalise_badge("4;161;178", f)
    g = WedgeFormat.from_config({"preset": "hex", "suffix": "0000"})
    assert normalise_badge("04A1B2C30000", g) == "04A1B2C3"
    with pytest.raises(ProfileError):
        WedgeFormat.from_config({"encoding": "dec-bytes", "sep": "."})


NEW = ["em-3.5", "em-5.5", "hex-dotted", "dec-bytes", "dec-bytes-3", "dec10-00"]


@pytest.mark.parametrize("name", NEW)
@settings(max_examples=100, deadline=None)
@given(uid=st.binary(min_size=5, max_size=5))
def test_round_trip(name, uid):
    f = PRESETS[name]
    want = uid[-sum(f.groups):] if f.encoding == "split" else uid[-4:] if f.nbytes == 4 else uid
    assert normalise_badge(encode_badge(uid.hex(), f), f) == want.hex().upper()


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789ABCDEFabcdef.;,: -\r\n", max_size=30), name=st.sampled_from(NEW))
def test_fuzz_never_crashes(text, name):
    try:
        uid = normalise_badge(text, name)
    except FrameError:
        return
    assert uid == uid.upper() and len(uid) % 2 == 0
