"""Learned weights: what the parcels that passed say each SKU, box and parcel signature really weighs.

``learn(weighings, reference)`` is a pure batch computation (numpy, no I/O), meant to run off the hot path
on the site's recent weighings; its result, ``Learned``, is plain data (``as_dict`` / ``from_dict``) the gate
reads. The model of one parcel p (box b, ``qty_j`` units of SKU j, reading ``W_p``):

    W_p = box_b + Σ qty_j · unit_j + noise,      Var(noise_p) = a_b + Σ qty_j · v_j

``a_b`` is the box's and the scale's spread, ``v_j`` the spread of one unit of SKU j. The means come from a
weighted least squares over every passing parcel at once: a single-SKU parcel speaks for its SKU directly,
mixed parcels through their contents. Each mean has a weak prior at its reference figure (the catalogue
weight or a value a supervisor accepted; the box's catalogue tare) so the system is always solvable; the
data outweighs it after a few parcels. The variances come from a second regression of the squared
residuals (method of moments), shrunk towards a prior relative spread by ``prior_n`` parcels' worth.

Invariants:

* only ``passed`` weighings teach. ``overridden`` ones (blocked, then approved by a supervisor) never move a
  learned figure: they are fitted apart and reported as ``overridden`` evidence for the review;
* robust: a parcel whose residual is more than ``trim_z`` of its σ off is left out and the fit is repeated
  (iterated trimming), so a parcel that passed while missing an item does not pull a mean;
* per signature (box + SKU multiset) the last ``signature_window`` passing weights give a median-centred,
  MAD-trimmed mean, σ and n;
* parcels holding a SKU whose history was reset (``Reference.forget``) at or before the reset are not used;
* the standard error of a mean further than ``exact_se_pct`` from its reference frees every column it shares
  a parcel with (its box, the SKUs it travels with), so two SKUs that always travel together (an item and its
  accessory, a kit's components) are never "proven" wrong one by one when only their sum is known; for the
  others it is the one with the other means held (the diagonal), exact for a SKU seen on its own;
* an overridden parcel is evidence only when the passing parcels cannot explain it (further than
  ``trim_z`` σ from their prediction).
"""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from packgate.station.errors import StationError

Vector = npt.NDArray[np.float64]
Items = tuple[tuple[str, int], ...]  # (SKU, qty), sorted by SKU, qty >= 1
Signature = tuple[str, Items]  # (box, items)

RESULTS = ("passed", "overridden")
SAMPLES = 5  # parcel ids kept per figure, newest last


def items_of(pairs: Iterable[tuple[str, int]]) -> Items:
    """Canonical items: the same SKU summed, sorted, zero quantities dropped."""
    total: dict[str, int] = defaultdict(int)
    for sku, qty in pairs:
        total[sku] += qty
    return tuple(sorted((s, q) for s, q in total.items() if q > 0))


def signature_key(sig: Signature) -> str:
    """A signature as one string (for storage and display): ``BOX-S|A×2,B×1``."""
    return sig[0] + "|" + ",".join(f"{s}×{q}" for s, q in sig[1])


@dataclass(frozen=True)
class Weighing:
    """One stable weighing of a closed parcel, as the learning sees it."""

    seq: int  # site-wide order of the weighings (increasing)
    parcel: str  # order id (and carton), to show sample parcels
    box: str  # packaging code
    items: Items  # use items_of(...)
    measured_g: Decimal
    result: str  # passed | overridden
    division_g: Decimal = Decimal(1)  # the division the reading was shown with

    def __post_init__(self) -> None:
        if self.result not in RESULTS:
            raise StationError(f"bug: weighing result {self.result!r} is not one of {RESULTS}")
        if not self.items or self.items != items_of(self.items):
            raise StationError(f"bug: weighing {self.parcel} items must be canonical (items_of), got {self.items!r}")

    @property
    def signature(self) -> Signature:
        return (self.box, self.items)

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "parcel": self.parcel, "box": self.box, "items": [list(i) for i in self.items],
                "measured_g": str(self.measured_g), "result": self.result, "division_g": str(self.division_g)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Weighing":
        return cls(int(d["seq"]), d["parcel"], d["box"], items_of((s, int(q)) for s, q in d["items"]),
                   Decimal(d["measured_g"]), d["result"], Decimal(d.get("division_g", "1")))


