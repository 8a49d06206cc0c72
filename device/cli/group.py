"""The ``packgate device`` click group and what its commands share.

Every command prints one JSON object per line on stdout; diagnostics go to stderr.
"""
from __future__ import annotations

import json

import click

from packgate.device.errors import DeviceError
from packgate.device.profiles import Profile, get_profile


def emit(obj: dict) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


profiles_dir_option = click.option("--profiles-dir", type=click.Path(file_okay=False), default=None,
                                   envvar="PACKGATE_PROFILES", help="Directory of firmware profiles (default: bundled).")


@click.group("device")
def device() -> None:
    """Scales, scanners and badge readers: inspect profiles, decode bytes, read, emulate, probe."""


def profile_of_kind(name: str, kind: str, path: str | None) -> Profile:
    """The profile ``name`` for a command that needs a ``kind`` (scale, printer); a usage error otherwise."""
    try:
        profile = get_profile(name, path)
    except DeviceError as exc:
        raise click.UsageError(str(exc)) from exc
    if profile.kind != kind:
        raise click.UsageError(f"profile {name!r} is a {profile.kind} profile, not a {kind}")
    return profile
