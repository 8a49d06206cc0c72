"""What a scan means: GS1 element strings, plain EAN/UPC, or one of the site's own codes.

``interpret(text)`` never raises. Bad data comes back as a ``Scan`` of kind ``"unknown"`` whose
``error`` says what is wrong (wrong check digit, impossible date, ...), with the raw text kept for
review.

Order of decisions (the symbology identifier, when present, always wins):

1. ``]C1 ]d2 ]Q3 ]e0 ]J1`` (GS1 symbologies): parsed as GS1 element strings (or a GS1 Digital
   Link URI). A parse error is an error, never a fallback to something else.
2. ``]E0 ]E3 ]E4 ]I1`` (EAN/UPC/ITF-14): a GTIN with a valid check digit. ``]E3`` is EAN-13/UPC with its
   2- or 5-digit add-on in one packet (13 + 2 or 13 + 5 digits, ISO/IEC 15420): a GTIN plus ``addon``; the
   two-packet form ``]E0<13>]E1<2>`` / ``]E0<13>]E2<5>`` and zxing's text ``9781558604971 90000`` (with or
   without identifier) are read the same way.
3. Anything else: the site's patterns (orders, totes, bins, badges, packaging, parcels) first, so
   a site code that merely looks like GS1 stays a site code. Then a GS1 Digital Link URL (scheme
   ``http://``/``https://`` all lower or all upper case, as GS1's syntax engine requires). Then,
   only when the scanner sent no identifier at all (keyboard wedges often strip it), the rules of
   ``no_identifier`` below, in this order: 6 digits = UPC-E (expanded to its GTIN-12); a GTIN, a space and a
   2- or 5-digit add-on = GTIN plus add-on; 8/12/13/14
   digits with a valid check digit = GTIN; 18 digits with a valid check digit = SSCC; GS1 HRI text
   ``(01)...(10)...``; an element string that contains a GS, or starts with a fixed-length AI whose
   content can be verified (``VERIFIABLE_START``: a check digit or a date) and parses completely;
   8/12/13/14 or 18 digits that are none of these = bad GTIN / bad SSCC. The README has the table.

Nothing here ever invents a value: a scan without AI 17 has ``expiry=None``; merging with what
the station already knows is the station's job. ``warning`` says what is doubtful in a scan that is still
read (a GRAI whose check digit does not verify: biip reads it, GS1's syntax dictionary would not).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal
from typing import Any

from biip import ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.sscc import Sscc
from biip.upc import Upc

from packgate.device.codes import gs1_check_ok
from packgate.device.errors import ProfileError
from packgate.device.scanner import aim

GS = "\x1d"
# Only these are trimmed from the ends of a scan: never str.strip() with no argument, because
# '\x1d'.isspace() is True and a trailing GS is data.
TRIM = " \r\n\t\x00"

KINDS = ("gs1", "gtin", "order", "tote", "bin", "badge", "packaging", "parcel", "unknown")

GRAMS_PER_LB = Decimal("453.59237")
# AI prefix of a net-weight element string -> grams per unit of its value.
NET_WEIGHT_AIS: dict[str, Decimal] = {"310": Decimal(1000), "320": GRAMS_PER_LB}
STRONG_GS1_START = ("00", "01", "02")
# AIs an element string read without identifier or GS may start with (GS1 General Specifications 3.2): fixed
# length, and content that can be checked: a key with a check digit (00 01 02, 410-417 GLNs), a GRAI's shape
# (8003: the filler digit 0 and 13 digits; its check digit is reported, not required, as biip reads it) or a
# date (11 12 13 15 16 17). Variable-length AIs (10 lot, 21 serial, 90-99 ...) and measures never start one:
# "10ABC123" stays a plain code.
VERIFIABLE_START: dict[str, str] = {
    "00": "check", "01": "check", "02": "check", "410": "check", "411": "check", "412": "check", "413": "check",
    "414": "check", "415": "check", "416": "check", "417": "check", "8003": "grai",
    "11": "date", "12": "date", "13": "date", "15": "date", "16": "date", "17": "date",
}
DIGITAL_LINK_SCHEMES = ("https://", "HTTPS://", "http://", "HTTP://")
# EAN/UPC add-on: 2 digits (periodicals' issue) or 5 (books' price); the main symbol is a 13-digit EAN-13/UPC
# in ]E3 (and in zxing's "main add-on" text; a 12-digit UPC-A there too).
_ADDON_TEXT = re.compile(r"(?P<main>[0-9]{12,13}) (?P<addon>[0-9]{2}|[0-9]{5})")
_ADDON_PACKETS = re.compile(r"(?P<main>[0-9]{13})\]E(?P<kind>[12])(?P<addon>[0-9]+)")
_GS1_CONFIG = ParseConfig(separator_chars=(GS,))


@dataclass(frozen=True)
class SitePatterns:
    """The site's own codes, as regular expressions (``re.search`` on the trimmed scan).

    A pattern with a named group ``value`` reports that group as the scan's value (the default badge
    pattern drops its ``BADGE:`` prefix); otherwise the whole scan is the value. Checked in field
    order; set a field to ``None`` to switch that kind off.
    """

    badge: str | None = r"^BADGE:(?P<value>.+)$"
    order: str | None = r"^SO-\d+$"
    tote: str | None = r"^T-\d{4}$"
    bin: str | None = r"^[A-Z]-\d{2}-\d{2}$"
    packaging: str | None = r"^(BOX|BAG)-[A-Z0-9]+$"
    parcel: str | None = r"^PCL-[A-Z0-9]+$"
    _compiled: tuple[tuple[str, re.Pattern[str]], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        compiled = []
        for f in fields(self):
            if f.name.startswith("_"):
                continue
            pattern = getattr(self, f.name)
            if pattern is None:
                continue
            try:
                compiled.append((f.name, re.compile(pattern)))
            except re.error as exc:
                raise ProfileError(f"site pattern {f.name}={pattern!r} is not a valid regex: {exc}") from None
        object.__setattr__(self, "_compiled", tuple(compiled))

    @classmethod
    def from_prefixes(cls, **prefixes: str | None) -> "SitePatterns":
        """Patterns from plain prefixes, e.g. ``from_prefixes(order="SO-", tote="TOTE")``.

        Kinds not named keep their default regex.
        """
        return cls(**{k: None if p is None else "^" + re.escape(p) for k, p in prefixes.items()})

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "SitePatterns":
        """From a config table: each kind maps to a regex string or ``{"prefix": "..."}``."""
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        unknown = set(config) - known
        if unknown:
            raise ProfileError(f"unknown site pattern kind(s) {sorted(unknown)}; known: {sorted(known)}")
        kwargs: dict[str, str | None] = {}
        for kind, spec in config.items():
            if isinstance(spec, dict):
                kwargs[kind] = "^" + re.escape(str(spec["prefix"]))
            else:
                kwargs[kind] = spec
        return cls(**kwargs)

    def match(self, text: str) -> tuple[str, str] | None:
        """``(kind, value)`` of the first pattern that matches, else None."""
        for kind, rx in self._compiled:
            m = rx.search(text)
            if m:
                value = m.group("value") if "value" in rx.groupindex and m.group("value") else text
                return kind, value
        return None


DEFAULT_PATTERNS = SitePatterns()


@dataclass(frozen=True)
class Scan:
    """One interpreted scan. ``raw`` is exactly what the reader framed (AIM id included)."""

    kind: str
    value: str
    raw: str
    symbology: str | None = None  # AIM identifier, e.g. "]C1"
    gtin: str | None = None  # always 14 digits
    lot: str | None = None
    production: date | None = None
    expiry: date | None = None
    best_before: date | None = None
    serial: str | None = None
    net_weight_g: Decimal | None = None
    sscc: str | None = None
    gs1_hri: str | None = None
    elements: tuple[tuple[str, str], ...] = ()  # GS1 (AI, value) pairs in scan order
    addon: str | None = None  # EAN/UPC 2- or 5-digit add-on read with the GTIN
    error: str | None = None
    warning: str | None = None  # read, but something in it does not verify
    source: str | None = None  # which reader produced it ("serial:/dev/ttyACM0", "camera:0", ...)

    @property
    def weight(self) -> Decimal | None:
        """Alias of ``net_weight_g`` (grams)."""
        return self.net_weight_g

    @property
    def symbology_name(self) -> str | None:
        return None if self.symbology is None else aim.lookup(self.symbology).name

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates ISO 8601, weights as decimal strings, GS kept as ``\\u001d``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, date):
                v = v.isoformat()
            elif isinstance(v, Decimal):
                v = str(v)
            elif f.name == "elements":
                v = [list(pair) for pair in v]
            out[f.name] = v
        out["symbology_name"] = self.symbology_name
        return out


def interpret(
    text: str | bytes,
    patterns: SitePatterns | None = None,
    *,
    gs_substitute: str | None = None,
    source: str | None = None,
) -> Scan:
    """Interpret one scan (already without its suffix). Never raises.

    ``gs_substitute``: a printable stand-in the scanner was told to send for GS (e.g. ``"|"`` or
    ``"{GS}"`` for keyboard wedges and browsers); it is turned back into 0x1D first.
    """
    if isinstance(text, (bytes, bytearray)):
        text = decode_bytes(bytes(text))
    try:
        return _interpret(text, patterns or DEFAULT_PATTERNS, gs_substitute, source)
    except Exception as exc:  # noqa: BLE001 - a scan must never crash a reader thread
        return Scan("unknown", text, text, error=f"could not interpret scan: {type(exc).__name__}: {exc}", source=source)


def decode_bytes(data: bytes) -> str:
    """Scanner bytes -> text: UTF-8 when valid (QR codes), else Latin-1 (every byte kept)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _interpret(raw: str, patterns: SitePatterns, gs_substitute: str | None, source: str | None) -> Scan:
    body = raw.strip(TRIM)
    symbology, payload = aim.split(body)
    if gs_substitute:
        payload = payload.replace(gs_substitute, GS)
    base = {"raw": raw, "symbology": symbology, "source": source}

    def unknown(error: str | None) -> Scan:
        return Scan("unknown", payload, error=error, **base)

    if not payload:
        return unknown("empty scan" + (f" (only the identifier {symbology})" if symbology else ""))

    if aim.is_gs1(symbology):
        if payload.lower().startswith(("http://", "https://")):
            return _digital_link(payload, base) or unknown(_dl_error(payload))
        return _gs1(payload, base)

    if aim.is_gtin(symbology):
        return _gtin_with_addon(payload, base, symbology)

    site = patterns.match(payload)
    if site is not None:
        kind, value = site
        if kind == "badge" and re.fullmatch(r"[0-9A-Fa-f]+", value):
            value = value.upper()
        return Scan(kind, value, **base)

    if payload.lower().startswith(("http://", "https://")):
        dl = _digital_link(payload, base)
        if dl is not None:
            return dl
        mixed_case_dl = not payload.startswith(DIGITAL_LINK_SCHEMES) and _looks_like_digital_link(payload)
        return unknown(_dl_error(payload) if mixed_case_dl else None)  # other URLs are plain data

    if symbology is not None:
        return unknown(None)  # e.g. ]C0 / ]Q1 / ]d1 that matched no site pattern: plain data
    return no_identifier(payload, base)


