"""Every profile's emulator through a real pty (and TCP) into the real ScaleReader; faults; unplug/replug."""
import threading
import time
from decimal import Decimal

import pytest

from packgate.device.backoff import Backoff
from packgate.device.profiles import load_profiles
from packgate.device.scale.emulator import ScaleEmulator
from packgate.device.scale.reader import ScaleReader
from packgate.device.scale.reading import GRAMS_PER_UNIT, Status

SCALES = load_profiles(kind="scale")
NAMES = sorted(SCALES)


def step_g(profile) -> Decimal:
    return GRAMS_PER_UNIT[profile.emulator.unit] * Decimal(1).scaleb(-profile.emulator.decimals)


def close_to(reading, grams, profile) -> bool:
    return reading.grams is not None and abs(reading.grams - Decimal(grams)) <= step_g(profile)


class Harness:
    def __init__(self, name, tcp=False, grams="1000", **emu_kw):
        self.profile = SCALES[name]
        self.emu = ScaleEmulator(self.profile, grams=Decimal(grams), seed=7, stream_interval=0.02, **emu_kw)
        if tcp:
            self.port = f"socket://127.0.0.1:{self.emu.start_tcp(0)}"
        else:
            self.port = self.emu.start_pty()
        self.readings, self.states = [], []
        self.reader = ScaleReader(self.port, self.profile, on_reading=self.readings.append,
                                  on_state=lambda s, d: self.states.append(s), poll_interval=0.03,
                                  backoff=Backoff(base_s=0.02, cap_s=0.1, jitter=False))

    def __enter__(self):
        self.reader.start()
        return self

    def __exit__(self, *exc):
        self.reader.stop()
        self.emu.stop()

    def wait(self, pred, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in list(self.readings):
                if pred(r):
                    return r
            time.sleep(0.01)
        return None

    def wait_state(self, state, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if state in self.states:
                return True
            time.sleep(0.01)
        return False


@pytest.mark.parametrize("name", NAMES)
def test_roundtrip_over_pty_with_settle(name):
    with Harness(name) as h:
        p = h.profile
        first = h.wait(lambda r: r.usable)
        assert first is not None, f"no stable reading; stats {h.reader.stats()}"
        assert close_to(first, 1000, p)
        h.readings.clear()
        h.emu.set_weight(Decimal("2500"), settle_s=0.25)
        assert h.wait(lambda r: not r.stable) is not None, "settling must show unstable frames"
        final = h.wait(lambda r: r.usable and close_to(r, 2500, p))
        assert final is not None, h.readings[-3:]
        assert isinstance(final.weight, Decimal)
        assert h.reader.frames_bad == 0
        assert h.states[0] == "connected"


@pytest.mark.parametrize("name", ["mettler-mt-sics", "toledo-continuous-checksum", "yaohua-a9"])
def test_roundtrip_over_tcp(name):
    with Harness(name, tcp=True, grams="1500") as h:
        assert h.wait(lambda r: r.usable and close_to(r, 1500, h.profile)) is not None


@pytest.mark.parametrize("name,tcp", [("mettler-mt-sics", False), ("toledo-continuous-checksum", False),
                                      ("cas-18", True), ("toledo-8217", False)])
def test_unplug_reports_disconnect_and_resumes_on_replug(name, tcp):
    with Harness(name, tcp=tcp, grams="1200") as h:
        assert h.wait(lambda r: r.usable) is not None
        h.emu.unplug()
        assert h.wait_state("disconnected"), h.states
        assert h.wait_state("retrying"), h.states
        time.sleep(0.15)  # a few failed retries while unplugged
        h.readings.clear()
        h.emu.set_weight(Decimal("800"), settle_s=0)
        h.emu.replug()
        assert h.wait(lambda r: r.usable and close_to(r, 800, h.profile)) is not None, (h.states, h.reader.stats())
        assert h.states.count("connected") >= 2


@pytest.mark.parametrize("name", ["mettler-mt-sics", "toledo-continuous-checksum", "cas-22", "yaohua-a9",
                                  "yaohua-reversed", "nci-brecknell"])
def test_garbage_fault_is_survived_and_counted(name):
    with Harness(name, grams="1000") as h:
        h.emu.fault("garbage")
        time.sleep(0.3)
        h.readings.clear()
        assert h.wait(lambda r: r.usable and close_to(r, 1000, h.profile), timeout=4) is not None
        st = h.reader.stats()
        assert st["frames_bad"] + st["bytes_skipped"] > 0, st


HAS_OVERLOAD_FRAME = [n for n in NAMES if SCALES[n].parser_kind == "toledo-status-words"
                      or "overload" in SCALES[n].codec.templates]  # Yaohua A9/"=" and Ohaus have none


@pytest.mark.parametrize("name", HAS_OVERLOAD_FRAME)
def test_overload_fault(name):
    with Harness(name, grams="1000") as h:
        assert h.wait(lambda r: r.usable) is not None
        h.emu.fault("overload")
        assert h.wait(lambda r: r.status is Status.OVERLOAD) is not None


def test_yaohua_stability_is_inferred_from_repeats():
    with Harness("yaohua-a9", grams="1000") as h:
        stable = h.wait(lambda r: r.usable)
        assert stable is not None and stable.extra["stability"].startswith("inferred")
        h.emu.set_weight(Decimal("3000"), settle_s=0.3)
        assert h.wait(lambda r: r.status is Status.OK and not r.stable and r.extra.get("stability") == "unknown")


def test_negative_weight_is_ok_with_negative_decimal():
    with Harness("mettler-mt-sics", grams="-12.5") as h:
        r = h.wait(lambda r: r.usable)
        assert r.status is Status.OK and r.weight == Decimal("-12.50") and r.grams < 0


def test_seven_bit_protocol_over_pty_with_parity_bit_set():
    with Harness("and-standard", grams="123.45") as h:
        assert h.emu.frame()[0] & 0x80 or any(b & 0x80 for b in h.emu.frame())  # parity bits on the wire
        r = h.wait(lambda r: r.usable)
        assert r.weight == Decimal("123.45")


def test_stop_returns_quickly_even_when_the_port_is_missing(tmp_path):
    reader = ScaleReader(str(tmp_path / "nothing"), SCALES["mettler-mt-sics"], backoff=Backoff(base_s=5, cap_s=5, jitter=False))
    states = []
    reader.on_state = lambda s, d: states.append(s)
    reader.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    reader.stop()
    assert time.monotonic() - t0 < 2.0
    assert states[0] == "disconnected" and states[-1] == "stopped"


def test_stop_returns_quickly_while_connected():
    with Harness("toledo-continuous") as h:
        assert h.wait(lambda r: r.usable)
        t0 = time.monotonic()
        h.reader.stop()
        assert time.monotonic() - t0 < 2.0
        assert not any(t.name.startswith("scale-reader") and t.is_alive() for t in threading.enumerate()
                       if h.port in t.name)


def test_polled_emulator_answers_stable_only_command_after_settle():
    with Harness("mettler-mt-sics", grams="0") as h:
        h.emu.set_weight(Decimal("50"), settle_s=0.2)
        assert "SI" in h.emu.spec.commands and h.emu.spec.commands["S"] == "stable"
        assert h.wait(lambda r: r.usable and r.weight == Decimal("50.00"))


def test_a_half_command_left_at_the_scale_by_a_probe_gives_no_leftover_error_frame(tmp_path):
    """`device read` right after `probe`: the scale still holds a probe's half command; its answer is not a reading."""
    from packgate.device.transport import open_port

    emu = ScaleEmulator(SCALES["mettler-mt-sics"], Decimal("470"))
    path = emu.start_pty()
    try:
        with open_port(path, baudrate=9600) as leftover:
            leftover.write(b"W")  # a Toledo probe's command, never ended by a line ending
        readings: list = []
        reader = ScaleReader(path, SCALES["mettler-mt-sics"], on_reading=readings.append, poll_interval=0.1)
        reader.start()
        try:
            deadline = time.monotonic() + 5
            while len(readings) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            reader.stop()
        assert len(readings) >= 3
        assert [r.status for r in readings[:3]] == [Status.OK] * 3, readings[:3]
    finally:
        emu.stop()
