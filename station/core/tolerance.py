"""Is the parcel's weight right? Pure Decimal arithmetic, no floats.

    expected  = Σ unit_weight_g × qty + packaging tare_g
    allowed   = max(pct/100 × expected, floor(expected))
    pass     <=> the reading is stable and |measured − expected| ≤ allowed

``pct`` is 5 % by default, configurable per site (``ToleranceConfig.pct``) and per SKU category
(``category_pct``; a parcel mixing categories uses the strictest one). The floor keeps tiny
parcels checkable where 5 % is below the scale's resolution; its default table is the public
anchor "flag only when the gap is > 5 % and ≥ 1 oz under 1 lb expected / ≥ 1 lb above":

    expected < 453.6 g   -> floor 28.35 g (1 oz)
    expected ≥ 453.6 g   -> floor 453.6 g (1 lb)

(The one point where the two differ: a gap of exactly the floor passes here.) A SKU without a
catalog weight makes the expected weight unknown: never a pass, a supervisor must approve.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any, Iterable, Mapping

from packgate.station.core.models import Packaging, Sku
from packgate.station.core.verdicts import Verdict, grams, make
from packgate.station.errors import ConfigError

OUNCE_G = Decimal("28.35")
POUND_G = Decimal("453.6")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class FloorBand:
    """The absolute floor ``floor_g`` applies while expected < ``below_g`` (None: no upper bound)."""

    below_g: Decimal | None
    floor_g: Decimal


# The public anchor: 1 oz under 1 lb expected, 1 lb from 1 lb up.
DEFAULT_FLOORS: tuple[FloorBand, ...] = (FloorBand(POUND_G, OUNCE_G), FloorBand(None, POUND_G))

# Named tables a site can choose. "anchor" is the default above. Note that with it every parcel
# from 453.6 g to 9.07 kg is allowed ±453.6 g (the 1 lb floor beats 5 %), so a missing 250 g item
# in a 1.2 kg parcel passes; "ounce" keeps the 1 oz floor at every weight and lets 5 % rule above 567 g.
FLOOR_TABLES: dict[str, tuple[FloorBand, ...]] = {
    "anchor": DEFAULT_FLOORS,
    "ounce": (FloorBand(None, OUNCE_G),),
    "none": (),
}


@dataclass(frozen=True)
class ToleranceConfig:
    """Site tolerance: ``pct`` in percent, per-category overrides, and the floor table (() = no floor)."""

    pct: Decimal = Decimal("5")
    category_pct: Mapping[str, Decimal] = field(default_factory=dict)
    floors: tuple[FloorBand, ...] = DEFAULT_FLOORS

    def __post_init__(self) -> None:
        for name, pct in [("pct", self.pct), *((f"category_pct[{k!r}]", v) for k, v in self.category_pct.items())]:
            if not isinstance(pct, Decimal) or not 0 < pct < 100:
                raise ConfigError(f"tolerance {name}: must be a Decimal percentage between 0 and 100 (got {pct!r})")
        bounds = [band.below_g for band in self.floors]
        if self.floors and (bounds[-1] is not None or None in bounds[:-1]):
            raise ConfigError("tolerance floors: only the last band may (and must) have no upper bound")
        upper = [b for b in bounds[:-1] if b is not None]
        if upper != sorted(upper) or any(band.floor_g < 0 for band in self.floors):
            raise ConfigError("tolerance floors: bands must be in ascending order with floors >= 0")

    @classmethod
    def from_settings(cls, pct: Any = "5", category_pct: Mapping[str, Any] | None = None,
                      use_floor: bool = True, floor_table: str = "anchor") -> "ToleranceConfig":
        """From packgate.toml values (``weighing.tolerance_pct``, ``weighing.category_tolerance_pct``,
        ``weighing.use_floor``, a ``FLOOR_TABLES`` name); numbers go through ``str`` so 5.0 becomes
        Decimal('5.0'), not a binary float."""
        if floor_table not in FLOOR_TABLES:
            raise ConfigError(f"tolerance floor table: must be one of {', '.join(FLOOR_TABLES)} (got {floor_table!r})")
        return cls(pct=Decimal(str(pct)), category_pct={k: Decimal(str(v)) for k, v in (category_pct or {}).items()},
                   floors=FLOOR_TABLES[floor_table] if use_floor else ())

    def pct_for(self, categories: Iterable[str | None] = ()) -> Decimal:
        """The percentage for a parcel holding these categories: the strictest that applies."""
        return min([self.pct, *(self.category_pct[c] for c in categories if c is not None and c in self.category_pct)])

    def floor_for(self, expected_g: Decimal) -> Decimal:
        for band in self.floors:
            if band.below_g is None or expected_g < band.below_g:
                return band.floor_g
        return Decimal(0)


DEFAULT = ToleranceConfig()


@dataclass(frozen=True)
class WeightCheck:
    """The outcome of one weighing. ``diff_g`` is signed (measured − expected)."""

    expected_g: Decimal | None
    measured_g: Decimal | None
    diff_g: Decimal | None
    diff_pct: Decimal | None  # 100 × diff / expected, 2 decimals; None if expected is unknown or 0
    allowed_g: Decimal | None
    pct: Decimal
    stable: bool
    verdict: Verdict

    @property
    def passed(self) -> bool:
        return self.verdict.code == "weight_ok"

    @property
    def result(self) -> str:
        """For the weigh confirmation: pass, fail, unverifiable (no catalog weight) or unstable."""
        return {"weight_ok": "pass", "weight_out_of_tolerance": "fail",
                "no_catalog_weight": "unverifiable"}.get(self.verdict.code, "unstable")

    def as_dict(self) -> dict[str, Any]:
        def s(d: Decimal | None) -> str | None:
            return None if d is None else str(d)
        return {"result": self.result, "expected_g": s(self.expected_g), "measured_g": s(self.measured_g),
                "diff_g": s(self.diff_g), "diff_pct": s(self.diff_pct), "allowed_g": s(self.allowed_g),
                "pct": str(self.pct), "stable": self.stable}


def expected_weight(items: Iterable[tuple[Sku, int]], packaging: Packaging | None) -> tuple[Decimal | None, list[str]]:
    """(Σ unit weight × qty + tare, SKUs without a catalog weight). The sum is None when any is missing."""
    total = packaging.tare_g if packaging is not None else Decimal(0)
    missing: list[str] = []
    for sku, qty in items:
        if sku.unit_weight_g is None:
            missing.append(sku.sku)
        else:
            total += sku.unit_weight_g * qty
    return (None if missing else total), missing


def check_weight(items: Iterable[tuple[Sku, int]], packaging: Packaging | None, measured_g: Decimal | None,
                 stable: bool, config: ToleranceConfig = DEFAULT) -> WeightCheck:
    """Judge one scale reading for a parcel of ``items`` ((Sku, qty) pairs) in ``packaging``.

    Verdict codes: weight_ok, weight_out_of_tolerance (blocked), weight_unstable (prompt: not a
    weighing, wait for a stable reading), no_catalog_weight (blocked, needs a supervisor).
    """
    items = list(items)
    expected, missing = expected_weight(items, packaging)
    pct = config.pct_for(sku.category for sku, _ in items)
    if measured_g is not None and not isinstance(measured_g, Decimal):
        raise TypeError(f"measured_g must be a Decimal (got {type(measured_g).__name__})")
    if measured_g is None or not stable:
        return WeightCheck(expected, measured_g, None, None, None, pct, False,
                           make("weight_unstable", expected_g=grams(expected), measured_g=grams(measured_g)))
    if expected is None:
        return WeightCheck(None, measured_g, None, None, None, pct, True,
                           make("no_catalog_weight", skus=", ".join(missing), missing=missing,
                                measured_g=grams(measured_g)))
    return judge(expected, measured_g, config, pct)


def judge(expected_g: Decimal, measured_g: Decimal, config: ToleranceConfig = DEFAULT,
          pct: Decimal | None = None, allowed: Decimal | None = None, **extra: Any) -> WeightCheck:
    """The tolerance rule on a known expected weight and a stable reading. ``allowed`` replaces the site rule's
    gap (the learned gate decides it); ``extra`` goes into the verdict's data (which figure was used)."""
    pct = config.pct if pct is None else pct
    diff = measured_g - expected_g
    allowed = allowed_gap(expected_g, config, pct) if allowed is None else allowed
    diff_pct = (diff * HUNDRED / expected_g).quantize(Decimal("0.01"), ROUND_HALF_UP) if expected_g else None
    code = "weight_ok" if abs(diff) <= allowed else "weight_out_of_tolerance"
    # shown rounded away from the limit: a blocked gap never reads as equal to (or inside) the allowed one
    away = ROUND_UP if code == "weight_out_of_tolerance" else ROUND_DOWN
    shown_pct = (diff * HUNDRED / expected_g).quantize(Decimal("0.01"), away) if expected_g else None
    data = dict(expected_g=grams(expected_g), measured_g=grams(measured_g), diff_g=f"{diff.quantize(Decimal('0.1'), away):+}",
                diff_pct="-" if shown_pct is None else f"{shown_pct:+}", allowed_g=grams(allowed, ROUND_FLOOR), pct=str(pct),
                **extra)
    return WeightCheck(expected_g, measured_g, diff, diff_pct, allowed, pct, True, make(code, **data))


