"""Suspect catalogue weights go to a person: the review list and the accept / reset decisions, as data.

``suspects(learned, reference, config)`` lists every SKU whose weight, as the parcels tell it, is further from
its reference (catalogue, or an earlier accepted value) than the gate's drift bound *and* further than
``z`` standard errors (not noise), once ``min_passing`` passing or ``min_overridden`` overridden parcels say so.
Two sources are shown apart: the passing parcels (``learned.skus``) and the blocked-then-overridden ones
(``learned.overridden``); either can raise a SKU, the passing parcels win the proposal when both can. A SKU
without any catalogue weight is listed as soon as either source has enough parcels.

A supervisor's ``Decision`` is kept as data (who, when, the reason, before and after): ``accept`` makes the
proposed value the SKU's reference (the gate then judges on it, and the learned figure is measured against
it from then on); ``reset`` keeps the catalogue weight and forgets the SKU's parcels up to the decision, so its
learning starts again. ``reference(...)`` folds the decisions, in order, over the catalogue.
``decision_effects`` is what the station records: an audit entry, and for an acceptance the ``weight_learned``
confirmation upstream (so the WMS can fix its master data).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Mapping

from packgate.device.clock import isoformat, parse_iso
from packgate.station.core.effects import AuditEntry, Confirmation, Effect
from packgate.station.core.tolerance import HUNDRED
from packgate.station.core.weight_gate import DEFAULT_GATE, GateConfig
from packgate.station.core.weight_learning import Figure, Learned, Reference
from packgate.station.errors import StationError

ACTIONS = ("accept", "reset")


@dataclass(frozen=True)
class Decision:
    sku: str
    action: str  # accept | reset
    value_g: Decimal | None  # accept: the value now vouched for; reset: None
    before_g: Decimal | None  # the reference it replaced
    seq: int  # the last weighing the decision saw (a reset forgets the SKU's parcels up to it)
    by: str  # employee id of the supervisor
    at: datetime  # with its UTC offset
    reason: str = ""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS or (self.action == "accept") != (self.value_g is not None):
            raise StationError(f"bug: weight decision {self.action!r} for {self.sku} (accept carries a value, reset none)")
        if self.at.tzinfo is None:
            raise StationError("bug: a weight decision's time needs its UTC offset")

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "action": self.action, "value_g": None if self.value_g is None else str(self.value_g),
                "before_g": None if self.before_g is None else str(self.before_g), "seq": self.seq, "by": self.by,
                "at": isoformat(self.at), "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Decision":
        def dec(key: str) -> Decimal | None:
            return None if d.get(key) is None else Decimal(d[key])
        return cls(d["sku"], d["action"], dec("value_g"), dec("before_g"), int(d["seq"]), d["by"], parse_iso(d["at"]),
                   d.get("reason", ""))


def reference(catalogue: Mapping[str, Decimal | None], tares: Mapping[str, Decimal],
              decisions: Iterable[Decision]) -> Reference:
    """The reference the gate and the learning use: the catalogue with the decisions applied in ``seq`` order."""
    units: dict[str, Decimal | None] = dict(catalogue)
    accepted: set[str] = set()
    forget: dict[str, int] = {}
    for d in sorted(decisions, key=lambda d: d.seq):
        if d.action == "accept":
            units[d.sku] = d.value_g
            accepted.add(d.sku)
        else:
            units[d.sku] = catalogue.get(d.sku)
            accepted.discard(d.sku)
            forget[d.sku] = max(forget.get(d.sku, -1), d.seq)
    return Reference(units, dict(tares), frozenset(accepted), forget)


@dataclass(frozen=True)
class Suspect:
    """One line of the review: the reference, what passing and overridden parcels say (apart), the proposal."""

    sku: str
    reference_g: Decimal | None
    accepted: bool  # the reference is an earlier accepted value, not the catalogue
    passing: Figure | None
    overridden: Figure | None
    proposed_g: Decimal
    source: str  # passing | overridden: which figure the proposal is
    deviation_pct: Decimal | None  # 100 × (proposed − reference) / reference

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "reference_g": None if self.reference_g is None else str(self.reference_g),
                "accepted": self.accepted, "passing": self.passing.as_dict() if self.passing else None,
                "overridden": self.overridden.as_dict() if self.overridden else None,
                "proposed_g": str(self.proposed_g), "source": self.source,
                "deviation_pct": None if self.deviation_pct is None else str(self.deviation_pct)}


@dataclass(frozen=True)
class ReviewConfig:
    gate: GateConfig = DEFAULT_GATE  # the drift bound
    min_passing: int = 10  # passing parcels that can raise a SKU (a few mixed parcels can mislead)
    min_overridden: int = 3  # overridden parcels that can raise a SKU (each one already unexplained by noise)
    z: Decimal = Decimal(3)  # standard errors a deviation must exceed


DEFAULT_REVIEW = ReviewConfig()


def _stands_out(figure: Figure | None, ref: Decimal | None, minimum: int, config: ReviewConfig) -> bool:
    if figure is None or figure.n < minimum:
        return False
    if ref is None:
        return True
    gap = abs(figure.mean_g - ref)
    return gap > config.gate.drift_allowed(ref) and gap > config.z * figure.se_g


def suspects(learned: Learned, ref: Reference, config: ReviewConfig = DEFAULT_REVIEW) -> list[Suspect]:
    """The review list, the SKUs with the most overridden parcels first."""
    out = []
    for sku in sorted(set(learned.skus) | set(learned.overridden)):
        r = ref.unit_g.get(sku)
        passing, overridden = learned.skus.get(sku), learned.overridden.get(sku)
        by_passing = _stands_out(passing, r, config.min_passing, config)
        by_overridden = _stands_out(overridden, r, config.min_overridden, config)
        if not (by_passing or by_overridden):
            continue
        source, figure = ("passing", passing) if by_passing else ("overridden", overridden)
        assert figure is not None
        proposed = figure.mean_g.quantize(Decimal("0.1"), ROUND_HALF_UP)
        deviation = ((proposed - r) * HUNDRED / r).quantize(Decimal("0.1"), ROUND_HALF_UP) if r else None
        out.append(Suspect(sku, r, sku in ref.accepted, passing, overridden, proposed, source, deviation))
    return sorted(out, key=lambda s: (-(s.overridden.n if s.overridden else 0), s.sku))


def decide(suspect: Suspect, action: str, by: str, at: datetime, seq: int, reason: str = "") -> Decision:
    """A supervisor's decision on one line of the review."""
    return Decision(suspect.sku, action, suspect.proposed_g if action == "accept" else None, suspect.reference_g,
                    seq, by, at, reason)


def decision_effects(decision: Decision, suspect: Suspect | None = None) -> list[Effect]:
    """The audit entry (before, after, reason) and, for an acceptance, the ``weight_learned`` confirmation."""
    def s(value: Decimal | None) -> str | None:
        return None if value is None else str(value)
    evidence = {} if suspect is None else {
        "passing": suspect.passing.as_dict() if suspect.passing else None,
        "overridden": suspect.overridden.as_dict() if suspect.overridden else None}
    after: dict[str, Any] = {"sku": decision.sku, "unit_weight_g": s(decision.value_g)} if decision.action == "accept" \
        else {"sku": decision.sku, "unit_weight_g": "catalogue", "forgotten_upto_seq": decision.seq}
    effects: list[Effect] = [AuditEntry(f"weight_{decision.action}", decision.by,
                                        {"sku": decision.sku, "unit_weight_g": s(decision.before_g), **evidence}, after,
                                        decision.reason or decision.action)]
    if decision.action == "accept":
        effects.append(Confirmation("weight_learned", "sku", decision.sku,
                                    {"unit_weight_g": s(decision.value_g), "catalogue_g": s(decision.before_g),
                                     "at": isoformat(decision.at), **evidence}, decision.by))
    return effects
