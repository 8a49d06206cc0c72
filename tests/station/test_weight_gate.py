"""The statistical gate: the signature's history, the learned SKU weights, or the catalogue exactly as today;
k'·σ never tighter than the scale resolves nor looser than the site's rule; drift held for a person; every
check says which figure it used."""
from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packgate.station.core.models import Packaging, Sku
from packgate.station.core.resolution import Resolution
from packgate.station.core.tolerance import FLOOR_TABLES, ToleranceConfig, check_weight
from packgate.station.core.verdicts import basis_words
from packgate.station.core.weight_gate import (
    Candidate,
    GateConfig,
    expectations,
    gate,
    likely_missing,
    plan,
    t_quantile,
)
from packgate.station.core.weight_learning import Figure, Learned, Reference
from packgate.station.errors import ConfigError

BOX = Packaging("BOX-S", "small box", D("90"))
PHONE = Sku("PHONE", None, "Phone", D("98"))
CHARGER = Sku("CHG", None, "Charger", D("25"))
ITEMS = [(PHONE, 1), (CHARGER, 1)]
CATALOGUE = Reference({"PHONE": D("98"), "CHG": D("25")}, {"BOX-S": D("90")})
SIG = ("BOX-S", (("CHG", 1), ("PHONE", 1)))
FINE = GateConfig(resolution=Resolution.single(D("1")))
BOX_LEARNED = Figure(D("90"), D("1.5"), 200)


def learned(sig: Figure | None = None, phone: Figure | None = None, charger: Figure | None = None,
            box: Figure | None = BOX_LEARNED) -> Learned:
    skus = {k: v for k, v in (("PHONE", phone), ("CHG", charger)) if v is not None}
    return Learned(skus=skus, boxes={"BOX-S": box} if box else {}, signatures={SIG: sig} if sig else {})


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=20000, places=1), st.sampled_from(["ounce", "anchor", "none"]),
       st.decimals(min_value="0.5", max_value=20, places=1))
def test_without_history_the_gate_is_todays_rule_exactly(measured, table, pct):
    tolerance = ToleranceConfig(pct=pct, floors=FLOOR_TABLES[table])
    today = check_weight(ITEMS, BOX, measured, True, tolerance)
    check = gate(ITEMS, BOX, measured, True, Learned(), CATALOGUE, GateConfig(tolerance=tolerance, floor=table))
    assert (check.check.expected_g, check.check.allowed_g, check.passed) == (today.expected_g, today.allowed_g, today.passed)
    assert check.check.verdict.code == today.verdict.code and check.basis is not None and check.basis.figure == "catalogue"
    assert check.check.verdict.message == today.verdict.message


def test_without_history_the_division_floor_replaces_the_ounce():
    config = GateConfig(resolution=Resolution.single(D("2")))  # floor "division", 5 divisions
    light = [(CHARGER, 2)]  # 50 g of chargers in a 15 g mailer: 65 g expected
    mailer = Packaging("MAILER", "mailer", D("15"))
    found = plan(light, mailer, Learned(), CATALOGUE, config)
    assert not isinstance(found, list)
    assert found.expected_g == D("65") and found.allowed_g == D("10") and found.basis.limit == "division"
    assert not gate(light, mailer, D("40"), True, Learned(), CATALOGUE, config).passed  # one charger short: caught
    assert gate(light, mailer, D("40"), True, Learned(), CATALOGUE, GateConfig(floor="ounce")).passed  # today: not
    heavy = plan([(PHONE, 20)], BOX, Learned(), CATALOGUE, config)
    assert not isinstance(heavy, list) and heavy.basis.limit == "site_rule" and heavy.allowed_g == D("102.5")


