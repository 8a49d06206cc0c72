"""TSC TSPL/TSPL2: escaping label fields, checking templates, splitting a stream into labels, parsing the subset
packgate's templates use (SIZE, GAP, CLS, TEXT, BARCODE "128", BOX, BAR, PRINT).

A field value goes only inside a double-quoted string; a ``"`` in it becomes TSPL's ``\\["]`` escape and
control characters (CR, LF, ESC...) are refused, so no value can end the string or the command line.
Texts use the Simplified Chinese font ``TSS24.BF2``, whose bytes are GB 18030/GB 2312.
"""
from __future__ import annotations

import re

from packgate.device.errors import LabelError
from packgate.device.printer.label import Barcode, Box, Label, Text, dots, refuse_controls, split_at

name = "tspl"
encoding = "gb18030"
templates = True

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_FONT_HEIGHT = {"1": 12, "2": 20, "3": 24, "4": 32, "5": 48, "6": 19, "7": 27, "8": 25, "TSS24.BF2": 24}
_QUOTED_COMMANDS = ("TEXT", "BARCODE")


def escape(field: str, value: str) -> str:
    refuse_controls(field, value)
    try:
        value.encode(encoding)
    except UnicodeEncodeError as exc:
        raise LabelError(f"field {field!r}: {value[exc.start]!r} has no GB 18030 code") from exc
    return value.replace('"', '\\["]')


def check_template(body: str) -> None:
    for number, line in enumerate(body.splitlines(), 1):
        for m in _PLACEHOLDER.finditer(line):
            inside = line[:m.start()].count('"') % 2 == 1
            if not inside or line.split(" ", 1)[0] not in _QUOTED_COMMANDS:
                raise LabelError(f"line {number}: placeholder {m.group()} must be inside a quoted TEXT or BARCODE string")
    if not re.search(r"^PRINT ", body, re.M):
        raise LabelError("a TSPL template ends with PRINT")


_END = re.compile(rb"(?:^|\n)PRINT[^\n]*\n")


def split(buf: bytes) -> tuple[list[bytes], bytes]:
    """Complete labels (everything up to and including a ``PRINT`` line) and what is left."""
    return split_at(buf, _END)


def _args(line: str, number: int) -> list[str]:
    out, cur, quoted, i = [], "", False, 0
    while i < len(line):
        ch = line[i]
        if quoted and line.startswith('\\["]', i):
            cur += '"'
            i += 4
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    if quoted:
        raise LabelError(f"TSPL line {number}: unterminated string")
    out.append(cur.strip())
    return out


def _int(text: str, number: int) -> int:
    try:
        return int(float(text))
    except ValueError:
        raise LabelError(f"TSPL line {number}: {text!r} is not a number") from None


def _mm(text: str, number: int, dpi: int) -> int:
    value = text.strip().lower()
    try:
        if value.endswith("mm"):
            return dots(float(value[:-2]), dpi)
        if value.endswith("dot"):
            return int(value[:-3])
        return dots(float(value) * 25.4, dpi)
    except ValueError:
        raise LabelError(f"TSPL line {number}: size {text!r} is not a length") from None


def parse(job: bytes, dpi: int) -> Label:
    """One label (up to PRINT) as a Label; LabelError names the line that is wrong."""
    width, height, copies = dots(100, dpi), dots(150, dpi), 0
    elements: list[Text | Box | Barcode] = []
    for number, raw in enumerate(job.decode(encoding, errors="replace").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        command, _, rest = line.partition(" ")
        args = _args(rest, number) if rest else []
        need = {"SIZE": 2, "TEXT": 7, "BARCODE": 9, "BOX": 5, "BAR": 4, "PRINT": 1}.get(command, 0)
        if len(args) < need:
            raise LabelError(f"TSPL line {number}: {command} needs {need} parameters, got {len(args)}")
        if command == "SIZE":
            width, height = _mm(args[0], number, dpi), _mm(args[1], number, dpi)
        elif command == "TEXT":
            base = _FONT_HEIGHT.get(args[2], 24)
            elements.append(Text(_int(args[0], number), _int(args[1], number), base * max(1, _int(args[5], number)),
                                 args[6]))
        elif command == "BARCODE":
            symbology = "code128" if args[2] == "128" else args[2]
            elements.append(Barcode(_int(args[0], number), _int(args[1], number), _int(args[3], number),
                                    max(1, _int(args[6], number)), args[8], symbology))
        elif command == "BOX":
            x, y, x2, y2, t = (_int(a, number) for a in args[:5])
            elements.append(Box(x, y, x2 - x, y2 - y, max(1, t)))
        elif command == "BAR":
            x, y, w, h = (_int(a, number) for a in args[:4])
            elements.append(Box(x, y, w, h, max(w, h)))
        elif command == "PRINT":
            copies = _int(args[0], number) * (_int(args[1], number) if len(args) > 1 else 1)
    if copies < 1:
        raise LabelError("TSPL: no PRINT command (nothing would be printed)")
    if not 0 < width <= 4000 or not 0 < height <= 8000:
        raise LabelError(f"TSPL: label size {width}x{height} dots is out of range")
    return Label(width, height, dpi, tuple(elements), copies)
