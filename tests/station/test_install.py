"""``packgate install station|hub`` into a temporary root, and ``packgate kiosk``: the unit names the right
ExecStart and passes ``systemd-analyze verify``, the udev rules parse and give the agent's groups the tty and input
devices, the autostart starts Chromium in kiosk mode at the station's page once the agent answers."""
from __future__ import annotations

import configparser
import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from packgate.device.clock import FakeClock
from packgate.station.runtime import install as installer
from packgate.station.runtime.cli import cli
from packgate.station.runtime.install_cli import default_packgate
from packgate.station.runtime.kiosk import KIOSK_FLAGS, wait_for_station

CONFIG = "/etc/packgate/packgate.toml"
STATION_TOML = """
[station]
id = "ST07"
name = "Packing table 7"
data_dir = "/var/lib/packgate"
[web]
host = "0.0.0.0"
port = {port}
[badge]
reader = "usb:054c:06c3"
"""


@pytest.fixture(autouse=True)
def _restore_logging():
    import logging

    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_packgate", False):
            root.removeHandler(handler)
    root.setLevel(level)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _station_root(tmp_path: Path, text: str, port: int = 8090) -> Path:
    root = tmp_path / "root"
    (root / "etc/packgate").mkdir(parents=True)
    (root / "etc/packgate/packgate.toml").write_text(text.format(port=port), encoding="utf-8")
    return root


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), obj={})


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


UDEV_PAIR = re.compile(r'\s*(?P<key>[A-Z_]+(?:\{[A-Za-z0-9_]+\})?)\s*(?P<op>==|!=|\+=|-=|:=|=)\s*"(?P<value>[^"]*)"\s*(,|$)')


def parse_udev_rules(text: str) -> list[list[tuple[str, str, str]]]:
    """udev's rule syntax: one rule a line, comma-separated KEY op "value" pairs; anything else is an error."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pairs, at = [], 0
        while at < len(line):
            match = UDEV_PAIR.match(line, at)
            assert match, f"line {number}: cannot parse from column {at}: {line[at:]!r}"
            pairs.append((match["key"], match["op"], match["value"]))
            at = match.end()
        rules.append(pairs)
    return rules


def _matches(rule: list[tuple[str, str, str]], **device: str) -> bool:
    """Would ``rule``'s match keys select a device with these properties (udev globs, ``|`` alternatives)?"""
    for key, op, value in rule:
        if op not in ("==", "!="):
            continue
        name = key.replace("{", "_").replace("}", "")
        if name not in device:
            return False
        hit = any(fnmatch.fnmatchcase(device[name], alternative) for alternative in value.split("|"))
        if hit != (op == "=="):
            return False
    return True


def _assigned(rule: list[tuple[str, str, str]]) -> dict[str, str]:
    return {key: value for key, op, value in rule if op in ("=", ":=", "+=")}


