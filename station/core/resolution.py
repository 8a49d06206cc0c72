"""What a scale resolves: its division ``d`` (verification scale interval), per weighing range.

A single-range scale has one division (a 6 kg × 1 g table scale: d = 1 g); a multi-interval scale (OIML R 76,
e.g. 6/15 kg × 2/5 g) shows a coarser division above each range's limit. ``division_at(w)`` is the division the
scale shows a load of ``w`` grams with. Nothing here reads a device: the station passes the figure of its
scale's profile (or configuration).

Invariants: ranges ascend, the last has no upper limit, every division is > 0 and none is finer than the one
below it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from packgate.station.errors import ConfigError


@dataclass(frozen=True)
class Range:
    up_to_g: Decimal | None  # None: no upper limit (the last range)
    division_g: Decimal


@dataclass(frozen=True)
class Resolution:
    ranges: tuple[Range, ...]

    def __post_init__(self) -> None:
        if not self.ranges or self.ranges[-1].up_to_g is not None or any(r.up_to_g is None for r in self.ranges[:-1]):
            raise ConfigError("scale resolution: ranges must end with one that has no upper limit")
        limits = [r.up_to_g for r in self.ranges[:-1] if r.up_to_g is not None]
        divisions = [r.division_g for r in self.ranges]
        if limits != sorted(limits) or any(d <= 0 for d in divisions) or divisions != sorted(divisions):
            raise ConfigError("scale resolution: ranges ascend and divisions are > 0, never finer above")

    @classmethod
    def single(cls, division_g: Decimal) -> "Resolution":
        return cls((Range(None, division_g),))

    @classmethod
    def parse(cls, text: str) -> "Resolution":
        """``"2"`` (one division) or ``"6000:2,15000:5"`` (up to 6 kg by 2 g, above by 5 g; the last limit is the
        capacity and is not enforced here)."""
        try:
            parts = [p.strip() for p in text.split(",") if p.strip()]
            if len(parts) == 1 and ":" not in parts[0]:
                return cls.single(Decimal(parts[0]))
            pairs = [tuple(Decimal(x) for x in p.split(":")) for p in parts]
            if any(len(p) != 2 for p in pairs):
                raise ValueError(text)
        except (InvalidOperation, ValueError):
            raise ConfigError(f"scale resolution {text!r}: write a division in grams (\"2\") or "
                              "limit:division pairs (\"6000:2,15000:5\")") from None
        return cls(tuple(Range(None if i == len(pairs) - 1 else p[0], p[1]) for i, p in enumerate(pairs)))

    def division_at(self, grams: Decimal) -> Decimal:
        for r in self.ranges:
            if r.up_to_g is None or grams <= r.up_to_g:
                return r.division_g
        return self.ranges[-1].division_g  # unreachable: the last range has no limit

    @property
    def finest(self) -> Decimal:
        return self.ranges[0].division_g
