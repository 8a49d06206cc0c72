"""``packgate device badge`` and ``packgate device scan``: one JSON object per line on stdout.

Registered on the ``device`` group of device/cli/group.py. States and
diagnostics go to stderr as JSON; the exit code is 1 when nothing was read before the timeout.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Callable

import click

from packgate.device.cli.group import device, emit
from packgate.device.errors import DeviceError

SUFFIX_CHOICES = ["CR", "LF", "CRLF", "TAB", "none", "auto"]


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def _on_state(state: str, detail: str | None) -> None:
    click.echo(json.dumps({"state": state, "detail": detail}), err=True)


class _Counter:
    """Prints events until ``count`` is reached (0 = no limit); thread-safe."""

    def __init__(self, count: int):
        self.count = count
        self.printed = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, obj: dict) -> None:
        with self._lock:
            if self.done.is_set():
                return
            emit(obj)
            self.printed += 1
            if self.count and self.printed >= self.count:
                self.done.set()


def _run(reader, counter: _Counter, timeout: float, ends_by_itself: bool = False) -> None:
    """Start ``reader``, print until ``counter`` is done or ``timeout`` passes, stop it; exit 1 if nothing was read.

    ``ends_by_itself``: the reader may finish on its own (a camera reading a video file); that ends the command too.
    """
    deadline = time.monotonic() + timeout
    try:
        reader.start()
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        while not counter.done.wait(max(0.0, min(0.05, deadline - time.monotonic()))):
            if time.monotonic() >= deadline or (ends_by_itself and reader.state in ("ended", "stopped")):
                break
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()
    if counter.printed == 0:
        raise SystemExit(1)


def _patterns(pattern: tuple[str, ...]):
    if not pattern:
        return None
    from packgate.device.scanner.barcode import SitePatterns

    config = {}
    for item in pattern:
        kind, sep, regex = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use KIND=REGEX", param_hint="--pattern")
        config[kind] = regex
    try:
        return SitePatterns.from_config(config)
    except DeviceError as exc:
        raise click.BadParameter(str(exc), param_hint="--pattern") from exc


@device.command("badge")
@click.option("--reader", "path", default=None,
              help="nfcpy reader: usb, usb:VID:PID, tty:USB0:pn532, udp:HOST:PORT. With --wedge-format: an evdev "
                   "keyboard device (/dev/input/by-id/..., usb:VID:PID, name:TEXT).")
@click.option("--wedge-format", default=None,
              help="Read a keyboard-wedge badge reader; its output format: a preset (hex, hex-reversed, dec10, "
                   "dec10-reversed, em-8h10d, em-2h4h, ...).")
@click.option("--layout", default="us", show_default=True, help="Keyboard layout of a wedge reader (us, de, fr).")
@click.option("--text", "texts", multiple=True,
              help="Normalise this typed (or printed) badge number with --wedge-format instead of reading (repeatable).")
@click.option("--count", type=int, default=1, show_default=True, help="Stop after N badges (0 = until timeout).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Give up after S seconds.")
def badge_cmd(path: str | None, wedge_format: str | None, layout: str, texts: tuple[str, ...], count: int,
              timeout: float) -> None:
    """Print canonical badge UIDs (upper-case hex, transmission order), one tap per line."""
    if texts:
        _normalise_texts(texts, wedge_format or "hex")
        return
    if path is None:
        raise click.UsageError("give --reader (or --text to normalise a typed badge number)")
    counter = _Counter(count)

    def on_badge(uid: str) -> None:
        counter({"uid": uid, "reader": path, "at": _now()})

    try:
        if wedge_format:
            from packgate.device.badge.wedge import WedgeBadgeReader

            def on_error(text: str, message: str) -> None:
                click.echo(json.dumps({"error": message, "typed": text, "at": _now()}), err=True)

            reader = WedgeBadgeReader(path, on_badge, wedge_format, layout=layout, on_error=on_error,
                                      on_state=_on_state)
        else:
            from packgate.device.badge.nfc import BadgeReader

            reader = BadgeReader(path, on_badge, on_state=_on_state)
    except DeviceError as exc:
        raise click.UsageError(str(exc)) from exc
    _run(reader, counter, timeout)


def _normalise_texts(texts: tuple[str, ...], wedge_format: str) -> None:
    """One JSON object per text: its canonical UID, or why it is refused (exit 1 if any was)."""
    from packgate.device.badge.wedge import normalise_badge, preset

    try:
        fmt = preset(wedge_format)
    except DeviceError as exc:
        raise click.BadParameter(str(exc), param_hint="--wedge-format") from exc
    refused = 0
    for text in texts:
        try:
            emit({"uid": normalise_badge(text, fmt), "typed": text, "format": wedge_format})
        except DeviceError as exc:
            refused += 1
            emit({"uid": None, "typed": text, "format": wedge_format, "error": str(exc)})
    if refused:
        raise SystemExit(1)


def _scan_printer(counter: _Counter) -> Callable:
    def on_scan(scan) -> None:
        counter({**scan.as_dict(), "at": _now()})
    return on_scan


@device.command("scan")
@click.option("--port", default=None, help="Serial/USB-CDC scanner: /dev/ttyACM0, COM3 or a pyserial URL.")
@click.option("--camera", default=None, help="Camera: device index (0), /dev/videoN, a video file or a stream URL.")
@click.option("--hid", default=None, help="Keyboard-wedge scanner through evdev: /dev/input/by-id/..., usb:VID:PID, name:TEXT.")
@click.option("--text", "texts", multiple=True, help="Interpret this text instead of reading a device (repeatable).")
@click.option("--suffix", type=click.Choice(SUFFIX_CHOICES, case_sensitive=False), default="auto", show_default=True,
              help="Serial: what ends a scan (auto = CR, LF or CRLF; none = inter-character timeout).")
@click.option("--inter-char-timeout", type=float, default=0.05, show_default=True, help="Serial, --suffix none: silence that ends a scan (s).")
@click.option("--baud", type=int, default=9600, show_default=True, help="Serial baud rate (ignored by USB-CDC).")
@click.option("--gs-substitute", default=None, help="Printable stand-in the scanner sends for GS (0x1D), e.g. '|'.")
@click.option("--layout", default="us", show_default=True, help="--hid: keyboard layout (us, de, fr).")
@click.option("--decoder", type=click.Choice(["zxing", "pyzbar"]), default="zxing", show_default=True, help="--camera decoder.")
@click.option("--formats", default=None, help="--camera: comma-separated formats (ean13,code128,qr,datamatrix,...).")
@click.option("--pattern", multiple=True, help="Site code pattern KIND=REGEX (order, tote, bin, badge, packaging, parcel).")
@click.option("--count", type=int, default=1, show_default=True, help="Stop after N scans (0 = until timeout).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Give up after S seconds.")
def scan_cmd(port, camera, hid, texts, suffix, inter_char_timeout, baud, gs_substitute, layout, decoder, formats,
             pattern, count, timeout) -> None:
    """Print interpreted scans (kind, value, GTIN, lot, dates, ...), one JSON object per scan."""
    patterns = _patterns(pattern)
    if texts:
        from packgate.device.scanner.barcode import interpret

        for text in texts:
            emit(interpret(text, patterns, gs_substitute=gs_substitute).as_dict())
        return
    if sum(x is not None for x in (port, camera, hid)) != 1:
        raise click.UsageError("give exactly one of --port, --camera, --hid (or --text)")
    counter = _Counter(count)
    on_scan = _scan_printer(counter)
    try:
        if port is not None:
            from packgate.device.scanner.serial import SerialScanner

            reader = SerialScanner(port, suffix=suffix, on_scan=on_scan, inter_char_timeout=inter_char_timeout,
                                   patterns=patterns, gs_substitute=gs_substitute, on_state=_on_state,
                                   serial_settings={"baudrate": baud})
        elif camera is not None:
            from packgate.device.camera.reader import CameraScanner

            reader = CameraScanner(camera, on_scan, decoder=decoder, patterns=patterns, on_state=_on_state,
                                   formats=[f.strip() for f in formats.split(",")] if formats else None)
        else:
            from packgate.device.keyboard.hid import HidScanner

            reader = HidScanner(hid, on_scan, layout=layout, gs_substitute=gs_substitute, patterns=patterns,
                                on_state=_on_state)
    except DeviceError as exc:
        raise click.UsageError(str(exc)) from exc
    _run(reader, counter, timeout, ends_by_itself=camera is not None)

