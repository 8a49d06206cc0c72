"""Serial scanner: the framer (pure, fuzzed) and the reader thread against a scanner on a real pty."""
from __future__ import annotations

import queue
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packgate.device.backoff import Backoff
from packgate.device.errors import ReaderError
from packgate.device.scanner.barcode import GS
from packgate.device.scanner.emulator import ScannerEmulator
from packgate.device.scanner.serial import Frame, ScanFramer, SerialScanner, suffix_name

GS1 = "010703206980498810ABC123" + GS + "17260228"


# ---------------------------------------------------------------- framer (no port)

@pytest.mark.parametrize("suffix, term", [("CR", b"\r"), ("LF", b"\n"), ("CRLF", b"\r\n"), ("TAB", b"\t")])
def test_framer_suffixes(suffix, term):
    f = ScanFramer(suffix)
    data = b"]C1" + GS1.encode() + term + b"SO-1" + term + term
    # byte by byte, to prove split reads are reassembled
    frames = [fr for i in range(len(data)) for fr in f.feed(data[i:i + 1], now=0.0)]
    assert frames == [Frame(b"]C1" + GS1.encode()), Frame(b"SO-1")]
    assert f.poll(10.0) == []


def test_framer_crlf_keeps_lone_cr_and_gs():
    f = ScanFramer("CRLF")
    assert f.feed(b"A\rB\x1d\r\n", 0) == [Frame(b"A\rB\x1d")]


def test_framer_auto_accepts_cr_lf_crlf():
    f = ScanFramer("auto")
    assert [x.data for x in f.feed(b"A\rB\nC\r\nD\n\rE\r", 0)] == [b"A", b"B", b"C", b"D", b"E"]


def test_framer_none_uses_inter_char_timeout():
    f = ScanFramer("none", inter_char_timeout=0.05)
    assert f.feed(b"SO-", 1.00) == [] and f.feed(b"12", 1.03) == []
    assert f.poll(1.06) == [] and f.deadline() == pytest.approx(1.08)
    assert f.poll(1.08) == [Frame(b"SO-12")]
    assert f.poll(5.0) == []


def test_framer_stale_partial_is_reported_with_a_hint():
    f = ScanFramer("CR", stale_timeout=0.5)
    assert f.feed(b"SO-1\n", 0.0) == []  # scanner programmed for LF, reader for CR
    (frame,) = f.poll(0.6)
    assert frame.data == b"SO-1\n" and "suffix LF" in frame.error


def test_framer_overlong_is_cut_with_error():
    f = ScanFramer("CR", max_len=10)
    (frame,) = f.feed(b"x" * 11, 0)
    assert frame.error and "suffix" in frame.error


def test_suffix_names():
    assert suffix_name("\r\n") == "CRLF" and suffix_name("cr") == "CR" and suffix_name("NONE") == "none"
    with pytest.raises(ReaderError):
        suffix_name("ETX")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["CR", "LF", "CRLF", "TAB", "none", "auto"]),
       st.lists(st.tuples(st.binary(max_size=40), st.floats(0, 2)), max_size=20))
def test_fuzz_framer_never_raises_and_loses_nothing(suffix, chunks):
    f = ScanFramer(suffix, inter_char_timeout=0.05, stale_timeout=0.5, max_len=64)
    now, out = 0.0, []
    for data, dt in chunks:
        now += dt
        out += f.poll(now)
        out += f.feed(data, now)
    out += f.poll(now + 10)
    assert f.pending == b""
    sent = b"".join(d for d, _ in chunks)
    got = b"".join(fr.data for fr in out)
    if suffix == "none":
        assert got == sent  # silence-framed: every byte comes out, in order
    else:
        # only terminator bytes are consumed
        for t in b"\r\n\t":
            sent = sent.replace(bytes([t]), b"")
            got = got.replace(bytes([t]), b"")
        assert got == sent


# ---------------------------------------------------------------- reader over a real pty

class Collector:
    def __init__(self):
        self.q: queue.Queue = queue.Queue()
        self.states: list[str] = []

    def __call__(self, scan):
        self.q.put(scan)

    def state(self, state, detail):
        self.states.append(state)

    def get(self, timeout=10.0):
        """The next scan; the wait only bounds a failing test (a loaded machine may stall the reader a while)."""
        return self.q.get(timeout=timeout)


@pytest.fixture
def emu():
    e = ScannerEmulator()
    yield e
    e.close()


def start_reader(emu, suffix="CR", **kw):
    c = Collector()
    r = SerialScanner(emu.path, suffix=suffix, on_scan=c, on_state=c.state, **kw)
    r.start()
    deadline = time.monotonic() + 2
    while r.state != "connected" and time.monotonic() < deadline:
        time.sleep(0.005)
    assert r.state == "connected"
    return r, c


@pytest.mark.parametrize("suffix", ["CR", "LF", "CRLF", "TAB", "auto"])
def test_reader_gs1_with_aim_and_gs_end_to_end(emu, suffix):
    r, c = start_reader(emu, suffix)
    try:
        emu.scan(GS1, symbology="]C1", suffix=suffix if suffix != "auto" else "CRLF")
        emu.scan("SO-10001", suffix=suffix if suffix != "auto" else "LF")
        s = c.get()
        assert s.kind == "gs1" and s.symbology == "]C1" and s.lot == "ABC123" and GS in s.raw
        assert s.source == f"serial:{emu.path}"
        assert c.get().kind == "order"
    finally:
        r.stop()


def test_reader_no_suffix_inter_char_timeout(emu):
    r, c = start_reader(emu, "none", inter_char_timeout=0.04)
    try:
        emu.scan("T-0001", suffix="none", char_gap=0.005)
        s = c.get()
        assert (s.kind, s.value) == ("tote", "T-0001")
        emu.scan("4006381333931", symbology="]E0", suffix="none")
        assert c.get().gtin == "04006381333931"
        assert c.q.empty()
    finally:
        r.stop()


def test_reader_garbage_then_good_scan(emu):
    r, c = start_reader(emu, "CR", stale_timeout=0.2)
    try:
        emu.garbage(24, seed=1)
        bad = c.get()
        assert bad.kind == "unknown" and "incomplete scan" in bad.error
        emu.scan("BOX-M")
        assert c.get().kind == "packaging"
    finally:
        r.stop()


def test_reader_unplug_replug_reconnects(emu):
    r, c = start_reader(emu, "CR", backoff=Backoff(base_s=0.02, cap_s=0.1, jitter=False))
    try:
        emu.scan("SO-1")
        assert c.get().value == "SO-1"
        emu.unplug()
        deadline = time.monotonic() + 2
        while "disconnected" not in c.states and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "disconnected" in c.states
        emu.replug()
        deadline = time.monotonic() + 3
        while c.states[-1] != "connected" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert c.states[-1] == "connected"
        emu.scan("SO-2")
        assert c.get().value == "SO-2"
    finally:
        t0 = time.monotonic()
        r.stop()
        assert time.monotonic() - t0 < 2.0
    assert c.states[-1] == "stopped"


def test_reader_many_scans_in_order(emu):
    r, c = start_reader(emu, "CRLF")
    try:
        for i in range(200):
            emu.scan(f"SO-{i}", suffix="CRLF")
        got = [c.get().value for _ in range(200)]
        assert got == [f"SO-{i}" for i in range(200)]
    finally:
        r.stop()
