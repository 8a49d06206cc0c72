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
from probing import LISTEN_S, probe_args

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


def states_said(result) -> list[dict]:
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith('{"state"')]


def test_read_on_a_missing_path_says_so_once(tmp_path):
    """Issue 26: a missing path printed a disconnected/retrying pair per retry; now one line says it, and it retries."""
    missing = str(tmp_path / "none")
    result = CliRunner().invoke(device, ["read", "--profile", "cas-18", "--port", missing, "--timeout", "2"])
    assert result.exit_code == 1 and result.stdout == ""
    said = states_said(result)
    assert [o["state"] for o in said] == ["disconnected", "stopped"], result.stderr
    assert said[0]["detail"].startswith(f"cannot open {missing}") and said[0]["retrying"] is True
    assert json.loads(result.stderr.splitlines()[-1])["stats"]["frames_ok"] == 0


def test_read_summarises_while_the_port_stays_away(tmp_path):
    result = CliRunner().invoke(device, ["read", "--profile", "cas-18", "--port", str(tmp_path / "none"),
                                         "--timeout", "2.5", "--summary-every", "0.4"])
    said = states_said(result)
    summaries = [o for o in said if o.get("still")]
    assert said[0]["state"] == "disconnected" and not said[0].get("still") and said[-1]["state"] == "stopped"
    assert summaries and all(o["state"] == "disconnected" and o["reports"] >= 1 for o in summaries)
    assert all(o["for_s"] >= 0.4 for o in summaries) and len(said) == len(summaries) + 2


def test_decode_of_garbage_exits_1_saying_why():
    """Issue 26: bytes no frame of the profile reads exited 0."""
    result = CliRunner().invoke(device, ["decode", "--profile", "cas-18", "--hex", "00 ff 7a 7a 0d 0a"])
    assert result.exit_code == 1 and "nothing decoded: 6 byte(s), no reading cas-18 makes of them" in result.stderr
    bad_checksum = "02 2B 30 30 31 32 33 34 32 31 45 03"  # a Yaohua frame, one checksum digit off
    result, lines = run("decode", "--profile", "yaohua-a9", "--hex", bad_checksum)
    assert result.exit_code == 1 and lines[0]["status"] == "error" and "checksum" in lines[0]["reason"]
    result = CliRunner().invoke(device, ["decode", "--profile", "cas-18"], input=b"")
    assert result.exit_code == 1 and "nothing decoded: 0 byte(s)" in result.stderr
    result, lines = run("decode", "--profile", "radwag", input=b"S A\r\n")  # an acknowledgement is no weight
    assert result.exit_code == 1 and lines[0]["reason"] == "acknowledgement"
    result, lines = run("decode", "--profile", "radwag", input=b"S A\r\nSI        0.012 kg \r\n")
    assert result.exit_code == 0 and lines[1]["weight"] == "0.012"


@pytest.mark.parametrize("emulator", [("toledo-continuous-checksum", "1234"), ("and-standard", "50")], indirect=True)
def test_probe_finds_the_protocol(emulator):
    name, path = emulator
    result, lines = run(*probe_args(path))
    assert result.exit_code == 0, result.output
    assert name in [o["match"] for o in lines]


def test_probe_reports_no_match_with_its_progress_on_stderr(tmp_path):
    """Issue 26: a probe ran 13 s with no word; each step now says n/N and what it tries, stdout stays JSON."""
    from packgate.device.emulation.pty import PtyPair
    from packgate.device.profiles import load_profiles

    scales = load_profiles(kind="scale").values()
    steps = len({p.serial for p in scales if p.poll.mode == "stream"}) + sum(p.poll.mode == "poll" for p in scales)
    with PtyPair() as silent:
        result, lines = run(*probe_args(silent.path))
    assert result.exit_code == 1 and lines[-1]["match"] is None
    # the progress lines (another test's leftover thread may log into the same captured stream)
    said = [line for line in result.stderr.splitlines() if line.startswith("probe")]
    assert [line.split(":")[0] for line in said[:-1]] == [f"probe {n}/{steps}" for n in range(1, steps + 1)]
    assert f"listening {LISTEN_S} s at 9600 8N1" in said[0] and "polling mettler-mt-sics with 'SI\\r\\n'" in result.stderr
    assert said[-1].startswith(f"probe: 0 match(es) after {steps} of {steps} step(s)")


@pytest.mark.parametrize("emulator", [("cas-18", "1500")], indirect=True)
def test_probe_stops_counting_at_the_match(emulator):
    name, path = emulator
    result, lines = run("probe", "--port", path, "--listen", "0.4", "--reply-timeout", "0.4", "--profile", name,
                        "--profile", "toledo-8217")
    assert result.exit_code == 0 and [o["match"] for o in lines] == [name]
    assert result.stderr.splitlines()[0].startswith("probe 1/2: listening 0.4 s at 9600 8N1")
    assert result.stderr.splitlines()[-1].startswith("probe: 1 match(es) after 1 of 2 step(s)")


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


def test_decode_applies_the_profiles_stability_rule_over_the_frames():
    """Issue 29: `device decode` said stable: false for three identical Yaohua frames while `device read` said
    stable. Yaohua A9 tF=0, 12.34 kg (docs/devices/protocols.md 1.8a: 02 2B 30 30 31 32 33 34 32 31 44 03), stability.repeat = 3."""
    frame = "02 2B 30 30 31 32 33 34 32 31 44 03 "
    result, lines = run("decode", "--profile", "yaohua-a9", "--hex", frame * 3)
    assert result.exit_code == 0
    assert [o["stable"] for o in lines] == [False, False, True]
    assert lines[2]["stability"] == "inferred:3" and lines[0]["stability"] == "unknown"
    other = "02 2B 30 30 31 32 33 35 32 31 43 03 "  # 12.35 kg: the count starts again
    _, lines = run("decode", "--profile", "yaohua-a9", "--hex", frame * 2 + other + frame * 2)
    assert [o["stable"] for o in lines] == [False, False, False, False, False]


def test_decode_and_read_agree_on_the_same_bytes():
    from packgate.device.cli.scale import decode_bytes
    from packgate.device.scale.reader import ScaleReader

    profile = get_profile("yaohua-reversed")
    data = b"=000.3000" * 4 + b"=00.1000-" + b"="
    reader = ScaleReader("loop://", profile)
    read = [r.as_dict() for r in reader.feed(data)]
    decoded = [{k: v for k, v in o.items() if k != "stability"} for o in decode_bytes(profile, data)]
    assert decoded[:len(read)] == read and [o["stable"] for o in read] == [False, False, True, True, False]
