"""What a ``kind = "printer"`` or ``kind = "label"`` firmware profile holds, validated when loaded.

A printer profile names its label language, resolution, transports and status query, and how the
status answer decodes into conditions (``paper_out``, ``head_open``, ...):

  * ``decode = "fields"``: ``frames`` STX..ETX frames of comma-separated fields (Zebra ``~HS``);
    ``flags`` maps a condition to ``[frame, field]``, set when that field is not ``0``;
  * ``decode = "bits"``: ``length`` raw bytes, ``bits`` maps a condition to a bit (TSPL ``<ESC>!?``);
  * ``decode = "code"``: a text code ended by ``end``, ``codes`` maps each code to its conditions, or to a table
    ``{ conditions = [...], detail = "..." }`` when the code says more than its conditions (Godex ``~S,CHECK``).

``status.fallback`` names the condition the short answer shows for a fault it has no flag for (Zebra pauses,
TSPL sets bit 7 "other error"): the emulator's side. ``[status.detail]`` is the printer's detailed status, asked
on a fault (and by the station's poll, for the warnings): ``decode = "flag-words"`` reads Zebra's ``~HQES``
(``ERRORS:`` and ``WARNINGS:`` lines, each a flag and two 8-digit hex groups; ``errors`` / ``warnings`` map a
condition to a mask over group 1), ``decode = "byte-flags"`` reads TSPL's ``<ESC>!S`` (``start``, ``length``
bytes, ``end``; ``bits`` maps a condition to ``[byte, bit]`` over bytes whose idle value is ``base``,
``code_byte`` is a byte that carries one code instead, ``byte_codes`` maps its characters to conditions).

A label profile is a template in one language for one label size, with ``{field}`` placeholders.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from packgate.device.printer.conditions import CONDITIONS
from packgate.device.printer.label import LabelFields
from packgate.device.printer.languages import LANGUAGES
from packgate.device.profile_keys import Where

TRANSPORTS = ("tcp", "usb", "serial")
DECODERS = ("fields", "bits", "code")
DETAIL_DECODERS = ("flag-words", "byte-flags")
LABEL_FIELDS = ("waybill", "order", "carton", "weight", "ship_to_name", "ship_to_phone", "sender", "date")


def _empty() -> Mapping:
    return MappingProxyType({})


@dataclass(frozen=True)
class DetailSpec:
    """The detailed status query (Zebra ``~HQES``, TSPL ``<ESC>!S``) and how its answer decodes."""

    query: bytes
    decode: str
    timeout: float = 1.0
    errors: Mapping[str, int] = field(default_factory=_empty)  # flag-words: condition -> mask over group 1
    warnings: Mapping[str, int] = field(default_factory=_empty)
    start: bytes = b"\x02"  # byte-flags: the answer is start + length bytes + end
    end: bytes = b"\x03"
    length: int = 4
    base: int = 0x40  # byte-flags: a byte's value with no flag set
    bits: Mapping[str, tuple[int, int]] = field(default_factory=_empty)  # condition -> (byte, bit)
    code_byte: int | None = None  # byte-flags: the byte that holds one code, not bits
    byte_codes: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)  # its character -> conditions


@dataclass(frozen=True)
class StatusSpec:
    query: bytes
    decode: str
    init: bytes = b""  # sent once after opening (e.g. Godex ^XSET,IMMEDIATE,1)
    timeout: float = 2.0
    frames: int = 1
    flags: Mapping[str, tuple[int, int]] = field(default_factory=_empty)
    idle: tuple[str, ...] = ()  # "fields": the answer of a ready printer, one CSV line per frame
    length: int = 1
    bits: Mapping[str, int] = field(default_factory=_empty)
    codes: Mapping[str, tuple[str, ...]] = field(default_factory=_empty)
    code_details: Mapping[str, str] = field(default_factory=_empty)  # "code": what a code says beyond its conditions
    end: bytes = b"\r\n"
    fallback: str = "error"  # the condition the short answer shows for a fault it has no flag for
    detail: DetailSpec | None = None


@dataclass(frozen=True)
class PrinterSpec:
    language: str
    dpi: int
    transports: tuple[str, ...]
    tcp_port: int
    usb_glob: str
    status: StatusSpec
    test_job: bytes


@dataclass(frozen=True)
class LabelTemplate:
    language: str
    width_mm: int
    height_mm: int
    dpi: int
    body: str
    fields: tuple[str, ...]

    @property
    def size(self) -> str:
        return f"{self.width_mm}x{self.height_mm}"


def _conditions(where: Where, key: str, names: Any) -> tuple[str, ...]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise where.error(key, "must be a list of condition names")
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        raise where.error(key, f"unknown condition(s) {unknown}; known: {', '.join(CONDITIONS)}")
    return tuple(names)


def _query_and_timeout(where: Where, t: Mapping, p: str, default_timeout: float) -> tuple[bytes, float]:
    query = where.bytes_of(t, "query", p)
    if not query:
        raise where.error(f"{p}.query", "missing (the bytes that ask the printer for its status)")
    timeout = where.get(t, "timeout", float, p, default_timeout)
    if not 0 < timeout <= 30:
        raise where.error(f"{p}.timeout", "must be > 0 and <= 30 seconds")
    return query, timeout


def _detail(where: Where, t: Mapping) -> DetailSpec:
    p = "status.detail"
    decode = where.get(t, "decode", str, p)
    if decode not in DETAIL_DECODERS:
        raise where.error(f"{p}.decode", f"must be one of {', '.join(DETAIL_DECODERS)}")
    query, timeout = _query_and_timeout(where, t, p, 1.0)
    if decode == "flag-words":
        masks: dict[str, dict[str, int]] = {}
        for group in ("errors", "warnings"):
            masks[group] = {}
            for cond, mask in where.get(t, group, Mapping, p).items():
                _conditions(where, f"{p}.{group}.{cond}", [cond])
                if not isinstance(mask, int) or isinstance(mask, bool) or not 0 < mask < 1 << 32:
                    raise where.error(f"{p}.{group}.{cond}", "must be a bit mask over the 8-digit hex group (e.g. 0x10)")
                masks[group][cond] = mask
        return DetailSpec(query, decode, timeout, errors=MappingProxyType(masks["errors"]),
                          warnings=MappingProxyType(masks["warnings"]))
    length = where.get(t, "length", int, p, 4)
    if not 1 <= length <= 16:
        raise where.error(f"{p}.length", "must be 1..16 bytes")
    bits: dict[str, tuple[int, int]] = {}
    for cond, pos in where.get(t, "bits", Mapping, p).items():
        _conditions(where, f"{p}.bits.{cond}", [cond])
        if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(i, int) for i in pos)
                and 0 <= pos[0] < length and 0 <= pos[1] < 8):
            raise where.error(f"{p}.bits.{cond}", f"must be [byte 0..{length - 1}, bit 0..7]")
        bits[cond] = (pos[0], pos[1])
    code_byte = where.get(t, "code_byte", int, p, None)
    if code_byte is not None and not 0 <= code_byte < length:
        raise where.error(f"{p}.code_byte", f"must be a byte 0..{length - 1}")
    byte_codes = {}
    for char, conds in where.get(t, "byte_codes", Mapping, p, {}).items():
        if len(char) != 1:
            raise where.error(f"{p}.byte_codes.{char}", "must be one character (the byte's value)")
        byte_codes[char] = _conditions(where, f"{p}.byte_codes.{char}", conds)
    if byte_codes and code_byte is None:
        raise where.error(f"{p}.code_byte", "byte_codes need the byte they are read from")
    return DetailSpec(query, decode, timeout, start=where.bytes_of(t, "start", p, "\u0002"),
                      end=where.bytes_of(t, "end", p, "\u0003"), length=length,
                      base=where.get(t, "base", int, p, 0x40), bits=MappingProxyType(bits), code_byte=code_byte,
                      byte_codes=MappingProxyType(byte_codes))


def _status(where: Where, t: Mapping) -> StatusSpec:
    p = "status"
    decode = where.get(t, "decode", str, p)
    if decode not in DECODERS:
        raise where.error("status.decode", f"must be one of {', '.join(DECODERS)}")
    query, timeout = _query_and_timeout(where, t, p, 2.0)
    fallback = where.get(t, "fallback", str, p, "error")
    _conditions(where, "status.fallback", [fallback])
    detail = _detail(where, t["detail"]) if isinstance(t.get("detail"), Mapping) else None
    common: dict[str, Any] = dict(query=query, decode=decode, init=where.bytes_of(t, "init", p), timeout=timeout,
                                  fallback=fallback, detail=detail)
    if decode == "fields":
        frames = where.get(t, "frames", int, p)
        idle = where.get(t, "idle", list, p)
        if len(idle) != frames or not all(isinstance(line, str) for line in idle):
            raise where.error("status.idle", f"must be {frames} strings, one per answer frame")
        flags: dict[str, tuple[int, int]] = {}
        for cond, pos in where.get(t, "flags", Mapping, p).items():
            _conditions(where, f"status.flags.{cond}", [cond])
            if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(i, int) for i in pos)):
                raise where.error(f"status.flags.{cond}", "must be [frame, field]")
            frame, fld = pos
            if not (0 <= frame < frames and 0 <= fld < len(idle[frame].split(","))):
                raise where.error(f"status.flags.{cond}", f"[{frame}, {fld}] is outside the idle answer")
            flags[cond] = (frame, fld)
        return StatusSpec(frames=frames, flags=MappingProxyType(flags), idle=tuple(idle), **common)
    if decode == "bits":
        length = where.get(t, "length", int, p, 1)
        bits: dict[str, int] = {}
        for cond, bit in where.get(t, "bits", Mapping, p).items():
            _conditions(where, f"status.bits.{cond}", [cond])
            if not isinstance(bit, int) or not 0 <= bit < 8 * length:
                raise where.error(f"status.bits.{cond}", f"must be a bit number 0..{8 * length - 1}")
            bits[cond] = bit
        return StatusSpec(length=length, bits=MappingProxyType(bits), **common)
    codes: dict[str, tuple[str, ...]] = {}
    details: dict[str, str] = {}
    for code, value in where.get(t, "codes", Mapping, p).items():
        if isinstance(value, Mapping):
            codes[code] = _conditions(where, f"status.codes.{code}.conditions", value.get("conditions"))
            details[code] = where.get(value, "detail", str, f"status.codes.{code}", "")
        else:
            codes[code] = _conditions(where, f"status.codes.{code}", value)
    if () not in codes.values():
        raise where.error("status.codes", "one code must mean ready (an empty list)")
    end = where.bytes_of(t, "end", p, "\r\n")
    if not end:
        raise where.error("status.end", "a code answer needs an end delimiter")
    return StatusSpec(codes=MappingProxyType(codes), code_details=MappingProxyType(details), end=end, **common)


def build_printer(where: Where, doc: Mapping) -> PrinterSpec:

    language = where.get(doc, "language", str, "")
    if language not in LANGUAGES:
        raise where.error("language", f"unknown label language {language!r}; known: {', '.join(LANGUAGES)}")
    dpi = where.get(doc, "dpi", int, "")
    if dpi not in (203, 300, 600):
        raise where.error("dpi", "must be 203, 300 or 600")
    transports = where.get(doc, "transports", list, "")
    if not transports or any(t not in TRANSPORTS for t in transports):
        raise where.error("transports", f"must be a non-empty list of {', '.join(TRANSPORTS)}")
    if "serial" in transports and not isinstance(doc.get("serial"), Mapping):
        raise where.error("serial", "a printer with a serial transport needs a [serial] table")
    tcp_port = where.get(doc, "tcp_port", int, "", 9100)
    if not 0 < tcp_port < 65536:
        raise where.error("tcp_port", "must be 1..65535")
    if not isinstance(doc.get("status"), Mapping):
        raise where.error("status", "missing table (the status query and how its answer decodes)")
    test_job = where.bytes_of(doc, "test_job", "")
    if not test_job:
        raise where.error("test_job", "missing (the job `packgate device print-test` sends)")
    return PrinterSpec(language=language, dpi=dpi, transports=tuple(transports), tcp_port=tcp_port,
                       usb_glob=where.get(doc, "usb_glob", str, "", "/dev/usb/lp*"),
                       status=_status(where, doc["status"]), test_job=test_job)


def build_template(where: Where, doc: Mapping) -> LabelTemplate:
    from packgate.device.errors import LabelError

    language = where.get(doc, "language", str, "")
    lang = LANGUAGES.get(language)
    if lang is None or not lang.templates:
        names = [n for n, v in LANGUAGES.items() if v.templates]
        raise where.error("language", f"no templates for {language!r}; templates exist for {', '.join(names)}")
    width = where.get(doc, "width_mm", int, "")
    height = where.get(doc, "height_mm", int, "")
    dpi = where.get(doc, "dpi", int, "")
    if not (20 <= width <= 300 and 20 <= height <= 500):
        raise where.error("width_mm", "label size out of range (20..300 x 20..500 mm)")
    body = where.get(doc, "body", str, "")
    try:
        fields = tuple(name for _, name, _, _ in string.Formatter().parse(body) if name is not None)
    except ValueError as exc:
        raise where.error("body", f"bad placeholder: {exc}") from exc
    unknown = sorted(set(fields) - set(LABEL_FIELDS))
    if unknown:
        raise where.error("body", f"unknown field(s) {unknown}; fields: {', '.join(LABEL_FIELDS)}")
    try:
        lang.check_template(body)
    except LabelError as exc:
        raise where.error("body", str(exc)) from exc
    return LabelTemplate(language=language, width_mm=width, height_mm=height, dpi=dpi, body=body,
                         fields=tuple(dict.fromkeys(fields)))


def language_mismatch(template_name: str, template: LabelTemplate, printer_name: str, printer: PrinterSpec) -> str | None:
    """Why a label template cannot be printed by a printer (another printer language), or None."""
    if template.language == printer.language:
        return None
    return (f"{template_name!r} is a {template.language.upper()} template, but printer.profile {printer_name!r} speaks "
            f"{printer.language.upper()}: choose a {printer.language} template")


def fill(template: LabelTemplate, fields: LabelFields) -> bytes:
    """The job bytes: every placeholder escaped (or refused) by the template's language."""
    lang = LANGUAGES[template.language]
    values = fields.values()
    safe = {name: lang.escape(name, values[name]) for name in template.fields}
    return template.body.format(**safe).encode(lang.encoding)
