"""``line-fields``: a regex with named groups plus tables, for every text-ish scale protocol.

Parameters (``[parser]`` in a profile):

  pattern         regex matched against the whole frame (decoded latin-1). Named groups, all optional:
                  ``weight`` (sign/spaces allowed), ``weight_tail`` (digits sent apart and appended to the
                  weight, e.g. the unverified last digit in ``+007.12/3``), ``sign``, ``digits`` + ``decimals``
                  (implied point), ``unit``, ``flag`` (a status token; more fields: ``flag2``, ``flag3``...),
                  ``net`` (gross/net token), ``status`` (status-bit chars)
  flags           token -> list of flags, e.g. { S = [], D = ["motion"] }; unknown token -> bad frame;
                  one table for every ``flag*`` group
  no_unit_flags   flags when the ``unit`` group is missing or blank (Sartorius SBI / Kern: no unit = unstable)
  net_tokens      tokens of group ``net`` meaning net weight, e.g. ["NT", "N"]
  status_bits     { base = 0x40, bytes = 1, bits = [ { byte = 0, bit = 0, flag = "motion" }, ... ] }
  specials        [ { pattern = '...', flags = ["overload"], reason = "..." } ] tried before ``pattern``
  acks            regexes of acknowledgement lines ('S A' accepted, 'Z A' done): no reading, no bad frame;
                  the codec marks them ``extra["ack"]`` and the reader skips them (``frames_ack``)
  checksum        { kind = "xor"|"twos7"|"sum8", start = 1, end = 9, format = "hex2"|"byte" };
                  covers frame[start:end], the checksum sits right after ``end`` (negative = from frame end);
                  ``verify = false`` when the public material does not settle what it covers: the emulator
                  still sends one, the decoder does not judge it
  unit            unit when the frame carries none; ``unit_map`` maps frame units to canonical ones
  decimals        implied decimals for ``digits`` without a ``decimals`` group (default 0)
  weight_reversed the weight field is sent least significant character first (Yaohua "=" format)
  stability_flag  false when the protocol has no stability indication (reader infers it)
  status_only     what a frame with status but no weight means when no bad flag is set:
                  ``zero = "zero-weight"`` (Toledo 8217 "?P": centre of zero, 0); ``none = "repeat"`` (no flag at
                  all = same weight as last time) or ``none = "error"`` with ``reason`` (Toledo "?@": the scale
                  did not take the command)

Emulator templates (``[emulator.encode]``): ``ok``, ``motion``, ``overload``, ``underload``, optional
``negative`` and ``zero``; str.format fields: weight abs head tail digits dp sign sign0 sign_sp unit UNIT gn st
gnl field chk (``head``/``tail``: ``abs`` without / only its last digit; ``gn``/``gnl``: G or N, g or n).
``field`` (optional template) is rendered and reversed when ``weight_reversed``. ``chk`` is filled in last.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from packgate.device.scale.parsers.common import (
    CHECKSUM_WIDTH,
    EmuState,
    bad_frame,
    canonical_unit,
    check_flags,
    checksum,
    decode_safely,
    digits_weight,
    format_checksum,
    make_reading,
    parse_checksum,
    parse_weight,
    state_flags,
    weight_vars,
)
from packgate.device.scale.reading import Decimal, Reading, Status

STATES = ("ok", "motion", "overload", "underload", "negative", "zero", "status")


def _compile(where, key: str, pattern: Any) -> re.Pattern:
    if not isinstance(pattern, str):
        raise where.error(key, "must be a regex string")
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        raise where.error(key, f"bad regex: {exc}") from exc


class FieldsCodec:
    def __init__(self, params: Mapping[str, Any], encode: Mapping[str, Any], serial, where):
        p = "parser"
        self.pattern = _compile(where, f"{p}.pattern", params.get("pattern"))
        groups = set(self.pattern.groupindex)
        if not groups & {"weight", "digits", "status"} and not any(g.startswith("flag") for g in groups):
            raise where.error(f"{p}.pattern", "needs a named group weight, digits, flag or status")
        self.flags = {str(k): check_flags(v, where, f"{p}.flags.{k}") for k, v in params.get("flags", {}).items()}
        self.flag_groups = tuple(sorted(g for g in groups if g.startswith("flag")))
        if self.flag_groups and not self.flags:
            raise where.error(f"{p}.flags", "pattern has a 'flag' group but no flags table")
        self.no_unit_flags = check_flags(params.get("no_unit_flags", ()), where, f"{p}.no_unit_flags")
        if self.no_unit_flags and "unit" not in groups:
            raise where.error(f"{p}.no_unit_flags", "needs a 'unit' group in the pattern")
        self.net_tokens = frozenset(params.get("net_tokens", ()))
        sb = params.get("status_bits")
        self.bits: tuple[tuple[int, int, str], ...] = ()
        self.bits_base, self.bits_bytes = 0x30, 1
        if sb is not None:
            self.bits_base = where.get(sb, "base", int, f"{p}.status_bits", 0x30)
            self.bits = tuple((where.get(b, "byte", int, f"{p}.status_bits.bits"), where.get(b, "bit", int, f"{p}.status_bits.bits"),
                               check_flags([where.get(b, "flag", str, f"{p}.status_bits.bits")], where, f"{p}.status_bits.bits")[0])
                              for b in where.get(sb, "bits", tuple, f"{p}.status_bits"))
            self.bits_bytes = where.get(sb, "bytes", int, f"{p}.status_bits", 1 + max((b[0] for b in self.bits), default=0))
        elif "status" in groups:
            raise where.error(f"{p}.status_bits", "pattern has a 'status' group but no status_bits table")
        self.acks = tuple(_compile(where, f"{p}.acks[{i}]", a) for i, a in enumerate(params.get("acks", ())))
        self.specials = tuple((_compile(where, f"{p}.specials[{i}].pattern", s.get("pattern")),
                               check_flags(s.get("flags", ()), where, f"{p}.specials[{i}].flags"), s.get("reason"))
                              for i, s in enumerate(params.get("specials", ())))
        ck = params.get("checksum")
        self.checksum = None
        self.checksum_verify = True
        if ck is not None:
            kind = where.get(ck, "kind", str, f"{p}.checksum")
            fmt = where.get(ck, "format", str, f"{p}.checksum", "hex2")
            if kind not in ("xor", "twos7", "sum8"):
                raise where.error(f"{p}.checksum.kind", "must be xor, twos7 or sum8")
            if fmt not in CHECKSUM_WIDTH:
                raise where.error(f"{p}.checksum.format", "must be hex2 or byte")
            self.checksum = (kind, where.get(ck, "start", int, f"{p}.checksum"), where.get(ck, "end", int, f"{p}.checksum"), fmt)
            self.checksum_verify = where.get(ck, "verify", bool, f"{p}.checksum", True)
        self.unit = params.get("unit")
        self.unit_map = params.get("unit_map", {})
        if "unit" not in groups and not self.unit:
            raise where.error(f"{p}.unit", "the frame carries no unit group, so the profile must name the unit")
        self.decimals = where.get(params, "decimals", int, p, 0)
        self.reversed = where.get(params, "weight_reversed", bool, p, False)
        self.stability_flag = where.get(params, "stability_flag", bool, p, True)
        so = params.get("status_only", {})
        self.status_only_zero = so.get("zero") == "zero-weight"
        self.status_only_none = so.get("none")
        if self.status_only_none not in (None, "repeat", "error"):
            raise where.error(f"{p}.status_only.none", "must be 'repeat' or 'error'")
        self.status_only_reason = so.get("reason")
        # emulator templates
        self.templates = {k: v for k, v in encode.items() if k in STATES}
        for k, v in encode.items():
            if k not in STATES + ("field",) or not isinstance(v, str):
                raise where.error(f"emulator.encode.{k}", f"unknown template (known: {', '.join(STATES)}, field)")
        if "ok" not in self.templates:
            raise where.error("emulator.encode.ok", "missing: every scale profile needs an emulator encoder")
        self.field_template = encode.get("field")
        self.mask = 0x7F if serial.bytesize == 7 else 0xFF
        # self-check: each template renders for a sample state without KeyError
        for name, template in self.templates.items():
            try:
                self._render(template, EmuState(Decimal("1.5"), "kg", 3, "ok"))
            except (KeyError, IndexError, ValueError) as exc:
                raise where.error(f"emulator.encode.{name}", f"bad template: {exc!r}") from exc

    # -- decode ------------------------------------------------------------------------------
    def decode(self, frame: bytes) -> Reading:
        return decode_safely(self._decode, frame)

    def _decode(self, frame: bytes) -> Reading:
        data = bytes(b & self.mask for b in frame) if self.mask != 0xFF else bytes(frame)
        if self.checksum is not None and self.checksum_verify:
            kind, start, end, fmt = self.checksum
            e = end if end >= 0 else len(data) + end
            w = CHECKSUM_WIDTH[fmt]
            if e <= 0 or e + w > len(data) or start >= e:
                return bad_frame(frame, "frame too short for its checksum")
            want = parse_checksum(data[e:e + w], fmt)
            got = checksum(kind, data[start:e])
            if want is None or (want & self.mask) != (got & self.mask):
                return bad_frame(frame, f"checksum mismatch (frame {data[e:e + w]!r}, computed {got:02X})")
        text = data.decode("latin-1")
        if any(ack.fullmatch(text) for ack in self.acks):
            return Reading(Status.OK, False, None, None, None, bytes(frame), "acknowledgement", extra={"ack": True})
        for regex, special_flags, reason in self.specials:
            if regex.fullmatch(text):
                return make_reading(frame, set(special_flags), None, self.unit, reason=reason)
        m = self.pattern.fullmatch(text)
        if m is None:
            return bad_frame(frame, "frame does not match the protocol pattern")
        g = m.groupdict()
        flags: set[str] = set()
        for group in self.flag_groups:
            token = g.get(group)
            if token is None:
                continue
            if token not in self.flags and token.strip() in self.flags:
                token = token.strip()
            if token not in self.flags:
                return bad_frame(frame, f"unknown status token {g[group]!r}")
            flags.update(self.flags[token])
        if self.no_unit_flags and not (g.get("unit") or "").strip():
            flags.update(self.no_unit_flags)
        if g.get("net") and g["net"].strip() in self.net_tokens:
            flags.add("net")
        if g.get("status"):
            raw_bits = [ord(c) & 0x7F for c in g["status"]]
            for byte, bit, flag in self.bits:
                if byte < len(raw_bits) and raw_bits[byte] >> bit & 1:
                    flags.add(flag)
        sign = (g.get("sign") or "").strip()
        if sign == "-" and "range" in flags:
            flags.add("negative")  # out of range below zero, also when the digits read 0
        weight = None
        if g.get("weight") is not None and g["weight"].strip():
            text_w = g["weight"][::-1] if self.reversed else g["weight"]
            weight = parse_weight(sign + text_w + (g.get("weight_tail") or ""))
        elif g.get("digits"):
            dp = int(g["decimals"]) if g.get("decimals") else self.decimals
            weight = digits_weight(g["digits"], dp, negative=sign == "-")
        unit_text = (g.get("unit") or "").strip()
        unit = canonical_unit(unit_text or (None if self.no_unit_flags else self.unit), self.unit_map)
        extra: dict = {}
        stable_known = self.stability_flag
        if weight is None:
            bad = flags & {"motion", "overload", "underload", "range", "error", "zero_error", "negative"}
            if not bad and "zero" in flags and self.status_only_zero:
                weight = Decimal(0)
            elif not bad and "zero" not in flags and self.status_only_none == "repeat":
                extra["repeat"] = True  # "same weight as last time" (pywebdriver's reading of a status 0)
                stable_known = False  # not a stable reading by itself: the reader repeats the last weight
            elif not bad and "zero" not in flags and self.status_only_none == "error":
                return make_reading(frame, flags | {"error"}, None, unit, reason=self.status_only_reason)
            if "negative" in flags:
                flags.add("underload")  # below zero and the protocol sends no value
        return make_reading(frame, flags, weight, unit, stable_known=stable_known, extra=extra)

    # -- encode (emulator) -------------------------------------------------------------------
    def _status_chars(self, flags: set[str]) -> str:
        values = [self.bits_base] * self.bits_bytes
        for byte, bit, flag in self.bits:
            if flag in flags or (flag == "underload" and "negative" in flags):
                values[byte] |= 1 << bit
        return "".join(chr(v) for v in values)

    def _render(self, template: str, state: EmuState) -> bytes:
        values = weight_vars(state)
        values["st"] = self._status_chars(state_flags(state))
        if self.field_template:
            f = self.field_template.format(**values)
            values["field"] = f[::-1] if self.reversed else f
        width = CHECKSUM_WIDTH[self.checksum[3]] if self.checksum else 0
        values["chk"] = "\0" * width
        out = bytearray(template.format(**values).encode("latin-1"))
        if self.checksum is not None and "{chk}" in template:
            kind, start, end, fmt = self.checksum
            e = end if end >= 0 else len(out) + end
            out[e:e + width] = format_checksum(checksum(kind, bytes(out[start:e])), fmt)
        return bytes(out)

    def template_for(self, state: EmuState) -> str:
        key = state.status
        if key == "ok" and state.weight < 0 and "negative" in self.templates:
            key = "negative"
        elif key == "ok" and state.weight == 0 and "zero" in self.templates:
            key = "zero"
        return self.templates.get(key, self.templates["ok"])

    def encode(self, state: EmuState, template: str | None = None) -> bytes:
        """Frame for ``state``; ``template`` names a specific one (e.g. "status"), falling back to the state's."""
        chosen = self.templates.get(template) if template else None
        return self._render(chosen or self.template_for(state), state)