@dataclass(frozen=True)
class Reference:
    """The figures a person vouches for: per SKU the catalogue weight or an accepted learned one, per box the
    catalogue tare; ``forget``: SKU -> the last weighing seq its history was reset at."""

    unit_g: Mapping[str, Decimal | None]
    tare_g: Mapping[str, Decimal]
    accepted: frozenset[str] = frozenset()
    forget: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LearnConfig:
    window: int = 20000  # the most recent weighings learned from
    signature_window: int = 200  # the most recent passing weighings per signature
    trim_z: float = 4.0
    rounds: int = 4
    prior_unit_pct: float = 30.0  # the weak prior on a unit weight: its reference ± this
    prior_box_g: float = 1.0  # ... on a box: its catalogue tare ± this (a tare is trusted to about a gram; its
    # piece-to-piece spread is noise, a_b), so a SKU packed alone in its own box is learned directly
    prior_rel_spread: float = 0.005  # prior σ of one unit, relative to its weight
    prior_base_g: float = 2.0  # prior σ of box + scale
    prior_n: float = 5.0  # the variance priors weigh as much as this many parcels
    exact_se_pct: float = 1.0  # a mean further than this from its reference gets its exact standard error


@dataclass(frozen=True)
class Figure:
    """A learned weight: mean, σ (the spread of one unit, box or parcel), n parcels, newest sample parcels."""

    mean_g: Decimal
    sigma_g: Decimal
    n: int
    se_g: Decimal = Decimal(0)  # standard error of the mean
    samples: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"mean_g": str(self.mean_g), "sigma_g": str(self.sigma_g), "n": self.n, "se_g": str(self.se_g),
                "samples": list(self.samples)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Figure":
        return cls(Decimal(d["mean_g"]), Decimal(d["sigma_g"]), int(d["n"]), Decimal(d.get("se_g", "0")),
                   tuple(d.get("samples", ())))


@dataclass(frozen=True)
class Learned:
    """A snapshot of what was learned up to weighing ``upto_seq`` from ``parcels`` passing weighings."""

    skus: Mapping[str, Figure] = field(default_factory=dict)
    boxes: Mapping[str, Figure] = field(default_factory=dict)
    signatures: Mapping[Signature, Figure] = field(default_factory=dict)
    overridden: Mapping[str, Figure] = field(default_factory=dict)  # per SKU: what overridden parcels imply
    upto_seq: int = 0
    parcels: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"upto_seq": self.upto_seq, "parcels": self.parcels,
                "skus": {k: v.as_dict() for k, v in self.skus.items()},
                "boxes": {k: v.as_dict() for k, v in self.boxes.items()},
                "signatures": [{"box": s[0], "items": [list(i) for i in s[1]], **f.as_dict()}
                               for s, f in self.signatures.items()],
                "overridden": {k: v.as_dict() for k, v in self.overridden.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Learned":
        return cls(skus={k: Figure.from_dict(v) for k, v in d.get("skus", {}).items()},
                   boxes={k: Figure.from_dict(v) for k, v in d.get("boxes", {}).items()},
                   signatures={(s["box"], items_of((a, int(b)) for a, b in s["items"])): Figure.from_dict(s)
                               for s in d.get("signatures", [])},
                   overridden={k: Figure.from_dict(v) for k, v in d.get("overridden", {}).items()},
                   upto_seq=int(d.get("upto_seq", 0)), parcels=int(d.get("parcels", 0)))

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False)


DEFAULT_LEARN = LearnConfig()


def _g(x: float) -> Decimal:
    return Decimal(f"{x:.2f}")


# ---------------------------------------------------------------- the sparse design matrix


@dataclass
class _Design:
    """Rows are weighings, columns SKUs then boxes; entries (row, col, value) in flat arrays."""

    rows: int
    cols: int
    er: npt.NDArray[np.intp]
    ec: npt.NDArray[np.intp]
    ev: Vector

    def times(self, x: Vector) -> Vector:
        return np.bincount(self.er, self.ev * x[self.ec], minlength=self.rows).astype(np.float64)

    def t_times(self, u: Vector) -> Vector:
        return np.bincount(self.ec, self.ev * u[self.er], minlength=self.cols).astype(np.float64)

    def diag(self, w: Vector) -> Vector:
        return np.bincount(self.ec, w[self.er] * self.ev ** 2, minlength=self.cols).astype(np.float64)


