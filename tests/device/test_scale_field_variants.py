"""Protocol variants met in the field and the newer scale families, from bytes written from each family's
public documentation (manual pages cited in the profiles' notes and in docs/devices/protocols.md)."""
from decimal import Decimal

import pytest

from packgate.device.profiles import get_profile, load_profiles
from packgate.device.scale.framing import ScaleFramer
from packgate.device.scale.reader import ScaleReader

H = bytes.fromhex
# (profile, frame, status, stable, weight, unit, net)
VECTORS = [
    # MT-SICS answered with the command echoed (third-party emulator, some terminals)
    ("mettler-mt-sics", b"SI S       12.3 kg\r\n", "ok", True, "12.3", "kg", False),
    ("mettler-mt-sics", b"SI D      -0.68 g\r\n", "motion", False, "-0.68", "g", False),
    ("mettler-mt-sics", b"SIR S    100.00 g\r\n", "ok", True, "100.00", "g", False),
    ("mettler-mt-sics", b"SI +\r\n", "overload", False, None, None, False),
    ("mettler-mt-sics", b"SI I\r\n", "error", False, None, None, False),
    # Toledo 8217 with the status byte as raw bits (bit 6 not forced): 0x02 = over capacity, 0x40 = bad command
    ("toledo-8217", b"\x02?\x02\r", "overload", False, None, "kg", False),
    ("toledo-8217-raw", b"\x02?\x02\r", "overload", False, None, "kg", False),
    ("toledo-8217-raw", b"\x02?\x01\r", "motion", False, None, "kg", False),
    ("toledo-8217-raw", b"\x02?\x04\r", "underload", False, None, "kg", False),
    ("toledo-8217-raw", b"\x02?\x40\r", "error", False, None, "kg", False),
    ("toledo-8217-raw", b"\x02?\x10\r", "ok", True, "0", "kg", False),  # centre of zero
    ("toledo-8217-raw", b"\x0201.234N\r", "ok", True, "1.234", "kg", True),
    # NCI / ECR (Adam MDW manual 8.5.3): the weight field filled with ^ _ -
    ("nci-brecknell", b"\n^^^^^^lb\r\n02\r\x03", "overload", False, None, "lb", False),
    ("nci-brecknell", b"\n______kg\r\n01\r\x03", "underload", False, None, "lb", False),
    ("nci-brecknell", b"\n---------lb\r\n00\r\x03", "error", False, None, "lb", False),
    # Yaohua XK3190-A12 lower-case stream (mcush driver comment), weighbridge 8-byte reversed frames
    ("yaohua-a12-ww", b"ww000.000lb\r\n", "ok", False, "0.000", "lb", False),
    ("yaohua-a12-ww", b"ww012.340lb\n", "ok", False, "12.340", "lb", False),
    ("yaohua-a12-ww", b"wn-0000.1kg\n", "ok", False, "-0.1", "kg", True),
    ("yaohua-a12-ww", b"wt000.500kg\r\n", "error", False, None, None, False),
    ("yaohua-reversed", b"=0432100", "ok", False, "12340", "kg", False),
    ("yaohua-reversed", b"=000.300", "ok", False, "3.000", "kg", False),
    ("yaohua-reversed", b"=000.3000", "ok", False, "3.000", "kg", False),
    # T&T / NHB style header lines (and Kern continuous output, manual "ST,GS 1.000KG")
    ("tnt-nhb", b"ST,GS    20.7g\r\n", "ok", True, "20.7", "g", False),
    ("tnt-nhb", b"US,NT   -1.342KG\r\n", "motion", False, "-1.342", "kg", True),
    ("tnt-nhb", b"ST,GS 1.000KG\r\n", "ok", True, "1.000", "kg", False),
    ("tnt-nhb", b"OL,GS  99999.9g\r\n", "overload", False, None, "g", False),
    # the last digit after '/' (WeightQA: 2B 30 30 37 2E 31 32 2F 33 20 47 20 53 0D 0A)
    ("split-last-digit", H("2B3030372E31322F33204720530D0A"), "ok", True, "7.123", "g", False),
    ("split-last-digit", b"+009.36/0 G S\r\n", "ok", True, "9.360", "g", False),
    ("split-last-digit", b"-000.01/5 G S\r\n", "ok", True, "-0.015", "g", False),
    # SMA: <LF> s r n m f <10-char weight> <3-char unit> <CR> (Sartorius PR 5220 p.130, B-TEK T419S 7.1)
    ("sma", b"\n 1G       5.025lb \r", "ok", True, "5.025", "lb", False),
    ("sma", b"\n 1N      100000lb \r", "ok", True, "100000", "lb", True),
    ("sma", b"\n 1GM      7.650kg \r", "motion", False, "7.650", "kg", False),
    ("sma", b"\nZ1G       0.000lb \r", "ok", True, "0.000", "lb", False),
    ("sma", b"\nO1G     165.000lb \r", "overload", False, None, "lb", False),
    ("sma", b"\nE1G  ----------lb \r", "error", False, None, None, False),
    ("sma", b"\n?\r", "error", False, None, None, False),
    # Sartorius SBI 16 characters (GC803S manual p.57) and 22 with an ID code
    ("sartorius-sbi", b"+   123.56 g  \r\n", "ok", True, "123.56", "g", False),
    ("sartorius-sbi", b"+   123.56    \r\n", "motion", False, "123.56", None, False),
    ("sartorius-sbi", b"-     1.20 g  \r\n", "ok", True, "-1.20", "g", False),
    ("sartorius-sbi", b"N     +   123.56 g  \r\n", "ok", True, "123.56", "g", True),
    ("sartorius-sbi", b"+      253 pcs\r\n", "ok", True, "253", "pcs", False),
    ("sartorius-sbi", b"+     High    \r\n", "overload", False, None, None, False),
    # Radwag mass frames (PUE C/31 manual 18.4.4/18.4.5)
    ("radwag", b"SI ?       18.5 kg \r\n", "motion", False, "18.5", "kg", False),
    ("radwag", b"S    -      8.5 g  \r\n", "ok", True, "-8.5", "g", False),
    ("radwag", b"SI ^      999.9 kg \r\n", "overload", False, None, "kg", False),
    ("radwag", b"SI I\r\n", "error", False, None, None, False),
    # Kern s/w/t (KDE-T manual 9.3.4): unit only when stable
    ("kern-swt", b"         0.0 g  \r\n", "ok", True, "0.0", "g", False),
    ("kern-swt", b" -      12.5 kg \r\n", "ok", True, "-12.5", "kg", False),
    ("kern-swt", b"       123.4    \r\n", "motion", False, "123.4", None, False),
    ("kern-swt", b"           Error\r\n", "error", False, None, None, False),
    # Adam format 2 (Highland manual): sign + 12-char value + 3-char unit
    ("adam-highland", b"       123.45 g \r\n", "ok", False, "123.45", "g", False),
    ("adam-highland", b"-     0.12345lb \r\n", "ok", False, "-0.12345", "lb", False),
    ("adam-highland", b"          125PCS\r\n", "ok", False, "125", "pcs", False),
    # Dibal 98/99 (reply to 98000001)
    ("dibal-pos", b"9900031600000004\r\n", "ok", False, "0.316", "kg", False),
    ("dibal-pos", b"9901234500000000\r\n", "ok", False, "12.345", "kg", False),
]


