"""A device without code (issue 29): `device sniff` records a real pty's bytes with timestamps, `device profile new`
drafts a profile from the capture, validates it, runs it over the capture, and writes it to the site's own profile
directory, which is searched before the bundled profiles and never written by an upgrade."""
from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from packgate.device import capture as cap
from packgate.device.cli import device
from packgate.device.errors import ProfileError
from packgate.device.profiles import get_profile, load_profiles, use_user_dir
from packgate.device.scale.decoding import ScaleDecoder
from packgate.device.scale.draft import draft_profile
from packgate.device.scale.emulator import ScaleEmulator


def run(*args):
    result = CliRunner().invoke(device, list(args), catch_exceptions=False)
    return result, [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


START, SETTLED = Decimal("1234.5"), Decimal("2500")
SNIFFED_AS = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1}  # `device sniff`'s defaults


def record(name: str, path: Path, poll: bytes = b"", every: float = 0.5, bound_s: float = 30.0) -> Path:
    """Sniff a bundled profile's emulator over a real pty while its weight moves and settles.

    Paced by what arrives, not by the wall clock (a fixed 1.5 s window with a timed move once came up short under
    a load average of 11): the weight moves after two readings of the start weight, and the sniff ends once five
    readings in a row are the settled weight. ``bound_s`` only ends a run that never gets there."""
    profile = get_profile(name)
    emu = ScaleEmulator(profile, START, seed=3, stream_interval=0.05)
    pty = emu.start_pty()
    watch, stop = ScaleDecoder(profile), threading.Event()
    seen = {"start": 0, "settled": 0}

    def on_chunk(chunk: cap.Chunk) -> None:
        for reading in watch.decode(chunk.data) if chunk.direction == "rx" else ():
            if reading.grams is None:
                continue
            if seen["start"] < 2:
                seen["start"] += abs(reading.grams - START) < 5
                if seen["start"] == 2:
                    emu.set_weight(SETTLED, settle_s=0.5)
                continue
            seen["settled"] = seen["settled"] + 1 if abs(reading.grams - SETTLED) < 5 else 0
            if seen["settled"] >= 5:
                stop.set()

    try:
        recorded = cap.sniff(pty, SNIFFED_AS, bound_s, poll=poll, every=every, stop=stop, on_chunk=on_chunk)
    finally:
        emu.stop()
    assert stop.is_set(), f"{name}: the settled weight never came five times in {bound_s} s: {seen}"
    recorded.write(path)
    return path


def sniff(name: str, path: Path, *extra: str, seconds: float) -> Path:
    """`device sniff` itself on a bundled profile's emulator, its weight still."""
    emu = ScaleEmulator(get_profile(name), START, seed=3, stream_interval=0.05)
    pty = emu.start_pty()
    try:
        result, lines = run("sniff", pty, "--seconds", str(seconds), "-o", str(path), *extra)
    finally:
        emu.stop()
    assert result.exit_code == 0, result.output
    assert lines[0]["bytes"] > 0 and lines[0]["output"] == str(path)
    return path


@pytest.mark.parametrize("name, extra, unit", [
    ("cas-18", {}, None),                                      # ST/US tokens, unit in the frame
    ("yaohua-a12e-wg", {}, None),                              # XOR checksum in hex, no stability flag
    ("and-standard", {"poll": b"Q\r\n", "every": 0.2}, None),  # polled with Q CR LF; 7E1 parity bits
    ("keli-xk3118", {}, None),                                 # '=' + weight + '(kg)', no flag
    ("rice-lake-stream", {}, "lb"),                            # a one-letter unit: given
])
def test_a_drafted_profile_reads_the_capture_as_the_bundled_profile_does(tmp_path, name, extra, unit):
    capture_file = record(name, tmp_path / f"{name}.capture", **extra)
    args = ["profile", "new", str(capture_file), "--name", "site-scale", "-o", str(tmp_path / "site")]
    result, lines = run(*args, *(("--unit", unit) if unit else ()))
    assert result.exit_code == 0 and lines, f"{name}: {result.output} (capture: {capture_file.read_bytes()[:600]!r})"
    summary = lines[-1]
    assert summary["valid"] and summary["bad"] == 0, result.output
    drafted = load_profiles(tmp_path / "site", user=False)["site-scale"]
    data = cap.read(capture_file).data("rx")
    mine = [r.grams for r in ScaleDecoder(drafted).decode(data) if r.usable]
    theirs = [r.grams for r in ScaleDecoder(get_profile(name)).decode(data) if r.usable]
    assert mine and mine[-1] == theirs[-1] and abs(mine[-1] - 2500) < 5  # the settled weight, both ways
    assert set(mine) <= set(r.grams for r in ScaleDecoder(get_profile(name)).decode(data))


