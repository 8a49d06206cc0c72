"""The statistical weight gate: the learned figure where history exists, the catalogue rule where it does not.

For a parcel (box + items) the gate picks its figure, in this order:

1. ``signature`` -- the parcel's own signature (same box, same SKU multiset) has ``min_signature`` or more
   earlier passing weighings: expected = their mean; σ = their σ shrunk towards the model's σ by
   ``prior_n`` parcels, widened to predict one more parcel (× √(1 + 1/n));
2. ``learned`` -- every SKU and the box have ``min_sku`` or more earlier parcels: expected = the learned box
   plus Σ qty × learned unit weight; σ² = the box's and units' spreads plus the means' standard errors;
3. ``catalogue`` -- otherwise, exactly today's rule on the reference weights (catalogue, or a learned value a
   supervisor accepted): the site's percentage with its floor.

    learned figures:  allowed = k'·σ, never below ``min_divisions`` × the scale's division at that weight,
                      never above the site's rule at that weight (the scale's resolution wins if they cross)
    catalogue figure: allowed = max(pct × expected, floor), the floor ``floor_divisions`` × the division at
                      that weight (``floor = "division"``) or a fixed table (``ounce``, ``anchor``, ``none``)

``k`` is a normal coverage (3: 99.73 % of complete parcels pass); a σ estimated from few parcels is itself
uncertain, so ``k'`` is the Student-t quantile of that same coverage for the figure's degrees of freedom (its
parcels plus the ``prior_n`` the shrinkage lends, less one): with 9 degrees of freedom k' = 4.1, with 100 it is
3.1, and it tends to k.

A learned figure is never used while it is further than the drift bound (``drift_pct`` of the reference, at
least ``drift_divisions`` divisions) from the reference: such a SKU is *held* (the review lists it) and the
parcel is judged on the reference, so a slow drift cannot move the gate without a person's acceptance.
Every check carries its ``Basis``: which figure, from how many parcels, σ and k, and which limit decided.
``TableGate`` is what a packing table holds: the snapshot it judges on, and verdicts that say that figure in words.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable, Mapping

from packgate.station.core.models import Packaging, Sku
from packgate.station.core.resolution import Resolution
from packgate.station.core.tolerance import (
    DEFAULT,
    FLOOR_TABLES,
    HUNDRED,
    ToleranceConfig,
    WeightCheck,
    allowed_gap,
    check_weight,
    judge,
)
from packgate.station.core.verdicts import basis_words, grams
from packgate.station.core.weight_learning import Figure, Learned, Reference, items_of
from packgate.station.errors import ConfigError

FIGURES = ("signature", "learned", "catalogue")
LIMITS = ("sigma", "division", "site_rule")
FLOORS = ("division", *FLOOR_TABLES)


@dataclass(frozen=True)
class GateConfig:
    tolerance: ToleranceConfig = DEFAULT  # the site's percentage (and per category); its floor table when floor != "division"
    resolution: Resolution = Resolution.single(Decimal(1))
    floor: str = "division"
    floor_divisions: Decimal = Decimal(5)
    k: Decimal = Decimal(3)
    min_divisions: Decimal = Decimal(2)
    min_signature: int = 5
    min_sku: int = 5
    drift_pct: Decimal = Decimal(3)
    drift_divisions: Decimal = Decimal(2)
    prior_n: int = 5

    def __post_init__(self) -> None:
        if self.floor not in FLOORS:
            raise ConfigError(f"weighing floor: must be one of {', '.join(FLOORS)} (got {self.floor!r})")
        for name in ("floor_divisions", "k", "min_divisions", "drift_pct", "drift_divisions"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0 or (name == "k" and value == 0):
                raise ConfigError(f"weighing {name}: must be a Decimal >= 0 (k > 0) (got {value!r})")
        if min(self.min_signature, self.min_sku) < 2 or self.prior_n < 0:
            raise ConfigError("weighing min_signature and min_sku: at least 2 parcels (a σ needs two); prior_n >= 0")

    @property
    def site(self) -> ToleranceConfig:
        """The site's rule as today's ``tolerance`` module applies it (the division floor applied apart)."""
        if self.floor == "division":
            return ToleranceConfig(self.tolerance.pct, self.tolerance.category_pct, floors=())
        return ToleranceConfig(self.tolerance.pct, self.tolerance.category_pct, floors=FLOOR_TABLES[self.floor])

    def site_allowed(self, expected_g: Decimal, pct: Decimal) -> Decimal:
        """The site's rule at ``expected_g``: the percentage, or the floor when larger."""
        floor = self.floor_divisions * self.resolution.division_at(expected_g) if self.floor == "division" else Decimal(0)
        return max(allowed_gap(expected_g, self.site, pct), floor)

    def resolved(self, expected_g: Decimal) -> Decimal:
        """The tightest gap the scale can tell apart at ``expected_g``."""
        return self.min_divisions * self.resolution.division_at(expected_g)

    def drift_allowed(self, reference_g: Decimal) -> Decimal:
        return max(self.drift_pct * reference_g / HUNDRED, self.drift_divisions * self.resolution.division_at(reference_g))


