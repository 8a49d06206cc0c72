"""Pieces every parser kind shares: flags -> status, weight text -> Decimal, checksums, emulator state."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import Callable, Iterable, Protocol

from packgate.device.errors import FrameError
from packgate.device.scale.reading import GRAMS_PER_UNIT, Reading, Status, to_grams


class ScaleCodec(Protocol):
    """What a parser kind builds from a profile: frame bytes to a ``Reading``, and the emulator's side."""

    def decode(self, frame: bytes) -> Reading: ...

    def encode(self, state: "EmuState", template: str | None = None) -> bytes: ...

#: flag names a profile may map tokens or status bits to
FLAGS = frozenset({"motion", "overload", "underload", "range", "zero", "net", "error", "zero_error", "negative"})

_WEIGHT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")


def check_flags(names: Iterable[str], where, key: str) -> tuple[str, ...]:
    names = tuple(names)
    for n in names:
        if n not in FLAGS:
            raise where.error(key, f"unknown flag {n!r} (known: {', '.join(sorted(FLAGS))})")
    return names


def parse_weight(text: str) -> Decimal:
    """'+  1.234' / '- 12.5' / '0003.000' / '  100.00' -> Decimal as displayed (no float ever)."""
    compact = text.replace(" ", "")
    if not _WEIGHT_RE.fullmatch(compact):
        raise FrameError(f"weight field {text!r} is not a number")
    try:
        value = Decimal(compact)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards
        raise FrameError(f"weight field {text!r} is not a number") from exc
    return value.copy_abs() if value == 0 else value


def digits_weight(digits: str, decimals: int, negative: bool = False) -> Decimal:
    """'001234' with 2 decimals -> 12.34; negative decimals mean dummy zeros (x10, x100)."""
    compact = digits.replace(" ", "0")
    if not compact.isdigit() or not compact.isascii():
        raise FrameError(f"digits field {digits!r} is not numeric")
    value = Decimal(int(compact)).scaleb(-decimals) if decimals >= 0 else Decimal(int(compact) * 10 ** (-decimals))
    if negative and value != 0:
        value = -value
    return value


def canonical_unit(unit: str | None, unit_map) -> str | None:
    if unit is None:
        return None
    u = unit.strip()
    if unit_map and u in unit_map:
        return unit_map[u]
    return u.lower() if u.lower() in GRAMS_PER_UNIT else u


def resolve(flags: set[str], negative: bool) -> tuple[Status, bool, str | None]:
    """Flags -> (status, stable, reason). Precedence: error, overload, underload, range (by sign), motion."""
    if "error" in flags or "zero_error" in flags:
        return Status.ERROR, False, "zero error" if "zero_error" in flags else "device error"
    if "overload" in flags:
        return Status.OVERLOAD, False, "overload"
    if "underload" in flags:
        return Status.UNDERLOAD, False, "underload"
    if "range" in flags:
        return (Status.UNDERLOAD, False, "out of range (under)") if negative else (Status.OVERLOAD, False, "out of range (over)")
    if "motion" in flags:
        return Status.MOTION, False, None
    return Status.OK, True, None


def make_reading(raw: bytes, flags: set[str], weight: Decimal | None, unit: str | None, *,
                 stable_known: bool = True, reason: str | None = None, tare: Decimal | None = None,
                 extra: dict | None = None) -> Reading:
    negative = "negative" in flags or (weight is not None and weight < 0)
    status, stable, why = resolve(flags, negative)
    if status in (Status.OVERLOAD, Status.UNDERLOAD, Status.ERROR):
        weight = None  # the digits of an out-of-range frame are placeholders
    if not stable_known and status is Status.OK:
        stable = False
        extra = dict(extra or {}, stability="unknown")
    grams = to_grams(weight, unit) if weight is not None and unit else None
    return Reading(status, stable, weight, unit, grams, bytes(raw), reason or why,
                   net=("net" in flags) if flags is not None else None, tare=tare, extra=extra or {})


def bad_frame(raw: bytes, reason: str) -> Reading:
    """A frame that could not be decoded (or failed its checksum): counted and skipped by readers."""
    return Reading(Status.ERROR, False, None, None, None, bytes(raw), reason, extra={"bad_frame": True})


def decode_safely(decode: Callable[[bytes], Reading], frame: bytes) -> Reading:
    """``decode(frame)``, but never raising: any failure becomes a ``bad_frame`` Reading (codecs' ``decode``)."""
    try:
        return decode(frame)
    except FrameError as exc:
        return bad_frame(frame, str(exc))
    except Exception as exc:  # noqa: BLE001 - never crash on any byte sequence
        return bad_frame(frame, f"undecodable: {type(exc).__name__}")


# -- checksums -------------------------------------------------------------------------------

def checksum(kind: str, data: bytes) -> int:
    if kind == "xor":
        return reduce(lambda a, b: a ^ b, data, 0)
    if kind == "twos7":  # Toledo continuous: two's complement of the 7-bit sum
        return (-sum(b & 0x7F for b in data)) & 0x7F
    if kind == "sum8":
        return sum(data) & 0xFF
    raise ValueError(f"unknown checksum kind {kind!r}")


CHECKSUM_WIDTH = {"hex2": 2, "byte": 1}


def format_checksum(value: int, fmt: str) -> bytes:
    return f"{value:02X}".encode() if fmt == "hex2" else bytes([value & 0xFF])


def parse_checksum(field: bytes, fmt: str) -> int | None:
    if fmt == "hex2":
        try:
            text = field.decode("ascii")
            return int(text, 16) if len(text) == 2 and all(c in "0123456789abcdefABCDEF" for c in text) else None
        except UnicodeDecodeError:
            return None
    return field[0] if len(field) == 1 else None


# -- emulator side ---------------------------------------------------------------------------

@dataclass(frozen=True)
class EmuState:
    """What the emulated scale displays: weight in display units (Decimal) and its status."""

    weight: Decimal
    unit: str
    decimals: int
    status: str = "ok"  # ok | motion | overload | underload
    net: bool = False


def weight_vars(state: EmuState) -> dict:
    step = Decimal(1).scaleb(-state.decimals)
    q = state.weight.quantize(step)
    negative = q < 0
    abs_s = f"{q.copy_abs():f}"
    return {
        "weight": ("-" if negative else "") + abs_s,
        "abs": abs_s,
        "head": abs_s[:-1],
        "tail": abs_s[-1:],
        "digits": abs_s.replace(".", ""),
        "dp": str(state.decimals),
        "sign": "-" if negative else "+",
        "sign0": "-" if negative else "0",
        "sign_sp": "-" if negative else " ",
        "unit": state.unit,
        "UNIT": state.unit.upper(),
        "gn": "N" if state.net else "G",
        "gnl": "n" if state.net else "g",
    }


def state_flags(state: EmuState) -> set[str]:
    flags: set[str] = set()
    if state.status in ("motion", "overload", "underload"):
        flags.add(state.status)
    if state.status == "ok" and state.weight < 0:
        flags.add("negative")
    if state.status in ("overload", "underload"):
        flags.add("range")
    if state.weight == 0 and state.status in ("ok", "motion"):
        flags.add("zero")
    if state.net:
        flags.add("net")
    return flags
