"""The one reading type every scale protocol produces."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum


class Status(str, Enum):
    OK = "ok"
    MOTION = "motion"
    OVERLOAD = "overload"
    UNDERLOAD = "underload"
    ERROR = "error"


GRAMS_PER_UNIT: dict[str, Decimal] = {
    "g": Decimal(1),
    "kg": Decimal(1000),
    "mg": Decimal("0.001"),
    "t": Decimal(1_000_000),
    "lb": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
}


@dataclass(frozen=True)
class Reading:
    """A scale reading. Weights are Decimals exactly as displayed: never floats."""

    status: Status
    stable: bool
    weight: Decimal | None  # as displayed, sign included (None when the frame carries none)
    unit: str | None
    grams: Decimal | None
    raw: bytes
    reason: str | None = None  # why, for status ERROR (and for overload/underload detail)
    net: bool | None = None
    tare: Decimal | None = None
    extra: dict = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """True when the reading may be used for a verdict: stable and ok."""
        return self.status is Status.OK and self.stable and self.grams is not None

    def as_dict(self) -> dict:
        return {
            "status": self.status.value,
            "stable": self.stable,
            "weight": None if self.weight is None else str(self.weight),
            "unit": self.unit,
            "grams": None if self.grams is None else str(self.grams),
            "raw": self.raw.hex(),
            **({"reason": self.reason} if self.reason else {}),
            **({"net": self.net} if self.net is not None else {}),
        }


def to_grams(weight: Decimal, unit: str) -> Decimal | None:
    factor = GRAMS_PER_UNIT.get(unit.lower())
    return None if factor is None else weight * factor