def test_install_station_writes_the_unit_the_udev_rules_and_the_kiosk_autostart(tmp_path):
    root = _station_root(tmp_path, STATION_TOML)
    result = _invoke("install", "station", "--config", CONFIG, "--root", str(root))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    unit_path = root / "etc/systemd/system/packgate-station.service"
    rules_path = root / "etc/udev/rules.d/70-packgate.rules"
    desktop_path = root / "etc/xdg/autostart/packgate-kiosk.desktop"
    assert sorted(report["written"]) == sorted(str(p) for p in (unit_path, rules_path, desktop_path,
                                                                  root / "etc/modprobe.d/packgate-nfc.conf"))

    unit = _unit(unit_path)
    service = unit["Service"]
    assert shlex.split(service["ExecStart"]) == [default_packgate(), "run", "--config", CONFIG]
    assert Path(default_packgate()).exists()
    assert service["User"] == "packgate" and service["Restart"] == "always"
    groups = service["SupplementaryGroups"].split()
    assert {"dialout", "input", "plugdev"} <= set(groups)
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit["Unit"]["After"]

    rules = parse_udev_rules(rules_path.read_text(encoding="utf-8"))
    for device in ({"SUBSYSTEM": "tty", "KERNEL": "ttyUSB0"}, {"SUBSYSTEM": "tty", "KERNEL": "ttyACM3"},
                   {"SUBSYSTEM": "input", "KERNEL": "event7", "ENV_ID_BUS": "usb", "ENV_ID_INPUT_KEYBOARD": "1"},
                   {"SUBSYSTEM": "usb", "ENV_DEVTYPE": "usb_device", "ATTR_idVendor": "054c", "ATTR_idProduct": "06c3"}):
        chosen = [rule for rule in rules if _matches(rule, **device)]
        assert chosen, f"no rule for {device}"
        assert all(_assigned(rule)["GROUP"] in groups and _assigned(rule)["MODE"] == "0660" for rule in chosen)
    assert not [rule for rule in rules if _matches(rule, SUBSYSTEM="tty", KERNEL="ttyS0")], "the PC's own serial ports"
    assert {_assigned(rule)["GROUP"] for rule in rules} <= set(groups)

    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read_string(desktop_path.read_text(encoding="utf-8"))
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["X-GNOME-Autostart-enabled"] == "true"
    command = shlex.split(desktop["Exec"])
    assert command == [default_packgate(), "kiosk", "--config", CONFIG, "--browser", "chromium"]
    # what that command starts, with the file it names (under the test's root here)
    shown = _invoke("kiosk", "--config", str(root / CONFIG.lstrip("/")), "--browser", command[-1], "--dry-run")
    assert shown.exit_code == 0, shown.output
    argv = json.loads(shown.output)["argv"]
    assert argv[0] == "chromium" and "--kiosk" in argv and argv[-1] == "http://127.0.0.1:8090/"

    assert "blacklist port100" in (root / "etc/modprobe.d/packgate-nfc.conf").read_text()
    assert "install -d -o packgate -g packgate -m 0700 /var/lib/packgate" in report["then_run"]
    assert report["then_run"].index("chown root:packgate /etc/packgate/packgate.toml") < report["then_run"].index(
        "chmod 0640 /etc/packgate/packgate.toml"), "the configuration holds tokens"
    assert report["then_run"][-2:] == ["systemctl enable packgate-station.service",
                                       "systemctl restart packgate-station.service"]

    before = {p: p.read_bytes() for p in (unit_path, rules_path, desktop_path)}
    again = _invoke("install", "station", "--config", CONFIG, "--root", str(root))
    assert again.exit_code == 0 and {p: p.read_bytes() for p in before} == before


def _systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: ./scripts/test installs Debian's systemd (apt-get install systemd)")
    return path


