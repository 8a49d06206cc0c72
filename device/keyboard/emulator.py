"""A keyboard-wedge scanner as key events: text -> the evdev events a wedge would produce.

``keystrokes("]C1010...\\x1d17...", layout="de", gs="ctrl")`` returns real ``evdev.InputEvent``
objects (key down/up with Shift, AltGr, Ctrl+] for GS or Alt+029 on the keypad), which tests
and the benchmark feed through ``HidReader.handle_event`` (the reader thread's own path).

Where ``/dev/uinput`` is writable, ``UinputWedge`` types the same events into a virtual keyboard
so the whole reader (grab included) can be exercised; it is not available in every container.
"""
from __future__ import annotations

import os
import time

from evdev import InputEvent, ecodes

from packgate.device.keyboard.keymaps import CTRL_KEYS, LAYOUTS

_MOD_KEYS = {"shift": "KEY_LEFTSHIFT", "altgr": "KEY_RIGHTALT", "ctrl": "KEY_LEFTCTRL", "alt": "KEY_LEFTALT"}


def _reverse(layout: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    # main block before the keypad, plain before shift before altgr
    keys = sorted(LAYOUTS[layout].items(), key=lambda kv: kv[0].startswith("KEY_KP"))
    for mode, mods in ((0, ()), (1, ("shift",)), (2, ("altgr",))):
        for key, entry in keys:
            ch = entry[mode]
            if ch and ch not in out:
                out[ch] = (key, mods)
    return out


def _press(key: str, mods: tuple[str, ...], t: float) -> list[InputEvent]:
    sec, usec = int(t), int((t % 1) * 1_000_000)
    ev = []
    for m in mods:
        ev.append(InputEvent(sec, usec, ecodes.EV_KEY, ecodes.ecodes[_MOD_KEYS[m]], 1))
    ev.append(InputEvent(sec, usec, ecodes.EV_KEY, ecodes.ecodes[key], 1))
    ev.append(InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0))
    ev.append(InputEvent(sec, usec, ecodes.EV_KEY, ecodes.ecodes[key], 0))
    for m in reversed(mods):
        ev.append(InputEvent(sec, usec, ecodes.EV_KEY, ecodes.ecodes[_MOD_KEYS[m]], 0))
    ev.append(InputEvent(sec, usec, ecodes.EV_SYN, ecodes.SYN_REPORT, 0))
    return ev


def keystrokes(text: str, layout: str = "us", *, gs: str = "ctrl", terminator: str | None = "KEY_ENTER",
               t: float | None = None) -> list[InputEvent]:
    """Events typing ``text`` then ``terminator``. ``gs``: ``"ctrl"`` (Ctrl+]) or ``"alt"`` (Alt+029)
    for 0x1D; to emulate a printable substitute, replace GS in ``text`` before calling."""
    t = time.time() if t is None else t
    rev = _reverse(layout)
    ctrl = {v: k for k, v in CTRL_KEYS.items() if k != "KEY_SPACE"}
    events: list[InputEvent] = []
    for ch in text:
        if ch == "\x1d" and gs == "alt":
            sec, usec = int(t), 0
            events.append(InputEvent(sec, usec, ecodes.EV_KEY, ecodes.KEY_LEFTALT, 1))
            for d in "029":
                events += _press(f"KEY_KP{d}", (), t)
            events.append(InputEvent(sec, usec, ecodes.EV_KEY, ecodes.KEY_LEFTALT, 0))
        elif ch in ctrl:
            events += _press(ctrl[ch], ("ctrl",), t)
        elif "\x01" <= ch <= "\x1a":
            letter = chr(ord(ch) + 96)
            events += _press(rev[letter][0], ("ctrl",), t)
        elif ch in rev:
            key, mods = rev[ch]
            events += _press(key, mods, t)
        else:
            raise ValueError(f"{ch!r} cannot be typed on the {layout!r} layout")
    if terminator:
        events += _press(terminator, (), t)
    return events


class UinputWedge:  # pragma: no cover - needs /dev/uinput
    """A virtual keyboard (``/dev/uinput``) that types like a wedge scanner."""

    def __init__(self, name: str = "packgate-emulated-wedge"):
        from evdev import UInput

        keys = [v for k, v in ecodes.ecodes.items() if k.startswith("KEY_") and isinstance(v, int) and v < 256]
        self.ui = UInput({ecodes.EV_KEY: keys}, name=name)
        self.path = self.ui.device.path

    @staticmethod
    def available() -> bool:
        return os.access("/dev/uinput", os.W_OK)

    def type(self, text: str, layout: str = "us", gs: str = "ctrl") -> None:
        for ev in keystrokes(text, layout, gs=gs):
            self.ui.write(ev.type, ev.code, ev.value)

    def close(self) -> None:
        self.ui.close()
