"""Godex EZPL: splitting a stream into labels (``^L`` ... ``E``) and parsing its text (``A<font>``) and barcode
(``B<type>``) lines, so the emulator records what a Godex printed. No templates ship for EZPL (sites print
ZPL or TSPL; most Godex models also emulate ZPL); a field would be refused control characters all the same.

Text: ``Aa,x,y,xmul,ymul,gap,rotation,data``; barcode: ``Bt,x,y,narrow,wide,height,rotation,readable,data``;
box: ``R x,y,x2,y2,lrw,udw``; copies ``^Pn``; label width ``^Wmm`` and length ``^Qmm,gap``.
"""
from __future__ import annotations

import re

from packgate.device.errors import LabelError
from packgate.device.printer.label import Barcode, Box, Label, Text, dots, refuse_controls, split_at

name = "ezpl"
encoding = "latin-1"
templates = False

_FONT_HEIGHT = {"A": 12, "B": 20, "C": 24, "D": 30, "E": 40, "F": 48, "G": 64, "H": 72}


def escape(field: str, value: str) -> str:
    refuse_controls(field, value)
    return value


def check_template(body: str) -> None:
    raise LabelError("no EZPL templates: use a ZPL template (Godex ZPL emulation) or add an EZPL language module")


_END = re.compile(rb"(?:^|\n)E\r?\n")


def split(buf: bytes) -> tuple[list[bytes], bytes]:
    """Complete labels (everything up to and including an ``E`` line) and what is left."""
    return split_at(buf, _END)


def _ints(parts: list[str], number: int) -> list[int]:
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise LabelError(f"EZPL line {number}: {parts} are not all numbers") from None


def parse(job: bytes, dpi: int) -> Label:
    width, height, copies, started = dots(100, dpi), dots(150, dpi), 1, False
    elements: list[Text | Box | Barcode] = []
    for number, raw in enumerate(job.decode(encoding).splitlines(), 1):
        line = raw.strip()
        if line == "^L":
            started = True
        elif line.startswith("^W") and line[2:].isdigit():
            width = dots(int(line[2:]), dpi)
        elif line.startswith("^Q") and line[2:].split(",")[0].isdigit():
            height = dots(int(line[2:].split(",")[0]), dpi)
        elif line.startswith("^P") and line[2:].isdigit():
            copies = max(1, int(line[2:]))
        elif not started:
            continue
        elif re.match(r"A[A-H],", line):
            parts = line.split(",", 7)
            if len(parts) < 8:
                raise LabelError(f"EZPL line {number}: text needs 8 parameters")
            x, y, _xm, ym = _ints(parts[1:5], number)
            elements.append(Text(x, y, _FONT_HEIGHT[line[1]] * max(1, ym), parts[7]))
        elif re.match(r"B[A-Z0-9],", line):
            parts = line.split(",", 8)
            if len(parts) < 9:
                raise LabelError(f"EZPL line {number}: barcode needs 9 parameters")
            x, y, narrow, _wide, h = _ints(parts[1:6], number)
            elements.append(Barcode(x, y, h, max(1, narrow), parts[8], f"ezpl-{line[1]}"))
        elif re.match(r"R\d", line):
            parts = line[1:].split(",")
            if len(parts) < 6:
                raise LabelError(f"EZPL line {number}: box needs 6 parameters")
            x, y, x2, y2, lrw, _udw = _ints(parts[:6], number)
            elements.append(Box(x, y, x2 - x, y2 - y, max(1, lrw)))
    if not started:
        raise LabelError("EZPL: a label starts with ^L")
    return Label(width, height, dpi, tuple(elements), copies)
