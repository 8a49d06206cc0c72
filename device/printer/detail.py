"""A printer's detailed status, asked when its short status shows a fault (and by the station's poll, for the
warnings): Zebra ``~HQES`` and TSPL ``<ESC>!S``, both ways (``decode`` for the host, ``encode`` for the
emulator), driven by the profile's ``[status.detail]`` table (see device.printer.spec).

``~HQES`` (ZPL Programming Guide, ~HQ / ~WQ "Error Flags" and "Warning Flags" tables)::

    <STX><CR><LF>PRINTER STATUS<CR><LF>   ERRORS:         1 00000000 00000005<CR><LF>
       WARNINGS:       1 00000000 00000002<CR><LF><ETX>

is a flag (1 = present), group 2 and group 1 (8 hex digits each; the flags are bits of group 1). ``<ESC>!S``
(TSPL/TSPL2 Programming Manual) answers ``<STX>`` + 4 bytes + ``<ETX><CR><LF>``: a message code, then warning
and error bytes whose idle value is ``@`` (0x40) with one bit per condition.

Invariants: a bit or code the profile does not name is reported (``error`` for error bits and codes, ``detail``
text for warning bits), never dropped; a malformed answer raises PrinterError naming what is wrong.
"""
from __future__ import annotations

import re

from packgate.device.errors import PrinterError
from packgate.device.printer.conditions import WARNINGS, ordered
from packgate.device.printer.spec import DetailSpec
from packgate.device.printer.status import PrinterStatus

_LINE = re.compile(rb"(ERRORS|WARNINGS):\s*([01])\s+([0-9A-Fa-f]{8})\s+([0-9A-Fa-f]{8})")


def complete(spec: DetailSpec, buf: bytes) -> bool:
    if spec.decode == "flag-words":
        return b"\x03" in buf and b"WARNINGS" in buf
    at = buf.find(spec.start)
    return at >= 0 and len(buf) >= at + len(spec.start) + spec.length + len(spec.end)


def decode(spec: DetailSpec, raw: bytes) -> PrinterStatus:
    if spec.decode == "flag-words":
        return _decode_words(spec, raw)
    return _decode_bytes(spec, raw)


def _decode_words(spec: DetailSpec, raw: bytes) -> PrinterStatus:
    lines = {m[1].decode(): (int(m[2]), int(m[4], 16)) for m in _LINE.finditer(raw)}
    if set(lines) != {"ERRORS", "WARNINGS"}:
        raise PrinterError(f"detailed status answer has no ERRORS and WARNINGS lines: {raw!r}")
    found: set[str] = set()
    notes = []
    for group, table in (("ERRORS", spec.errors), ("WARNINGS", spec.warnings)):
        present, flags = lines[group]
        found |= {cond for cond, mask in table.items() if flags & mask}
        unknown = flags & ~_union(table.values())
        if unknown:
            notes.append(f"unknown {group.lower()} flags 0x{unknown:08x}")
            if group == "ERRORS":
                found.add("error")
        if present and not flags and group == "ERRORS":
            found.add("error")  # "error present" with no flag in group 1: group 2 holds it
            notes.append("error flag set without a group 1 bit")
    return PrinterStatus(ordered(found), raw, "; ".join(notes))


def _decode_bytes(spec: DetailSpec, raw: bytes) -> PrinterStatus:
    at = raw.find(spec.start)
    body = raw[at + len(spec.start):at + len(spec.start) + spec.length] if at >= 0 else b""
    if len(body) < spec.length or raw[at + len(spec.start) + spec.length:].find(spec.end) != 0:
        raise PrinterError(f"detailed status answer is not {spec.start!r} + {spec.length} bytes + {spec.end!r}: {raw!r}")
    found: set[str] = set()
    notes = []
    for index, value in enumerate(body):
        if index == spec.code_byte:
            char = chr(value)
            if char in spec.byte_codes:
                found |= set(spec.byte_codes[char])
            elif value != spec.base:
                found.add("error")
                notes.append(f"unknown message code {char!r} (byte {index + 1})")
            continue
        bits = {bit for cond, (byte, bit) in spec.bits.items() if byte == index}
        flags = value & ~spec.base & 0xFF
        found |= {cond for cond, (byte, bit) in spec.bits.items() if byte == index and flags >> bit & 1}
        unknown = flags & ~_union(1 << b for b in bits)
        if unknown:
            notes.append(f"unknown bits 0x{unknown:02x} in byte {index + 1}")
            if not all(c in WARNINGS for c, (byte, _) in spec.bits.items() if byte == index):
                found.add("error")
    return PrinterStatus(ordered(found), raw, "; ".join(notes))


def _union(masks) -> int:
    out = 0
    for mask in masks:
        out |= mask
    return out


def encode(spec: DetailSpec, conditions: set[str] | frozenset[str]) -> bytes:
    """The detailed answer of a printer in ``conditions`` (the emulator's side of ``decode``)."""
    if spec.decode == "flag-words":
        errors = _union(mask for cond, mask in spec.errors.items() if cond in conditions)
        warnings = _union(mask for cond, mask in spec.warnings.items() if cond in conditions)
        return (b"\x02\r\n PRINTER STATUS\r\n"
                + f"   ERRORS:         {int(bool(errors))} 00000000 {errors:08X}\r\n".encode()
                + f"   WARNINGS:       {int(bool(warnings))} 00000000 {warnings:08X}\r\n".encode() + b"\x03")
    body = bytearray([spec.base] * spec.length)
    for cond, (byte, bit) in spec.bits.items():
        if cond in conditions:
            body[byte] |= 1 << bit
    if spec.code_byte is not None:
        faulty = any(c not in WARNINGS for c in conditions)
        for cond in ordered(conditions | ({"error"} if faulty else set())):  # a fault: "printer error" at least
            char = next((c for c, conds in spec.byte_codes.items() if cond in conds), None)
            if char is not None:
                body[spec.code_byte] = ord(char)
                break
    return spec.start + bytes(body) + spec.end