DEFAULT_GATE = GateConfig()


def t_quantile(z: Decimal, df: int) -> Decimal:
    """The Student-t quantile with ``df`` degrees of freedom at the probability of the standard normal quantile
    ``z`` (Abramowitz & Stegun 26.7.5, four terms; within 1 % from 3 degrees of freedom up, then exact as df
    grows). ``df`` below 2 counts as 2."""
    x, n = z, Decimal(max(df, 2))
    g1 = (x ** 3 + x) / 4
    g2 = (5 * x ** 5 + 16 * x ** 3 + 3 * x) / 96
    g3 = (3 * x ** 7 + 19 * x ** 5 + 17 * x ** 3 - 15 * x) / 384
    g4 = (79 * x ** 9 + 776 * x ** 7 + 1482 * x ** 5 - 1920 * x ** 3 - 945 * x) / 92160
    return x + g1 / n + g2 / n ** 2 + g3 / n ** 3 + g4 / n ** 4


@dataclass(frozen=True)
class Basis:
    """Which figure a check used: ``figure`` (signature / learned / catalogue), ``n`` earlier parcels behind it
    (a learned figure: the fewest of its SKUs), σ, k and the k' applied (learned figures), the ``limit`` that set
    the allowed gap, SKUs on accepted learned weights, and SKUs whose learned weight is held for review."""

    figure: str
    n: int
    sigma_g: Decimal | None
    k: Decimal | None
    limit: str
    k_used: Decimal | None = None
    accepted: tuple[str, ...] = ()
    held: tuple[str, ...] = ()

    def data(self) -> dict[str, Any]:
        """The verdict's fields: ``basis``, ``basis_n``, ``sigma_g``, ``k``, ``limit``, ``accepted``, ``held``."""
        return {"basis": self.figure, "basis_n": self.n, "sigma_g": grams(self.sigma_g),
                "k": "-" if self.k is None else str(self.k),
                "k_used": "-" if self.k_used is None else str(self.k_used.quantize(Decimal("0.01"), ROUND_HALF_UP)),
                "limit": self.limit,
                "accepted": list(self.accepted), "held": list(self.held)}


@dataclass(frozen=True)
class Plan:
    """What the gate will apply to a parcel before it is weighed (the kiosk can show it)."""

    expected_g: Decimal
    allowed_g: Decimal
    pct: Decimal
    basis: Basis


@dataclass(frozen=True)
class GateCheck:
    check: WeightCheck
    basis: Basis | None  # None: no figure (unstable reading, or a SKU without any reference weight)

    @property
    def passed(self) -> bool:
        return self.check.passed

    @property
    def result(self) -> str:
        return self.check.result

    def as_dict(self) -> dict[str, Any]:
        return {**self.check.as_dict(), **(self.basis.data() if self.basis else {})}


def reference_weight(sku: Sku, reference: Reference) -> Decimal | None:
    return reference.unit_g[sku.sku] if sku.sku in reference.unit_g else sku.unit_weight_g


