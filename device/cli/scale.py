"""``packgate device`` scale commands: profiles, decode, read, emulate, probe.

stdout carries the answer (one JSON object per line); stderr what a person watches meanwhile: ``read``'s state
lines (one per change, then a summary while a problem lasts: ``StateChanges``), ``probe``'s progress (one line per
step, ``n/N``, rewritten in place on a terminal). ``decode`` and ``read`` exit 1 when nothing decoded or was read.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time
from decimal import Decimal, InvalidOperation

import click

from packgate.device.cli.group import device, emit, profile_of_kind, profiles_dir_option
from packgate.device.errors import DeviceError, PortError
from packgate.device.profiles import Profile, get_profile, load_profiles
from packgate.device.scale.framing import ScaleFramer
from packgate.device.transport import open_port


def _profile(name: str, path: str | None) -> Profile:
    return profile_of_kind(name, "scale", path)


@device.command("profiles")
@profiles_dir_option
@click.option("--kind", default=None, help="Only profiles of this kind (scale, scanner, ...).")
def profiles_cmd(profiles_dir: str | None, kind: str | None) -> None:
    """List firmware profiles with kind, models and serial defaults."""
    try:
        found = load_profiles(profiles_dir, kind=kind)
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from exc
    for name in sorted(found):
        emit(found[name].summary())


def decode_bytes(profile: Profile, data: bytes) -> list[dict]:
    """Frame and decode ``data`` as the reader would, the profile's stability rule applied over the frames in order
    (a stable-by-repeat profile says ``stable: true`` from the Nth equal weight on); bad frames and a trailing
    partial frame become status "error" objects."""
    return _decoded(profile, data)[0]


def _decoded(profile: Profile, data: bytes) -> tuple[list[dict], int]:
    """``decode_bytes``'s objects and how many of them are readings (no acknowledgement, no error)."""
    from packgate.device.scale.decoding import ScaleDecoder
    from packgate.device.scale.reading import Status

    decoder = ScaleDecoder(profile)
    out, readings = [], 0
    for reading in decoder.decode(data):
        readings += reading.status is not Status.ERROR and not reading.extra.get("ack")
        shown = reading.as_dict()
        if "stability" in reading.extra:
            shown["stability"] = reading.extra["stability"]
        out.append(shown)
    framer = decoder.framer
    if framer.buf:
        out.append({"status": "error", "stable": False, "weight": None, "unit": None, "grams": None,
                    "raw": bytes(framer.buf).hex(), "reason": "incomplete frame at end of input"})
    if framer.bytes_skipped:
        out.append({"skipped_bytes": framer.bytes_skipped})
    return out, readings


@device.command("decode")
@click.option("--profile", "profile_name", required=True, help="Scale profile name (see `device profiles`).")
@click.option("--hex", "hex_text", default=None, help="Bytes as hex (spaces allowed); default: read raw bytes from stdin.")
@click.option("--capture", "capture_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The received bytes of a capture file (`device sniff`).")
@profiles_dir_option
def decode_cmd(profile_name: str, hex_text: str | None, capture_file: str | None, profiles_dir: str | None) -> None:
    """Decode bytes with a profile: one JSON object per frame, the profile's stability rule applied.
    Exit 1 if no frame decoded to a reading (acknowledgements and errors are none)."""
    profile = _profile(profile_name, profiles_dir)
    if capture_file is not None:
        from packgate.device.capture import read

        try:
            data = read(capture_file).data("rx")
        except DeviceError as exc:
            raise click.ClickException(str(exc)) from exc
    elif hex_text is not None:
        try:
            data = bytes.fromhex(hex_text.replace(":", " "))
        except ValueError as exc:
            raise click.BadParameter(f"not hex: {exc}", param_hint="--hex") from exc
    else:
        data = sys.stdin.buffer.read()
    decoded, readings = _decoded(profile, data)
    for obj in decoded:
        emit(obj)
    if not readings:
        click.echo(f"nothing decoded: {len(data)} byte(s), no reading {profile.name} makes of them "
                   "(check the profile, baud rate and the scale's output mode; `device probe` finds them)", err=True)
        raise SystemExit(1)


@device.command("read")
@click.option("--profile", "profile_name", required=True)
@click.option("--port", required=True, help="Device path, COM3, or a pyserial URL (socket://host:port, loop://).")
@click.option("--count", type=int, default=1, show_default=True, help="Stop after N readings (0 = until timeout).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Give up after S seconds.")
@click.option("--stable-only", is_flag=True, help="Only print stable, ok readings.")
@click.option("--poll-interval", type=float, default=None, help="Override the profile's poll interval (s).")
@click.option("--summary-every", type=float, default=30.0, show_default=True,
              help="While the scale stays a problem (cannot open, silent), one stderr line this often (s).")