class _Normal:
    """The normal equations of Σ w (y − A x)² + Σ prior_w (x − prior)²: (AᵀWA + P) x = AᵀW y + P prior."""

    def __init__(self, design: _Design, w: Vector, prior_w: Vector):
        self.design, self.w, self.prior_w = design, w, prior_w
        self.diag = design.diag(w) + prior_w
        self._coo: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Vector] | None = None

    def times(self, x: Vector) -> Vector:
        return self.design.t_times(self.w * self.design.times(x)) + self.prior_w * x

    def solve(self, rhs: Vector, start: Vector) -> Vector:
        """Jacobi-preconditioned conjugate gradients (the matrix is symmetric positive definite)."""
        x = start.copy()
        r = rhs - self.times(x)
        z = r / self.diag
        p = z.copy()
        rz = float(r @ z)
        bound = 1e-10 * max(float(np.linalg.norm(rhs)), 1e-30)
        for _ in range(10 * self.design.cols + 50):
            if float(np.linalg.norm(r)) <= bound:
                break
            ap = self.times(p)
            alpha = rz / float(p @ ap)
            x += alpha * p
            r -= alpha * ap
            z = r / self.diag
            rz_next = float(r @ z)
            p = z + (rz_next / rz) * p
            rz = rz_next
        return x

    def inverse_diagonal(self, col: int) -> float:
        """The variance of one mean with the columns it shares a parcel with free and every other one held: the
        diagonal element of the inverse of that block of the normal matrix. It is what tells two SKUs that always
        travel together apart (or not), at the cost of a small dense block rather than a solve of the whole."""
        a, b, v = self._pairs()
        near = np.union1d(b[a == col], [col])
        inside = np.isin(a, near) & np.isin(b, near)
        index = np.searchsorted(near, np.stack([a[inside], b[inside]]))
        block = np.zeros((len(near), len(near)))
        np.add.at(block, (index[0], index[1]), v[inside])
        block[np.diag_indices(len(near))] += self.prior_w[near]
        where = int(np.searchsorted(near, col))
        unit = np.zeros(len(near))
        unit[where] = 1.0
        return float(np.linalg.solve(block, unit)[where])

    def _pairs(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Vector]:
        """AᵀWA as sparse (row col, col col, value) triples, built once."""
        if self._coo is None:
            d = self.design
            order = np.argsort(d.er, kind="stable")
            ec, ev = d.ec[order], d.ev[order] * np.sqrt(self.w[d.er[order]])
            counts = np.bincount(d.er, minlength=d.rows)
            starts = np.r_[0, np.cumsum(counts)[:-1]]
            a_parts, b_parts, v_parts = [], [], []
            for k in np.unique(counts[counts > 0]):  # rows of k entries at once: k² pairs each
                at = starts[counts == k][:, None] + np.arange(k)
                cols, vals = ec[at], ev[at]
                a_parts.append(np.repeat(cols, k, axis=1).ravel())
                b_parts.append(np.tile(cols, (1, k)).ravel())
                v_parts.append((vals[:, :, None] * vals[:, None, :]).ravel())
            keys = np.concatenate(a_parts) * d.cols + np.concatenate(b_parts)
            unique, inverse = np.unique(keys, return_inverse=True)
            self._coo = (unique // d.cols, unique % d.cols, np.bincount(inverse, np.concatenate(v_parts)).astype(np.float64))
        return self._coo


def _fit(design: _Design, w: Vector, y: Vector, prior_w: Vector, prior: Vector, start: Vector) -> tuple[Vector, _Normal]:
    normal = _Normal(design, w, prior_w)
    return normal.solve(design.t_times(w * y) + prior_w * prior, start), normal


# ---------------------------------------------------------------- robust summaries


def robust(values: Sequence[float], trim_z: float, resolution: float = 0.0) -> tuple[float, float, int] | None:
    """(mean, σ, n) of the values within ``trim_z`` robust σ (1.4826 × MAD, at least ``resolution``) of the
    median; None for no values. σ of a single value is 0. (Plain Python: the lists are short and many.)"""
    if not values:
        return None
    med = statistics.median(values)
    spread = max(1.4826 * statistics.median([abs(v - med) for v in values]), resolution)
    kept = [v for v in values if abs(v - med) <= trim_z * spread] if spread > 0 else [v for v in values if v == med]
    return statistics.fmean(kept), statistics.stdev(kept) if len(kept) > 1 else 0.0, len(kept)


# ---------------------------------------------------------------- learning


def learn(weighings: Iterable[Weighing], reference: Reference, config: LearnConfig = DEFAULT_LEARN) -> Learned:
    """Everything the recent weighings say (see the module docstring)."""
    ordered = sorted(weighings, key=lambda w: w.seq)
    upto = ordered[-1].seq if ordered else 0
    rows = [w for w in ordered[-config.window:]
            if not any(w.seq <= reference.forget.get(s, -1) for s, _ in w.items)]
    if not rows:
        return Learned(upto_seq=upto)
    skus = sorted({s for w in rows for s, _ in w.items})
    boxes = sorted({w.box for w in rows})
    n_sku = len(skus)
    sku_col = {s: i for i, s in enumerate(skus)}
    box_col = {b: n_sku + i for i, b in enumerate(boxes)}  # apart: a box code may also be a SKU code
    entries = [(i, sku_col[s], float(q)) for i, w in enumerate(rows) for s, q in w.items] + \
        [(i, box_col[w.box], 1.0) for i, w in enumerate(rows)]
    er, ec, ev = zip(*entries, strict=True)
    design = _Design(len(rows), n_sku + len(boxes), np.array(er, dtype=np.intp), np.array(ec, dtype=np.intp),
                     np.array(ev, dtype=np.float64))
    unit_rows = design.ec < n_sku  # entries of SKU columns (the rest are the box entries)
    y = np.array([float(w.measured_g) for w in rows])
    passed = np.array([w.result == "passed" for w in rows])
    box_of = np.array([box_col[w.box] - n_sku for w in rows], dtype=np.intp)
    quantum = np.array([float(w.division_g) ** 2 / 12 for w in rows])

    prior = np.array([float(reference.unit_g.get(s) or 0) for s in skus] + [float(reference.tare_g.get(b, 0)) for b in boxes])
    known = np.array([reference.unit_g.get(s) is not None for s in skus] + [b in reference.tare_g for b in boxes])
    sd = np.concatenate([np.maximum(prior[:n_sku] * config.prior_unit_pct / 100, 1.0), np.full(len(boxes), config.prior_box_g)])
    prior_w = np.where(known, 1 / sd ** 2, 1e-9)

    x = prior.copy()
    a = np.full(len(boxes), config.prior_base_g ** 2)
    v = (config.prior_rel_spread * np.maximum(prior[:n_sku], 1.0)) ** 2
    keep = passed.copy()

    def row_var(a: Vector, v: Vector) -> Vector:
        units = np.bincount(design.er[unit_rows], design.ev[unit_rows] * v[design.ec[unit_rows]], minlength=design.rows)
        return np.maximum(a[box_of] + units, quantum)

    for _ in range(config.rounds):
        s2 = row_var(a, v)
        x, _normal = _fit(design, keep / s2, y, prior_w, prior, x)
        resid = y - design.times(x)
        keep = passed & (np.abs(resid) <= config.trim_z * np.sqrt(s2))
        a, v = _variances(design, unit_rows, box_of, resid, s2, keep, x, n_sku, len(boxes), config, quantum)
    s2 = row_var(a, v)
    x, normal = _fit(design, keep / s2, y, prior_w, prior, x)
    se = 1 / np.sqrt(normal.diag)
    for i in range(n_sku):  # far from its reference: the exact standard error, so an entangled pair is not "proven"
        if not known[i] or abs(x[i] - prior[i]) > config.exact_se_pct / 100 * prior[i]:
            se[i] = np.sqrt(max(normal.inverse_diagonal(i), 0.0))
    n_col = np.bincount(design.ec, keep[design.er].astype(float), minlength=design.cols).astype(int)

    samples: dict[int, list[str]] = defaultdict(list)
    entry_keep = keep[design.er]
    for r, c in zip(design.er[entry_keep], design.ec[entry_keep], strict=True):
        samples[int(c)].append(rows[int(r)].parcel)

    learned_skus = {s: Figure(_g(x[i]), _g(float(np.sqrt(v[i]))), int(n_col[i]), _g(se[i]), tuple(samples[i][-SAMPLES:]))
                    for i, s in enumerate(skus) if n_col[i] > 0}
    learned_boxes = {b: Figure(_g(x[n_sku + i]), _g(float(np.sqrt(a[i]))), int(n_col[n_sku + i]), _g(se[n_sku + i]),
                               tuple(samples[n_sku + i][-SAMPLES:]))
                     for i, b in enumerate(boxes) if n_col[n_sku + i] > 0}
    return Learned(skus=learned_skus, boxes=learned_boxes, signatures=_signatures(rows, config),
                   overridden=_overridden(design, rows, skus, box_of, passed, keep, s2, y, prior_w, prior, x, config),
                   upto_seq=upto, parcels=int(keep.sum()))


def _variances(design: _Design, unit_rows: npt.NDArray[np.bool_], box_of: npt.NDArray[np.intp], resid: Vector,
               s2: Vector, keep: npt.NDArray[np.bool_], x: Vector, n_sku: int, n_box: int, config: LearnConfig,
               quantum: Vector) -> tuple[Vector, Vector]:
    """Method of moments: resid² ≈ a_box + Σ qty·v_j, weighted by 1/(2 s²²) (the variance of a squared normal
    residual), each unknown shrunk towards its prior by ``prior_n`` parcels' worth; never below zero (a box's
    never below the scale's quantisation)."""
    prior_v = np.concatenate([(config.prior_rel_spread * np.maximum(np.abs(x[:n_sku]), 1.0)) ** 2,
                              np.full(n_box, config.prior_base_g ** 2)])
    prior_w = config.prior_n / (2 * prior_v ** 2)
    w = keep / (2 * s2 ** 2)
    var_design = _Design(design.rows, design.cols, design.er, design.ec, np.where(unit_rows, design.ev, 1.0))
    est, _ = _fit(var_design, w, resid ** 2, prior_w, prior_v, prior_v.copy())
    floor_box = np.full(n_box, np.inf)
    np.minimum.at(floor_box, box_of, quantum)
    return np.maximum(est[n_sku:], np.where(np.isfinite(floor_box), floor_box, 0.0)), np.maximum(est[:n_sku], 0.0)


def _signatures(rows: list[Weighing], config: LearnConfig) -> dict[Signature, Figure]:
    by_sig: dict[Signature, list[Weighing]] = defaultdict(list)
    for w in rows:
        if w.result == "passed":
            by_sig[w.signature].append(w)
    out = {}
    for sig, ws in by_sig.items():
        recent = ws[-config.signature_window:]
        found = robust([float(w.measured_g) for w in recent], config.trim_z, float(max(w.division_g for w in recent)))
        if found is not None:
            mean, sigma, n = found
            out[sig] = Figure(_g(mean), _g(sigma), n, _g(sigma / np.sqrt(n)) if n else Decimal(0),
                              tuple(w.parcel for w in recent[-SAMPLES:]))
    return out


def _overridden(design: _Design, rows: list[Weighing], skus: list[str], box_of: npt.NDArray[np.intp], passed: npt.NDArray[np.bool_],
                keep: npt.NDArray[np.bool_], s2: Vector, y: Vector, prior_w: Vector, prior: Vector, x: Vector,
                config: LearnConfig) -> dict[str, Figure]:
    """Per SKU, the unit weight the overridden parcels imply. Only an overridden parcel further than ``trim_z``
    of its σ from what the passing parcels predict is evidence (a parcel the gate blocked in its own noise's
    tail says nothing about a weight); the rest of such a parcel is taken at a fit of the kept passing parcels
    *and* the evidence, so a wrong SKU takes the blame, not its partners."""
    evidence = ~passed & (np.abs(y - design.times(x)) > config.trim_z * np.sqrt(s2))
    if not evidence.any():
        return {}
    both, normal = _fit(design, (keep | evidence) / s2, y, prior_w, prior, x)
    implied: dict[str, list[tuple[float, str]]] = defaultdict(list)
    col = {s: i for i, s in enumerate(skus)}
    division = max(float(rows[int(i)].division_g) for i in np.flatnonzero(evidence))
    for i in np.flatnonzero(evidence):
        w = rows[int(i)]
        whole = float(both[len(skus) + box_of[i]]) + sum(q * float(both[col[s]]) for s, q in w.items)
        for s, q in w.items:
            implied[s].append(((float(w.measured_g) - whole) / q + float(both[col[s]]), w.parcel))
    out = {}
    for s, found in implied.items():
        r = robust([u for u, _ in found], config.trim_z, division)
        if r is not None:  # the spread of the implied weights, and how well the fit can tell this SKU apart
            se = np.sqrt(r[1] ** 2 / r[2] + max(normal.inverse_diagonal(col[s]), 0.0))
            out[s] = Figure(_g(r[0]), _g(r[1]), r[2], _g(se), tuple(p for _, p in found[-SAMPLES:]))
    return out
