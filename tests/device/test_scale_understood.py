"""A scale that sends bytes no frame of its profile decodes is "not_understood" (wrong profile, baud or mode)."""
import time

from packgate.device.backoff import Backoff
from packgate.device.profiles import load_profiles
from packgate.device.scale.emulator import ScaleEmulator
from packgate.device.scale.reader import ScaleReader

SCALES = load_profiles(kind="scale")


def run_reader(emulated: str, profile: str, seconds: float, not_understood_s: float = 0.6) -> tuple[list[str], ScaleReader]:
    emu = ScaleEmulator(SCALES[emulated], grams="990", seed=3, stream_interval=0.05)
    states: list[str] = []
    reader = ScaleReader(emu.start_pty(), SCALES[profile], on_state=lambda s, d: states.append(s), poll_interval=0.05,
                         backoff=Backoff(base_s=0.02, cap_s=0.1, jitter=False))
    reader.NOT_UNDERSTOOD_S = not_understood_s
    reader.start()
    try:
        deadline = time.monotonic() + seconds
        # not_understood, and (a loaded machine may deliver them late) the undecoded bytes it was judged on
        while time.monotonic() < deadline and not ("not_understood" in states and
                                                    reader.stats()["frames_undecoded"] + reader.stats()["bytes_skipped"]):
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        reader.stop()
        emu.stop()
    return states, reader


def test_a_toledo_8217_read_as_mt_sics_is_not_understood_and_never_reads():
    states, reader = run_reader("toledo-8217", "mettler-mt-sics", 3.0)
    assert states[:2] == ["connected", "not_understood"], states
    assert reader.frames_ok == 0 and reader.latest is None
    assert reader.stats()["frames_undecoded"] + reader.stats()["bytes_skipped"] > 0


def test_a_streaming_scale_read_with_a_polled_profile_is_not_understood():
    states, _ = run_reader("toledo-continuous", "mettler-mt-sics", 3.0)
    assert "not_understood" in states


def test_the_right_profile_stays_connected():
    # a window longer than the run: a loaded machine that stalls the reader 0.6 s between good frames is no
    # misunderstanding (the wrong-profile tests keep the short window, they must see it within the run)
    states, reader = run_reader("toledo-8217", "toledo-8217", 1.2, not_understood_s=5.0)
    assert states == ["connected", "stopped"] and reader.frames_ok > 3