def test_the_signatures_history_gates_and_the_verdict_says_so():
    history = learned(sig=Figure(D("213"), D("1.8"), 41), phone=Figure(D("98"), D("0.4"), 60),
                      charger=Figure(D("25"), D("0.1"), 60))
    check = gate(ITEMS, BOX, D("213"), True, history, CATALOGUE, FINE)
    assert check.passed and check.basis.figure == "signature" and check.basis.n == 41
    data = check.check.verdict.data
    assert data["basis"] == "signature" and data["basis_n"] == 41 and data["k"] == "3" and data["limit"] == "sigma"
    assert check.check.expected_g == D("213")
    k_used = t_quantile(D(3), 41 + 5 - 1)
    assert D("3") < k_used < D("3.3") and data["k_used"] == str(k_used.quantize(D("0.01")))
    assert check.check.allowed_g == pytest.approx(k_used * check.basis.sigma_g, abs=D("0.05"))
    words = basis_words(data, "en")
    assert words.startswith("expected 213.0 g from 41 earlier parcels, ±") and words.endswith(" g")
    assert "此前41个相同包裹" in basis_words(data, "zh")
    missing_charger = gate(ITEMS, BOX, D("188"), True, history, CATALOGUE, FINE)
    assert not missing_charger.passed and missing_charger.check.verdict.code == "weight_out_of_tolerance"
    assert gate(ITEMS, BOX, D("188"), True, Learned(), CATALOGUE, GateConfig(floor="ounce")).passed  # today misses it


def test_learned_sku_weights_gate_a_signature_without_history():
    history = learned(phone=Figure(D("100.5"), D("0.5"), 30, D("0.1")), charger=Figure(D("25.5"), D("0.1"), 30, D("0.05")))
    found = plan(ITEMS, BOX, history, CATALOGUE, FINE)
    assert not isinstance(found, list) and found.basis.figure == "learned" and found.basis.n == 30
    assert found.expected_g == D("216.0")
    assert plan(ITEMS, BOX, learned(phone=Figure(D("101"), D("0.5"), 3)), CATALOGUE, FINE).basis.figure == "catalogue"


def test_a_learned_weight_beyond_the_drift_bound_is_held_until_a_person_accepts_it():
    drifted = learned(sig=Figure(D("225"), D("1.5"), 80), phone=Figure(D("110"), D("0.5"), 80, D("0.1")),
                      charger=Figure(D("25"), D("0.1"), 80))
    found = plan(ITEMS, BOX, drifted, CATALOGUE, FINE)
    assert found.basis.figure == "catalogue" and found.basis.held == ("PHONE",) and found.expected_g == D("213")
    accepted = Reference({"PHONE": D("110"), "CHG": D("25")}, {"BOX-S": D("90")}, accepted=frozenset({"PHONE"}))
    after = plan(ITEMS, BOX, drifted, accepted, FINE)
    assert after.basis.figure == "signature" and after.basis.accepted == ("PHONE",) and after.expected_g == D("225")
    within = learned(phone=Figure(D("100"), D("0.5"), 80), charger=Figure(D("25"), D("0.1"), 80))
    assert plan(ITEMS, BOX, within, CATALOGUE, FINE).basis.held == ()


def test_no_reference_weight_and_an_unsteady_reading_answer_as_today():
    ghost = Sku("GHOST", None, "Ghost", None)
    check = gate([(ghost, 1), (PHONE, 1)], BOX, D("300"), True, Learned(), CATALOGUE, FINE)
    assert check.check.verdict.code == "no_catalog_weight" and check.basis is None and check.result == "unverifiable"
    unsteady = gate(ITEMS, BOX, D("300"), False, Learned(), CATALOGUE, FINE)
    assert unsteady.check.verdict.code == "weight_unstable" and unsteady.result == "unstable"


sigmas = st.decimals(min_value="0.01", max_value=80, places=2)


@settings(max_examples=150, deadline=None)
@given(sig_sigma=sigmas, n=st.integers(5, 500), mean=st.decimals(min_value=20, max_value=9000, places=1),
       division=st.sampled_from(["0.1", "0.5", "1", "2", "5", "10"]), pct=st.decimals(min_value="0.5", max_value=10, places=1),
       k=st.decimals(min_value=1, max_value=6, places=1), floor=st.sampled_from(["division", "ounce", "anchor", "none"]))
