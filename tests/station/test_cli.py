"""The ``packgate`` command line: help, config check/defaults (the demo selftest runs from the built wheel, in
``tests/test_packaging.py``)."""
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


def test_config_check_says_every_problem_in_one_run_and_no_library_noise(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text('[scale]\nbaud = 9600\n[web]\nport = "x"\n[weighing]\ntolerance_pct = 150\n'
                    '[escalation]\nnotify = ["wecom://abc"]\n', encoding="utf-8")
    result = run("config", "check", str(path), timeout=30)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert [e.split(": ")[2].split(" ")[0] for e in errors] == ["unknown", "web.port", "weighing.tolerance_pct",
                                                                "escalation.notify"], result.stderr
    assert "firmware profile" in errors[0] and "scale.profile" in errors[0]
    assert "4 problems" in result.stderr
    assert [line for line in result.stderr.splitlines() if not line.startswith(("error: ", "4 problems"))] == []


def test_config_check_prints_the_settings_with_every_secret_masked(tmp_path):
    path = tmp_path / "packgate.toml"
    path.write_text('[upstream]\ntoken = "station-token-0123456789"\n'
                    '[escalation]\nnotify = ["mailtos://alerts:app-password@smtp.example.com?to=lead"]\n', encoding="utf-8")
    result = run("config", "check", str(path), timeout=30)
    assert result.returncode == 0, result.stderr
    assert "app-password" not in result.stdout and "station-token-0123456789" not in result.stdout
    settings = json.loads(result.stdout)["settings"]
    assert settings["escalation.notify"] == ["mailtos://alerts:***@smtp.example.com?to=lead"]
    assert settings["upstream.token"] == "stat…"
    assert "apprise" not in result.stderr.lower(), result.stderr


def test_sync_commands_find_the_station_database_through_the_configuration(tmp_path):
    from packgate.sync.common.db import connect
    from packgate.sync.schema import upgrade

    (tmp_path / "st7").mkdir()
    conn = connect(str(tmp_path / "st7" / "station.db"))
    upgrade(conn)
    conn.close()
    path = tmp_path / "packgate.toml"
    path.write_text('[station]\nid = "ST07"\ndata_dir = "st7"\n', encoding="utf-8")  # relative to the file
    status = CliRunner().invoke(cli, ["sync", "status", "--config", str(path), "--json"], obj={})
    assert status.exit_code in (0, 1) and json.loads(status.output)["depth"] == 0, status.output
    dead = CliRunner().invoke(cli, ["sync", "dead", "--config", str(path)], obj={})
    assert dead.exit_code == 0 and "no dead letters" in dead.output
    path.write_text('[station]\ndata_dir = "nowhere"\n', encoding="utf-8")
    missing = CliRunner().invoke(cli, ["sync", "prune", "--config", str(path)], obj={})
    assert missing.exit_code == 1 and f"no station database at {tmp_path / 'nowhere' / 'station.db'}" in missing.output
    for command in ("status", "dead", "retry-dead", "prune", "reconcile"):
        assert "--config" in CliRunner().invoke(cli, ["sync", command, "--help"], obj={}).output