@pytest.mark.parametrize("name,frame,status,stable,weight,unit,net", VECTORS,
                         ids=[f"{v[0]}:{v[1][:14]!r}" for v in VECTORS])
def test_field_vector(name, frame, status, stable, weight, unit, net):
    r = get_profile(name).codec.decode(frame)
    assert not r.extra.get("bad_frame"), r
    assert r.status.value == status, r
    assert r.stable is stable, r
    assert r.weight == (None if weight is None else Decimal(weight))
    if weight is not None:
        assert str(r.weight) == weight
    assert r.unit == unit
    if status in ("ok", "motion"):
        assert bool(r.net) is net


def test_at_least_eighteen_scale_profiles():
    assert len(load_profiles(kind="scale")) >= 18


def test_toledo_raw_status_bytes_do_not_break_framing():
    """0x02 (over capacity) is STX and 0x0D (motion + under zero + zero error) is CR: both are data after '?'."""
    for name in ("toledo-8217", "toledo-8217-raw"):
        f = ScaleFramer(get_profile(name).framing)
        stream = b"\x02?\x02\r\x0201.234\r\x02?\x0d\r\x0200.500\r"
        assert f.feed(stream) == [b"\x02?\x02\r", b"\x0201.234\r", b"\x02?\x0d\r", b"\x0200.500\r"]
        assert f.bytes_skipped == 0


