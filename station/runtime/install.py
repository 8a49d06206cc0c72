"""``packgate install station|hub``: put a station agent (or a site hub) on a machine with one command.

A station gets, under ``root`` (``/`` on the machine itself, a temporary folder in tests):

- ``etc/systemd/system/packgate-station.service``: runs ``packgate run --config FILE`` at boot as the station's own
  user, in the device groups (``GROUPS``), restarted whenever it stops;
- ``etc/udev/rules.d/70-packgate.rules``: those groups get the serial ports, the keyboard-wedge input devices, USB
  NFC readers, USB label printers and cameras;
- ``etc/xdg/autostart/packgate-kiosk.desktop``: the desktop session starts ``packgate kiosk``, Chromium in kiosk mode
  on the station's own page once the agent answers;
- ``etc/modprobe.d/packgate-nfc.conf`` when the badge reader is a USB NFC reader (the kernel's drivers let go of it).

A hub gets ``etc/systemd/system/packgate-site.service`` running ``packgate site --config FILE``.

Invariants: the configuration is loaded and validated before anything is written, so a machine never gets a unit
that would not start; every file is rendered from the package's templates in ``system/`` and an unfilled
``@NAME@`` placeholder is an error, never written; the same inputs write the same bytes (installing again is
safe); the commands that bring the files to life (the user, the data folder, udev, systemd) are data in the plan
and run only on the machine itself (``root`` is ``/``), as root, in order, stopping at the first that fails.
"""
from __future__ import annotations

import os
import pwd
import re
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

from packgate.station.errors import ConfigError
from packgate.station.runtime import config as station_config
from packgate.station.runtime.kiosk import kiosk_url

#: the agent's supplementary groups: serial ports, input devices, USB NFC readers, USB printers, cameras
GROUPS = ("dialout", "input", "plugdev", "lp", "video")
STATION_UNIT = "packgate-station.service"
HUB_UNIT = "packgate-site.service"
UDEV_RULES = "70-packgate.rules"
KIOSK_AUTOSTART = "packgate-kiosk.desktop"
NFC_BLACKLIST = "packgate-nfc.conf"
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


class InstallError(Exception):
    """The install cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Step:
    """One command that brings the written files to life; ``may_fail`` steps do not stop the install."""

    argv: tuple[str, ...]
    why: str
    may_fail: bool = False


@dataclass
class Plan:
    """What an install writes (paths as the machine sees them) and runs afterwards."""

    files: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)


def template(name: str) -> str:
    return (resources.files("packgate.station.runtime") / "system" / name).read_text(encoding="utf-8")


def render(name: str, values: dict[str, str]) -> str:
    """The template ``name`` with every ``@KEY@`` replaced; a placeholder without a value is an error."""
    text = template(name)
    missing = sorted({key for key in _PLACEHOLDER.findall(text) if key not in values})
    if missing:
        raise InstallError(f"template {name}: no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def systemd_arg(arg: str) -> str:
    """One ExecStart= argument: specifiers (``%``) and variables (``$``) escaped, quoted when it has spaces."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if re.search(r"[\s\"'\\;]", escaped):
        return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped


def desktop_arg(arg: str) -> str:
    """One argument of a desktop entry's Exec= key (quoted per the Desktop Entry specification)."""
    escaped = arg.replace("%", "%%")
    if re.search(r"[\s\"'\\><~|&;$*?#()`]", escaped):
        quoted = '"' + re.sub(r'(["`$\\])', r"\\\1", escaped) + '"'
        return quoted.replace("\\", "\\\\")  # the value itself is a desktop-entry string: backslashes doubled
    return escaped


def under(root: Path, path: str) -> Path:
    """``path`` (absolute, as the machine sees it) inside ``root``."""
    return root / PurePosixPath(path).relative_to("/")


def _absolute_config(path: str) -> str:
    if not path.startswith("/"):
        raise InstallError(f"--config {path}: give the configuration's absolute path as the machine sees it, "
                           "e.g. /etc/packgate/packgate.toml")
    return path


def _read_config_text(root: Path, config: str, example: str) -> Path:
    where = under(root, config)
    if not where.is_file():
        raise InstallError(f"{where}: no such file; write it first ({example} > {config}, edit it, then check it)")
    return where


def _user_steps(user: str, home: str, root: Path) -> list[Step]:
    if root == Path("/"):
        try:
            pwd.getpwnam(user)
            return []
        except KeyError:
            pass
    return [Step(("useradd", "--system", "--user-group", "--home-dir", home, "--no-create-home",
                  "--shell", "/usr/sbin/nologin", user), f"the system user {user} the service runs as")]


def _config_steps(config: str, user: str) -> list[Step]:
    """The configuration holds tokens: readable by root and the service's user, nobody else."""
    return [Step(("chown", f"root:{user}", config), "the configuration: owned by root, readable by the service's group"),
            Step(("chmod", "0640", config), "and by nobody else (it holds tokens)")]


