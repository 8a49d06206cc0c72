"""Keyboard layouts for keyboard-wedge scanners and badge readers, as data.

A wedge sends key positions (USB HID usages, evdev ``KEY_*`` codes named after the US key at
that position), not characters. Which character a position means depends on the keyboard layout
the scanner was programmed for: a scanner set to "German keyboard" sends the key at the US ``Y``
position for ``z``. Each layout maps a key name to the characters it types
``(plain, shift, altgr)``; a missing entry means the key types nothing in that mode.

Control characters (GS = 0x1D!) arrive as Ctrl + key. ``CTRL_KEYS`` maps the key position to the
control character (the scanner's own table, US positions; Ctrl+letter is computed).
"""
from __future__ import annotations

import string

Entry = tuple[str, str, str | None]


def _letters(swap: dict[str, str] | None = None) -> dict[str, Entry]:
    swap = swap or {}
    out: dict[str, Entry] = {}
    for c in string.ascii_lowercase:
        ch = swap.get(c, c)
        out[f"KEY_{c.upper()}"] = (ch, ch.upper(), None)
    return out


def _pairs(table: dict[str, str]) -> dict[str, Entry]:
    """``{"KEY_1": "1!"}`` or ``{"KEY_7": "7/{"}`` (plain, shift, optional altgr)."""
    return {k: (v[0], v[1] if len(v) > 1 else "", v[2] if len(v) > 2 else None) for k, v in table.items()}


_COMMON: dict[str, Entry] = {
    "KEY_SPACE": (" ", " ", None),
    "KEY_KP0": ("0", "0", None), "KEY_KP1": ("1", "1", None), "KEY_KP2": ("2", "2", None),
    "KEY_KP3": ("3", "3", None), "KEY_KP4": ("4", "4", None), "KEY_KP5": ("5", "5", None),
    "KEY_KP6": ("6", "6", None), "KEY_KP7": ("7", "7", None), "KEY_KP8": ("8", "8", None),
    "KEY_KP9": ("9", "9", None), "KEY_KPMINUS": ("-", "-", None), "KEY_KPPLUS": ("+", "+", None),
    "KEY_KPASTERISK": ("*", "*", None), "KEY_KPSLASH": ("/", "/", None), "KEY_KPDOT": (".", ".", None),
}

US: dict[str, Entry] = {
    **_COMMON,
    **_letters(),
    **_pairs({
        "KEY_1": "1!", "KEY_2": "2@", "KEY_3": "3#", "KEY_4": "4$", "KEY_5": "5%",
        "KEY_6": "6^", "KEY_7": "7&", "KEY_8": "8*", "KEY_9": "9(", "KEY_0": "0)",
        "KEY_MINUS": "-_", "KEY_EQUAL": "=+", "KEY_LEFTBRACE": "[{", "KEY_RIGHTBRACE": "]}",
        "KEY_BACKSLASH": "\\|", "KEY_SEMICOLON": ";:", "KEY_APOSTROPHE": "'\"", "KEY_GRAVE": "`~",
        "KEY_COMMA": ",<", "KEY_DOT": ".>", "KEY_SLASH": "/?",
    }),
}

# German QWERTZ (T1). Dead keys (^ ´ `) are taken as their plain characters.
DE: dict[str, Entry] = {
    **_COMMON,
    **_letters({"y": "z", "z": "y"}),
    **_pairs({
        "KEY_1": "1!", "KEY_2": "2\"²", "KEY_3": "3§³", "KEY_4": "4$", "KEY_5": "5%",
        "KEY_6": "6&", "KEY_7": "7/{", "KEY_8": "8([", "KEY_9": "9)]", "KEY_0": "0=}",
        "KEY_MINUS": "ß?\\", "KEY_EQUAL": "´`", "KEY_LEFTBRACE": "üÜ", "KEY_RIGHTBRACE": "+*~",
        "KEY_SEMICOLON": "öÖ", "KEY_APOSTROPHE": "äÄ", "KEY_GRAVE": "^°", "KEY_BACKSLASH": "#'",
        "KEY_102ND": "<>|", "KEY_COMMA": ",;", "KEY_DOT": ".:", "KEY_SLASH": "-_",
    }),
    "KEY_Q": ("q", "Q", "@"),
    "KEY_E": ("e", "E", "€"),
}

# French AZERTY. Digits need Shift on this layout (a classic source of garbled wedge scans).
FR: dict[str, Entry] = {
    **_COMMON,
    **_letters({"a": "q", "q": "a", "w": "z", "z": "w"}),
    **_pairs({
        "KEY_1": "&1", "KEY_2": "é2~", "KEY_3": "\"3#", "KEY_4": "'4{", "KEY_5": "(5[",
        "KEY_6": "-6|", "KEY_7": "è7`", "KEY_8": "_8\\", "KEY_9": "ç9^", "KEY_0": "à0@",
        "KEY_MINUS": ")°]", "KEY_EQUAL": "=+}", "KEY_LEFTBRACE": "^¨", "KEY_RIGHTBRACE": "$£¤",
        "KEY_SEMICOLON": "mM", "KEY_APOSTROPHE": "ù%", "KEY_GRAVE": "²", "KEY_BACKSLASH": "*µ",
        "KEY_102ND": "<>", "KEY_M": ",?", "KEY_COMMA": ";.", "KEY_DOT": ":/", "KEY_SLASH": "!§",
    }),
}
LAYOUTS: dict[str, dict[str, Entry]] = {"us": US, "de": DE, "fr": FR}

# Ctrl + key position -> control character (positions as on a US keyboard).
CTRL_KEYS: dict[str, str] = {
    "KEY_2": "\x00", "KEY_SPACE": "\x00",
    "KEY_LEFTBRACE": "\x1b", "KEY_BACKSLASH": "\x1c", "KEY_RIGHTBRACE": "\x1d",  # GS = Ctrl+]
    "KEY_6": "\x1e", "KEY_MINUS": "\x1f",
}

MODIFIERS = {
    "KEY_LEFTSHIFT": "shift", "KEY_RIGHTSHIFT": "shift",
    "KEY_LEFTCTRL": "ctrl", "KEY_RIGHTCTRL": "ctrl",
    "KEY_LEFTALT": "alt", "KEY_RIGHTALT": "altgr",
}
