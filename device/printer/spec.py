"""What a ``kind = "printer"`` or ``kind = "label"`` firmware profile holds, validated when loaded.

A printer profile names its label language, resolution, transports and status query, and how the
status answer decodes into conditions (``paper_out``, ``head_open``, ...):

  * ``decode = "fields"``: ``frames`` STX..ETX frames of comma-separated fields (Zebra ``~HS``);
    ``flags`` maps a condition to ``[frame, field]``, set when that field is not ``0``;
  * ``decode = "bits"``: ``length`` raw bytes, ``bits`` maps a condition to a bit (TSPL ``<ESC>!?``);
  * ``decode = "code"``: a text code ended by ``end``, ``codes`` maps each code to its conditions
    (Godex ``~S,CHECK``).

A label profile is a template in one language for one label size, with ``{field}`` placeholders.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from packgate.device.printer.label import LabelFields
from packgate.device.printer.languages import LANGUAGES
from packgate.device.profile_keys import Where

#: condition -> what the packer should do about it
CONDITIONS: Mapping[str, str] = MappingProxyType({
    "paper_out": "load labels and close the print head",
    "paper_jam": "clear the label path and press feed",
    "head_open": "close the print head",
    "ribbon_out": "load a new ribbon",
    "paused": "press pause (or feed) on the printer to resume",
    "cover_open": "close the printer cover",
    "head_too_hot": "let the print head cool down",
    "cutter_jam": "clear the cutter",
    "error": "check the printer's display",
    "printing": "",
    "buffer_full": "",
})
#: reported, but a job may still be sent
WARNINGS = frozenset({"printing", "buffer_full"})
TRANSPORTS = ("tcp", "usb", "serial")
DECODERS = ("fields", "bits", "code")
LABEL_FIELDS = ("waybill", "order", "carton", "weight", "ship_to_name", "ship_to_phone", "sender", "date")


@dataclass(frozen=True)
class StatusSpec:
    query: bytes
    decode: str
    init: bytes = b""  # sent once after opening (e.g. Godex ^XSET,IMMEDIATE,1)
    timeout: float = 2.0
    frames: int = 1
    flags: Mapping[str, tuple[int, int]] = field(default_factory=lambda: MappingProxyType({}))
    idle: tuple[str, ...] = ()  # "fields": the answer of a ready printer, one CSV line per frame
    length: int = 1
    bits: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    codes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    end: bytes = b"\r\n"


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


def _status(where: Where, t: Mapping) -> StatusSpec:
    p = "status"
    decode = where.get(t, "decode", str, p)
    if decode not in DECODERS:
        raise where.error("status.decode", f"must be one of {', '.join(DECODERS)}")
    query = where.bytes_of(t, "query", p)
    if not query:
        raise where.error("status.query", "missing (the bytes that ask the printer for its status)")
    timeout = where.get(t, "timeout", float, p, 2.0)
    if not 0 < timeout <= 30:
        raise where.error("status.timeout", "must be > 0 and <= 30 seconds")
    common: dict[str, Any] = dict(query=query, decode=decode, init=where.bytes_of(t, "init", p), timeout=timeout)
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
    codes = {code: _conditions(where, f"status.codes.{code}", conds)
             for code, conds in where.get(t, "codes", Mapping, p).items()}
    if () not in codes.values():
        raise where.error("status.codes", "one code must mean ready (an empty list)")
    end = where.bytes_of(t, "end", p, "\r\n")
    if not end:
        raise where.error("status.end", "a code answer needs an end delimiter")
    return StatusSpec(codes=MappingProxyType(codes), end=end, **common)


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
