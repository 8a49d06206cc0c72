"""``packgate site``: run the site hub, print or check its configuration."""
from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from packgate.sync.errors import HubConfigError
from packgate.sync.hub.config import load, render_defaults


class _SiteGroup(click.Group):
    """``packgate site [--config FILE | --port P --db FILE --upstream URL]`` runs the hub;
    ``packgate site config …`` manages its configuration."""


@click.group("site", cls=_SiteGroup, invoke_without_command=True)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, help="site.toml")
@click.option("--host", default=None, help="Override site.host.")
@click.option("--port", type=int, default=None, help="Override site.port.")
@click.option("--db", default=None, help="Override site.db (a SQLite file or postgresql://… URL).")
@click.option("--upstream", default=None, help="Override site.upstream_url (the WMS).")
@click.option("--station", "stations", multiple=True, metavar="ID=TOKEN",
              help="Add a station and its token (repeatable; demo and tests).")
@click.pass_context
def site(ctx: click.Context, config_file: str | None, host: str | None, port: int | None, db: str | None,
         upstream: str | None, stations: tuple[str, ...]) -> None:
    """The site hub: many packing tables, PDAs and supervisors as one floor."""
    if ctx.invoked_subcommand is not None:
        return
    overrides: dict[str, Any] = {k: v for k, v in (("site.host", host), ("site.port", port), ("site.db", db),
                                                  ("site.upstream_url", upstream)) if v is not None}
    try:
        if stations:
            base = load(config_file)["stations"]
            pairs = dict(s.split("=", 1) for s in stations if "=" in s)
            if len(pairs) != len(stations):
                raise HubConfigError("--station takes ID=TOKEN")
            overrides["stations"] = {**base, **pairs}
        cfg = load(config_file, overrides)
    except HubConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    from packgate.sync.hub.hub import Hub
    from packgate.sync.hub.server import serve

    serve(Hub(cfg))


@site.group("config")
def config() -> None:
    """Print or check site.toml."""


@config.command("defaults")
def config_defaults() -> None:
    """Print a site.toml with every key, its default and its meaning."""
    click.echo(render_defaults(), nl=False)


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def config_check(file: str) -> None:
    """Validate FILE; print the effective settings (tokens masked) or the problem."""
    try:
        cfg = load(file)
    except HubConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    shown = {**cfg.values, "stations": {k: v[:4] + "…" for k, v in cfg["stations"].items()},
             "site.upstream_token": "…" if cfg["site.upstream_token"] else "",
             "site.db": re.sub(r"(://[^:/@]*:)[^@]*@", r"\1…@", cfg["site.db"])}
    click.echo(json.dumps({"ok": True, "file": file, "settings": shown}, indent=2, ensure_ascii=False))
