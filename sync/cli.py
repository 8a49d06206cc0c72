"""Click commands mounted by ``station/cli.py``: ``packgate upstream`` and ``packgate sync ...``.

Every ``sync`` command takes the station's ``--config`` (its packgate.toml: the database under ``station.data_dir``,
``station.id``, ``upstream.url`` and ``upstream.token``); explicit options win over it. The file is read by the
``packgate`` command's own loader (``STATION_CONFIG`` in the root context: this package does not import the
station's). A command that talks to upstream or the hub sends the token (``--token``, else the configuration's) and
ends a refusal or an unreachable server in one line on stderr and exit 1, never a traceback.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import click

from packgate.device.clock import Clock
from packgate.sync.common.db import connect, connect_readonly
from packgate.sync.errors import SchemaFromTheFutureError, UpstreamError
from packgate.sync.schema import upgrade

DEFAULT_DB = "var/ST01/station.db"  # the agent's <station.data_dir>/station.db with the default config
STATION_CONFIG = "station_config"  # root context object key: packgate.toml path -> StationSettings
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class StationSettings:
    """What a ``sync`` command needs from a station's packgate.toml."""

    station: str
    db: str
    upstream_url: str
    token: str | None
    ca_file: str | None = None  # upstream.ca_file: the site's CA, trusted besides the system's certificates


def config_option(command: F) -> F:
    """``--config``: the station's packgate.toml (its database, station id, upstream URL and token)."""
    return click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                        help="The station's packgate.toml: its database, station id, upstream URL and token.")(command)


def _settings(config_file: str | None) -> StationSettings | None:
    if config_file is None:
        return None
    load = (click.get_current_context().find_root().obj or {}).get(STATION_CONFIG)
    if load is None:
        raise click.ClickException("--config is read by the packgate command: run packgate sync ... --config FILE")
    return load(config_file)


def _station_db(path: str | None, config_file: str | None = None) -> str:
    if path:
        return path
    settings = _settings(config_file)
    return settings.db if settings else os.environ.get("PACKGATE_DB") or DEFAULT_DB


@click.command("upstream")
@click.option("--port", "-p", type=int, default=8700, show_default=True, help="TCP port to listen on.")
@click.option("--db", "db_path", default="var/upstream.db", show_default=True, help="SQLite file of the upstream.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--seed-demo", is_flag=True, help="Load the deterministic demo catalog, lots, employees and orders.")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Date the demo data is relative to.")
@click.option("--lenient-orders", is_flag=True, help="Accept confirmations for orders upstream does not know.")
@click.option("--tokens", "tokens_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help='TOML file: admin_token = "...", relay_token = "..." (a site hub\'s: every station\'s'
                   ' confirmations, no admin calls) and a [stations] table of station id = "token".')
@click.option("--open", "open_access", is_flag=True, help="No tokens at all (a contract test bench on 127.0.0.1 only).")
def upstream(port: int, db_path: str, host: str, seed_demo: bool, today, lenient_orders: bool,
             tokens_file: str | None, open_access: bool) -> None:
    """Run the reference upstream (the HTTP contract in sync/openapi.json) over SQLite."""
    import tomllib

    from packgate.sync.upstream.server import serve

    if tokens_file is None and not open_access:
        raise click.ClickException("give --tokens FILE (a token per station and an admin token), or --open")
    auth: dict = {}
    if tokens_file is not None:
        with open(tokens_file, "rb") as fh:
            doc = tomllib.load(fh)
        stations, admin, relay = doc.get("stations"), doc.get("admin_token"), doc.get("relay_token")
        if not isinstance(stations, dict) or not all(isinstance(v, str) and len(v) >= 16 for v in stations.values()) \
                or not isinstance(admin, str) or len(admin) < 16 \
                or (relay is not None and (not isinstance(relay, str) or len(relay) < 16)):
            raise click.ClickException(f"{tokens_file}: needs admin_token and [stations] tokens of 16+ characters"
                                       " (relay_token, for a site hub, too when given)")
        auth = {"station_tokens": dict(stations), "admin_token": admin, "relay_token": relay}

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(f"packgate upstream: http://{host}:{port}  db={db_path}  openapi: /openapi.json", err=True)
    serve(host, port, db_path, seed_demo=seed_demo, strict_orders=not lenient_orders,
          today=today.date() if today else None, **auth)


@click.group("sync")
def sync() -> None:
    """Outbox health and dead letters of a station database."""


