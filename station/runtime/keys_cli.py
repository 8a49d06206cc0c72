"""``packgate keys rotate`` and ``packgate keys status``: the key sealing the personal data of station.db
(``station/privacy.py``). Rotation may run while the agent runs: it reads the new key within a second."""
from __future__ import annotations

import json
import sqlite3
import sys

import click

from packgate.station import privacy
from packgate.station.runtime.records_cli import db_options, open_readonly
from packgate.sync.common import sealing
from packgate.sync.common.db import connect


@click.group("keys")
def keys_group() -> None:
    """The key file sealing customers' names, phones and addresses in station.db (privacy.key_file)."""


def _connect(db_path: str | None, config_file: str | None, as_json: bool) -> tuple[sqlite3.Connection, sealing.KeyRing]:
    conn, _ = open_readonly(db_path, config_file, as_json)
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    conn.close()
    conn = connect(path)
    return conn, sealing.ring_of(conn)


@keys_group.command("rotate")
@db_options
def keys_rotate(db_path: str | None, config_file: str | None, as_json: bool) -> None:
    """Make a new key, re-seal every personal value with it, retire the keys no row uses any more."""
    conn, ring = _connect(db_path, config_file, as_json)
    try:
        done = sealing.rotate(ring, lambda r: privacy.reseal(conn, r), lambda: privacy.keys_in_use(conn))
    except sealing.SealError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        conn.close()
    click.echo(sealing.rotation_report(done, as_json))


@keys_group.command("status")
@db_options
def keys_status(db_path: str | None, config_file: str | None, as_json: bool) -> None:
    """The key file, its current key and the keys the rows use (nothing is written)."""
    conn, ring = _connect(db_path, config_file, as_json)
    try:
        used = sorted(privacy.keys_in_use(conn))
    finally:
        conn.close()
    out = {"key_file": str(ring.path), "current": ring.current, "keys": sorted(ring.keys), "in_use": used}
    click.echo(json.dumps(out, indent=2) if as_json else
               f"{out['key_file']}: current {out['current']}; keys {', '.join(out['keys'])}; in use {', '.join(used) or '-'}")
