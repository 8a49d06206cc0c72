"""The scales of issue 29, each decoded from bytes written the way its source documents them (the source is named
in each case and in the profile's ``sources``): Aclas OS2 (顶尖), CAS PD-II ECR, Keli XK3118 (柯力), Rice Lake and
Cardinal streams, the Mettler balance print format."""
from __future__ import annotations

from decimal import Decimal
from functools import reduce

import pytest

from packgate.device.profiles import get_profile
from packgate.device.scale.reader import ScaleReader


def xor(data: bytes) -> bytes:
    return bytes([reduce(lambda a, b: a ^ b, data, 0)])


def aclas(flag: bytes, sign: bytes, weight: bytes, unit: bytes = b"kg", flag2: int = 0) -> bytes:
    """Pinnacle OS2X manual 13: Head1 Head2 Flag1 Sign Weight(6) Unit(2) CheckSum (XOR of the 12 in front) 03 04 Flag2."""
    head = b"\x01\x02" + flag + sign + weight + unit
    return head + xor(head) + b"\x03\x04" + bytes([flag2])


def cas(sta: bytes, sign: bytes, weight: bytes, unit: bytes = b"KG") -> bytes:
    """CAS PD-II type 6 / SW-II: SOH STX STA SIGN W5..W0 UN1 UN0 BCC ETX EOT."""
    head = b"\x01\x02" + sta + sign + weight + unit
    return head + xor(head[2:]) + b"\x03\x04"


# (profile, frame, status, stable, weight, unit, net, source)
VECTORS = [
    ("aclas-os2", aclas(b"S", b" ", b" 1.234"), "ok", True, "1.234", "kg", False, "OS2X manual 13: S stable"),
    ("aclas-os2", aclas(b"U", b"-", b" 0.020"), "motion", False, "-0.020", "kg", False, "U unstable, '-' negative"),
    ("aclas-os2", aclas(b"S", b" ", b" 2.500", flag2=0x20), "ok", True, "2.500", "kg", True, "Flag2 bit 5 tare mode"),
    ("aclas-os2", aclas(b"S", b" ", b" 0.000", flag2=0x10), "ok", True, "0.000", "kg", False, "Flag2 bit 4 zero"),
    ("aclas-os2", aclas(b"F", b" ", b"15.010", flag2=0x40), "overload", False, None, "kg", False, "F beyond the range"),
    ("aclas-os2", aclas(b"F", b"-", b" 0.000", flag2=0x40), "underload", False, None, "kg", False, "F with '-'"),
    ("cas-ecr", cas(b"S", b" ", b"01.234"), "ok", True, "1.234", "kg", False, "PD-II type 6: STA S"),
    ("cas-ecr", cas(b"U", b" ", b"01.230"), "motion", False, "1.230", "kg", False, "STA U"),
    ("cas-ecr", cas(b"S", b"-", b"00.050", b"LB"), "ok", True, "-0.050", "lb", False, "SIGN '-', unit LB"),
    ("cas-ecr", cas(b"S", b"F", b"FFFFFF"), "overload", False, None, None, False, "SIGN F: weight all F"),
    ("keli-xk3118", b"=5123.45(kg)\r\n", "ok", False, "5123.45", "kg", False, "XK3118T1.h: '=5123.45(kg)\\r\\n'"),
    ("keli-xk3118", b"=001.500(kg)\r\n", "ok", False, "1.500", "kg", False, "7 characters with the point"),
    ("keli-xk3118", b"=-01.500(kg)\r\n", "ok", False, "-1.500", "kg", False, "negative"),
    ("rice-lake-stream", b"\x02    1.50LG \r\n", "ok", True, "1.50", "lb", False, "RLWS: L pounds, G gross, valid"),
    ("rice-lake-stream", b"\x02-  12.34KNM\r\n", "motion", False, "-12.34", "kg", True, "K kg, N net, M motion"),
    ("rice-lake-stream", b"\x02    0.00LGZ\r\n", "ok", True, "0.00", "lb", False, "Z centre of zero (682 manual)"),
    ("rice-lake-stream", b"\x02 9999.99LGO\r\n", "overload", False, None, "lb", False, "O over/under range"),
    ("rice-lake-stream", b"\x02    1.50LGI\r\n", "error", False, None, "lb", False, "I invalid"),
    ("rice-lake-stream", b"\x02   125.0OG \r\n", "ok", True, "125.0", "oz", False, "O ounces"),
    ("cardinal-stream", b"\r+0001.50  lb g  \x03", "ok", True, "1.50", "lb", False, "Cardinal stream: valid, gross"),
    ("cardinal-stream", b"\r-0012.34m kg n  \x03", "motion", False, "-12.34", "kg", True, "m motion, n net"),
    ("cardinal-stream", b"\r+0500.00o lb g  \x03", "overload", False, None, "lb", False, "o over range"),
    ("cardinal-stream", b"\r+001234  g  g  \x03", "ok", True, "1234", "g", False, "six digits, no point, g"),
    ("mettler-print", b"S      0.1278 g\r\n", "ok", True, "0.1278", "g", False, "A&D MT format: S stable"),
    ("mettler-print", b"SD    -183.96 g\r\n", "motion", False, "-183.96", "g", False, "SD unstable, '-' negative"),
    ("mettler-print", b"S       12.5 kg\r\n", "ok", True, "12.5", "kg", False, "unit length varies"),
    ("mettler-print", b"SI+\r\n", "overload", False, None, None, False, "SI overload header, +"),
    ("mettler-print", b"SI-\r\n", "underload", False, None, None, False, "SI overload header, -"),
]


