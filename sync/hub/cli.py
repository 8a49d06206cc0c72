"""``packgate site``: run the site hub, print or check its configuration."""
from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from packgate.sync.errors import HubConfigError
from packgate.sync.hub.auth import HASHED, new_token, token_hash
from packgate.sync.hub.config import load, permission_problem, render_defaults


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
    """Validate FILE; print the effective settings (tokens masked) or the problem. A file that holds secrets in
    clear (station tokens not hashed, the WMS token, a database password) must not be readable by every user.
    Warns (still ok) when no notification channel is configured: escalations and alerts would reach nobody."""
    try:
        cfg = load(file)
    except HubConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    problem = permission_problem(file, cfg)
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    shown = {**cfg.values, "stations": {k: v[:11] + "…" if v.startswith(HASHED) else v[:4] + "…"
                                        for k, v in cfg["stations"].items()},
             "site.upstream_token": "…" if cfg["site.upstream_token"] else "",
             "site.db": re.sub(r"(://[^:/@]*:)[^@]*@", r"\1…@", cfg["site.db"])}
    warnings = cfg.warnings()
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(json.dumps({"ok": True, "file": file, "warnings": warnings, "settings": shown}, indent=2,
                          ensure_ascii=False))


@site.command("token")
@click.argument("station")
def site_token(station: str) -> None:
    """A new token for STATION: the line for its packgate.toml (upstream.token) and, for site.toml's [stations],
    the token's hash (the hub only compares tokens: it need not keep them)."""
    from packgate.sync.common.ids import STATION_RE

    if not STATION_RE.match(station):
        click.echo(f"error: station id {station!r} must be 1-16 characters A-Z/0-9", err=True)
        sys.exit(2)
    token = new_token()
    click.echo(f"# the station's packgate.toml, [upstream]:\ntoken = \"{token}\"\n"
               f"# the hub's site.toml, [stations]:\n{station} = \"{token_hash(token)}\"")


@site.group("tls")
def tls() -> None:
    """The site's own certificate authority and the certificates of its hubs and stations (HTTPS on the LAN)."""


@tls.command("ca")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--name", default="Site", show_default=True, help="The site's name, shown in the CA's certificate.")
def tls_ca(folder: str, name: str) -> None:
    """Make a site CA in FOLDER: site-ca.pem (give it to every station and CLI as upstream.ca_file) and site-ca.key
    (keep it off the network: it signs the certificates)."""
    from packgate.sync.hub.tls import make_ca

    try:
        made = make_ca(folder, name)
    except HubConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"site CA: {made.cert} (trust it: upstream.ca_file), key {made.key} (0600), valid until"
               f" {made.not_after:%Y-%m-%d}")


@tls.command("cert")
@click.argument("name")
@click.option("--ca", "ca_folder", required=True, type=click.Path(file_okay=False, exists=True),
              help="The folder of packgate site tls ca.")
@click.option("--host", "hosts", multiple=True, required=True,
              help="A host name or IP address the machine is reached by (repeatable).")
@click.option("--out", default=None, type=click.Path(file_okay=False), help="Where to write (default: the CA's folder).")
@click.option("--no-local", is_flag=True, help="Leave localhost and 127.0.0.1 out (they are added for a kiosk).")
def tls_cert(name: str, ca_folder: str, hosts: tuple[str, ...], out: str | None, no_local: bool) -> None:
    """Sign NAME.pem and NAME.key for a hub (site.tls_cert, site.tls_key) or a station (web.tls_cert, web.tls_key)."""
    from packgate.sync.hub.tls import issue

    try:
        made = issue(ca_folder, name, list(hosts), out=out, local=not no_local)
    except HubConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"certificate {made.cert} and key {made.key} (0600) for {', '.join(made.names)}, valid until"
               f" {made.not_after:%Y-%m-%d}")


@site.group("keys")
def keys() -> None:
    """The key file sealing customers' names, phones and addresses in the hub's database (privacy.key_file)."""


@keys.command("rotate")
@click.argument("config_file", type=click.Path(dir_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def keys_rotate(config_file: str, as_json: bool) -> None:
    """Make a new key, re-seal every personal value in the database with it, retire the keys no row uses. Copy the
    key file to every hub of the site before they next read it (each reads a changed key file within a second)."""
    from packgate.sync.common import sealing
    from packgate.sync.hub import privacy
    from packgate.sync.hub.engine import Database
    from packgate.sync.hub.migrations import migrate

    try:
        cfg = load(config_file)
        ring = sealing.KeyRing.load_or_create(cfg.key_file)
    except (HubConfigError, sealing.SealError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    db = Database(cfg.db_path, pool_size=2)
    db.sealer = ring
    try:
        migrate(db)
        done = sealing.rotate(ring, lambda r: privacy.reseal(db, r), lambda: privacy.keys_in_use(db))
    finally:
        db.close()
    click.echo(sealing.rotation_report(done, as_json))
