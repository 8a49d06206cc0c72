"""``packgate device`` printer commands: printers, printer-status, print-test, preview; and the printer side of
``emulate``."""
from __future__ import annotations

import signal
import sys
import threading

import click

from packgate.device.cli.group import device, emit, profile_of_kind, profiles_dir_option
from packgate.device.errors import DeviceError, PrinterNotReadyError
from packgate.device.profiles import Profile, load_profiles


def _printer_profile(name: str, path: str | None) -> Profile:
    return profile_of_kind(name, "printer", path)


@device.command("printers")
@profiles_dir_option
def printers_cmd(profiles_dir: str | None) -> None:
    """List label-printer profiles and the label templates for their languages."""
    try:
        found = load_profiles(profiles_dir)
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from exc
    templates = [p for p in found.values() if p.template is not None]
    for name in sorted(n for n, p in found.items() if p.kind == "printer"):
        out = found[name].summary()
        out["templates"] = sorted(t.name for t in templates if t.template and t.template.language == out["language"])
        emit(out)


@device.command("printer-status")
@click.option("--profile", "profile_name", required=True, help="Printer profile (see `device printers`).")
@click.option("--port", default=None, help="Ask this printer: tcp://HOST[:PORT], usb:/dev/usb/lp0, or a serial device/URL.")
@click.option("--hex", "hex_text", default=None, help="Decode this status answer instead (hex, spaces allowed).")
@click.option("--detail-hex", default=None, help="With --hex: the answer to the detailed query (~HQES, <ESC>!S).")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for a status answer (default: profile).")
@profiles_dir_option
def printer_status_cmd(profile_name: str, port: str | None, hex_text: str | None, detail_hex: str | None,
                       timeout: float | None, profiles_dir: str | None) -> None:
    """The printer's status with its detailed status: each fault with what to do, the warnings. Exit 1 if not ready."""
    from packgate.device.printer import detail
    from packgate.device.printer.driver import Printer
    from packgate.device.printer.status import decode

    profile = _printer_profile(profile_name, profiles_dir)
    assert profile.printer is not None
    spec = profile.printer.status
    if (port is None) == (hex_text is None):
        raise click.UsageError("give exactly one of --port or --hex")
    try:
        if hex_text is not None:
            status = decode(spec, _hex(hex_text, "--hex"))
            if detail_hex is not None:
                if spec.detail is None:
                    raise click.UsageError(f"{profile.name} has no detailed status query")
                status = status.merged(detail.decode(spec.detail, _hex(detail_hex, "--detail-hex")))
        else:
            assert port is not None
            with Printer(port, profile, timeout=timeout) as printer:
                status = printer.status(detail=True)
    except DeviceError as exc:
        emit({"profile": profile.name, "error": str(exc)})
        raise SystemExit(1) from exc
    emit({"profile": profile.name, **status.as_dict()})
    if not status.ready:
        raise SystemExit(1)


def _hex(text: str, hint: str) -> bytes:
    try:
        return bytes.fromhex(text.replace(":", " "))
    except ValueError as exc:
        raise click.BadParameter(f"not hex: {exc}", param_hint=hint) from exc


@device.command("print-test")
@click.option("--profile", "profile_name", required=True, help="Printer profile (see `device printers`).")
@click.option("--port", required=True, help="tcp://HOST[:PORT], usb:/dev/usb/lp0, or a serial device/URL.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for a status answer (default: profile).")
@profiles_dir_option
def print_test_cmd(profile_name: str, port: str, timeout: float | None, profiles_dir: str | None) -> None:
    """Print the profile's test label and report the printer's status. Exit 1 if it did not print."""
    from packgate.device.printer.driver import Printer

    profile = _printer_profile(profile_name, profiles_dir)
    assert profile.printer is not None
    try:
        with Printer(port, profile, timeout=timeout) as printer:
            after = printer.print(profile.printer.test_job)
    except PrinterNotReadyError as exc:
        emit({"printed": False, "port": port, "error": str(exc),
              "status": exc.status.as_dict() if hasattr(exc.status, "as_dict") else None})
        raise SystemExit(1) from exc
    except DeviceError as exc:
        emit({"printed": False, "port": port, "error": str(exc)})
        raise SystemExit(1) from exc
    emit({"printed": True, "port": port, "profile": profile.name, "bytes": len(profile.printer.test_job),
          "status": after.as_dict()})


@device.command("preview")
@click.option("--language", type=click.Choice(["zpl", "tspl", "ezpl"]), required=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="PNG file to write.")
@click.option("--dpi", type=int, default=203, show_default=True)
def preview_cmd(language: str, output: str, dpi: int) -> None:
    """Render the first label of a job read from stdin to a PNG (no printer, no online renderer)."""
    from packgate.device.printer.preview import preview

    try:
        png = preview(sys.stdin.buffer.read(), language, dpi)
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from exc
    with open(output, "wb") as fh:
        fh.write(png)
    emit({"output": output, "bytes": len(png)})


def emulate_printer(profile: Profile, use_pty: bool, tcp_port: int | None, link: str | None,
                    state: tuple[str, ...] = ()) -> None:
    """Run a printer emulator until Ctrl-C / SIGTERM, printing one JSON line per label it prints."""
    from packgate.device.printer.emulator import PrinterEmulator

    emu = PrinterEmulator(profile)
    try:
        emu.set_state(*state)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--state") from exc
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if use_pty:
            emit({"profile": profile.name, "pty": emu.start_pty(link), "state": list(state)})
        else:
            port = emu.start_tcp(tcp_port or 0)
            emit({"profile": profile.name, "tcp": port, "url": f"tcp://127.0.0.1:{port}", "state": list(state)})
        sys.stdout.flush()
        shown = 0
        while not stop.wait(0.2):
            for printed in emu.printed[shown:]:
                emit({"printed": len(printed.raw), "texts": printed.texts, "barcodes": printed.barcodes,
                      "error": printed.error or None})
                shown += 1
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        signal.signal(signal.SIGTERM, previous)
