"""A printer's status answer, both ways: ``decode`` for the host, ``encode`` for the emulator, driven by the
profile's ``[status]`` table (see device.printer.spec for the three decoders).

Invariants: decoding never guesses: a flag the profile does not name is reported as ``error`` with the raw value
in ``detail``; a short answer and the detailed answer asked on a fault are ``merged`` into one status, where the
detailed faults replace the short answer's catch-all ``error`` (the detail says which error it was).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from packgate.device.errors import PrinterError
from packgate.device.printer.conditions import CONDITIONS, NOTICES, WARNINGS, ordered
from packgate.device.printer.spec import StatusSpec

STX, ETX = b"\x02", b"\x03"
_FRAME = re.compile(rb"\x02([^\x02\x03]*)\x03")


@dataclass(frozen=True)
class PrinterStatus:
    conditions: tuple[str, ...]
    raw: bytes = b""
    detail: str = ""

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(c for c in self.conditions if c not in WARNINGS)

    @property
    def notices(self) -> tuple[str, ...]:
        """Warnings a person should see now (ribbon low, media low, ...), before they stop the table."""
        return tuple(c for c in self.conditions if c in NOTICES)

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def advice(self) -> list[str]:
        return [CONDITIONS[c] for c in self.problems]

    def describe(self) -> str:
        if self.ready:
            return "ready" + (f" ({', '.join(self.conditions)})" if self.conditions else "")
        text = "; ".join(f"{c.replace('_', ' ')}: {CONDITIONS[c]}" for c in self.problems)
        return text + (f" ({self.detail})" if self.detail else "")

    def merged(self, other: "PrinterStatus") -> "PrinterStatus":
        """This (short) status with the detailed one: every condition of both, the catch-all ``error`` dropped when
        the detail names the fault."""
        both = set(self.conditions) | set(other.conditions)
        if any(c != "error" for c in other.problems):
            both.discard("error")
        detail = "; ".join(d for d in (self.detail if "error" in both else "", other.detail) if d)
        return PrinterStatus(ordered(both), self.raw + other.raw, detail)

    def as_dict(self) -> dict:
        return {"ready": self.ready, "conditions": list(self.conditions), "problems": list(self.problems),
                "advice": self.advice, "notices": list(self.notices), "detail": self.detail, "raw": self.raw.hex()}


def complete(spec: StatusSpec, buf: bytes) -> bool:
    """Whether ``buf`` holds a whole answer (the host stops reading there)."""
    if spec.decode == "fields":
        return len(_FRAME.findall(buf)) >= spec.frames
    if spec.decode == "bits":
        return len(buf) >= spec.length
    return spec.end in buf


def decode(spec: StatusSpec, raw: bytes) -> PrinterStatus:
    """The conditions in an answer; PrinterError names what is wrong with a malformed one."""
    found: set[str] = set()
    if spec.decode == "fields":
        frames = [f.decode("latin-1").split(",") for f in _FRAME.findall(raw)]
        if len(frames) < spec.frames:
            raise PrinterError(f"status answer has {len(frames)} of {spec.frames} STX..ETX strings: {raw!r}")
        for cond, (frame, fld) in spec.flags.items():
            fields = frames[frame]
            if fld >= len(fields) or not fields[fld].strip().isdigit():
                raise PrinterError(f"status string {frame + 1} field {fld + 1} is not a flag: {raw!r}")
            if int(fields[fld]) != 0:
                found.add(cond)
        return PrinterStatus(ordered(found), raw)
    if spec.decode == "bits":
        if len(raw) < spec.length:
            raise PrinterError(f"status answer has {len(raw)} of {spec.length} bytes")
        value = int.from_bytes(raw[:spec.length], "little")
        found = {cond for cond, bit in spec.bits.items() if value >> bit & 1}
        unknown = value & ~sum(1 << b for b in spec.bits.values())
        detail = f"unknown status bits 0x{unknown:02x}" if unknown else ""
        if "error" in found and not detail:
            detail = f"status byte 0x{value:02x}: other error"
        return PrinterStatus(ordered(found | ({"error"} if unknown else set())), raw, detail)
    end = raw.find(spec.end)
    if end < 0:
        raise PrinterError(f"status answer {raw!r} has no end delimiter {spec.end!r}")
    code = raw[:end].decode("latin-1").strip()
    if code not in spec.codes:
        return PrinterStatus(("error",), raw, f"unknown status code {code!r}")
    detail = spec.code_details.get(code, "")
    return PrinterStatus(ordered(spec.codes[code]), raw, f"code {code}: {detail}" if detail else "")


def encode(spec: StatusSpec, conditions: set[str] | frozenset[str]) -> bytes:
    """The answer a printer in ``conditions`` sends (the emulator's side of ``decode``); a fault the answer has no
    flag for shows as the profile's ``status.fallback``."""
    named = _nameable(spec)
    shown = {c for c in conditions if c in named}
    if any(c not in named and c not in WARNINGS for c in conditions):
        shown.add(spec.fallback)
    if spec.decode == "fields":
        lines = [line.split(",") for line in spec.idle]
        for cond, (frame, fld) in spec.flags.items():
            if cond in shown:
                lines[frame][fld] = "1"
        return b"".join(STX + ",".join(fields).encode("latin-1") + ETX + b"\r\n" for fields in lines)
    if spec.decode == "bits":
        value = sum(1 << bit for cond, bit in spec.bits.items() if cond in shown)
        return value.to_bytes(spec.length, "little")
    ready = next(code for code, conds in spec.codes.items() if not conds)
    for cond in ordered(shown):
        for code, conds in spec.codes.items():
            if cond in conds:
                return code.encode("latin-1") + spec.end
    return ready.encode("latin-1") + spec.end


def _nameable(spec: StatusSpec) -> set[str]:
    if spec.decode == "fields":
        return set(spec.flags)
    if spec.decode == "bits":
        return set(spec.bits)
    return {c for conds in spec.codes.values() for c in conds}