@profiles_dir_option
def read_cmd(profile_name: str, port: str, count: int, timeout: float, stable_only: bool,
             poll_interval: float | None, summary_every: float, profiles_dir: str | None) -> None:
    """Read weights from a scale; one JSON object per reading. Exit 1 if nothing was read.
    stderr: one line per state change, then a summary every --summary-every seconds while it stays a problem."""
    from packgate.device.scale.reader import ScaleReader
    from packgate.device.state_changes import FINE, STEPS, StateChanges

    profile = _profile(profile_name, profiles_dir)
    done = threading.Event()
    printed = [0]
    lock = threading.Lock()

    def on_reading(reading):
        if stable_only and not reading.usable:
            return
        with lock:
            if done.is_set():
                return
            emit(reading.as_dict())
            printed[0] += 1
            if count and printed[0] >= count:
                done.set()

    changes = StateChanges(summary_every)
    details: dict[str, str | None] = {}  # state -> what the reader last said of it (a retry step says only the port)

    def on_state(state: str, detail: str | None) -> None:
        if state not in STEPS:
            details[state] = detail
        note = changes.note(state)
        if note is None:
            return
        line: dict = {"state": note.state, "detail": details.get(note.state, detail)}
        if note.state not in (*FINE, "stopped"):
            line["retrying"] = True
        if note.kind == "summary":
            line.update(still=True, for_s=round(note.seconds, 1), reports=note.reports)
        click.echo(json.dumps(line), err=True)

    reader = ScaleReader(port, profile, on_reading=on_reading, on_state=on_state, poll_interval=poll_interval)
    reader.start()
    try:
        done.wait(timeout)
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()
    click.echo(json.dumps({"stats": reader.stats()}), err=True)
    if printed[0] == 0:
        raise SystemExit(1)


@device.command("emulate")
@click.option("--profile", "profile_name", required=True)
@click.option("--pty", "use_pty", is_flag=True, help="Listen on a pseudo-terminal (prints its path).")
@click.option("--tcp", "tcp_port", type=int, default=None, help="Listen on 127.0.0.1:PORT (0 = any free port).")
@click.option("--link", default=None, help="With --pty: the stable symlink path to create (default: a temp dir).")
@click.option("--weight", "grams", default="0", show_default=True, help="Weight on the pan, in grams.")
@click.option("--fault", type=click.Choice(["garbage", "overload", "underload"]), default=None)
@click.option("--variant", default=None, help="Answer in a field variant of the protocol ([emulator.variants.NAME]).")
@click.option("--stream-interval", type=float, default=None, help="Seconds between streamed frames.")
@click.option("--state", multiple=True, help="Printer profiles: start in this condition (paper_out, head_open, paused...).")
@profiles_dir_option
def emulate_cmd(profile_name: str, use_pty: bool, tcp_port: int | None, link: str | None, grams: str,
                fault: str | None, variant: str | None, stream_interval: float | None, state: tuple[str, ...],
                profiles_dir: str | None) -> None:
    """Emulate a scale or a label printer (real protocol bytes) until Ctrl-C / SIGTERM."""
    from packgate.device.scale.emulator import ScaleEmulator

    if use_pty == (tcp_port is not None):
        raise click.UsageError("give exactly one of --pty or --tcp PORT")
    try:
        kind = get_profile(profile_name, profiles_dir).kind
    except DeviceError as exc:
        raise click.UsageError(str(exc)) from exc
    if kind == "printer":
        from packgate.device.cli.printer import emulate_printer

        emulate_printer(get_profile(profile_name, profiles_dir), use_pty, tcp_port, link, state)
        return
    profile = _profile(profile_name, profiles_dir)
    try:
        weight = Decimal(grams)
    except InvalidOperation as exc:
        raise click.BadParameter("must be a number of grams", param_hint="--weight") from exc
    try:
        emu = ScaleEmulator(profile, grams=weight, stream_interval=stream_interval, variant=variant)
    except DeviceError as exc:
        raise click.BadParameter(str(exc), param_hint="--variant") from exc
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if use_pty:
            path = emu.start_pty(link)
            emit({"profile": profile.name, "pty": path, "device": emu.where.get("device"), "weight_g": str(weight)})
        else:
            port = emu.start_tcp(tcp_port)
            emit({"profile": profile.name, "tcp": port, "url": f"socket://127.0.0.1:{port}", "weight_g": str(weight)})
        sys.stdout.flush()
        if fault:
            emu.fault(fault)
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        signal.signal(signal.SIGTERM, previous)


ANSWERED_QUIET_S = 0.1  # after a poll, a device that answered in the profile's format and then stayed quiet this
# long has said all it will