def test_a_checksum_that_stayed_in_0_to_9_is_not_taken_for_weight():
    """A YAOHUA capture of a full test run once met only checksums 30-37 (two hex digits that happened to be
    decimal): the draft took the weight to run from its digits over ``kg`` to the checksum and found no unit. The
    weight is the run of changing digits; the checksum after the unit stays a checksum. (That capture's frames.)"""
    frames = (b"WG001.234kg36 WG001.234kg36 WG001.646kg37 WG001.938kg31 WG002.124kg37 WG002.245kg33 WG002.330kg30 "
              b"WG002.388kg33 WG002.424kg32 WG002.451kg30 WG002.467kg35 WG002.500kg35 WG002.500kg35").split()
    capture = cap.Capture("/dev/ttyUSB0", SNIFFED_AS, "2026-12-06T18:11:28.000+00:00",
                          [cap.Chunk(0.05 * k, "rx", frame + b"\r\n") for k, frame in enumerate(frames)])
    drafted = draft_profile(capture, "site-scale")
    assert "unit: kg (in every frame)" in drafted.findings
    assert any(f.startswith("weight: bytes 3-9 ") for f in drafted.findings), drafted.findings
    assert any(f.startswith("bytes 12-13: checksum") for f in drafted.findings), drafted.findings


def test_the_capture_file_keeps_bytes_and_monotonic_times(tmp_path):
    path = sniff("yaohua-a9", tmp_path / "a9.capture", seconds=0.6)
    recorded = cap.read(path)
    result, lines = run("decode", "--profile", "yaohua-a9", "--capture", str(path))
    assert result.exit_code == 0 and any(o.get("stable") for o in lines)  # decode reads captures too
    from packgate.device.clock import parse_iso

    assert parse_iso(recorded.started).utcoffset() is not None
    times = [c.t for c in recorded.chunks]
    assert times == sorted(times) and times[-1] < 2.0
    assert recorded.data().count(b"\x02") >= 3 and recorded.serial["baudrate"] == 9600


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ('{"capture": "other"}\n', "not a packgate capture"),
    ('{"capture": "packgate", "version": 1, "port": "p", "serial": {}, "started": "x"}\n{"t": 0, "dir": "rx", "hex": "zz"}\n',
     ":2: not a capture line"),
    ('{"capture": "packgate", "version": 1, "port": "p", "serial": {}, "started": "x"}\n{"t": 0, "dir": "up", "hex": "00"}\n',
     "dir must be rx or tx"),
])
def test_a_bad_capture_is_refused_naming_the_line(tmp_path, text, message):
    path = tmp_path / "bad.capture"
    path.write_text(text)
    from packgate.device.errors import CaptureError

    with pytest.raises(CaptureError, match=message):
        cap.read(path)
    result = CliRunner().invoke(device, ["profile", "new", str(path), "--name", "x-scale"])
    assert result.exit_code == 1 and message.lstrip(":") in result.output


def test_a_capture_nothing_can_be_drafted_from_says_why(tmp_path):
    path = tmp_path / "noise.capture"
    cap.Capture("p", {"baudrate": 9600}, "2026-01-05T08:00:00.000+08:00",
                [cap.Chunk(0.0, "rx", bytes(range(0, 256, 7)))]).write(path)
    result = CliRunner().invoke(device, ["profile", "new", str(path), "--name", "x-scale"])
    assert result.exit_code == 1 and "no two frames of one length" in result.output