def _drifted(figure: Figure | None, ref: Decimal, config: GateConfig) -> bool:
    return figure is not None and figure.n >= config.min_sku and abs(figure.mean_g - ref) > config.drift_allowed(ref)


def _sqrt(x: Decimal) -> Decimal:
    return x.sqrt() if x > 0 else Decimal(0)


def plan(items: Iterable[tuple[Sku, int]], packaging: Packaging | None, learned: Learned, reference: Reference,
         config: GateConfig = DEFAULT_GATE) -> Plan | list[str]:
    """The figure and allowed gap for a parcel of ``items`` in ``packaging``, or the SKUs without any reference
    weight (then nothing can be judged automatically, as today)."""
    pairs = [(s, q) for s, q in items if q > 0]
    refs = {s.sku: reference_weight(s, reference) for s, _ in pairs}
    missing = [code for code, ref in refs.items() if ref is None]
    if missing:
        return missing
    known = {code: ref for code, ref in refs.items() if ref is not None}
    pct = config.tolerance.pct_for(s.category for s, _ in pairs)
    tare = packaging.tare_g if packaging is not None else Decimal(0)
    ref_expected = tare + sum((known[s.sku] * q for s, q in pairs), Decimal(0))
    accepted = tuple(sorted(code for code in known if code in reference.accepted))
    held = tuple(sorted(code for code in known if _drifted(learned.skus.get(code), known[code], config)))
    if packaging is not None and not held:
        found = _learned_figure(pairs, packaging, learned, config, ref_expected)
        if found is not None:
            expected, sigma, figure, n = found
            k_used = t_quantile(config.k, n + config.prior_n - 1)
            raw = k_used * sigma
            low, high = config.resolved(expected), config.site_allowed(expected, pct)
            allowed = min(max(raw, low), max(high, low))
            limit = "sigma" if allowed == raw else "division" if allowed == low else "site_rule"
            return Plan(expected, allowed, pct, Basis(figure, n, sigma.quantize(Decimal("0.01"), ROUND_HALF_UP),
                                                      config.k, limit, k_used, accepted, held))
    allowed = config.site_allowed(ref_expected, pct)
    limit = "site_rule" if allowed == allowed_gap(ref_expected, config.site, pct) else "division"
    return Plan(ref_expected, allowed, pct, Basis("catalogue", 0, None, None, limit, None, accepted, held))


def _learned_figure(pairs: list[tuple[Sku, int]], packaging: Packaging, learned: Learned, config: GateConfig,
                    ref_expected: Decimal) -> tuple[Decimal, Decimal, str, int] | None:
    """(expected, σ, figure, n) from the signature's history or the learned SKU weights; None when too thin."""
    box = learned.boxes.get(packaging.code)
    units = [(learned.skus.get(s.sku), q) for s, q in pairs]
    model: Decimal | None = None
    if box is not None and all(f is not None for f, _ in units):
        model = box.sigma_g ** 2 + sum((f.sigma_g ** 2 * q for f, q in units if f is not None), Decimal(0))
    sig = learned.signatures.get((packaging.code, items_of((s.sku, q) for s, q in pairs)))
    if sig is not None and sig.n >= config.min_signature and abs(sig.mean_g - ref_expected) <= config.drift_allowed(ref_expected):
        n, prior = Decimal(sig.n), Decimal(config.prior_n) if model is not None else Decimal(0)
        var = (n * sig.sigma_g ** 2 + prior * (model or Decimal(0))) / (n + prior)
        return sig.mean_g, _sqrt(var * (1 + 1 / n)), "signature", sig.n
    if box is None or box.n < config.min_sku or abs(box.mean_g - packaging.tare_g) > config.drift_allowed(packaging.tare_g):
        return None
    if any(f is None or f.n < config.min_sku for f, _ in units):
        return None
    figures = [(f, q) for f, q in units if f is not None]
    expected = box.mean_g + sum((f.mean_g * q for f, q in figures), Decimal(0))
    var = box.sigma_g ** 2 + box.se_g ** 2 + sum((f.sigma_g ** 2 * q + (f.se_g * q) ** 2 for f, q in figures), Decimal(0))
    return expected, _sqrt(var), "learned", min(f.n for f, _ in figures)


