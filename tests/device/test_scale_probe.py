"""`device probe` against every newer profile's emulator on a pty, and against polled scales answering in a
field variant of their protocol (the probe tries every bundled profile, as on site)."""
from decimal import Decimal

import pytest
from click.testing import CliRunner
from probing import probe_args

from packgate.device.cli import device
from packgate.device.profiles import get_profile
from packgate.device.scale.emulator import ScaleEmulator

NEW = ["adam-highland", "dibal-pos", "kern-swt", "radwag", "sartorius-sbi", "sma", "split-last-digit", "tnt-nhb",
       "toledo-8217-raw", "yaohua-a12-ww"]
VARIANTS = [("mettler-mt-sics", "echo"), ("sartorius-sbi", "id22"), ("yaohua-reversed", "weighbridge"),
            ("nci-brecknell", "ecr-fill")]


def probe(name: str, variant: str | None = None, grams: str = "1234"):
    import json

    emu = ScaleEmulator(get_profile(name), grams=Decimal(grams), stream_interval=0.02, variant=variant)
    path = emu.start_pty()
    try:
        result = CliRunner().invoke(device, probe_args(path), catch_exceptions=False)
    finally:
        emu.stop()
    return result, [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("name", NEW)
def test_probe_finds_each_new_profile(name):
    result, lines = probe(name)
    assert result.exit_code == 0, result.output
    matches = {o["match"]: o for o in lines}
    assert name in matches, lines
    reading = matches[name]["reading"]
    assert reading["status"] == "ok" and reading["grams"] is not None


@pytest.mark.parametrize("name,variant", VARIANTS)
def test_probe_finds_a_scale_answering_in_a_variant_form(name, variant):
    result, lines = probe(name, variant)
    assert result.exit_code == 0, result.output
    assert name in [o["match"] for o in lines], lines


def test_probe_still_finds_mt_sics_after_a_bare_letter_command():
    """Kern's 'w' has no terminator; the MT-SICS balance must not see 'wSI'."""
    result, lines = probe("mettler-mt-sics", "echo")
    assert [o for o in lines if o["match"] == "mettler-mt-sics"][0]["frames"] >= 1


def test_emulate_cli_rejects_an_unknown_variant():
    result = CliRunner().invoke(device, ["emulate", "--profile", "mettler-mt-sics", "--tcp", "0", "--variant", "nope"])
    assert result.exit_code == 2 and "nope" in result.output


def test_a_poll_answered_ends_its_window_once_the_line_is_quiet():
    """A scale that answered has said all it will once its line is quiet (0.1 s): the 3 s reply window is not waited
    out (on site, every profile's poll costs the full window only when nothing answers it)."""
    import json
    import time

    emu = ScaleEmulator(get_profile("mettler-mt-sics"), grams=Decimal("1234"))
    path = emu.start_pty()
    try:
        started = time.monotonic()
        result = CliRunner().invoke(device, ["probe", "--port", path, "--listen", "0.1", "--reply-timeout", "3",
                                             "--profile", "mettler-mt-sics"], catch_exceptions=False)
        took = time.monotonic() - started
    finally:
        emu.stop()
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["match"] for line in result.stdout.splitlines() if line.strip()] == ["mettler-mt-sics"]
    assert took < 2.0, took


def test_a_stray_line_before_the_answer_does_not_end_the_poll_early():
    """A late answer to the previous profile's command (here: a line no profile reads) lands just after this poll was
    sent, and the scale's own answer comes 0.3 s later, as on a loaded machine: the probe still waits for it."""
    import json
    import threading

    from packgate.device.emulation.pty import PtyPair

    profile = get_profile("kern-swt")
    answer = ScaleEmulator(profile, grams=Decimal("1234")).frame()
    pair, stop = PtyPair(), threading.Event()

    def scale() -> None:
        while not stop.is_set():
            if b"w" in pair.read(timeout=0.05):
                pair.write(b"ERR?\r\n")
                stop.wait(0.3)
                pair.write(answer)

    thread = threading.Thread(target=scale, daemon=True)
    thread.start()
    try:
        result = CliRunner().invoke(device, ["probe", "--port", pair.path, "--listen", "0.05", "--reply-timeout", "1.5",
                                             "--profile", "kern-swt"], catch_exceptions=False)
    finally:
        stop.set()
        thread.join(2)
        pair.close()
    assert result.exit_code == 0, result.output
    matches = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [m["match"] for m in matches] == ["kern-swt"] and matches[0]["reading"]["grams"] is not None, matches
