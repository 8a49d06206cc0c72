"""The ``packgate`` command line: help, config check/defaults, and the one slow test: the demo selftest."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from packgate.station.runtime.cli import cli
from packgate.station.runtime.config import load

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _restore_logging():
    """The CLI installs its log handler on the CliRunner's stderr, closed after each invoke: take it off again."""
    import logging

    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_packgate", False):
            root.removeHandler(handler)
    root.setLevel(level)


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The installed entry point, as site IT runs it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "packgate.station.runtime.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_help_lists_every_command_group():
    result = run("--help")
    assert result.returncode == 0
    commands = re.findall(r"^  ([a-z]+)\s", result.stdout.split("Commands:")[1], re.M)
    assert {"device", "upstream", "sync", "demo", "run", "config"} <= set(commands)


def test_config_check_of_a_bad_file_exits_2_naming_the_key(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text('[scanner]\nsuffix = "ETX"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(path)], obj={})
    assert result.exit_code == 2
    assert "error:" in result.output and "scanner.suffix" in result.output and "ETX" in result.output


def test_config_check_of_an_unknown_key_suggests(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text('[web]\nprot = 9000\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(path)], obj={})
    assert result.exit_code == 2 and "did you mean 'web.port'?" in result.output


def test_config_check_of_a_missing_file_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["config", "check", str(tmp_path / "nope.toml")], obj={})
    assert result.exit_code == 2 and "cannot read" in result.output


def test_config_defaults_load_back_and_check_ok(tmp_path):
    result = CliRunner().invoke(cli, ["config", "defaults"], obj={})
    assert result.exit_code == 0
    path = tmp_path / "packgate.toml"
    path.write_text(result.output, encoding="utf-8")
    assert load(path).values == load(None).values
    checked = CliRunner().invoke(cli, ["config", "check", str(path)], obj={})
    assert checked.exit_code == 0
    report = json.loads(checked.output)
    assert report["ok"] is True and report["settings"]["station.id"] == "ST01"


def test_config_check_warns_about_device_paths_that_do_not_exist_and_stays_ok(tmp_path):
    scale = tmp_path / "scale"
    scale.touch()
    path = tmp_path / "packgate.toml"
    path.write_text(f'[scale]\nport = "{scale}"\n[scanner]\nport = "{tmp_path}/no-scanner"\n'
                    '[badge]\nreader = "tty:no-such-reader:pn532"\n', encoding="utf-8")
    checked = CliRunner().invoke(cli, ["config", "check", str(path)], obj={})
    report = json.loads(checked.output)
    assert checked.exit_code == 0 and report["ok"] is True
    assert [w.split(":")[0] for w in report["warnings"]] == ["scanner", "badge"]
    assert f"{tmp_path}/no-scanner does not exist" in report["warnings"][0]
    assert "/dev/ttyno-such-reader does not exist" in report["warnings"][1]


def test_config_keys_lists_every_key():
    from packgate.station.runtime.config import SCHEMA

    result = CliRunner().invoke(cli, ["config", "keys"], obj={})
    listed = {line.split()[0] for line in result.output.splitlines() if line.strip()}
    assert listed == set(SCHEMA)


def test_run_with_a_bad_config_exits_2_before_starting_anything(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text('[weighing]\ntolerance_pct = -1\n', encoding="utf-8")
    result = run("run", "--config", str(path), timeout=30)
    assert result.returncode == 2 and "weighing.tolerance_pct" in result.stderr


@pytest.mark.long
@pytest.mark.timeout(200)  # above the subprocess timeout, which says more when it strikes
def test_demo_selftest_passes_every_step(tmp_path):
    """The scripted walkthrough on the emulators (~25 s alone): the only slow test of the station suite."""
    result = run("demo", "--selftest", "--data-dir", str(tmp_path / "demo"), timeout=180)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    match = re.match(r"^selftest: (\d+) passed, 0 failed in [0-9.]+ s$", lines[-1])
    assert match, lines[-1]
    assert int(match.group(1)) >= 50
    assert not [line for line in lines if line.startswith("FAIL")]
