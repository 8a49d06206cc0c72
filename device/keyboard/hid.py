"""USB HID keyboard-wedge scanners and badge readers on Linux, through evdev.

    r = HidScanner("/dev/input/by-id/usb-Honeywell_...-event-kbd", layout="us", on_scan=print)
    r.start(); ...; r.stop()

The device is grabbed (``EVIOCGRAB``) so the keystrokes reach only us, not the focused window.
``device`` may be an event node path (prefer the stable ``/dev/input/by-id/...`` symlink),
``usb:VVVV:PPPP`` (vendor:product, hex) or ``name:<substring of the device name>``.

Key events are turned into text by ``KeyDecoder`` using a layout from ``device.keymaps``
(US, DE, FR). GS (0x1D) arrives as Ctrl+] (positions as on a US keyboard), as Alt+029 on the
keypad, or as a printable stand-in configured on the scanner (``gs_substitute``, e.g. ``"|"``).
The reader thread and the tests call the same ``HidReader.handle_event``.
"""
from __future__ import annotations

import dataclasses
import select
from typing import Any, Callable, Iterable

from packgate.device.backoff import Backoff
from packgate.device.errors import PortError, ProfileError
from packgate.device.keyboard.keymaps import CTRL_KEYS, LAYOUTS, MODIFIERS
from packgate.device.reader_thread import ReaderThread, call_safely
from packgate.device.scanner.barcode import Scan, SitePatterns, interpret

evdev: Any
ecodes: Any
try:  # evdev is Linux-only
    import evdev
    from evdev import ecodes
except ImportError:  # pragma: no cover - non-Linux
    evdev = None
    ecodes = None


KEY_DOWN, KEY_UP, KEY_REPEAT = 1, 0, 2
TERMINATORS = {"enter": ("KEY_ENTER", "KEY_KPENTER"), "tab": ("KEY_TAB",), "enter+tab": ("KEY_ENTER", "KEY_KPENTER", "KEY_TAB")}
_KP_DIGITS = {f"KEY_KP{i}": str(i) for i in range(10)}


def _key_name(code: int) -> str | None:
    if ecodes is None:
        return None
    name = ecodes.KEY.get(code)
    if isinstance(name, (list, tuple)):  # aliases, e.g. KEY_MUTE/KEY_MIN_INTERESTING
        name = name[0]
    return None if name is None else str(name)


class KeyDecoder:
    """EV_KEY events -> lines of text. ``feed(event)`` returns a completed line or None.

    Unknown keys become U+FFFD so a garbled scan is visible (and fails interpretation) instead
    of silently losing a character.
    """

    def __init__(self, layout: str = "us", terminator: str = "enter"):
        if layout not in LAYOUTS:
            raise ProfileError(f"unknown keyboard layout {layout!r}; known: {', '.join(LAYOUTS)}")
        if terminator not in TERMINATORS:
            raise ProfileError(f"unknown wedge terminator {terminator!r}; known: {', '.join(TERMINATORS)}")
        self.layout_name = layout
        self.layout = LAYOUTS[layout]
        self.terminators = TERMINATORS[terminator]
        self.held: set[str] = set()
        self.capslock = False
        self.buffer: list[str] = []
        self._alt_code = ""
        self.unknown_keys = 0

    def reset(self) -> None:
        self.held.clear()
        self.buffer.clear()
        self._alt_code = ""

    def feed(self, event) -> str | None:
        if ecodes is None or event.type != ecodes.EV_KEY:
            return None
        name = _key_name(event.code)
        if name is None:
            return None
        mod = MODIFIERS.get(name)
        if mod is not None:
            if event.value == KEY_DOWN:
                self.held.add(mod)
            elif event.value == KEY_UP:
                self.held.discard(mod)
                if mod == "alt" and self._alt_code:
                    self.buffer.append(_alt_char(self._alt_code))
                    self._alt_code = ""
            return None
        if event.value != KEY_DOWN:  # key up, auto-repeat
            return None
        if name == "KEY_CAPSLOCK":
            self.capslock = not self.capslock
            return None
        if name in self.terminators and not self.held & {"ctrl", "alt"}:
            line = "".join(self.buffer)
            self.buffer.clear()
            return line
        self.buffer.append(self._char(name))
        return None

    def _char(self, name: str) -> str:
        if "alt" in self.held and name in _KP_DIGITS:
            self._alt_code += _KP_DIGITS[name]
            return ""
        if "ctrl" in self.held:
            if name in CTRL_KEYS:
                return CTRL_KEYS[name]
            plain = self.layout.get(name, ("",))[0]
            if len(plain) == 1 and "a" <= plain <= "z":
                return chr(ord(plain) - 96)
            self.unknown_keys += 1
            return "\ufffd"
        entry = self.layout.get(name)
        if entry is None:
            self.unknown_keys += 1
            return "\ufffd"
        plain, shifted, altgr = entry
        if "altgr" in self.held:
            ch = altgr
        else:
            shift = "shift" in self.held
            if self.capslock and plain.isalpha():
                shift = not shift
            ch = shifted if shift else plain
        if not ch:
            self.unknown_keys += 1
            return "\ufffd"
        return ch