def _open(db_path: str | None, config_file: str | None = None):
    path = _station_db(db_path, config_file)
    if not os.path.exists(path):
        raise click.ClickException(f"no station database at {path} (use --db or PACKGATE_DB)")
    conn = connect(path)
    try:
        upgrade(conn)
    except SchemaFromTheFutureError as exc:
        conn.close()
        raise click.ClickException(str(exc)) from exc
    return conn


@sync.command("status")
@click.option("--db", "db_path", default=None, help=f"Station database (default $PACKGATE_DB or {DEFAULT_DB}).")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(db_path: str | None, config_file: str | None, as_json: bool) -> None:
    """Queue depth, oldest unsent age, last success, dead letters, clock skew. Exit 1 if unhealthy."""
    from packgate.sync.outbox import outbox_status

    path = _station_db(db_path, config_file)
    if not os.path.exists(path):
        raise click.ClickException(f"no station database at {path} (use --db or PACKGATE_DB)")
    conn = connect_readonly(path)  # status only reads: it works on a read-only disk or database too
    try:
        info = outbox_status(conn, Clock().now())
    except sqlite3.Error as exc:
        raise click.ClickException(f"cannot read the station database {path}: {exc}") from exc
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
    else:
        ref = info["reference"]
        rows = [
            ("queue depth", info["depth"]),
            ("oldest unsent", f"{info['oldest_unsent_at']} ({info['oldest_age_s']} s)" if info["depth"] else "-"),
            ("next attempt", info["next_attempt_at"] or "-"),
            ("last success", info["last_success"] or "never"),
            ("last error", info["last_error"] or "-"),
            ("dead letters", info["dead"]),
            ("sent", info["sent"]),
            ("clock skew", "-" if info["clock_skew_s"] is None else f"{info['clock_skew_s']:+.3f} s"
             + ("  WARNING" if info["clock_skew_warning"] else "")),
            ("reference", f"refreshed {ref['last_refresh'] or 'never'}" + (f"; failing: {ref['last_error']}"
                                                                          if ref["last_error"] else "")),
            ("health", "ok" if info["ok"] else "; ".join(info["problems"])),
        ]
        for label, value in rows:
            click.echo(f"{label:<14} {value}")
    sys.exit(0 if info["ok"] else 1)


@sync.command("dead")
@click.option("--db", "db_path", default=None, help="Station database.")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print as JSON lines.")
def dead(db_path: str | None, config_file: str | None, as_json: bool) -> None:
    """List dead letters with the reason upstream gave."""
    conn = _open(db_path, config_file)
    rows = [dict(r) for r in conn.execute("SELECT id, action, object_type, object_id, created_at, dead_at, dead_reason"
                                          " FROM sync_outbox WHERE state = 'dead' ORDER BY seq")]
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, sort_keys=True))
        else:
            click.echo(f"{row['id']}  {row['action']} {row['object_type']} {row['object_id']}  {row['dead_reason']}")
    if not rows and not as_json:
        click.echo("no dead letters")


@sync.command("retry-dead")
@click.argument("ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead letter.")
@click.option("--by", required=True, help="Employee id of the supervisor (recorded in the audit log).")
@click.option("--db", "db_path", default=None, help="Station database.")
@click.option("--send", is_flag=True,
              help="Deliver them now (to --upstream or upstream.url of --config, with the station's token) instead of"
                   " leaving them to the running agent.")
@click.option("--upstream", "upstream_url", default=None,
              help="Base URL of upstream or the site hub for --send (default: upstream.url of --config).")
@click.option("--station", default=None, help="Station code for --send (default: station.id of --config).")
@click.option("--token", default=None, envvar="PACKGATE_TOKEN",
              help="Bearer token of the station for --send (default: $PACKGATE_TOKEN, else upstream.token of --config).")