def no_identifier(payload: str, base: dict[str, Any]) -> Scan:
    """The rules for a scan that came without a symbology identifier (see the module docstring)."""
    digits = payload.isdigit() and payload.isascii()
    if digits and len(payload) == 6:
        return _upce(payload, base)
    if _ADDON_TEXT.fullmatch(payload):
        return _gtin_with_addon(payload, base, None)
    if digits and len(payload) in (8, 12, 13, 14) and gs1_check_ok(payload):
        return _gtin(payload, base)
    if digits and len(payload) == 18 and gs1_check_ok(payload):
        return _sscc(payload, base)
    if payload.startswith("(") and re.match(r"\(\d{2,4}\)", payload):
        try:
            message = GS1Message.parse_hri(payload, config=_GS1_CONFIG)
        except ParseError as exc:
            return Scan("unknown", payload, error=f"bad GS1 human-readable text: {exc}", **base)
        return _from_message(message, base)
    if GS in payload or payload.startswith(STRONG_GS1_START):
        return _gs1(payload, base)
    if looks_like_gs1(payload):
        return _gs1(payload, base)
    if digits and len(payload) in (8, 12, 13, 14):
        return _gtin(payload, base)  # the check digit is wrong: a bad GTIN, said so
    if digits and len(payload) == 18:
        return _sscc(payload, base)
    return Scan("unknown", payload, **base)


