"""Learned weights: per SKU from single-SKU and mixed parcels (robust least squares), per signature, only from
parcels that passed; overridden parcels kept apart as evidence; resets forget; the snapshot survives a restart."""
from __future__ import annotations

import json
from decimal import Decimal as D

import numpy as np
import pytest

from packgate.station.core.weight_learning import (
    Learned,
    Reference,
    Weighing,
    items_of,
    learn,
    robust,
    signature_key,
)
from packgate.station.errors import StationError

TRUE = {"A": 120.0, "B": 35.0, "C": 800.0, "D": 15.0}
TARE = {"BOX": D("80")}


class Site:
    """Parcels with a known truth: box ±3 g, units varying by 0.3 %, readings to the gram."""

    def __init__(self, seed: int = 1):
        self.rng = np.random.default_rng(seed)
        self.weighings: list[Weighing] = []

    def parcel(self, items: dict[str, int], result: str = "passed", offset: float = 0.0, box: str = "BOX") -> Weighing:
        rng = self.rng
        grams = 80 + rng.uniform(-3, 3) + offset + sum(TRUE[s] * (1 + rng.normal(0, 0.003)) for s, q in items.items()
                                                       for _ in range(q))
        w = Weighing(len(self.weighings) + 1, f"P{len(self.weighings) + 1}", box, items_of(items.items()),
                     D(round(grams + rng.normal(0, 0.3))), result)
        self.weighings.append(w)
        return w

    def mixed(self, n: int, skus: tuple[str, ...] = tuple(TRUE)) -> None:
        for _ in range(n):
            chosen = self.rng.choice(skus, size=int(self.rng.integers(2, len(skus) + 1)), replace=False)
            self.parcel({str(s): int(self.rng.integers(1, 3)) for s in chosen})


def catalogue(**wrong: str) -> Reference:
    units = {s: D(str(round(g))) for s, g in TRUE.items()} | {s: D(v) for s, v in wrong.items()}
    return Reference(units, TARE)


def close(figure, grams: float, within: float) -> bool:
    return figure is not None and abs(float(figure.mean_g) - grams) <= within


def test_single_sku_parcels_teach_their_sku_directly():
    site = Site()
    for _ in range(40):
        site.parcel({"A": 1})
    learned = learn(site.weighings, catalogue(A="130"))
    a = learned.skus["A"]
    assert close(a, 120, 1.5) and a.n == 40 and 0 < a.se_g < D("1.5")  # the box's tare is trusted to a gram
    assert close(learned.boxes["BOX"], 80, 1.5)
    sig = learned.signatures[("BOX", (("A", 1),))]
    assert close(sig, 200, 1) and sig.n == 40 and D("1") < sig.sigma_g < D("3")


def test_mixed_parcels_teach_every_sku_by_least_squares():
    site = Site(2)
    site.mixed(400)
    learned = learn(site.weighings, catalogue(B="40", C="760"))  # two catalogue weights wrong
    for sku, grams in TRUE.items():
        assert close(learned.skus[sku], grams, 1.0), (sku, learned.skus[sku])
    assert learned.parcels == 400


def test_a_parcel_that_passed_while_missing_an_item_is_left_out():
    site = Site(3)
    for _ in range(60):
        site.parcel({"A": 1, "B": 1})
    for _ in range(3):  # passed although the 120 g item was not in it
        site.parcel({"A": 1, "B": 1}, offset=-120)
    for _ in range(30):
        site.parcel({"A": 1})
    learned = learn(site.weighings, catalogue())
    assert close(learned.skus["A"], 120, 1.5) and close(learned.skus["B"], 35, 1.5)
    assert learned.parcels == 90
    assert close(learned.signatures[("BOX", (("A", 1), ("B", 1)))], 235, 1.5)