def test_the_gate_is_never_tighter_than_the_scale_resolves_nor_looser_than_the_site_rule(
        sig_sigma, n, mean, division, pct, k, floor):
    config = GateConfig(tolerance=ToleranceConfig(pct=pct), resolution=Resolution.single(D(division)), floor=floor, k=k,
                        drift_pct=D(100), drift_divisions=D(100000))
    history = learned(sig=Figure(mean, sig_sigma, n), phone=Figure(D("98"), D("1"), n), charger=Figure(D("25"), D("1"), n))
    found = plan(ITEMS, BOX, history, CATALOGUE, config)
    assert found.basis.figure == "signature"
    resolved, site = config.resolved(found.expected_g), config.site_allowed(found.expected_g, pct)
    assert found.allowed_g >= resolved
    assert found.allowed_g <= max(site, resolved)
    if found.basis.limit == "sigma":  # (σ is shown to 0.01 g)
        assert abs(found.allowed_g - found.basis.k_used * found.basis.sigma_g) <= found.basis.k_used * D("0.005")


def test_a_multi_interval_scale_resolves_coarser_above_its_first_range():
    res = Resolution.parse("6000:2,15000:5")
    assert res.division_at(D("5999")) == D("2") and res.division_at(D("6000.1")) == D("5") and res.finest == D("2")
    config = GateConfig(resolution=res)
    assert config.resolved(D("1000")) == D("4") and config.resolved(D("8000")) == D("10")
    for bad in ("", "x", "6000:2,1000:1", "2:1:3", "6000:5,15000:2"):
        with pytest.raises(ConfigError):
            Resolution.parse(bad)


def test_students_t_widens_k_for_few_parcels_and_tends_to_k():
    values = [t_quantile(D(3), df) for df in (3, 4, 9, 30, 100, 100000)]
    assert values == sorted(values, reverse=True)
    assert abs(values[1] - D("6.62")) < D("0.1") and abs(values[2] - D("4.09")) < D("0.03")
    assert abs(values[3] - D("3.27")) < D("0.02") and abs(values[-1] - 3) < D("0.001")


def test_the_units_a_light_parcel_may_lack_are_named_closest_first():
    candidates = [Candidate("CHG", "Charger", "accessory", D("25")), Candidate("SMP", "Sample", "gift", D("12")),
                  Candidate("PHONE", "Phone", "item", D("98"))]
    assert [c.sku for c in likely_missing(D("24"), D("6"), candidates)] == ["CHG"]
    assert [c.sku for c in likely_missing(D("18"), D("7"), candidates)] == ["SMP", "CHG"]
    assert likely_missing(D("5"), D("6"), candidates) == []


def test_per_item_expectations_use_the_learned_unit_where_the_gate_may():
    history = learned(phone=Figure(D("100.5"), D("0.5"), 30, D("0.2")), charger=Figure(D("40"), D("0.1"), 30))
    units = expectations({"PHONE": D("98"), "CHG": D("25")}, history, FINE)
    widen = t_quantile(D(3), 30 + 5 - 1) / 3
    assert units["PHONE"][0] == D("100.5") and units["PHONE"][1] == pytest.approx(D("0.5385") * widen, abs=D("0.001"))
    assert units["CHG"] == (D("25"), D("25") * 5 / 100 / 3)  # drifted: the reference, with σ = pct / k


def test_the_gate_config_refuses_nonsense():
    for kwargs in ({"floor": "pound"}, {"k": D(0)}, {"min_divisions": D(-1)}, {"min_sku": 1}, {"drift_pct": 5}):
        with pytest.raises(ConfigError):
            GateConfig(**kwargs)  # type: ignore[arg-type]
