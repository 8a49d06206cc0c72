"""Suspect catalogue weights go to a person: the review lists them (passing and overridden parcels apart), a
supervisor accepts or resets, and the decisions are data: the reference, the audit entry, the upstream report."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP
from decimal import Decimal as D

import pytest
from test_weight_learning import TARE, Site, catalogue

from packgate.station.core.effects import AuditEntry, Confirmation
from packgate.station.core.weight_gate import GateConfig, plan
from packgate.station.core.weight_learning import Figure, Learned, Reference, learn
from packgate.station.core.weight_review import Decision, decide, decision_effects, reference, suspects
from packgate.station.errors import StationError

AT = datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=8)))
CATALOGUE_G = {"A": D("120"), "B": D("35"), "C": D("800"), "D": D("15")}


def test_a_wrong_catalogue_weight_is_listed_from_the_passing_parcels():
    site = Site(11)
    site.mixed(300)
    ref = catalogue(C="760")  # 5 % light in the catalogue; the parcels passed under the 5 % rule
    listed = suspects(learn(site.weighings, ref), ref)
    assert [s.sku for s in listed] == ["C"]
    c = listed[0]
    assert c.source == "passing" and c.reference_g == D("760") and not c.accepted and c.overridden is None
    assert abs(c.proposed_g - 800) < 2 and c.deviation_pct == ((c.proposed_g - 760) * 100 / 760).quantize(D("0.1"), ROUND_HALF_UP)
    assert c.passing is not None and c.passing.n > 100 and len(c.passing.samples) == 5
    assert c.as_dict()["proposed_g"] == str(c.proposed_g)


def test_a_weight_whose_every_parcel_was_blocked_is_listed_from_the_overridden_ones():
    site = Site(12)
    for _ in range(40):
        site.parcel({"A": 1})
        site.parcel({"A": 2})
    for _ in range(2):
        site.parcel({"D": 1}, result="overridden", offset=30)
    ref = catalogue()
    assert suspects(learn(site.weighings, ref), ref) == []  # two parcels are not enough
    site.parcel({"D": 1}, result="overridden", offset=30)
    (d,) = suspects(learn(site.weighings, ref), ref)
    assert d.sku == "D" and d.source == "overridden" and d.passing is None and d.overridden.n == 3
    assert abs(d.proposed_g - 45) < 3


def test_noise_and_entangled_pairs_are_not_listed():
    site = Site(13)
    site.mixed(300)
    ref = catalogue()
    assert suspects(learn(site.weighings, ref), ref) == []
    pair = Site(14)
    for _ in range(200):
        pair.parcel({"A": 1, "D": 1})  # only their sum is known: neither is proven wrong alone
    wrong = catalogue(A="124")
    assert suspects(learn(pair.weighings, wrong), wrong) == []


def test_accept_makes_the_learned_value_the_reference_and_the_gate_uses_it():
    site = Site(15)
    for _ in range(60):
        site.parcel({"C": 1})
    ref = catalogue(C="760")
    learned = learn(site.weighings, ref)
    (c,) = suspects(learned, ref)
    config = GateConfig()
    before = plan([(_sku("C", "760"), 1)], _box(), learned, ref, config)
    assert not isinstance(before, list) and before.basis.figure == "catalogue" and before.basis.held == ("C",)
    decision = decide(c, "accept", "E-SUP", AT, seq=60, reason="scale says so")
    after = reference({k: v for k, v in ref.unit_g.items()}, TARE, [decision])
    assert after.unit_g["C"] == c.proposed_g and after.accepted == frozenset({"C"})
    now = plan([(_sku("C", "760"), 1)], _box(), learned, after, config)
    assert not isinstance(now, list) and now.basis.figure == "signature" and now.basis.accepted == ("C",)
    assert suspects(learned, after) == []


def test_reset_keeps_the_catalogue_and_forgets_the_parcels_so_far():
    decisions = [Decision("C", "accept", D("801"), D("760"), 60, "E-SUP", AT),
                 Decision("C", "reset", None, D("801"), 90, "E-SUP2", AT + timedelta(hours=1), "wrong batch")]
    ref = reference(CATALOGUE_G | {"C": D("760")}, TARE, decisions)
    assert ref.unit_g["C"] == D("760") and ref.accepted == frozenset() and ref.forget == {"C": 90}
    site = Site(16)
    for _ in range(100):
        site.parcel({"C": 1})
    assert learn(site.weighings, ref).skus["C"].n == 10  # parcels 91..100 only


def test_decisions_are_audited_and_an_acceptance_is_reported_upstream():
    suspect = suspects(Learned(skus={"C": Figure(D("801.2"), D("2"), 50, D("0.3"), ("P9",))}), catalogue(C="760"))[0]
    accept = decide(suspect, "accept", "E-SUP", AT, 120, "checked on the bench scale")
    audit, conf = decision_effects(accept, suspect)
    assert isinstance(audit, AuditEntry) and audit.action == "weight_accept" and audit.who == "E-SUP"
    assert audit.before["unit_weight_g"] == "760" and audit.after == {"sku": "C", "unit_weight_g": "801.2"}
    assert isinstance(conf, Confirmation) and (conf.action, conf.object_type, conf.object_id) == ("weight_learned", "sku", "C")
    assert conf.payload["unit_weight_g"] == "801.2" and conf.payload["catalogue_g"] == "760"
    assert conf.payload["at"] == "2026-03-02T09:30:00.000+08:00" and conf.payload["passing"]["n"] == 50
    (reset_audit,) = decision_effects(decide(suspect, "reset", "E-SUP", AT, 121))
    assert reset_audit.action == "weight_reset" and reset_audit.after["forgotten_upto_seq"] == 121


def test_decisions_round_trip_and_refuse_nonsense():
    d = Decision("C", "accept", D("801"), D("760"), 60, "E-SUP", AT, "ok")
    assert Decision.from_dict(d.as_dict()) == d
    with pytest.raises(StationError):
        Decision("C", "accept", None, D("760"), 60, "E-SUP", AT)
    with pytest.raises(StationError):
        Decision("C", "reset", D("1"), D("760"), 60, "E-SUP", AT)
    with pytest.raises(StationError):
        Decision("C", "reset", None, D("760"), 60, "E-SUP", datetime(2026, 3, 2))


def test_a_sku_without_a_catalogue_weight_is_listed_once_its_parcels_say_enough():
    learned = Learned(skus={"NEW": Figure(D("42"), D("0.5"), 9, D("0.2"))})
    assert suspects(learned, Reference({"NEW": None}, TARE)) == []
    learned = Learned(skus={"NEW": Figure(D("42"), D("0.5"), 10, D("0.2"))})
    (new,) = suspects(learned, Reference({"NEW": None}, TARE))
    assert new.reference_g is None and new.deviation_pct is None and new.proposed_g == D("42.0")


def _sku(code: str, grams: str):
    from packgate.station.core.models import Sku
    return Sku(code, None, code, D(grams))


def _box():
    from packgate.station.core.models import Packaging
    return Packaging("BOX", "box", D("80"))
