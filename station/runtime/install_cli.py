"""``packgate install station|hub`` and ``packgate kiosk``: the commands site IT runs on a packing PC or the hub's
server (the work is in ``install.py`` and ``kiosk.py``). Results are printed as JSON; a problem exits 2 with one
line that says what is wrong and what to do."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from packgate.station.errors import ConfigError
from packgate.station.runtime import install as installer
from packgate.station.runtime.config import load
from packgate.station.runtime.kiosk import browser_argv, kiosk_url, wait_for_station


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def default_packgate() -> str:
    """This installation's ``packgate`` executable: beside the running interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "packgate"
    if beside.exists():
        return str(beside)
    return shutil.which("packgate") or str(beside)


_root_option = click.option("--root", type=click.Path(file_okay=False), default="/", show_default=True,
                            help="Write the files under this folder instead of / (a test, an image being built); "
                                 "nothing is run then.")
_no_activate_option = click.option("--no-activate", is_flag=True,
                                   help="Only write the files; do not create the user, reload udev or start the service.")
_packgate_option = click.option("--packgate", "packgate_exe", default=None,
                                help="The packgate executable the service runs (default: this one).")


@click.group("install")
def install() -> None:
    """Put a station or a site hub on this machine: systemd unit, udev rules, kiosk autostart."""


def _finish(plan: installer.Plan, root: str, no_activate: bool) -> None:
    where = Path(root)
    try:
        installer.must_be_root(where)
        written = installer.write(plan, where)
        ran: list[dict[str, Any]] = []
        if where == Path("/") and not no_activate:
            ran = installer.run_steps(plan)
    except installer.InstallError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or root}: cannot write ({exc.strerror})")
    out: dict[str, Any] = {"ok": True, "root": str(where), "written": written}
    if ran:
        out["ran"] = ran
    else:
        out["then_run"] = [" ".join(step.argv) for step in plan.steps]
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))


@install.command("station")
@click.option("--config", "config_file", required=True,
              help="The station's packgate.toml, by its absolute path on this machine (e.g. /etc/packgate/packgate.toml).")
@click.option("--user", default="packgate", show_default=True, help="The system user the agent runs as.")
@click.option("--browser", default="chromium", show_default=True, help="The browser the kiosk autostart starts.")
@_packgate_option
@_root_option
@_no_activate_option
def install_station(config_file: str, user: str, browser: str, packgate_exe: str | None, root: str,
                    no_activate: bool) -> None:
    """Install the station agent as a service started at boot (packgate-station.service), the udev rules that give
    its user the devices, and the kiosk: Chromium full screen on the station's page when the desktop starts.
    The configuration is checked first; nothing is written if it is not valid."""
    try:
        plan = installer.plan_station(config_file, root=Path(root), user=user, packgate=packgate_exe or default_packgate(),
                                      browser=browser)
    except installer.InstallError as exc:
        _fail(str(exc))
    _finish(plan, root, no_activate)


@install.command("hub")
@click.option("--config", "config_file", required=True,
              help="The hub's site.toml, by its absolute path on this machine (e.g. /etc/packgate/site.toml).")
@click.option("--user", default="packgate-site", show_default=True, help="The system user the hub runs as.")
@_packgate_option
@_root_option
@_no_activate_option
def install_hub(config_file: str, user: str, packgate_exe: str | None, root: str, no_activate: bool) -> None:
    """Install the site hub as a service started at boot (packgate-site.service). The configuration is checked
    first; nothing is written if it is not valid."""
    try:
        plan = installer.plan_hub(config_file, root=Path(root), user=user, packgate=packgate_exe or default_packgate())
    except installer.InstallError as exc:
        _fail(str(exc))
    _finish(plan, root, no_activate)


@click.command("kiosk")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="packgate.toml (its web.host, web.port and TLS settings give the page's address).")
@click.option("--browser", default="chromium", show_default=True, help="The browser to start.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=120.0, show_default=True,
              help="Longest wait, in seconds, for the station agent to answer before the browser starts anyway.")
@click.option("--dry-run", is_flag=True, help="Print the browser's command line as JSON; wait for nothing, start nothing.")
def kiosk(config_file: str | None, browser: str, wait_s: float, dry_run: bool) -> None:
    """Open the station's kiosk page full screen: wait until the agent on this PC answers, then start the browser
    in kiosk mode (the desktop session runs this at sign-in)."""
    try:
        cfg = load(config_file)
        argv = browser_argv(cfg, browser)
    except ConfigError as exc:
        _fail(str(exc))
    if dry_run:
        click.echo(json.dumps({"url": kiosk_url(cfg), "argv": argv}, ensure_ascii=False))
        return
    if not wait_for_station(kiosk_url(cfg), timeout_s=wait_s):
        click.echo(f"packgate kiosk: the station did not answer within {wait_s:g} s; starting {browser} anyway", err=True)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        _fail(f"cannot start {browser} ({exc.strerror}); install it (apt-get install chromium) or name it with --browser")
