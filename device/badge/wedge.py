"""Keyboard-wedge badge readers: whatever the reader types -> one canonical UID.

Canonical UID: upper-case hex of the UID bytes in transmission order (UID0 first), e.g.
``04A1B2C3D4E5F6``; the same string the NFC reader (device.nfc) produces for the same card.

Readers disagree on how they type a UID: hex or decimal, bytes reversed or not ("LSB first",
little-endian), zero-padded to some width, EM4100 facility/ID splits. Each reader gets a
``WedgeFormat`` (or a preset name from ``PRESETS``) and ``normalise_badge`` maps its output back.

    normalise_badge("3220338716", "dec10-reversed") == "1C78F2BF"
    normalise_badge("0077705923", "dec10") == "04A1B2C3"
    normalise_badge("111,27706", "em-2h4h") == "6F6C3A"
    normalise_badge("08755.17493", "em-5.5") == "22334455"
    normalise_badge("4.161.178.195", "dec-bytes") == "04A1B2C3"
    normalise_badge("004,335,823,930", "em-10h12d") == "01026F6C3A"   # a vendor page's thousands separators

A decimal number may be typed or printed with thousands separators (``,`` ``.`` ``'`` ``_`` or a space, the
same one throughout, groups of three digits): they are dropped before the number is read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from packgate.device.errors import FrameError, ProfileError

ENCODINGS = ("hex", "dec", "split", "dec-bytes")
_TRIM = " \r\n\t\x00"
_THOUSANDS = re.compile(r"[0-9]{1,3}(?P<sep>[,.'_ \u00a0])[0-9]{3}(?:(?P=sep)[0-9]{3})*")
BYTE_SEPARATORS = ".;,: -"  # what readers type between hex bytes (any of them is accepted)


@dataclass(frozen=True)
class WedgeFormat:
    """How one reader types a UID.

    encoding: ``hex``, ``dec`` (the UID bytes as one big number), ``split`` (groups of bytes,
      each in decimal, joined by ``separator``: EM4100 "2H+4H" / "3.5" = ``groups=(1, 2)``) or
      ``dec-bytes`` (every byte in decimal, ``4.161.178.195``).
    separator: the characters the reader types between groups or bytes; each of them is accepted, the
      first is the one ``encode`` types (``split`` default ``,``; ``dec-bytes`` default ``.``; ``hex``: any of
      ``BYTE_SEPARATORS`` is always accepted, ``separator`` only changes what ``encode`` types).
    suffix: fixed characters the reader appends after the UID (``00`` on 12-digit "UID + 00" readers).
    reverse: the reader sends the bytes in reverse order (little-endian decimal, "LSB first").
    nbytes: how many UID bytes the output covers. Decimal output needs it to restore leading zero
      bytes (``None``: 4, more if the number needs more). Hex: ``None`` takes the length typed.
    width: zero-padding width the reader uses (checked when typing is longer; used by ``encode``).
    """

    encoding: str = "hex"
    reverse: bool = False
    nbytes: int | None = None
    width: int | None = None
    groups: tuple[int, ...] = ()
    group_widths: tuple[int, ...] = ()
    separator: str = ""
    suffix: str = ""

    def __post_init__(self) -> None:
        if not self.separator and self.encoding in ("split", "dec-bytes"):
            object.__setattr__(self, "separator", "," if self.encoding == "split" else ".")
        if self.encoding not in ENCODINGS:
            raise ProfileError(f"badge wedge encoding {self.encoding!r}: use one of {', '.join(ENCODINGS)}")
        if self.encoding == "split" and (not self.groups or len(self.group_widths) not in (0, len(self.groups))):
            raise ProfileError("badge wedge encoding 'split' needs groups=(bytes, ...) and matching group_widths")
        if self.nbytes is not None and self.nbytes <= 0:
            raise ProfileError("badge wedge nbytes must be positive")

    @classmethod
    def from_config(cls, config: dict[str, Any] | str) -> "WedgeFormat":
        """A preset name, or a table like ``{"encoding": "dec", "reverse": true, "width": 10}``
        (optionally ``{"preset": "dec10", "reverse": true}`` to start from a preset)."""
        if isinstance(config, str):
            return preset(config)
        config = dict(config)
        base = preset(config.pop("preset")) if "preset" in config else cls()
        known = set(cls.__dataclass_fields__)
        unknown = set(config) - known
        if unknown:
            raise ProfileError(f"unknown badge wedge setting(s) {sorted(unknown)}; known: {sorted(known)}")
        for key in ("groups", "group_widths"):
            if key in config:
                config[key] = tuple(int(x) for x in config[key])
        merged = {**base.__dict__, **config}
        return cls(**merged)


PRESETS: dict[str, WedgeFormat] = {
    # 13.56 MHz (MIFARE/NTAG) readers
    "hex": WedgeFormat("hex"),
    "hex-reversed": WedgeFormat("hex", reverse=True),
    "dec10": WedgeFormat("dec", nbytes=4, width=10),  # 4-byte UID, big-endian decimal
    "dec10-reversed": WedgeFormat("dec", reverse=True, nbytes=4, width=10),  # little-endian decimal
    "dec": WedgeFormat("dec"),
    "dec-reversed": WedgeFormat("dec", reverse=True),
    # 125 kHz EM4100 readers (the 5 ID bytes: version/facility + 32-bit ID)
    "em-10h": WedgeFormat("hex", nbytes=5, width=10),
    "em-10h12d": WedgeFormat("dec", nbytes=5, width=12),
    "em-8h10d": WedgeFormat("dec", nbytes=4, width=10),  # the common "10 digits + Enter"
    "em-6h8d": WedgeFormat("dec", nbytes=3, width=8),
    "em-2h4h": WedgeFormat("split", groups=(1, 2), group_widths=(3, 5), separator=",.;"),  # "Wiegand 26" 111,27706
    "em-4h4h": WedgeFormat("split", groups=(2, 2), group_widths=(5, 5), separator=",.;"),
    "em-3.5": WedgeFormat("split", groups=(1, 2), group_widths=(3, 5), separator=".,;"),  # 051.17493
    "em-5.5": WedgeFormat("split", groups=(2, 2), group_widths=(5, 5), separator=".,;"),  # 08755.17493
    # bytes typed one by one with a separator
    "hex-dotted": WedgeFormat("hex", separator="."),  # 04.A1.B2.C3 (also ; , : - and spaces)
    "dec-bytes": WedgeFormat("dec-bytes", separator=".;,"),  # 4.161.178.195
    "dec-bytes-3": WedgeFormat("dec-bytes", width=3, separator=".;,"),  # 004.161.178.195
    # 12 digits: the 10-digit decimal UID and "00"
    "dec10-00": WedgeFormat("dec", nbytes=4, width=10, suffix="00"),  # 007770592300
}


def preset(name: str) -> WedgeFormat:
    try:
        return PRESETS[name]
    except KeyError:
        raise ProfileError(f"unknown badge wedge preset {name!r}; known: {', '.join(PRESETS)}") from None


def _fmt(fmt: WedgeFormat | str | None) -> WedgeFormat:
    if fmt is None:
        return PRESETS["hex"]
    return preset(fmt) if isinstance(fmt, str) else fmt


def normalise_badge(text: str, fmt: WedgeFormat | str | None = None) -> str:
    """Wedge output -> canonical UID (upper-case hex, transmission order). Raises ``FrameError``."""
    f = _fmt(fmt)
    body = text.strip(_TRIM)
    if not body:
        raise FrameError("empty badge read")
    if f.suffix:
        if not body.endswith(f.suffix) or len(body) == len(f.suffix):
            raise FrameError(f"badge read {body!r} does not end with the reader's suffix {f.suffix!r}")
        body = body[: -len(f.suffix)]
    if f.encoding == "hex":
        uid = _from_hex(body, f)
    elif f.encoding == "dec":
        uid = _from_dec(body, f)
    elif f.encoding == "dec-bytes":
        uid = _from_dec_bytes(body, f)
    else:
        uid = _from_split(body, f)
    if f.reverse:
        uid = uid[::-1]
    return uid.hex().upper()


def _split_on(body: str, separators: str) -> list[str]:
    return re.split("[" + re.escape(separators) + "]", body)


def _from_hex(body: str, f: WedgeFormat) -> bytes:
    parts = [p for p in re.split(r"[\s" + re.escape(BYTE_SEPARATORS) + "]+", body) if p]
    if len(parts) > 1:  # one byte per group: "4.A1.B2.C3" keeps its leading zero per byte
        if not all(re.fullmatch(r"[0-9A-Fa-f]{1,2}", p) for p in parts):
            raise FrameError(f"badge read {body!r}: bytes must be 1-2 hex digits between separators")
        digits = "".join(p.rjust(2, "0") for p in parts)
    else:
        digits = parts[0] if parts else ""
        if digits[:2].lower() == "0x":
            digits = digits[2:]
    if not digits or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
        raise FrameError(f"badge read {body!r} is not hexadecimal")
    if len(digits) % 2:
        digits = "0" + digits
    data = bytes.fromhex(digits)
    if f.nbytes is not None:
        if len(data) > f.nbytes:
            if any(data[: len(data) - f.nbytes]):
                raise FrameError(f"badge read {body!r} has more than {f.nbytes} bytes")
            data = data[len(data) - f.nbytes:]
        data = data.rjust(f.nbytes, b"\0")
    return data


def _to_bytes(number: int, nbytes: int | None, body: str) -> bytes:
    need = max(1, (number.bit_length() + 7) // 8)
    size = nbytes if nbytes is not None else max(4, need)
    if need > size:
        raise FrameError(f"badge read {body!r} is too large for a {size}-byte UID")
    return number.to_bytes(size, "big")


def _from_dec(body: str, f: WedgeFormat) -> bytes:
    grouped = _THOUSANDS.fullmatch(body)
    if grouped:
        body = body.replace(grouped["sep"], "")
    if not (body.isascii() and body.isdigit()):
        grouping = " (thousands separators must split it into groups of three digits, e.g. 004,335,823,930)" \
            if any(c in body for c in ",.'_ \u00a0") else ""
        raise FrameError(f"badge read {body!r} is not decimal{grouping}")
    return _to_bytes(int(body), f.nbytes, body)


def _from_dec_bytes(body: str, f: WedgeFormat) -> bytes:
    parts = _split_on(body, f.separator)
    out = bytearray()
    for part in parts:
        part = part.strip(_TRIM)
        if not (part.isascii() and part.isdigit()) or int(part) > 255:
            raise FrameError(f"badge read {body!r}: {part!r} is not a byte in decimal (0-255)")
        out.append(int(part))
    if f.nbytes is not None and len(out) != f.nbytes:
        raise FrameError(f"badge read {body!r}: {len(out)} bytes, the reader sends {f.nbytes}")
    return bytes(out)


def _from_split(body: str, f: WedgeFormat) -> bytes:
    parts = _split_on(body, f.separator)
    if len(parts) != len(f.groups):
        seps = " or ".join(repr(c) for c in f.separator)
        raise FrameError(f"badge read {body!r}: expected {len(f.groups)} groups separated by {seps}")
    out = b""
    for part, size in zip(parts, f.groups, strict=False):
        part = part.strip(_TRIM)
        if not (part.isascii() and part.isdigit()):
            raise FrameError(f"badge read {body!r}: group {part!r} is not decimal")
        out += _to_bytes(int(part), size, body)
    return out


def encode_badge(uid_hex: str, fmt: WedgeFormat | str | None = None) -> str:
    """What a reader with format ``fmt`` types for a canonical UID (for emulators and tests)."""
    f = _fmt(fmt)
    uid = bytes.fromhex(uid_hex)
    if f.reverse:
        uid = uid[::-1]
    if f.nbytes is not None:
        uid = uid[-f.nbytes:] if f.encoding != "split" else uid
    if f.encoding == "hex" and f.separator:
        return f.separator[0].join(f"{b:02X}" for b in uid) + f.suffix
    if f.encoding == "hex":
        return uid.hex().upper().rjust(f.width or 0, "0") + f.suffix
    if f.encoding == "dec":
        return str(int.from_bytes(uid, "big")).rjust(f.width or 0, "0") + f.suffix
    if f.encoding == "dec-bytes":
        return f.separator[0].join(str(b).rjust(f.width or 0, "0") for b in uid) + f.suffix
    total = sum(f.groups)
    uid = uid[-total:].rjust(total, b"\0")
    parts, i = [], 0
    for n, size in enumerate(f.groups):
        width = f.group_widths[n] if f.group_widths else 0
        parts.append(str(int.from_bytes(uid[i:i + size], "big")).rjust(width, "0"))
        i += size
    return f.separator[0].join(parts) + f.suffix


class WedgeBadgeReader:
    """A keyboard-wedge badge reader on evdev: each typed line -> ``on_badge(canonical_uid)``.

    Lines that do not fit the reader's format go to ``on_error(text, message)`` (never dropped
    silently). Wraps ``device.hid.HidReader`` (grab, reconnect, layout).
    """

    def __init__(self, device: str, on_badge, fmt: WedgeFormat | str | None = None, *, layout: str = "us",
                 on_error=None, **reader_kw):
        from packgate.device.keyboard.hid import HidReader

        self.fmt = _fmt(fmt)
        self.on_badge = on_badge
        self.on_error = on_error
        self.latest: str | None = None
        self.reader = HidReader(device, self.handle_line, layout=layout, **reader_kw)

    def handle_line(self, line: str) -> None:
        if not line.strip(_TRIM):
            return
        try:
            uid = normalise_badge(line, self.fmt)
        except FrameError as exc:
            if self.on_error is not None:
                self.on_error(line, str(exc))
            return
        self.latest = uid
        if self.on_badge is not None:
            self.on_badge(uid)

    def handle_events(self, events) -> None:
        self.reader.handle_events(events)

    def start(self) -> "WedgeBadgeReader":
        self.reader.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self.reader.stop(timeout)