def looks_like_gs1(payload: str) -> bool:
    """An element string without identifier: contains a GS, or starts with a ``VERIFIABLE_START`` AI whose
    content checks out and the whole string parses. Also used to give pyzbar's Code 128/QR results an identifier."""
    if GS in payload:
        return True
    start = next((ai for ai in sorted(VERIFIABLE_START, key=len, reverse=True) if payload.startswith(ai)), None)
    if start is None:
        return False
    try:
        message = GS1Message.parse(payload, config=_GS1_CONFIG)
    except ParseError:
        return False
    first = message.element_strings[0] if message.element_strings else None
    if first is None or first.ai.ai != start:
        return False
    if VERIFIABLE_START[start] == "grai":
        return first.value[:1] == "0" and first.value[1:14].isdigit() and len(first.value) >= 14
    if VERIFIABLE_START[start] == "check":
        return gs1_check_ok(first.value)
    return first.date is not None


def _gs1(payload: str, base: dict[str, Any]) -> Scan:
    try:
        message = GS1Message.parse(payload, config=_GS1_CONFIG)
    except ParseError as exc:
        return Scan("unknown", payload, error=f"bad GS1 data: {exc}", **base)
    return _from_message(message, base, value=payload)


def _from_message(message: GS1Message | GS1DigitalLinkURI, base: dict[str, Any], value: str | None = None) -> Scan:
    found: dict[str, Any] = {}
    errors: list[str] = []
    elements = []
    for es in message.element_strings:
        ai = es.ai.ai
        elements.append((ai, es.value))
        for err in (es.gtin_error, es.sscc_error, es.gln_error):
            if err:
                errors.append(f"({ai}) {err}")
        if ai == "01" and es.gtin is not None:
            found["gtin"] = es.gtin.as_gtin_14()
        elif ai == "00" and es.sscc is not None:
            found["sscc"] = es.sscc.value
        elif ai == "10":
            found["lot"] = es.value
        elif ai == "21":
            found["serial"] = es.value
        elif ai == "11":
            found["production"] = es.date
        elif ai == "17":
            found["expiry"] = es.date
        elif ai == "15":
            found["best_before"] = es.date
        elif ai[:3] in NET_WEIGHT_AIS and len(ai) == 4 and es.decimal is not None:
            found["net_weight_g"] = es.decimal * NET_WEIGHT_AIS[ai[:3]]
    if not elements:
        return Scan("unknown", value if value is not None else message.value, error="no GS1 element strings", **base)
    hri = message.as_hri() if isinstance(message, GS1Message) else message.as_gs1_message().as_hri()
    text = value if value is not None else message.value
    if errors:
        return Scan("unknown", text, gs1_hri=hri, elements=tuple(elements), error="; ".join(errors), **base)
    return Scan("gs1", text, gs1_hri=hri, elements=tuple(elements), warning=_grai_warning(elements), **found, **base)