def test_sniff_on_a_missing_port_is_an_error_not_a_crash(tmp_path):
    result, lines = run("sniff", str(tmp_path / "nothing"), "--seconds", "0.2", "-o", str(tmp_path / "x.capture"))
    assert result.exit_code == 1 and str(tmp_path / "nothing") in lines[0]["error"] and lines[0]["output"] is None


def test_sniff_keeps_pyserials_spy_hexdump_too(tmp_path):
    spy = tmp_path / "spy.txt"
    sniff("yaohua-a9", tmp_path / "a9.capture", "--spy", str(spy), seconds=0.5)
    assert "RX" in spy.read_text() or "02 2B" in spy.read_text().upper()


# ---------------------------------------------------------------------------------------------- the site's directory
@pytest.fixture
def site_dir(tmp_path, monkeypatch):
    site = tmp_path / "site-profiles"
    monkeypatch.setenv("PACKGATE_USER_PROFILES", str(site))
    yield site
    use_user_dir(None)


def test_profile_new_writes_to_the_site_directory_searched_first(tmp_path, site_dir):
    capture_file = record("cas-18", tmp_path / "cas.capture")
    result, lines = run("profile", "new", str(capture_file), "--name", "dock-scale")
    assert result.exit_code == 0 and lines[-1]["written"] == str(site_dir / "dock-scale.toml")
    listed = {o["name"]: o for o in run("profiles", "--kind", "scale")[1]}
    assert listed["dock-scale"]["origin"] == "user" and listed["cas-18"]["origin"] == "bundled"
    assert get_profile("dock-scale").origin == "user"
    again, lines = run("profile", "new", str(capture_file), "--name", "dock-scale")
    assert again.exit_code == 1 and "exists" in lines[-1]["error"]  # never replaced without --force


def test_a_site_profile_replaces_the_bundled_one_of_its_name(site_dir):
    site_dir.mkdir()
    bundled = Path(get_profile("toledo-8217").source).read_text()
    (site_dir / "toledo-8217.toml").write_text(bundled.replace('unit = "kg"', 'unit = "lb"', 1))
    mine = load_profiles()["toledo-8217"]
    assert mine.origin == "user" and mine.parser["unit"] == "lb"
    assert load_profiles(user=False)["toledo-8217"].parser["unit"] == "kg"  # the bundled file is untouched
    (site_dir / "toledo-8217.toml").write_text('name = "toledo-8217"\ninherits = "toledo-8217"\n')
    with pytest.raises(ProfileError, match="cannot inherit the bundled profile of its own name"):
        load_profiles()


def test_a_site_profile_may_inherit_a_bundled_one(site_dir):
    site_dir.mkdir()
    (site_dir / "toledo-8217-lb.toml").write_text(
        'name = "toledo-8217-lb"\ninherits = "toledo-8217"\nkind = "scale"\nvendor = "Mettler Toledo"\n'
        'models = ["8217 (lb)"]\nnotes = "8217 set to pounds"\n[parser]\nunit = "lb"\n[emulator]\nunit = "lb"\ndecimals = 2\n')
    profile = get_profile("toledo-8217-lb")
    assert profile.origin == "user" and profile.codec.decode(b"\x0201.25\r").unit == "lb"


def test_the_station_config_picks_profiles_from_its_site_directory(tmp_path, monkeypatch):
    from packgate.station.errors import ConfigError
    from packgate.station.runtime.config import validate

    monkeypatch.setenv("PACKGATE_USER_PROFILES", "")
    site = tmp_path / "conf" / "profiles"
    site.mkdir(parents=True)
    text = Path(get_profile("cas-18").source).read_text().replace('name = "cas-18"', 'name = "site-cas"')
    (site / "site-cas.toml").write_text(text)
    try:
        with pytest.raises(ConfigError, match="no scale profile named 'site-cas'"):
            validate({"scale.profile": "site-cas"})
        cfg = validate({"scale.profile": "site-cas", "profiles.user_dir": "profiles"},
                       source=str(tmp_path / "conf" / "packgate.toml"))  # relative to the config file
        assert cfg["scale.profile"] == "site-cas" and get_profile("site-cas").origin == "user"
    finally:
        use_user_dir(None)