@click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The site's CA (PEM) for an https upstream (default: upstream.ca_file of --config).")
@config_option
def retry_dead_cmd(ids: tuple[str, ...], retry_all: bool, by: str, db_path: str | None, send: bool,
                   upstream_url: str | None, station: str | None, token: str | None, ca_file: str | None,
                   config_file: str | None) -> None:
    """Put dead letters back in the queue after the cause was fixed (same bytes, same key); ``--send`` delivers
    them at once (the token is checked first: a refused one is one line, and nothing is sent)."""
    from packgate.sync.outbox import dead_ids, retry_dead

    if not ids and not retry_all:
        raise click.UsageError("name the confirmation ids to retry, or pass --all")
    client = _client(upstream_url, station, token, ca_file, config_file) if send else None
    conn = _open(db_path, config_file)
    wanted = dead_ids(conn) if retry_all else list(ids)
    done = retry_dead(conn, wanted, by, Clock().now())
    skipped = [i for i in wanted if i not in done]
    click.echo(f"requeued {len(done)} confirmation(s)" + (f"; not dead or unknown: {', '.join(skipped)}" if skipped else ""))
    if client is not None:
        from packgate.sync.worker import OutboxWorker

        url, station_id, upstream = client
        try:
            upstream.reconcile(station_id, Clock().now(), Clock().now())  # the token, checked before anything is sent
            worker = OutboxWorker(_station_db(db_path, config_file), upstream)
            try:
                worker.drain()
                outcome = worker.last_outcome
            finally:
                worker.release()
        except UpstreamError as exc:
            raise click.ClickException(_refusal(url, exc) + "; the letters stay queued for the agent") from None
        finally:
            upstream.close()
        left = worker_left(conn, done)
        click.echo(f"sent {len(done) - left} now" + (f"; {left} still queued ({outcome.get('error') or outcome.get('outcome')})"
                                                   if left else ""))
    if skipped and not retry_all:
        sys.exit(1)


def _client(upstream_url: str | None, station: str | None, token: str | None, ca_file: str | None,
            config_file: str | None) -> tuple[str, str, Any]:
    """(URL, station, ``UpstreamClient``) of the station's upstream: the options, else its --config."""
    from packgate.sync.client import UpstreamClient

    settings = _settings(config_file)
    url = upstream_url or (settings.upstream_url if settings else None)
    station = station or (settings.station if settings else None)
    if not url or not station:
        raise click.UsageError("name --upstream and --station, or give the station's --config")
    return url, station, UpstreamClient(url, token=token or (settings.token if settings else None),
                                        ca_file=ca_file or (settings.ca_file if settings else None))


def worker_left(conn: sqlite3.Connection, ids: list[str]) -> int:
    """How many of the confirmations ``ids`` are not sent yet."""
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    return int(conn.execute(f"SELECT COUNT(*) FROM sync_outbox WHERE id IN ({marks}) AND state != 'sent'",
                            ids).fetchone()[0])


@sync.command("prune")
@click.option("--days", type=float, default=30.0, show_default=True, help="Keep sent confirmations this long.")
@click.option("--db", "db_path", default=None, help="Station database.")
@config_option
def prune(days: float, db_path: str | None, config_file: str | None) -> None:
    """Delete confirmations upstream acknowledged more than --days ago (pending and dead ones stay)."""
    from datetime import timedelta

    from packgate.sync.outbox import prune_sent

    conn = _open(db_path, config_file)
    click.echo(f"pruned {prune_sent(conn, Clock().now() - timedelta(days=days))} sent confirmation(s)")


@sync.command("reconcile")
@click.option("--upstream", "upstream_url", default=None,
              help="Base URL of upstream or the site hub, e.g. http://127.0.0.1:8700 (default: upstream.url of --config).")
@click.option("--station", default=None, help="Station code, e.g. ST01 (default: station.id of --config).")
@click.option("--token", default=None, envvar="PACKGATE_TOKEN",
              help="Bearer token of the station (default: $PACKGATE_TOKEN, else upstream.token of --config).")
@click.option("--hours", type=float, default=24.0, show_default=True, help="Window ending now.")
@click.option("--db", "db_path", default=None, help="Station database.")
@click.option("--ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The site's CA (PEM), trusted for an https upstream besides the system's certificates"
                   " (default: upstream.ca_file of --config).")
@config_option
def reconcile_cmd(upstream_url: str | None, station: str | None, token: str | None, hours: float, db_path: str | None,
                  ca_file: str | None, config_file: str | None) -> None:
    """Compare confirmations marked sent here with the ids upstream holds. Exit 1 on a mismatch."""
    from datetime import timedelta

    from packgate.sync.reconcile import reconcile

    url, station, client = _client(upstream_url, station, token, ca_file, config_file)
    conn = _open(db_path, config_file)
    now = Clock().now()
    try:
        report = reconcile(conn, client, station, now - timedelta(hours=hours), now)
    except UpstreamError as exc:
        raise click.ClickException(_refusal(url, exc)) from None
    finally:
        client.close()
    click.echo(json.dumps(report, indent=2))
    sys.exit(1 if report["sent_missing_upstream"] else 0)


def _refusal(url: str, exc: UpstreamError) -> str:
    """One line for a call to upstream that failed: a refused token says so."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if getattr(exc, "status", None) in (401, 403):
        return f"{url} refused the station's token ({first}); check upstream.token or --token"
    return f"{url}: {first}"


__all__ = ["upstream", "sync", "DEFAULT_DB", "STATION_CONFIG", "StationSettings"]