def _listen(port_url: str, profile: Profile, seconds: float, command: bytes = b"") -> bytes:
    """What the port sends within ``seconds`` (after ``command``; then also less, once ``profile`` reads a frame of
    what came and the line has been quiet for ``ANSWERED_QUIET_S``: a late answer to the previous profile's command
    is no reason to stop waiting for this one's); each read waits at most a fifth of the window, so the window ends
    on time."""
    try:
        port = open_port(port_url, **profile.serial.as_kwargs(), timeout=min(0.05, max(0.005, seconds / 5)))
    except PortError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        port.reset_input_buffer()
        if command:
            port.write(command)
        data = bytearray()
        now = last = time.monotonic()
        deadline = now + seconds
        while now < deadline:
            chunk = port.read(max(1, port.in_waiting))
            now = time.monotonic()
            if chunk:
                data += chunk
                last = now
            elif command and data and now - last >= ANSWERED_QUIET_S and _matches(profile, bytes(data))[0]:
                break
        return bytes(data)
    finally:
        port.close()


def _matches(profile: Profile, data: bytes) -> tuple[int, dict | None]:
    framer = ScaleFramer(profile.framing, mask_7bit=profile.serial.seven_bit)
    good, last = 0, None
    for frame in framer.feed(data):
        r = profile.codec.decode(frame)
        if not r.extra.get("bad_frame") and not r.extra.get("ack") and r.status.value != "error":
            good += 1
            last = r.as_dict()
    return good, last


class _Progress:
    """``probe n/N: what it tries`` on stderr, one line per step; on a terminal one line rewritten in place."""

    def __init__(self, total: int):
        self.total = total
        self.n = 0
        self.started = time.monotonic()
        self.in_place = sys.stderr.isatty()

    def _say(self, line: str, final: bool = False) -> None:
        if self.in_place:
            click.echo("\r\x1b[K" + line, err=True, nl=final)
        else:
            click.echo(line, err=True)

    def step(self, what: str) -> None:
        self.n += 1
        self._say(f"probe {self.n}/{self.total}: {what}")

    def done(self, found: int) -> None:
        self._say(f"probe: {found} match(es) after {self.n} of {self.total} step(s), "
                  f"{time.monotonic() - self.started:.1f} s", final=True)


def _names(profiles: list[Profile], most: int = 3) -> str:
    names = [p.name for p in profiles]
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


@device.command("probe")
@click.option("--port", required=True, help="Device path, COM3 or pyserial URL.")
@click.option("--listen", "listen_s", type=float, default=1.5, show_default=True, help="Seconds to listen passively.")
@click.option("--reply-timeout", type=float, default=0.8, show_default=True, help="Seconds to wait after each poll.")
@click.option("--profile", "only", multiple=True, help="Only try these profiles (repeatable).")
@profiles_dir_option
def probe_cmd(port: str, listen_s: float, reply_timeout: float, only: tuple[str, ...], profiles_dir: str | None) -> None:
    """Find which scale profile a port speaks: listen for streaming formats, then try polled commands.
    Progress (step n of N, what it tries) goes to stderr; the matches to stdout."""
    try:
        scales = load_profiles(profiles_dir, kind="scale")
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from exc
    if only:
        scales = {n: p for n, p in scales.items() if n in only}
    streaming = [p for p in scales.values() if p.poll.mode == "stream"]
    # Line-terminated commands first: a bare letter (Toledo "W", Kern "w") would sit in a line-based scale's
    # input buffer and spoil the next command ("wSI" instead of "SI").
    polled = sorted((p for p in scales.values() if p.poll.mode == "poll"),
                    key=lambda p: (not p.poll.command.endswith((b"\r", b"\n")), p.name))
    found = 0
    by_serial: dict = {}
    for p in streaming:
        by_serial.setdefault(p.serial, []).append(p)
    progress = _Progress(len(by_serial) + len(polled))
    for serial_defaults, group in by_serial.items():
        progress.step(f"listening {listen_s:g} s at {serial_defaults.label} for {_names(group)}")
        data = _listen(port, group[0], listen_s)
        if not data:
            continue
        for p in group:
            good, last = _matches(p, data)
            if good:
                found += 1
                emit({"match": p.name, "mode": "stream", "frames": good, "serial": serial_defaults.label, "reading": last})
        if found:
            break
    if not found:
        for p in polled:
            progress.step(f"polling {p.name} with {p.poll.command.decode('latin-1')!r} at {p.serial.label}")
            data = _listen(port, p, reply_timeout, command=p.poll.command)
            good, last = _matches(p, data)
            if good:
                found += 1
                emit({"match": p.name, "mode": "poll", "command": p.poll.command.decode("latin-1"), "frames": good,
                      "serial": p.serial.label, "reading": last})
    progress.done(found)
    if not found:
        emit({"match": None, "port": port, "hint": "no profile matched: check cable, baud rate and the scale's output mode"})
        raise SystemExit(1)
