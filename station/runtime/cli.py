"""The ``packgate`` command line: one entry point, subcommands per area."""
from __future__ import annotations

import importlib
import json
import sys
from contextlib import contextmanager
from typing import Iterator

import click

from packgate.station.errors import ConfigError, DatabaseFromTheFutureError
from packgate.station.runtime.logs import LEVELS, setup_logging
from packgate.sync.cli import STATION_CONFIG, StationSettings


class _Commands(click.Group):
    """The command groups that live in other packages are imported when named, not at start: ``packgate site`` starts
    without the station's modules, ``packgate run`` without the hub's (a process starts in half the time)."""

    ELSEWHERE = {"device": "packgate.device.cli:device", "upstream": "packgate.sync.cli:upstream",
                 "sync": "packgate.sync.cli:sync", "site": "packgate.sync.hub.cli:site",
                 "audit": "packgate.station.runtime.records_cli:audit",
                 "evidence": "packgate.station.runtime.records_cli:evidence_group",
                 "db": "packgate.station.runtime.records_cli:db_group",
                 "keys": "packgate.station.runtime.keys_cli:keys_group",
                 "install": "packgate.station.runtime.install_cli:install",
                 "kiosk": "packgate.station.runtime.install_cli:kiosk"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.ELSEWHERE})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.ELSEWHERE and cmd_name not in self.commands:
            module, name = self.ELSEWHERE[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), default=None,
              help="Override log.level from the configuration.")
@click.pass_context
def cli(ctx: click.Context, log_level: str | None) -> None:
    """packgate: packing-station agent (badge, scan, verify, weigh, sync)."""
    ctx.ensure_object(dict)
    ctx.obj["log_level"] = log_level.upper() if log_level else None
    ctx.obj[STATION_CONFIG] = _sync_settings  # `packgate sync ... --config packgate.toml`
    setup_logging(ctx.obj["log_level"] or "INFO")


def _sync_settings(path: str) -> StationSettings:
    """What the ``sync`` commands take from a station's packgate.toml (a bad file: one line, exit 1)."""
    from packgate.station.runtime.config import load

    try:
        cfg = load(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return StationSettings(station=cfg["station.id"], db=str(cfg.data_dir / "station.db"),
                           upstream_url=cfg["upstream.url"], token=cfg["upstream.token"] or None,
                           ca_file=cfg["upstream.ca_file"] or None)


@cli.group()
def config() -> None:
    """Check or print the configuration file (packgate.toml)."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def config_check(file: str) -> None:
    """Validate FILE; print the effective settings as JSON (secrets masked), or every problem, one per line."""
    from packgate.station.runtime.config import load, notes, shown, warnings

    try:
        cfg = load(file)
    except ConfigError as exc:
        _say_problems(exc)
        sys.exit(2)
    click.echo(json.dumps({"ok": True, "file": file, "warnings": warnings(cfg), "notes": notes(cfg),
                           "settings": shown(cfg)}, indent=2, ensure_ascii=False))


@config.command("defaults")
def config_defaults() -> None:
    """Print a packgate.toml with every key, its default and what it does."""
    from packgate.station.runtime.config import render_defaults

    click.echo(render_defaults(), nl=False)


@config.command("keys")
def config_keys() -> None:
    """List every configuration key with its default."""
    from packgate.station.runtime.config import SCHEMA

    for key, (_t, default, _c, help_) in SCHEMA.items():
        click.echo(f"{key:34} {json.dumps(default):24} {help_}")


@cli.group()
def i18n() -> None:
    """The translation catalog (station/locale/*/LC_MESSAGES/packgate.po)."""


@i18n.command("extract")
def i18n_extract() -> None:
    """Add every new text key of the code's tables to the catalogs (translations are kept)."""
    from packgate.station.runtime.i18n import extract, locale_dir

    click.echo(json.dumps(extract(locale_dir())))


@cli.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="packgate.toml (default: built-in defaults).")
@click.pass_context
def run(ctx: click.Context, config_file: str | None) -> None:
    """Run the station agent with the devices and upstream named in the configuration."""
    from packgate.station.runtime.agent import run_agent
    from packgate.station.runtime.config import load

    try:
        cfg = load(config_file)
    except ConfigError as exc:
        _say_problems(exc)
        sys.exit(2)
    setup_logging(ctx.obj["log_level"] or cfg["log.level"], station=cfg["station.id"])
    with _refusing_a_newer_database():
        sys.exit(run_agent(cfg))


@cli.command()
@click.option("--selftest", is_flag=True, help="Run the scripted walkthrough and exit 0 only if every step held.")
@click.option("--port", type=int, default=8080, show_default=True, help="Kiosk web port.")
@click.option("--upstream-port", type=int, default=8765, show_default=True, help="Reference upstream (WMS) port.")
@click.option("--hub-port", type=int, default=8770, show_default=True, help="Site hub port (its dashboard at /).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Where the demo keeps its databases (default: a fresh temporary folder).")
@click.option("--label-mode", type=click.Choice(["print", "weigh_and_ship", "none"]), default="print",
              show_default=True, help="The label gate of the demo table (label.mode).")
@click.option("--camera/--no-camera", default=True, show_default=True,
              help="An emulated camera over table 1, filming each order into a packing video.")
@click.option("--busy", is_flag=True, help="A busy floor: release a wave of orders and pick and pack them at a steady"
              " pace, with blocked parcels, an interception and a table going offline.")
@click.option("--busy-pace", type=float, default=4.0, show_default=True,
              help="Seconds between the busy floor's steps (a pick, a pack).")
@click.option("--per-item/--no-per-item", default=False, show_default=True,
              help="Table 2 weighs item by item (weighing.mode = per_item): the empty box first, then each item.")
@click.pass_context
def demo(ctx: click.Context, selftest: bool, port: int, upstream_port: int, hub_port: int, data_dir: str | None,
         label_mode: str, camera: bool, busy: bool, busy_pace: float, per_item: bool) -> None:
    """Run a site on 127.0.0.1: a seeded reference WMS, the site hub and two stations (PORT, PORT+1) on emulated
    devices, each with a label printer."""
    from packgate.station.demo.demo import run_demo, run_selftest

    level = ctx.obj["log_level"] or ("WARNING" if selftest else "INFO")
    setup_logging(level, station="ST01")
    with _refusing_a_newer_database():
        if selftest:
            sys.exit(run_selftest(data_dir=data_dir))
        sys.exit(run_demo(port=port, upstream_port=upstream_port, data_dir=data_dir, hub_port=hub_port,
                          label_mode=label_mode, camera=camera, busy=busy, busy_pace=busy_pace,
                          per_item=per_item))


@contextmanager
def _refusing_a_newer_database() -> Iterator[None]:
    """A station.db a newer packgate wrote stops the command with one line and exit code 2, no traceback."""
    from packgate.station.runtime.records_cli import refusal

    try:
        yield
    except DatabaseFromTheFutureError as exc:
        click.echo(refusal(exc), err=True)
        sys.exit(2)


def _say_problems(exc: ConfigError) -> None:
    for problem in exc.problems:
        click.echo(f"error: {problem}", err=True)
    if len(exc.problems) > 1:
        click.echo(f"{len(exc.problems)} problems", err=True)


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
