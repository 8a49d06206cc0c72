"""Keyboard-wedge badge normalisation: vectors from docs/devices/protocols.md §3.2, round trips, fuzz."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packgate.device.badge.wedge import PRESETS, WedgeFormat, encode_badge, normalise_badge
from packgate.device.errors import FrameError, ProfileError


@pytest.mark.parametrize("typed, fmt, uid", [
    ("3220338716", "dec10-reversed", "1C78F2BF"),   # LE decimal
    ("477688511", "dec10", "1C78F2BF"),             # BE decimal, not padded
    ("0477688511", "dec10", "1C78F2BF"),
    ("0077705923", "dec10", "04A1B2C3"),            # BE decimal, zero-padded to 10
    ("3283263748", "dec10-reversed", "04A1B2C3"),   # LE decimal
    ("04a1b2c3", "hex", "04A1B2C3"),
    ("C3B2A104", "hex-reversed", "04A1B2C3"),
    ("04:A1:B2:C3:D4:E5:F6", "hex", "04A1B2C3D4E5F6"),
    ("01026F6C3A", "em-10h", "01026F6C3A"),         # EM4100, all 5 bytes
    ("004335823930", "em-10h12d", "01026F6C3A"),
    ("0040856634", "em-8h10d", "026F6C3A"),         # low 32 bits
    ("07302202", "em-6h8d", "6F6C3A"),              # low 24 bits
    ("111,27706", "em-2h4h", "6F6C3A"),
    ("00623,27706", "em-4h4h", "026F6C3A"),
    ("0077705923\r\n", "dec10", "04A1B2C3"),        # Enter from the wedge
])
def test_vectors(typed, fmt, uid):
    assert normalise_badge(typed, fmt) == uid


@pytest.mark.parametrize("uid, fmt, typed", [
    ("1C78F2BF", "dec10-reversed", "3220338716"),
    ("1C78F2BF", "dec10", "0477688511"),
    ("04A1B2C3", "dec10", "0077705923"),
    ("01026F6C3A", "em-8h10d", "0040856634"),
    ("01026F6C3A", "em-2h4h", "111,27706"),
    ("01026F6C3A", "em-4h4h", "00623,27706"),
    ("01026F6C3A", "em-10h12d", "004335823930"),
])
def test_encode_vectors(uid, fmt, typed):
    assert encode_badge(uid, fmt) == typed


def test_seven_byte_decimal_keeps_leading_zero_byte():
    f = WedgeFormat("dec", nbytes=7)
    assert normalise_badge(str(0x04A1B2C3D4E5F6), f) == "04A1B2C3D4E5F6"
    assert normalise_badge(str(0x00A1B2C3D4E5F6), f) == "00A1B2C3D4E5F6"


@pytest.mark.parametrize("typed, fmt, fragment", [
    ("", "hex", "empty"),
    ("12G4", "hex", "not hexadecimal"),
    ("12a4", "dec10", "not decimal"),
    ("99999999999", "dec10", "too large"),
    ("111", "em-2h4h", "groups"),
    ("1,2", "em-2h4h", None),
])
def test_errors(typed, fmt, fragment):
    if fragment is None:
        assert normalise_badge(typed, fmt) == "010002"
        return
    with pytest.raises(FrameError, match=fragment):
        normalise_badge(typed, fmt)


def test_config():
    f = WedgeFormat.from_config({"preset": "dec10", "reverse": True})
    assert normalise_badge("3220338716", f) == "1C78F2BF"
    assert WedgeFormat.from_config("em-2h4h") == PRESETS["em-2h4h"]
    assert WedgeFormat.from_config({"encoding": "split", "groups": [1, 2]}).groups == (1, 2)
    with pytest.raises(ProfileError, match="unknown badge wedge setting"):
        WedgeFormat.from_config({"endian": "little"})
    with pytest.raises(ProfileError, match="preset"):
        normalise_badge("1", "nope")
    with pytest.raises(ProfileError):
        WedgeFormat("base64")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=4, max_size=10), st.sampled_from(["hex", "hex-reversed", "dec", "dec-reversed"]))
def test_round_trip(uid, fmt):
    f = PRESETS[fmt]
    if f.encoding == "dec":
        f = WedgeFormat("dec", reverse=f.reverse, nbytes=len(uid))
    assert normalise_badge(encode_badge(uid.hex(), f), f) == uid.hex().upper()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.sampled_from(sorted(PRESETS)))
def test_fuzz_only_frame_errors(text, fmt):
    try:
        out = normalise_badge(text, fmt)
    except FrameError:
        return
    assert out == out.upper() and len(out) % 2 == 0
    bytes.fromhex(out)


def test_wedge_badge_reader_on_key_events():
    from packgate.device.badge.wedge import WedgeBadgeReader
    from packgate.device.keyboard.emulator import keystrokes

    got, errors = [], []
    r = WedgeBadgeReader("/dev/input/by-id/badge", got.append, "dec10-reversed", layout="fr",
                         on_error=lambda text, msg: errors.append(msg))
    r.handle_events(keystrokes("3220338716", "fr") + keystrokes("32203387X6", "fr") + keystrokes("", "fr"))
    assert got == ["1C78F2BF"]
    assert len(errors) == 1 and "not decimal" in errors[0]


@pytest.mark.parametrize("typed, fmt, uid", [
    # issue 29: the EM4100 40-bit decimal as a vendor's page prints it (docs/devices/protocols.md 3.2: 10H->12D 004335823930)
    ("004,335,823,930", "em-10h12d", "01026F6C3A"),
    ("4,335,823,930", "em-10h12d", "01026F6C3A"),
    ("004 335 823 930", "em-10h12d", "01026F6C3A"),
    ("004.335.823.930", "em-10h12d", "01026F6C3A"),
    ("40,856,634", "em-8h10d", "026F6C3A"),
    ("3,220,338,716", "dec10-reversed", "1C78F2BF"),
])
def test_thousands_separators_are_dropped(typed, fmt, uid):
    assert normalise_badge(typed, fmt) == uid


@pytest.mark.parametrize("typed", ["004,335823,930", "004,335.823,930", "1234,567", "004,335,823,93"])
def test_bad_grouping_is_refused_with_the_rule(typed):
    with pytest.raises(FrameError, match="groups of three digits"):
        normalise_badge(typed, "em-10h12d")


def test_device_badge_text_normalises_without_a_reader():
    from click.testing import CliRunner

    from packgate.device.cli import device

    r = CliRunner().invoke(device, ["badge", "--text", "004,335,823,930", "--wedge-format", "em-10h12d"])
    assert r.exit_code == 0 and '"uid": "01026F6C3A"' in r.output
    r = CliRunner().invoke(device, ["badge", "--text", "004,33", "--wedge-format", "em-10h12d"])
    assert r.exit_code == 1 and "groups of three digits" in r.output
    assert CliRunner().invoke(device, ["badge"]).exit_code == 2  # neither --reader nor --text
