"""``packgate device sniff`` and ``packgate device profile new``: a device nobody wrote code for.

    packgate device sniff /dev/ttyUSB0 --seconds 10 -o scale.capture         # raw bytes with timestamps
    packgate device sniff /dev/ttyUSB0 --poll 57 -o scale.capture            # a polled scale: send W each 0.5 s
    packgate device profile new scale.capture --name dock-scale              # draft, validate, run it over the capture

A drafted profile goes to the site's profile directory (``device.profiles.user_profiles_dir``), never among the
bundled ones, and an existing file is never replaced without ``--force``.
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import click

from packgate.device.cli.group import device, emit
from packgate.device.errors import DeviceError

NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")


def _hex_bytes(text: str | None, hint: str) -> bytes:
    if not text:
        return b""
    try:
        return bytes.fromhex(text.replace(":", " "))
    except ValueError as exc:
        raise click.BadParameter(f"not hex: {exc}", param_hint=hint) from exc


@device.command("sniff")
@click.argument("port")
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="Capture file to write (JSON lines).")
@click.option("--seconds", type=float, default=10.0, show_default=True, help="How long to record.")
@click.option("--baud", type=int, default=9600, show_default=True)
@click.option("--bytesize", type=click.Choice(["7", "8"]), default="8", show_default=True)
@click.option("--parity", type=click.Choice(["N", "E", "O"], case_sensitive=False), default="N", show_default=True)
@click.option("--stopbits", type=click.Choice(["1", "2"]), default="1", show_default=True)
@click.option("--poll", "poll_hex", default=None, help="Send these bytes (hex, e.g. 57 for W) every --every seconds.")
@click.option("--every", type=float, default=0.5, show_default=True, help="Seconds between polls.")
@click.option("--spy", "spy_file", type=click.Path(dir_okay=False), default=None,
              help="Also keep pyserial's spy:// hexdump of the traffic in this file (device paths only).")
def sniff_cmd(port: str, output: str, seconds: float, baud: int, bytesize: str, parity: str, stopbits: str,
              poll_hex: str | None, every: float, spy_file: str | None) -> None:
    """Record what a device sends (and what was sent to it) with timestamps, for `device profile new`."""
    from packgate.device import capture

    if seconds <= 0 or every <= 0:
        raise click.BadParameter("must be greater than 0", param_hint="--seconds/--every")
    url = port
    if spy_file:
        if "://" in port:
            raise click.BadParameter("spy:// wraps a device path, not a URL (pyserial)", param_hint="--spy")
        url = f"spy://{port}?file={spy_file}"
    settings = {"baudrate": baud, "bytesize": int(bytesize), "parity": parity.upper(), "stopbits": int(stopbits)}
    try:
        recorded = capture.sniff(url, settings, seconds, poll=_hex_bytes(poll_hex, "--poll"), every=every)
    except DeviceError as exc:
        partial = getattr(exc, "capture", None)
        if partial is not None and partial.chunks:
            partial.write(output)
        emit({"error": str(exc), "output": output if partial is not None and partial.chunks else None})
        raise SystemExit(1) from exc
    recorded.port = port
    recorded.write(output)
    received = recorded.data("rx")
    emit({"output": output, "port": port, "serial": settings, "seconds": seconds, "chunks": len(recorded.chunks),
          "bytes": len(received), "sent": len(recorded.sent()), "first": received[:48].hex(" ")})
    if not received:
        click.echo("nothing was received: check the cable, baud rate, and whether the device needs a --poll command",
                   err=True)
        raise SystemExit(1)


@device.group("profile")
def profile_group() -> None:
    """Site profiles: draft one from a capture (`profile new`)."""


@profile_group.command("new")
@click.argument("capture_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="Profile name (lower case, digits, '-'): also the file name.")
@click.option("--unit", default=None, help="The weight's unit when the frames carry none (kg, g, lb, oz, t).")
@click.option("--decimals", type=int, default=0, show_default=True, help="Implied decimals when the frames carry no point.")
@click.option("--output", "-o", type=click.Path(file_okay=False), default=None,
              help="Directory to write the profile to (default: the site's profile directory).")
@click.option("--force", is_flag=True, help="Replace a profile file of the same name in that directory.")
def profile_new_cmd(capture_file: str, name: str, unit: str | None, decimals: int, output: str | None,
                    force: bool) -> None:
    """Draft a scale profile from a capture, validate it, run it over the capture and print what it decodes."""
    from packgate.device import capture
    from packgate.device.profiles import load_profiles, user_profiles_dir
    from packgate.device.scale.decoding import ScaleDecoder
    from packgate.device.scale.draft import draft_profile

    if not NAME.fullmatch(name):
        raise click.BadParameter("lower-case letters, digits and '-', 2 to 63 characters", param_hint="--name")
    if not 0 <= decimals <= 6:
        raise click.BadParameter("must be 0..6", param_hint="--decimals")
    try:
        recorded = capture.read(capture_file)
        draft = draft_profile(recorded, name, unit=unit, decimals=decimals, source=Path(capture_file).name)
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from exc
    for finding in draft.findings:
        emit({"finding": finding})
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / f"{name}.toml").write_text(draft.toml, encoding="utf-8")
        try:
            profile = load_profiles(scratch, user=False)[name]
        except DeviceError as exc:
            emit({"valid": False, "error": str(exc)})
            click.echo(draft.toml, err=True)
            raise SystemExit(1) from exc
    decoder = ScaleDecoder(profile)
    readings = decoder.decode(recorded.data("rx"))
    for reading in readings[:5] + readings[-3:] if len(readings) > 8 else readings:
        shown = reading.as_dict()
        if "stability" in reading.extra:
            shown["stability"] = reading.extra["stability"]
        emit(shown)
    usable = sum(1 for r in readings if r.usable)
    summary = {"frames": len(readings), "decoded": decoder.frames_ok, "bad": decoder.frames_bad,
               "stable": usable, "bytes_skipped": decoder.bytes_skipped}
    target_dir = Path(output) if output else user_profiles_dir()
    if target_dir is None:
        emit({"valid": True, **summary, "written": None,
              "hint": "no site profile directory ($PACKGATE_USER_PROFILES is empty): give --output"})
        sys.stdout.write(draft.toml)
        raise SystemExit(0 if decoder.frames_ok else 1)
    target = target_dir / f"{name}.toml"
    if target.exists() and not force:
        emit({"valid": True, **summary, "written": None, "error": f"{target} exists: pick another --name or --force"})
        raise SystemExit(1)
    target_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(draft.toml, encoding="utf-8")
    emit({"valid": True, **summary, "written": str(target),
          "next": f"check {target}, then `packgate device read --profile {name} --port ...` and set scale.profile"})
    if not decoder.frames_ok:
        raise SystemExit(1)
