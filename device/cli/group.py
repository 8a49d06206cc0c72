"""The ``packgate device`` click group and what its commands share.

Every command prints one JSON object per line on stdout; diagnostics go to stderr.
"""
from __future__ import annotations

import json

import click


def emit(obj: dict) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


profiles_dir_option = click.option("--profiles-dir", type=click.Path(file_okay=False), default=None,
                                   envvar="PACKGATE_PROFILES", help="Directory of firmware profiles (default: bundled).")


@click.group("device")
def device() -> None:
    """Scales, scanners and badge readers: inspect profiles, decode bytes, read, emulate, probe."""
