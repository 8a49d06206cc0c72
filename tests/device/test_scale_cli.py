"""`device` click group: profiles, decode, read, emulate, probe (one JSON object per line)."""
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from probing import probe_args

from packgate.device.cli import device
from packgate.device.profiles import get_profile
from packgate.device.scale.emulator import ScaleEmulator

ROOT = Path(__file__).resolve().parents[2]


def run(*args, input=None):
    result = CliRunner().invoke(device, list(args), input=input, catch_exceptions=False)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result, lines


def test_profiles_lists_scales_with_serial_defaults():
    result, lines = run("profiles", "--kind", "scale")
    assert result.exit_code == 0
    by_name = {o["name"]: o for o in lines}
    assert by_name["toledo-8217"]["serial"]["label"].startswith("9600 7E1")
    assert by_name["mettler-mt-sics"]["poll"]["command"] == "SI\r\n"
    assert by_name["cas-22"]["mode"] == "stream"
    assert all(o["kind"] == "scale" and o["models"] for o in lines)


def test_decode_hex_multiple_frames_and_partial():
    hexs = "02 2C 30 20 30 30 31 32 33 34 30 30 30 30 30 30 0D 2B " * 2 + "02 2C"
    result, lines = run("decode", "--profile", "toledo-continuous-checksum", "--hex", hexs)
    assert result.exit_code == 0
    assert [o["weight"] for o in lines[:2]] == ["12.34", "12.34"]
    assert lines[0]["grams"] == "12340.00" and lines[0]["stable"] is True and lines[0]["unit"] == "kg"
    assert lines[0]["raw"] == "022c30203030313233343030303030300d2b"
    assert lines[2]["status"] == "error" and "incomplete" in lines[2]["reason"]


def test_decode_stdin_and_bad_frame_reason():
    result, lines = run("decode", "--profile", "yaohua-a9", input=b"\x02+00123421D\x03\x02+00123421E\x03")
    assert lines[0]["weight"] == "12.34"
    assert lines[1]["status"] == "error" and "checksum" in lines[1]["reason"]


def test_decode_unknown_profile_is_a_usage_error():
    result = CliRunner().invoke(device, ["decode", "--profile", "nope", "--hex", "00"])
    assert result.exit_code == 2 and "nope" in result.output


def test_decode_bad_hex():
    result = CliRunner().invoke(device, ["decode", "--profile", "cas-18", "--hex", "zz"])
    assert result.exit_code == 2


@pytest.fixture
def emulator(request):
    name, grams = request.param
    emu = ScaleEmulator(get_profile(name), grams=Decimal(grams), stream_interval=0.02)
    path = emu.start_pty()
    yield name, path
    emu.stop()


@pytest.mark.parametrize("emulator", [("mettler-mt-sics", "250"), ("cas-18", "1500")], indirect=True)
def test_read_from_emulator(emulator):
    name, path = emulator
    result, lines = run("read", "--profile", name, "--port", path, "--count", "2", "--timeout", "5",
                        "--stable-only", "--poll-interval", "0.05")
    assert result.exit_code == 0, result.output
    assert len(lines) == 2 and all(o["stable"] and o["status"] == "ok" for o in lines)


def test_read_times_out_with_exit_1(tmp_path):
    result = CliRunner().invoke(device, ["read", "--profile", "cas-18", "--port", str(tmp_path / "none"),
                                         "--timeout", "0.3"])
    assert result.exit_code == 1


@pytest.mark.parametrize("emulator", [("toledo-continuous-checksum", "1234"), ("and-standard", "50")], indirect=True)
def test_probe_finds_the_protocol(emulator):
    name, path = emulator
    result, lines = run(*probe_args(path))
    assert result.exit_code == 0, result.output
    assert name in [o["match"] for o in lines]


def test_probe_reports_no_match(tmp_path):
    from packgate.device.emulation.pty import PtyPair

    with PtyPair() as silent:
        result, lines = run(*probe_args(silent.path))
    assert result.exit_code == 1 and lines[-1]["match"] is None


def test_emulate_subprocess_prints_where_and_stops_on_sigterm():
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "packgate.device.cli", "emulate", "--profile", "yaohua-a12e-wg", "--tcp", "0",
                             "--weight", "4139", "--stream-interval", "0.02"], stdout=subprocess.PIPE, cwd=ROOT, env=env)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["profile"] == "yaohua-a12e-wg" and info["url"].startswith("socket://127.0.0.1:")
        result, lines = run("read", "--profile", "yaohua-a12e-wg", "--port", info["url"], "--count", "1",
                            "--timeout", "5", "--stable-only")
        assert lines[0]["weight"] == "4.139"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        assert time.monotonic() - t0 < 3
    finally:
        if proc.poll() is None:
            proc.kill()


def test_emulate_needs_exactly_one_transport():
    result = CliRunner().invoke(device, ["emulate", "--profile", "cas-18"])
    assert result.exit_code == 2