def gate(items: Iterable[tuple[Sku, int]], packaging: Packaging | None, measured_g: Decimal | None, stable: bool,
         learned: Learned, reference: Reference, config: GateConfig = DEFAULT_GATE) -> GateCheck:
    """Judge one reading (verdict codes as ``tolerance.check_weight``; the verdict's data says which figure)."""
    pairs = list(items)
    if measured_g is None or not stable:
        return GateCheck(check_weight(pairs, packaging, measured_g, stable, config.site), None)
    found = plan(pairs, packaging, learned, reference, config)
    if isinstance(found, list):
        return GateCheck(check_weight([(Sku(code, None, code, None), 1) for code in found], None, measured_g, True,
                                      config.site), None)
    check = judge(found.expected_g, measured_g, config.site, found.pct, allowed=found.allowed_g, **found.basis.data())
    return GateCheck(check, found.basis)


@dataclass(frozen=True)
class TableGate:
    """The learned gate as a packing table applies it: one snapshot of what was learned, the figures a person
    vouches for, and the rules. ``check`` answers like ``tolerance.check_weight``; a judged verdict's message
    ends with the figure it used ("expected 213 g from 41 earlier parcels, ±6 g"), in each language."""

    learned: Learned
    reference: Reference
    config: GateConfig = DEFAULT_GATE

    def check(self, items: Iterable[tuple[Sku, int]], packaging: Packaging | None, measured_g: Decimal | None,
              stable: bool) -> WeightCheck:
        found = gate(items, packaging, measured_g, stable, self.learned, self.reference, self.config)
        if found.basis is None:
            return found.check
        verdict = found.check.verdict
        said = replace(verdict, message=f"{verdict.message} ({basis_words(verdict.data, 'en')})",
                       message_zh=f"{verdict.message_zh}（{basis_words(verdict.data, 'zh')}）")
        return replace(found.check, verdict=said)


@dataclass(frozen=True)
class Candidate:
    """A unit that may be what a light parcel lacks: its SKU, name, line kind and weight."""

    sku: str
    name: str
    kind: str
    unit_g: Decimal


def likely_missing(gap_g: Decimal, allowed_g: Decimal, candidates: Iterable[Candidate]) -> list[Candidate]:
    """The units whose weight matches a parcel's shortfall ``gap_g`` (expected − measured, > allowed) within the
    allowed gap, closest first: what the verdict can name ("is the charger, an accessory, in it?")."""
    if gap_g <= allowed_g:
        return []
    return sorted((c for c in candidates if abs(gap_g - c.unit_g) <= allowed_g), key=lambda c: abs(gap_g - c.unit_g))


def learned_unit(sku: str, reference_g: Decimal, learned: Learned, config: GateConfig = DEFAULT_GATE) -> Figure | None:
    """The learned figure of one SKU when the gate may use it (enough parcels, within the drift bound)."""
    figure = learned.skus.get(sku)
    if figure is None or figure.n < config.min_sku or _drifted(figure, reference_g, config):
        return None
    return figure


def expectations(reference: Mapping[str, Decimal], learned: Learned, config: GateConfig = DEFAULT_GATE
                 ) -> dict[str, tuple[Decimal, Decimal]]:
    """SKU -> (unit weight, σ) the per-item check uses: the learned figure where usable (σ of a unit and of its
    mean, widened by k'/k as the gate widens it for few parcels), else the reference with the site's percentage
    as its k·σ (σ = pct/k of the weight)."""
    out = {}
    for sku, ref in reference.items():
        figure = learned_unit(sku, ref, learned, config)
        if figure is None:
            out[sku] = (ref, ref * config.tolerance.pct / HUNDRED / config.k)
        else:
            widen = t_quantile(config.k, figure.n + config.prior_n - 1) / config.k
            out[sku] = (figure.mean_g, _sqrt(figure.sigma_g ** 2 + figure.se_g ** 2) * widen)
    return out