def _grai_warning(elements: list[tuple[str, str]]) -> str | None:
    """A GRAI (8003) whose check digit does not verify: biip reads it, GS1's syntax dictionary ("csum") would not."""
    for ai, value in elements:
        if ai == "8003" and value[1:14].isdigit() and not gs1_check_ok(value[:14]):
            want = gs1_standard_check_digit(value[:13])
            return f"(8003) GRAI check digit is {value[13]}, expected {want}: check the asset label"
    return None


def _looks_like_digital_link(payload: str) -> bool:
    return re.match(r"(?i)https?://[^/]+/.*\b(01|00|414|8003|8004)/\d", payload) is not None


def _dl_error(payload: str) -> str:
    if not payload.startswith(DIGITAL_LINK_SCHEMES):
        return f"GS1 Digital Link scheme must be http:// or https:// in lower or upper case: {payload[:8]!r}"
    return f"not a GS1 Digital Link URI: {payload!r}"


def _digital_link(payload: str, base: dict[str, Any]) -> Scan | None:
    if not payload.startswith(DIGITAL_LINK_SCHEMES):
        return None  # GS1 syntax engine: 'Https://' is an illegal scheme
    try:
        uri = GS1DigitalLinkURI.parse(payload)
    except ParseError:
        return None
    return _from_message(uri, base, value=payload)


