"""Per-item weighing (``weighing.mode = "per_item"``): the parcel checked as it is filled, one item at a time.

    outcome = step(session, event, ctx)     # -> ItemOutcome(session, verdict or None)

The empty box goes on the scale first and its tare is checked against its packaging's weight (``tare_pct`` of
it, or k σ of the box where its spread was learned, never finer than ``zero``); then each
item is scanned and placed, and the weight gained must match that item's unit weight within its tolerance
before the next scan counts. Readings come with the time they arrived on a monotonic clock; a reading counts
once it is steady (``steady.Steady``: the scale's flag, or unchanged within one division for ``hold_s``).

    box --box tare ok--> scan --scan--> place --gain matches--> scan ... --last item--> full

What a settled reading in ``place`` says, checked in this order (``u`` the scanned SKU's unit weight, ``tol``
its tolerance, ``zero`` the tightest gap the scale resolves):

* gain within ``zero`` of 0: nothing placed yet (no verdict); a scan now is refused (scanned, not placed);
* gain below ``-zero``: something was taken out;
* gain within ``tol`` of ``u`` (k σ of the unit and of the two readings, see ``tolerance``): placed, counted;
* gain within ``√2·tol`` of ``2u``: placed twice;
* gain within another order SKU's tolerance of its weight: a look-alike of that SKU (named);
* otherwise: the wrong weight for the scanned item.

A refusal leaves the count as it was; the packer fixes the box and the next settled reading is judged again.
The session is pure data (``to_dict`` / ``from_dict``); nothing here reads a device or a clock.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Mapping

from packgate.station.core.resolution import Resolution
from packgate.station.core.steady import DEFAULT_HOLD_S, Steady
from packgate.station.core.tolerance import HUNDRED
from packgate.station.core.verdicts import Verdict, grams, make

TWO_SQRT = Decimal(2).sqrt()


class Phase(StrEnum):
    BOX = "box"
    SCAN = "scan"
    PLACE = "place"
    FULL = "full"


@dataclass(frozen=True)
class Unit:
    """What one unit of a SKU should add: its weight and σ (learned, or the reference with σ = pct/k)."""

    sku: str
    name: str
    unit_g: Decimal
    sigma_g: Decimal


@dataclass(frozen=True)
class ItemConfig:
    resolution: Resolution = Resolution.single(Decimal(1))
    hold_s: float = DEFAULT_HOLD_S
    k: Decimal = Decimal(3)
    min_divisions: Decimal = Decimal(2)  # no gain is judged finer than this many divisions
    tare_pct: Decimal = Decimal(5)  # the empty box against its packaging weight (at least min_divisions)


@dataclass(frozen=True)
class ItemContext:
    units: Mapping[str, Unit]  # every SKU of the order
    ordered: Mapping[str, int]  # SKU -> units to place
    box: str
    box_tare_g: Decimal
    order_id: str = "-"
    config: ItemConfig = ItemConfig()
    box_sigma_g: Decimal | None = None  # the learned spread of this box (piece to piece, with the scale's)


@dataclass(frozen=True)
class Reading:
    t: float  # monotonic seconds
    grams: Decimal | None
    stable: bool = False  # the scale's own flag
    name = "reading"


@dataclass(frozen=True)
class Scan:
    sku: str
    name = "scan"


@dataclass(frozen=True)
class PutBack:
    """The scanned item is not going in after all: the scan no longer counts."""

    name = "put_back"


Event = Reading | Scan | PutBack


@dataclass(frozen=True)
class ItemSession:
    phase: Phase = Phase.BOX
    total_g: Decimal | None = None  # the last accepted settled reading: the box and the items counted so far
    shown_g: Decimal | None = None  # the last settled reading, accepted or not
    placed: tuple[str, ...] = ()
    waiting: str | None = None  # the SKU scanned and not yet placed
    steady: Steady = Steady()

    def to_dict(self) -> dict[str, Any]:
        def s(v: Decimal | None) -> str | None:
            return None if v is None else str(v)
        return {"phase": str(self.phase), "total_g": s(self.total_g), "shown_g": s(self.shown_g),
                "placed": list(self.placed), "waiting": self.waiting}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ItemSession":
        def dec(k: str) -> Decimal | None:
            return None if d.get(k) is None else Decimal(d[k])
        return cls(Phase(d["phase"]), dec("total_g"), dec("shown_g"), tuple(d.get("placed", ())), d.get("waiting"))


@dataclass(frozen=True)
class ItemOutcome:
    session: ItemSession
    verdict: Verdict | None  # None: nothing to tell (a reading that is not settled, or an unchanged box)


def tolerance(unit: Unit, at_g: Decimal, config: ItemConfig) -> Decimal:
    """How far a gain may be off the unit's weight: k σ of the unit and of the two readings it is the difference
    of (each taken as ± half a division), never finer than ``zero``."""
    half = config.resolution.division_at(at_g) / 2
    return max(config.k * (unit.sigma_g ** 2 + 2 * half ** 2).sqrt(), zero(at_g, config))


def zero(at_g: Decimal, config: ItemConfig) -> Decimal:
    return config.min_divisions * config.resolution.division_at(at_g)


def step(session: ItemSession, event: Event, ctx: ItemContext) -> ItemOutcome:
    if isinstance(event, Reading):
        return _reading(session, event, ctx)
    if isinstance(event, Scan):
        return _scan(session, event, ctx)
    if session.phase is Phase.PLACE and session.waiting is not None:
        return ItemOutcome(replace(session, phase=Phase.SCAN, waiting=None), make("item_put_back", sku=session.waiting, lot="-"))
    return ItemOutcome(session, None)


def _reading(s: ItemSession, e: Reading, ctx: ItemContext) -> ItemOutcome:
    at = e.grams if e.grams is not None else Decimal(0)
    steady, settled = s.steady.feed(e.t, e.grams, e.stable, ctx.config.resolution.division_at(at), ctx.config.hold_s)
    s = replace(s, steady=steady)
    if settled is None:
        return ItemOutcome(s, None)
    s = replace(s, shown_g=settled)
    if s.phase is Phase.BOX:
        return _box(s, settled, ctx)
    assert s.total_g is not None
    gain = settled - s.total_g
    if abs(gain) <= zero(settled, ctx.config):
        return ItemOutcome(s, None)
    if s.phase is Phase.PLACE and s.waiting is not None:
        return _placed(s, s.waiting, gain, settled, ctx)
    return ItemOutcome(s, make("unscanned_change", status="error", gain_g=_signed(gain)))


def _box(s: ItemSession, settled: Decimal, ctx: ItemContext) -> ItemOutcome:
    if settled <= zero(settled, ctx.config):
        return ItemOutcome(s, None)
    allowed = max(ctx.box_tare_g * ctx.config.tare_pct / HUNDRED, zero(settled, ctx.config),
                  ctx.config.k * ctx.box_sigma_g if ctx.box_sigma_g is not None else Decimal(0))
    data = dict(box=ctx.box, measured_g=grams(settled), expected_g=grams(ctx.box_tare_g), allowed_g=grams(allowed))
    if abs(settled - ctx.box_tare_g) > allowed:
        return ItemOutcome(s, make("box_tare_wrong", status="error", **data))
    return ItemOutcome(replace(s, phase=Phase.SCAN, total_g=settled), make("box_tare_ok", **data))


def _placed(s: ItemSession, sku: str, gain: Decimal, settled: Decimal, ctx: ItemContext) -> ItemOutcome:
    unit = ctx.units[sku]
    tol = tolerance(unit, settled, ctx.config)
    data: dict[str, Any] = dict(sku=sku, name=unit.name, gain_g=_signed(gain), unit_g=grams(unit.unit_g), allowed_g=grams(tol))
    if gain < 0:
        return ItemOutcome(s, make("item_removed", status="error", loss_g=grams(-gain)))
    if abs(gain - unit.unit_g) <= tol:
        placed = s.placed + (sku,)
        units = sum(ctx.ordered.values())
        full = len(placed) >= units
        new = replace(s, phase=Phase.FULL if full else Phase.SCAN, total_g=settled, placed=placed, waiting=None)
        if full:
            return ItemOutcome(new, make("all_placed", units=units, total_g=grams(settled)))
        return ItemOutcome(new, make("item_placed", placed=len(placed), units=units, **data))
    if abs(gain - 2 * unit.unit_g) <= TWO_SQRT * tol:
        return ItemOutcome(s, make("item_placed_twice", status="error", **data))
    alike = sorted((abs(gain - u.unit_g), u.sku) for u in ctx.units.values()
                   if u.sku != sku and abs(gain - u.unit_g) <= tolerance(u, settled, ctx.config))
    if alike:
        other = ctx.units[alike[0][1]]
        return ItemOutcome(s, make("item_look_alike", status="error", other_sku=other.sku, other_name=other.name,
                                   other_unit_g=grams(other.unit_g), **data))
    return ItemOutcome(s, make("item_weight_wrong", status="error", **data))


def _scan(s: ItemSession, e: Scan, ctx: ItemContext) -> ItemOutcome:
    if s.phase is Phase.BOX:
        return ItemOutcome(s, make("box_first", status="error", box=ctx.box))
    if s.phase is Phase.PLACE and s.waiting is not None:
        waiting = ctx.units[s.waiting]
        return ItemOutcome(s, make("item_not_placed", status="error", sku=waiting.sku, name=waiting.name))
    if s.total_g is not None and s.shown_g is not None and abs(s.shown_g - s.total_g) > zero(s.shown_g, ctx.config):
        return ItemOutcome(s, make("unscanned_change", status="error", gain_g=_signed(s.shown_g - s.total_g)))
    unit = ctx.units.get(e.sku)
    if unit is None or e.sku not in ctx.ordered:
        return ItemOutcome(s, make("item_not_in_order", sku=e.sku, name=unit.name if unit else e.sku, order_id=ctx.order_id))
    if Counter(s.placed)[e.sku] >= ctx.ordered[e.sku]:
        return ItemOutcome(s, make("over_quantity", sku=e.sku, order_id=ctx.order_id, ordered=ctx.ordered[e.sku]))
    return ItemOutcome(replace(s, phase=Phase.PLACE, waiting=e.sku),
                       make("place_item", sku=unit.sku, name=unit.name, unit_g=grams(unit.unit_g)))


def _signed(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1')):+}"