def plan_station(config: str, *, root: Path, user: str, packgate: str, browser: str) -> Plan:
    """The files and steps of a station install; the configuration at ``config`` is validated first."""
    config = _absolute_config(config)
    source = _read_config_text(root, config, "packgate config defaults")
    try:
        cfg = station_config.load(source)
        url = kiosk_url(cfg)
    except ConfigError as exc:
        raise InstallError(str(exc)) from exc
    data_dir = str(cfg["station.data_dir"])
    if not data_dir.startswith("/"):
        raise InstallError(f"{config}: station.data_dir: an installed station keeps its data in an absolute folder, "
                           f"e.g. /var/lib/packgate (got {data_dir!r}, relative to the configuration file)")
    exec_start = " ".join(systemd_arg(a) for a in (packgate, "run", "--config", config))
    kiosk = " ".join(desktop_arg(a) for a in (packgate, "kiosk", "--config", config, "--browser", browser))
    plan = Plan()
    plan.files[f"/etc/systemd/system/{STATION_UNIT}"] = render(STATION_UNIT, {
        "STATION_ID": _one_line(cfg["station.id"]), "STATION_NAME": _one_line(cfg["station.name"]),
        "CONFIG": _one_line(config), "USER": user, "GROUPS": " ".join(GROUPS), "EXEC_START": exec_start})
    plan.files[f"/etc/udev/rules.d/{UDEV_RULES}"] = template(UDEV_RULES)
    plan.files[f"/etc/xdg/autostart/{KIOSK_AUTOSTART}"] = render(KIOSK_AUTOSTART, {
        "STATION_NAME": _one_line(cfg["station.name"]).replace("\\", "\\\\"), "EXEC": kiosk})
    usb_nfc = cfg["badge.enabled"] and not cfg["badge.wedge_format"] and str(cfg["badge.reader"]).startswith("usb")
    if usb_nfc:
        plan.files[f"/etc/modprobe.d/{NFC_BLACKLIST}"] = template(NFC_BLACKLIST)
    plan.steps += _user_steps(user, data_dir, root)
    plan.steps += _config_steps(config, user)
    plan.steps.append(Step(("install", "-d", "-o", user, "-g", user, "-m", "0700", data_dir),
                           "the station's data folder (station.db, its secret, photos and clips), the agent's user only"))
    if usb_nfc:
        plan.steps.append(Step(("modprobe", "-r", "port100", "pn533_usb"),
                               "let go of the NFC reader now (the blacklist holds from the next boot)", may_fail=True))
    plan.steps += [Step(("udevadm", "control", "--reload-rules"), "read the new udev rules"),
                   Step(("udevadm", "trigger"), "apply them to the devices already plugged in"),
                   Step(("systemctl", "daemon-reload"), "read the new unit"),
                   Step(("systemctl", "enable", STATION_UNIT), "start the agent at every boot"),
                   Step(("systemctl", "restart", STATION_UNIT), f"start it now (the kiosk opens {url})")]
    return plan


def plan_hub(config: str, *, root: Path, user: str, packgate: str) -> Plan:
    """The files and steps of a hub install; the configuration at ``config`` is validated first."""
    from packgate.sync.errors import HubConfigError
    from packgate.sync.hub import config as hub_config

    config = _absolute_config(config)
    source = _read_config_text(root, config, "packgate site config defaults")
    try:
        cfg = hub_config.load(source)
    except HubConfigError as exc:
        raise InstallError(str(exc)) from exc
    db = str(cfg["site.db"])
    postgres = db.startswith(("postgres://", "postgresql://"))
    if not postgres and not db.startswith("/"):
        raise InstallError(f"{config}: site.db: an installed hub keeps its SQLite database in an absolute folder, "
                           f"e.g. /var/lib/packgate-site/hub.db (got {db!r}, relative to the configuration file)")
    home = str(PurePosixPath(db).parent) if not postgres else "/var/lib/packgate-site"
    environment = (f"Environment=PGPASSFILE={systemd_arg(str(PurePosixPath(config).parent / 'pgpass'))}"
                   if postgres else "")
    plan = Plan()
    plan.files[f"/etc/systemd/system/{HUB_UNIT}"] = render(HUB_UNIT, {
        "SITE_NAME": _one_line(cfg["site.name"]), "CONFIG": _one_line(config), "USER": user,
        "EXEC_START": " ".join(systemd_arg(a) for a in (packgate, "site", "--config", config)),
        "ENVIRONMENT": environment})
    plan.steps += _user_steps(user, home, root)
    plan.steps += _config_steps(config, user)
    if not postgres:
        plan.steps.append(Step(("install", "-d", "-o", user, "-g", user, "-m", "0700", home),
                               "the hub's database folder, the hub's user only"))
    plan.steps += [Step(("systemctl", "daemon-reload"), "read the new unit"),
                   Step(("systemctl", "enable", HUB_UNIT), "start the hub at every boot"),
                   Step(("systemctl", "restart", HUB_UNIT), "start it now")]
    return plan


def write(plan: Plan, root: Path) -> list[str]:
    """Write the plan's files under ``root`` (mode 0644, folders made as needed); the paths written."""
    written = []
    for path, text in plan.files.items():
        target = under(root, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        target.chmod(0o644)
        written.append(str(target))
    return written


def run_steps(plan: Plan) -> list[dict]:
    """Run the plan's steps in order; stop at the first that fails unless it ``may_fail``. One record per step."""
    done = []
    for step in plan.steps:
        result = subprocess.run(list(step.argv), capture_output=True, text=True, timeout=120)
        record = {"run": list(step.argv), "exit": result.returncode}
        if result.returncode:
            record["error"] = (result.stderr or result.stdout).strip()[-500:]
        done.append(record)
        if result.returncode and not step.may_fail:
            raise InstallError(f"{' '.join(step.argv)} failed (exit {result.returncode}): {record['error']}")
    return done


def must_be_root(root: Path) -> None:
    if root == Path("/") and os.geteuid() != 0:
        raise InstallError("installing on this machine needs root: run it with sudo, "
                           "or write the files into a folder with --root DIR")