@pytest.mark.parametrize("name,frame,status,stable,weight,unit,net,source", VECTORS,
                         ids=[f"{v[0]}:{v[7]}" for v in VECTORS])
def test_documented_frames_decode(name, frame, status, stable, weight, unit, net, source):
    r = get_profile(name).codec.decode(frame)
    assert not r.extra.get("bad_frame"), (source, r)
    assert (r.status.value, r.stable) == (status, stable), (source, r)
    assert r.weight == (None if weight is None else Decimal(weight)), (source, r)
    if weight is not None:
        assert str(r.weight) == weight
    assert r.unit == unit, (source, r)
    if status in ("ok", "motion"):
        assert bool(r.net) is net


def test_aclas_checksum_is_the_xor_of_the_twelve_bytes_in_front():
    good = aclas(b"S", b" ", b" 1.234")
    bad = good[:12] + bytes([good[12] ^ 0x01]) + good[13:]
    codec = get_profile("aclas-os2").codec
    assert not codec.decode(good).extra.get("bad_frame")
    r = codec.decode(bad)
    assert r.extra.get("bad_frame") and "checksum" in r.reason


def test_cas_ecr_polls_dc1_after_enq_and_skips_the_ack():
    """PD-II: ENQ -> ACK, then a request -> the frame. The reader sends ENQ once per connection and DC1 each poll;
    the ACK byte before the frame is skipped, never a bad frame."""
    p = get_profile("cas-ecr")
    assert (p.poll.start_command, p.poll.command) == (b"\x05", b"\x11")
    reader = ScaleReader("loop://", p)
    got = reader.feed(b"\x06" + cas(b"S", b" ", b"01.234"))
    assert [r.weight for r in got] == [Decimal("1.234")] and reader.frames_bad == 0 and reader.bytes_skipped == 1


def test_keli_has_no_stability_flag_so_equal_frames_make_it_stable():
    reader = ScaleReader("loop://", get_profile("keli-xk3118"))
    got = reader.feed(b"=5123.45(kg)\r\n" * 3)
    assert [r.stable for r in got] == [False, False, True] and got[2].usable


def test_mettler_print_is_seven_bit_even_parity_and_distinct_from_mt_sics():
    p = get_profile("mettler-print")
    assert (p.serial.bytesize, p.serial.parity) == (7, "E")  # a Mettler UC3 needed 7 data bits, even parity
    assert p.codec.decode(b"S S     100.00 g\r\n").extra.get("bad_frame")  # an MT-SICS line is not this format
    assert get_profile("mettler-mt-sics").codec.decode(b"S      0.1278 g\r\n").extra.get("bad_frame")


def test_every_new_profile_names_its_sources():
    for name in ("aclas-os2", "cas-ecr", "keli-xk3118", "rice-lake-stream", "cardinal-stream", "mettler-print"):
        summary = get_profile(name).summary()
        assert summary["sources"] and all(len(s) > 20 for s in summary["sources"]), name