def _alt_char(code: str) -> str:
    """Windows Alt+numpad: a leading 0 means the ANSI code page (cp1252), else OEM (cp437)."""
    n = int(code) % 256
    if n < 128:
        return chr(n)
    return bytes([n]).decode("cp1252" if code.startswith("0") else "cp437", errors="replace")


def find_device(spec: str) -> str:
    """Resolve ``/dev/input/...``, ``usb:VVVV:PPPP`` or ``name:text`` to an event node path."""
    if spec.startswith("/"):
        return spec
    if evdev is None:
        raise PortError("evdev is not available on this platform")
    kind, _, rest = spec.partition(":")
    for path in evdev.list_devices():
        try:
            dev = evdev.InputDevice(path)
        except OSError:
            continue
        try:
            if kind == "usb":
                vid, _, pid = rest.partition(":")
                if dev.info.vendor == int(vid, 16) and (not pid or dev.info.product == int(pid, 16)):
                    return path
            elif kind == "name" and rest.lower() in dev.name.lower():
                return path
        finally:
            dev.close()
    raise PortError(f"no input device matches {spec!r} (is it plugged in, and may we read /dev/input?)")


def list_keyboards() -> list[dict]:
    """Input devices that have keys, for ``probe``-style listings."""
    out: list[dict] = []
    if evdev is None:
        return out
    for path in evdev.list_devices():
        try:
            dev = evdev.InputDevice(path)
        except OSError:
            continue
        with dev:
            if ecodes.EV_KEY in dev.capabilities():
                out.append({"path": path, "name": dev.name, "phys": dev.phys,
                            "usb": f"{dev.info.vendor:04x}:{dev.info.product:04x}"})
    return out


class HidReader(ReaderThread):
    """A thread that owns one evdev keyboard device and calls ``on_line(text)`` per line.

    Grabs the device exclusively (``grab=True``), reopens it with backoff after an unplug, reports
    states like the serial readers (connected / disconnected / retrying / stopped).
    """

    thread_name = "hid"

    def __init__(self, device: str, on_line: Callable[[str], None] | None = None, *, layout: str = "us",
                 terminator: str = "enter", grab: bool = True,
                 on_state: Callable[[str, str | None], None] | None = None, backoff: Backoff | None = None):
        super().__init__(on_state, backoff or Backoff(base_s=0.2, cap_s=5.0))
        self.device_spec = device
        self.decoder = KeyDecoder(layout, terminator)
        self.on_line = on_line
        self.grab = grab

    # The decoding path shared by the thread and the tests.
    def handle_event(self, event) -> None:
        line = self.decoder.feed(event)
        if line is not None:
            self.deliver(line)

    def handle_events(self, events: Iterable) -> None:
        for event in events:
            self.handle_event(event)

    def deliver(self, line: str) -> None:
        call_safely(self.on_line, "on_line", line)

    def thread_subject(self) -> str:
        return self.device_spec

    def start(self) -> "HidReader":
        if evdev is None:
            raise PortError("evdev is not available on this platform")
        return super().start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                dev = evdev.InputDevice(find_device(self.device_spec))
                if self.grab:
                    dev.grab()
            except (OSError, PortError) as exc:
                self._disconnected(f"{self.device_spec}: {exc}")
                if not self._retry(self.device_spec):
                    break
                continue
            self.backoff.reset()
            self.decoder.reset()
            self._set_state("connected", dev.path)
            try:
                while not self._stop.is_set():
                    ready, _, _ = select.select([dev.fd], [], [], 0.1)
                    if ready:
                        self.handle_events(dev.read())
            except OSError as exc:  # ENODEV when unplugged
                self._set_state("disconnected", str(exc))
            finally:
                try:
                    if self.grab:
                        dev.ungrab()
                except OSError:
                    pass
                dev.close()
            if self._stop.is_set() or not self._retry(self.device_spec):
                break
        self._set_state("stopped")


class HidScanner(HidReader):
    """A keyboard-wedge barcode scanner: lines -> interpreted ``Scan`` via ``on_scan``."""

    def __init__(self, device: str, on_scan: Callable[[Scan], None] | None = None, *, layout: str = "us",
                 gs_substitute: str | None = None, patterns: SitePatterns | None = None, **kw):
        super().__init__(device, self._on_line, layout=layout, **kw)
        self.on_scan = on_scan
        self.gs_substitute = gs_substitute
        self.patterns = patterns
        self.latest: Scan | None = None

    def _on_line(self, line: str) -> None:
        if not line:
            return
        scan = interpret(line, self.patterns, gs_substitute=self.gs_substitute, source=f"hid:{self.device_spec}")
        if "\ufffd" in line and scan.error is None:
            scan = dataclasses.replace(scan, kind="unknown",
                                       error=f"keys not in the {self.decoder.layout_name!r} layout (wrong layout?)")
        self.latest = scan
        if self.on_scan is not None:
            self.on_scan(scan)