def test_toledo_status_0x40_is_never_a_stable_reading():
    """emupos docs/protocols/toledo8217.md: an unrecognised command is answered 02 3F 40 0D (bad command), the
    answer Odoo's driver reads as "Bad Command from host"; with either profile it is an error, after a weight too."""
    for name in ("toledo-8217", "toledo-8217-raw"):
        reader = ScaleReader("loop://", get_profile(name))
        reader.feed(b"\x0201.250\r")
        got = reader.feed(b"\x02?\x40\r")
        assert got[0].status.value == "error" and not got[0].usable, (name, got)
        assert reader.latest.status.value == "error"
    assert "bad command" in get_profile("toledo-8217").codec.decode(b"\x02?@\r").reason
    raw = ScaleReader("loop://", get_profile("toledo-8217-raw"))
    first = raw.feed(b"\x02?\x00\r")[0]  # no weight seen yet: nothing to repeat
    assert not first.stable and not first.usable
    raw.feed(b"\x0201.234\r")
    repeated = raw.feed(b"\x02?\x00\r")[0]  # pywebdriver: status with no flags = same weight as last time
    assert repeated.usable and repeated.weight == Decimal("1.234") and repeated.extra["repeat"] is True


def test_yaohua_reversed_reads_both_frame_lengths_in_one_stream():
    p = get_profile("yaohua-reversed")
    reader = ScaleReader("loop://", p)
    got = reader.feed(b"=0432100=0432100=00.1000-=000.3000=")
    assert [r.weight for r in got] == [Decimal("12340"), Decimal("12340"), Decimal("-1.00"), Decimal("3.000")]
    assert reader.frames_bad == 0


@pytest.mark.parametrize("name,variant,differs", [("mettler-mt-sics", "echo", "ok"), ("nci-brecknell", "ecr-fill", "overload"),
                                                  ("yaohua-reversed", "weighbridge", "ok"), ("sartorius-sbi", "id22", "ok")])
def test_variant_encoders_decode_with_the_bundled_profile(name, variant, differs):
    from packgate.device.scale.parsers.common import EmuState

    p = get_profile(name)
    codec = p.emulator_codec(variant)
    spec = p.emulator

    def state(status):
        return EmuState(Decimal("1.5"), spec.unit, spec.decimals, status)

    assert codec.encode(state(differs)) != p.codec.encode(state(differs))  # the variant really is another form
    for status in ("ok", "motion", "overload", "underload"):
        frame = codec.encode(state(status))
        r = p.codec.decode(frame)
        assert not r.extra.get("bad_frame"), (status, frame, r)
        if status == "ok":
            assert r.usable or p.stability.mode == "repeat"
            assert r.weight == Decimal("1.5")


def test_unknown_variant_is_a_clear_profile_error():
    from packgate.device.errors import ProfileError

    with pytest.raises(ProfileError, match="no variant 'nope'.*echo"):
        get_profile("mettler-mt-sics").emulator_codec("nope")


def test_acknowledgement_lines_are_neither_readings_nor_bad_frames():
    """Radwag PUE C/31 manual 18.4.4: 'S' -> 'S_A CR LF' (accepted), then the mass frame; 'Z' -> 'Z_A', 'Z_D'."""
    reader = ScaleReader("loop://", get_profile("radwag"))
    got = reader.feed(b"S A\r\nS           8.5 g  \r\nZ A\r\nZ D\r\n")
    assert [r.weight for r in got] == [Decimal("8.5")] and got[0].usable
    assert reader.stats()["frames_ack"] == 3 and reader.frames_bad == 0
    mt = ScaleReader("loop://", get_profile("mettler-mt-sics"))
    assert mt.feed(b"Z A\r\nS S     100.00 g\r\n")[0].weight == Decimal("100.00") and mt.frames_ack == 1