def test_the_written_units_pass_systemd_analyze_verify(tmp_path):
    root = _station_root(tmp_path, STATION_TOML)
    assert _invoke("install", "station", "--config", CONFIG, "--root", str(root)).exit_code == 0
    (root / "etc/packgate/site.toml").write_text('[site]\ndb = "/var/lib/packgate-site/hub.db"\n', encoding="utf-8")
    assert _invoke("install", "hub", "--config", "/etc/packgate/site.toml", "--root", str(root)).exit_code == 0
    for unit in ("packgate-station.service", "packgate-site.service"):
        check = subprocess.run([_systemd_analyze(), "verify", str(root / "etc/systemd/system" / unit)],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
    broken = tmp_path / "broken.service"
    broken.write_text((root / "etc/systemd/system/packgate-station.service").read_text().replace(
        default_packgate(), "/nonexistent/packgate"))
    check = subprocess.run([_systemd_analyze(), "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert check.returncode != 0 and "/nonexistent/packgate" in check.stdout + check.stderr


def test_install_hub_runs_the_hub_and_names_the_postgres_password_file(tmp_path):
    root = tmp_path / "root"
    (root / "etc/packgate").mkdir(parents=True)
    (root / "etc/packgate/site.toml").write_text(
        '[site]\nname = "DC1"\ndb = "postgresql://packgate@db.site.internal:5432/packgate"\n', encoding="utf-8")
    result = _invoke("install", "hub", "--config", "/etc/packgate/site.toml", "--root", str(root))
    assert result.exit_code == 0, result.output
    service = _unit(root / "etc/systemd/system/packgate-site.service")["Service"]
    assert shlex.split(service["ExecStart"]) == [default_packgate(), "site", "--config", "/etc/packgate/site.toml"]
    assert service["Environment"] == "PGPASSFILE=/etc/packgate/pgpass" and service["User"] == "packgate-site"
    assert not (root / "etc/udev").exists(), "a hub has no devices"


@pytest.mark.parametrize("text, expected", [
    (STATION_TOML.replace('port = {port}', 'prot = 1'), "unknown key 'web.prot'"),
    (STATION_TOML.replace('"/var/lib/packgate"', '"var/ST07"'), "station.data_dir: an installed station keeps its data"),
    (STATION_TOML.replace('"0.0.0.0"', '"10.0.0.17"'), "web.host: the kiosk opens the station's page from this PC"),
])
def test_install_refuses_a_configuration_that_would_not_start_and_writes_nothing(tmp_path, text, expected):
    root = _station_root(tmp_path, text)
    result = _invoke("install", "station", "--config", CONFIG, "--root", str(root))
    assert result.exit_code == 2 and expected in result.output
    assert not (root / "etc/systemd").exists()


def test_install_names_what_is_missing(tmp_path):
    result = _invoke("install", "station", "--config", CONFIG, "--root", str(tmp_path))
    assert result.exit_code == 2 and "no such file; write it first (packgate config defaults >" in result.output
    relative = _invoke("install", "station", "--config", "packgate.toml", "--root", str(tmp_path))
    assert relative.exit_code == 2 and "absolute path" in relative.output
    (tmp_path / "etc/packgate").mkdir(parents=True)
    (tmp_path / "etc/packgate/site.toml").write_text("", encoding="utf-8")
    hub = _invoke("install", "hub", "--config", "/etc/packgate/site.toml", "--root", str(tmp_path))
    assert hub.exit_code == 2 and "site.db: an installed hub keeps its SQLite database in an absolute folder" in hub.output


def test_installing_on_this_machine_needs_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(installer.InstallError, match="needs root: run it with sudo"):
        installer.must_be_root(Path("/"))
    installer.must_be_root(Path("/tmp/anywhere"))


def test_a_template_placeholder_without_a_value_is_an_error():
    with pytest.raises(installer.InstallError, match="no value for EXEC_START, GROUPS"):
        installer.render("packgate-station.service", {"STATION_ID": "ST01", "STATION_NAME": "T1", "CONFIG": "/x",
                                                       "USER": "packgate"})


def test_unit_and_desktop_arguments_are_quoted():
    assert installer.systemd_arg("/etc/packgate/packgate.toml") == "/etc/packgate/packgate.toml"
    assert installer.systemd_arg("/srv/pack gate/50%.toml") == '"/srv/pack gate/50%%.toml"'
    assert installer.desktop_arg("/opt/packgate/bin/packgate") == "/opt/packgate/bin/packgate"
    assert installer.desktop_arg("/srv/pack gate/$x.toml") == '"/srv/pack gate/\\\\$x.toml"'


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(503)  # a device needs attention: the agent is up all the same
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def station_answering() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_wait_for_station_gives_up_on_the_injected_clock():
    clock = FakeClock()
    start = clock.monotonic()
    assert wait_for_station(f"http://127.0.0.1:{_free_port()}/", timeout_s=30, clock=clock) is False
    assert 29 <= clock.monotonic() - start <= 30


def test_wait_for_station_takes_any_answer(station_answering):
    clock = FakeClock()
    start = clock.monotonic()
    assert wait_for_station(f"http://127.0.0.1:{station_answering}/", timeout_s=30, clock=clock) is True
    assert clock.monotonic() == start


def test_packgate_kiosk_waits_for_the_agent_then_becomes_the_browser(tmp_path):
    """The real command in its own process: it waits while nothing answers, and once the station answers it execs
    the browser (a script here that writes down its arguments) in kiosk mode on the station's page."""
    port = _free_port()
    config = tmp_path / "packgate.toml"
    config.write_text(f'[web]\nhost = "0.0.0.0"\nport = {port}\n', encoding="utf-8")
    seen = tmp_path / "argv.json"
    browser = tmp_path / "chromium"
    browser.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(seen)!r}, 'w'))\n")
    browser.chmod(0o755)
    kiosk = subprocess.Popen([default_packgate(), "kiosk", "--config", str(config), "--browser", str(browser),
                              "--wait", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        assert kiosk.poll() is None and not seen.exists(), "started the browser before the station answered"
        server = ThreadingHTTPServer(("127.0.0.1", port), _Health)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            assert kiosk.wait(timeout=30) == 0, kiosk.stderr.read() if kiosk.stderr else ""
        finally:
            server.shutdown()
            server.server_close()
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
            kiosk.wait()
    argv = json.loads(seen.read_text())
    assert argv == [*KIOSK_FLAGS, f"http://127.0.0.1:{port}/"]


def test_kiosk_with_tls_opens_https_on_localhost(tmp_path):
    config = tmp_path / "packgate.toml"
    config.write_text('[web]\nport = 8443\ntls_cert = "/etc/packgate/cert.pem"\ntls_key = "/etc/packgate/key.pem"\n')
    shown = _invoke("kiosk", "--config", str(config), "--dry-run")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["url"] == "https://localhost:8443/"
