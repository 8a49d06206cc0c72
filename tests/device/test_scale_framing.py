"""ScaleFramer: re-synchronisation after garbage and partial frames, counters, 7-bit masking."""
from decimal import Decimal

import pytest

from packgate.device.profiles import get_profile
from packgate.device.scale.framing import ScaleFramer
from packgate.device.scale.reader import ScaleReader

TOLEDO = bytes.fromhex("022C30203030313233343030303030300D2B")


def frames(profile_name: str, chunks: list[bytes]):
    p = get_profile(profile_name)
    f = ScaleFramer(p.framing, mask_7bit=p.serial.seven_bit)
    out = []
    for c in chunks:
        out += f.feed(c)
    return out, f


def test_frame_split_across_reads_byte_by_byte():
    out, f = frames("toledo-continuous-checksum", [bytes([b]) for b in TOLEDO * 3])
    assert out == [TOLEDO] * 3 and f.bytes_skipped == 0


def test_garbage_before_and_between_frames_is_skipped_and_counted():
    out, f = frames("toledo-continuous-checksum", [b"\xff\x00junk" + TOLEDO + b"zz" + TOLEDO])
    assert out == [TOLEDO, TOLEDO]
    assert f.bytes_skipped == 6 + 2


def test_partial_frame_then_new_frame_resyncs_on_start_byte():
    out, f = frames("toledo-continuous-checksum", [TOLEDO[:9], TOLEDO])
    assert out == [TOLEDO]
    assert f.bytes_skipped == 9


def test_line_protocol_garbage_costs_one_frame():
    p = get_profile("mettler-mt-sics")
    reader = ScaleReader("loop://", p)
    got = reader.feed(b"\x00\x13garbage S S     1.00 g\r\nS S     2.00 g\r\n")
    assert [r.weight for r in got] == [Decimal("2.00")]
    assert reader.frames_bad == 1 and reader.frames_ok == 1


def test_checksum_failures_are_counted_and_skipped():
    p = get_profile("yaohua-a9")
    reader = ScaleReader("loop://", p)
    got = reader.feed(b"\x02+00123421E\x03" + b"\x02+00123421D\x03")
    assert len(got) == 1 and got[0].weight == Decimal("12.34")
    assert reader.stats()["frames_bad"] == 1


def test_reversed_format_without_terminator_resyncs():
    out, f = frames("yaohua-reversed", [b"000=000.3000=000.3", b"000=00.1000-"])
    assert out == [b"=000.3000", b"=000.3000"]  # a frame ends at the next '=' (8- and 9-byte frames)
    out2 = f.feed(b"=")
    assert out2 == [b"=00.1000-"]
    assert f.bytes_skipped == 3


def test_nci_frame_with_inner_lf():
    frame = b"\n001.23lb\r\n00\r\x03"
    out, _ = frames("nci-brecknell", [b"x" + frame[:5], frame[5:] + frame])
    assert out == [frame, frame]


def test_overlong_line_is_dropped_not_buffered_forever():
    p = get_profile("mettler-mt-sics")
    f = ScaleFramer(p.framing)
    assert f.feed(b"A" * 10_000) == []
    assert len(f.buf) < p.framing.max_length
    assert f.feed(b"\r\nS S     1.00 g\r\n")[-1] == b"S S     1.00 g\r\n"


def test_seven_bit_masking():
    p = get_profile("toledo-8217")
    f = ScaleFramer(p.framing, mask_7bit=True)
    assert f.feed(bytes(b | 0x80 for b in b"\x0201.234\r")) == [b"\x0201.234\r"]


@pytest.mark.parametrize("name", ["toledo-8217", "and-standard", "toledo-continuous"])
def test_seven_bit_profiles_mask(name):
    assert get_profile(name).serial.seven_bit