def _gtin(payload: str, base: dict[str, Any]) -> Scan:
    try:
        gtin = Gtin.parse(payload)
    except ParseError as exc:
        return Scan("unknown", payload, error=f"bad GTIN: {exc}", **base)
    g14 = gtin.as_gtin_14()
    return Scan("gtin", g14, gtin=g14, **base)


def _gtin_with_addon(payload: str, base: dict[str, Any], symbology: str | None) -> Scan:
    """A GTIN, with the add-on when the scan carries one (``]E3`` digits, two packets, or "main add-on" text)."""
    found = _ADDON_TEXT.fullmatch(payload) or _ADDON_PACKETS.fullmatch(payload)
    if found is None and symbology == "]E3":
        if not (payload.isascii() and payload.isdigit() and len(payload) in (15, 18)):
            return Scan("unknown", payload, error=f"bad EAN/UPC with add-on: ]E3 carries 13 digits and a 2- or "
                                                  f"5-digit add-on, got {payload!r}", **base)
        main, addon = payload[:13], payload[13:]
    elif found is not None:
        main, addon = found["main"], found["addon"]
        packet = found.groupdict().get("kind")
        if packet is not None and len(addon) != (2 if packet == "1" else 5):
            return Scan("unknown", payload, error=f"bad EAN/UPC add-on: ]E{packet} carries "
                                                  f"{2 if packet == '1' else 5} digits, got {addon!r}", **base)
    else:
        return _gtin(payload, base)
    scan = _gtin(main, base)
    return replace(scan, addon=addon) if scan.kind == "gtin" else replace(scan, value=payload)


def _upce(payload: str, base: dict[str, Any]) -> Scan:
    """6-digit UPC-E (number system 0, check digit not typed) -> its GTIN (GS1 General Specifications 5.2.2.4.2)."""
    try:
        upc = Upc.parse(payload)
        g14 = upc.as_gtin_14()
    except ParseError as exc:
        return Scan("unknown", payload, error=f"bad UPC-E: {exc}", **base)
    return Scan("gtin", g14, gtin=g14, **base)


def _sscc(payload: str, base: dict[str, Any]) -> Scan:
    try:
        sscc = Sscc.parse(payload)
    except ParseError as exc:
        return Scan("unknown", payload, error=f"bad SSCC: {exc}", **base)
    return Scan("gs1", sscc.value, sscc=sscc.value, gs1_hri=f"(00){sscc.value}", elements=(("00", sscc.value),), **base)