def test_overridden_parcels_never_teach_and_are_kept_as_evidence():
    site = Site(4)
    for _ in range(30):
        site.parcel({"A": 1})
    for _ in range(8):  # D really weighs 45 g: every parcel of it blocked, then approved by a supervisor
        site.parcel({"D": 1}, result="overridden", offset=30)
    learned = learn(site.weighings, catalogue())
    assert "D" not in learned.skus and ("BOX", (("D", 1),)) not in learned.signatures
    evidence = learned.overridden["D"]
    assert close(evidence, 45, 3 * float(evidence.se_g)) and evidence.n == 8 and evidence.samples[-1] == "P38"
    assert close(evidence, 45, 3)
    # the same overridden parcels in the tail of their own noise say nothing
    quiet = Site(4)
    for _ in range(30):
        quiet.parcel({"A": 1})
    for _ in range(8):
        quiet.parcel({"A": 1}, result="overridden", offset=4)
    assert learn(quiet.weighings, catalogue()).overridden == {}


def test_two_skus_that_always_travel_together_are_not_proven_wrong_one_by_one():
    site = Site(5)
    for _ in range(200):
        site.parcel({"A": 1, "D": 1})
    learned = learn(site.weighings, catalogue(A="130"))
    a, d = learned.skus["A"], learned.skus["D"]
    assert abs(float(a.mean_g + d.mean_g) - 135) < 1  # their sum is known ...
    assert a.se_g > 3  # ... one alone is not: A, far from its reference, gets the exact standard error


def test_a_reset_forgets_the_skus_parcels_up_to_it():
    site = Site(6)
    for _ in range(20):
        site.parcel({"B": 1})
    for _ in range(10):
        site.parcel({"A": 1})
    forgotten = Reference(catalogue().unit_g, TARE, forget={"B": 20})
    learned = learn(site.weighings, forgotten)
    assert "B" not in learned.skus and learned.skus["A"].n == 10 and learned.upto_seq == 30


def test_the_window_keeps_the_most_recent_weighings():
    from packgate.station.core.weight_learning import LearnConfig

    site = Site(7)
    for _ in range(20):
        site.parcel({"A": 1}, offset=50)  # before a change of the product
    for _ in range(20):
        site.parcel({"A": 1})
    learned = learn(site.weighings, catalogue(), LearnConfig(window=20))
    assert close(learned.skus["A"], 120, 1.5) and learned.skus["A"].n == 20


def test_nothing_learned_from_nothing():
    learned = learn([], catalogue())
    assert learned == Learned() and learned.upto_seq == 0


def test_a_sku_without_a_catalogue_weight_is_learned_from_its_parcels():
    site = Site(8)
    for _ in range(20):
        site.parcel({"C": 1})
    ref = Reference({"C": None}, TARE)
    assert close(learn(site.weighings, ref).skus["C"], 800, 3)


def test_the_snapshot_survives_a_restart_as_json():
    site = Site(9)
    site.mixed(60)
    site.parcel({"D": 2}, result="overridden", offset=60)
    site.parcel({"D": 2}, result="overridden", offset=60)
    learned = learn(site.weighings, catalogue())
    again = Learned.from_dict(json.loads(learned.to_json()))
    assert again == learned and again.overridden


def test_weighings_are_checked_and_round_trip():
    w = Weighing(1, "P1", "BOX", items_of([("B", 1), ("A", 2), ("B", 1)]), D("400"), "passed", D("2"))
    assert w.items == (("A", 2), ("B", 2)) and Weighing.from_dict(w.as_dict()) == w
    assert signature_key(w.signature) == "BOX|A×2,B×2"
    with pytest.raises(StationError):
        Weighing(1, "P1", "BOX", (("B", 1), ("A", 1)), D("1"), "passed")
    with pytest.raises(StationError):
        Weighing(1, "P1", "BOX", (("A", 1),), D("1"), "blocked")


def test_robust_summary_trims_what_lies_far_from_the_median():
    mean, sigma, n = robust([100, 101, 99, 100, 102, 98, 100, 160], 4.0)
    assert n == 7 and mean == pytest.approx(100) and sigma == pytest.approx(1.29, abs=0.01)
    assert robust([], 4.0) is None
    assert robust([50, 50, 50], 4.0) == (50.0, 0.0, 3)