def allowed_gap(expected_g: Decimal, config: ToleranceConfig, pct: Decimal) -> Decimal:
    """How far a weighing may be off ``expected_g``: the percentage, or the absolute floor when larger."""
    return max(expected_g * pct / HUNDRED, config.floor_for(expected_g))


@dataclass(frozen=True)
class WeightRange:
    """The weights that pass, as shown to the packer: rounded inward, so a weight shown inside passes."""

    expected_g: Decimal
    allowed_g: Decimal
    low_g: Decimal
    high_g: Decimal

    def as_dict(self) -> dict[str, str]:
        return {"expected_g": str(self.expected_g), "allowed_g": str(self.allowed_g),
                "low_g": str(self.low_g), "high_g": str(self.high_g)}


def weight_range(items: Iterable[tuple[Sku, int]], packaging: Packaging | None,
                 config: ToleranceConfig = DEFAULT) -> WeightRange | None:
    """The range ``check_weight`` applies to a parcel of ``items`` in ``packaging``; None while unknown."""
    items = list(items)
    expected, _missing = expected_weight(items, packaging)
    if packaging is None or expected is None:
        return None
    allowed = allowed_gap(expected, config, config.pct_for(sku.category for sku, _ in items))
    tenth = Decimal("0.1")
    return WeightRange(expected.quantize(tenth), allowed.quantize(tenth, rounding=ROUND_FLOOR),
                       (expected - allowed).quantize(tenth, rounding=ROUND_CEILING),
                       (expected + allowed).quantize(tenth, rounding=ROUND_FLOOR))
