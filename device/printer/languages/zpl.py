"""Zebra ZPL II: escaping label fields, checking templates, splitting a stream into labels, parsing the subset
packgate's templates use (^FO ^A ^FD/^FS with ^FH hex escapes, ^GB, ^BY, ^BC Code 128, ^PW ^LL ^PQ ^CI28).

A field value goes into ``^FH^FD...^FS`` only: ``^``, ``~`` and ``_`` become ``_5E``, ``_7E``, ``_5F``
(ZPL's own field hex escape), so no value can end the field or start a command; control characters are
refused. ``~HS`` (host status) is handled by the emulator before the stream reaches ``split``.
"""
from __future__ import annotations

import re

from packgate.device.errors import LabelError
from packgate.device.printer.label import Barcode, Box, Label, Text, dots, refuse_controls

name = "zpl"
encoding = "utf-8"  # templates select it with ^CI28
templates = True

_FIELD = re.compile(r"\^FH\^FD[^\^~]*\^FS")
_ESCAPES = {"^": "_5E", "~": "_7E", "_": "_5F"}
_COMMAND = re.compile(rb"[\^~]([A-Z@][A-Z0-9@]?)")
_HEX = re.compile(rb"_([0-9A-Fa-f]{2})")


def escape(field: str, value: str) -> str:
    refuse_controls(field, value)
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def check_template(body: str) -> None:
    outside = _FIELD.sub("", body)
    if "{" in outside:
        at = outside.index("{")
        raise LabelError(f"placeholder {outside[at:outside.find('}', at) + 1]} is outside a ^FH^FD...^FS field")
    if "{" in body and "^CI28" not in body:
        raise LabelError("a template with fields must select UTF-8 with ^CI28")
    if not body.lstrip().startswith("^XA") or not body.rstrip().endswith("^XZ"):
        raise LabelError("a ZPL template starts with ^XA and ends with ^XZ")


def split(buf: bytes) -> tuple[list[bytes], bytes]:
    """Complete ^XA...^XZ formats in ``buf`` and what is left (bytes before ^XA are dropped, as a printer does)."""
    labels: list[bytes] = []
    while True:
        end = buf.find(b"^XZ")
        if end < 0:
            return labels, buf
        start = buf.rfind(b"^XA", 0, end)
        if start >= 0:
            labels.append(buf[start:end + 3])
        buf = buf[end + 3:]


def _ints(params: bytes, count: int, where: str) -> list[int]:
    parts = params.decode("latin-1").split(",")
    out = []
    for i in range(count):
        text = parts[i].strip() if i < len(parts) else ""
        if not text:
            out.append(0)
            continue
        if not text.isdigit():
            raise LabelError(f"ZPL {where}: parameter {i + 1} {text!r} is not a number")
        out.append(int(text))
    return out


def _field_text(data: bytes, hex_on: bool, utf8: bool) -> str:
    if hex_on:
        data = _HEX.sub(lambda m: bytes([int(m.group(1), 16)]), data)
    return data.decode("utf-8" if utf8 else "latin-1", errors="replace")


def parse(job: bytes, dpi: int) -> Label:
    """One ^XA...^XZ format as a Label; LabelError names what is wrong (never another exception)."""
    start = job.find(b"^XA")
    if start < 0 or not job.rstrip().endswith(b"^XZ"):
        raise LabelError("ZPL: a label is ^XA ... ^XZ")
    width, length, copies, module = dots(100, dpi), dots(150, dpi), 1, 2
    x = y = 0
    font_h = 30
    hex_on = utf8 = False
    barcode_h: int | None = None
    elements: list[Text | Box | Barcode] = []
    pos = start
    while True:
        m = _COMMAND.search(job, pos)
        if m is None:
            break
        cmd = m.group(1).decode()
        nxt = _COMMAND.search(job, m.end())
        params = job[m.end():nxt.start() if nxt else len(job)]
        pos = m.end()
        if cmd == "FD":
            end = job.find(b"^FS", m.end())
            if end < 0:
                raise LabelError("ZPL: ^FD without ^FS")
            text = _field_text(job[m.end():end], hex_on, utf8)
            if barcode_h is not None:
                elements.append(Barcode(x, y, barcode_h, module, text))
            else:
                elements.append(Text(x, y, font_h, text))
            pos = end
            continue
        if cmd == "FS":
            hex_on, barcode_h = False, None
        elif cmd == "FO":
            x, y = _ints(params, 2, "^FO")
        elif cmd == "FH":
            hex_on = True
        elif cmd == "CI":
            utf8 = _ints(params, 1, "^CI")[0] == 28
        elif cmd[0] == "A":
            parts = params.decode("latin-1").split(",")
            height = parts[1].strip() if len(parts) > 1 else ""
            if height:
                font_h = _ints(height.encode(), 1, f"^{cmd}")[0]
        elif cmd == "GB":
            w, h, t = _ints(params, 3, "^GB")
            elements.append(Box(x, y, w, h, max(1, t)))
        elif cmd == "BY":
            module = max(1, _ints(params, 1, "^BY")[0])
        elif cmd == "BC":
            parts = params.decode("latin-1").split(",")
            barcode_h = _ints((parts[1] if len(parts) > 1 else "").encode(), 1, "^BC")[0] or 10 * module
        elif cmd == "PW":
            width = _ints(params, 1, "^PW")[0]
        elif cmd == "LL":
            length = _ints(params, 1, "^LL")[0]
        elif cmd == "PQ":
            copies = max(1, _ints(params, 1, "^PQ")[0])
    if not 0 < width <= 4000 or not 0 < length <= 8000:
        raise LabelError(f"ZPL: label size {width}x{length} dots is out of range")
    return Label(width, length, dpi, tuple(elements), copies)

