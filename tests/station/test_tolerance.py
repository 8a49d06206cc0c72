"""Weight tolerance: the 5 % rule, the absolute floor table, stability, missing catalog weights."""
from decimal import Decimal
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packgate.station.core.models import Packaging, Sku
from packgate.station.core.tolerance import (
    DEFAULT,
    FLOOR_TABLES,
    FloorBand,
    ToleranceConfig,
    check_weight,
    expected_weight,
    judge,
)
from packgate.station.errors import ConfigError

NO_FLOOR = ToleranceConfig(floors=())


def sku(code="S", grams="100", category=None):
    return Sku(code, None, code, None if grams is None else D(grams), category=category)


@pytest.mark.parametrize("expected, measured, config, ok", [
    # exactly 5 % passes, in both directions; a hair more does not (no floor, so 5 % alone decides)
    ("1000", "1050", NO_FLOOR, True),
    ("1000", "950", NO_FLOOR, True),
    ("1000", "1050.01", NO_FLOOR, False),
    ("1000", "949.99", NO_FLOOR, False),
    ("1000", "1049.99", NO_FLOOR, True),
    # 10 kg: 5 % = 500 g beats the 1 lb floor
    ("10000", "10500", DEFAULT, True),
    ("10000", "9500", DEFAULT, True),
    ("10000", "10500.1", DEFAULT, False),
    ("10000", "9499.9", DEFAULT, False),
    # 60 g parcel: 5 % is 3 g, the 1 oz floor (28.35 g) applies
    ("60", "63", DEFAULT, True),
    ("60", "88.35", DEFAULT, True),
    ("60", "31.65", DEFAULT, True),
    ("60", "88.36", DEFAULT, False),
    ("60", "31.64", DEFAULT, False),
    ("60", "70", NO_FLOOR, False),
    # just under 1 lb expected: still the 1 oz floor; at 1 lb: the 1 lb floor
    ("453.5", "481.85", DEFAULT, True),
    ("453.5", "481.86", DEFAULT, False),
    ("453.6", "907.2", DEFAULT, True),
    ("453.6", "907.3", DEFAULT, False),
    # the 1 lb floor dominates 5 % up to 9072 g
    ("1225", "1678.6", DEFAULT, True),
    ("1225", "1678.7", DEFAULT, False),
    ("1225", "1290", ToleranceConfig(floors=FLOOR_TABLES["ounce"]), False),
    ("1225", "1286", ToleranceConfig(floors=FLOOR_TABLES["ounce"]), True),
    ("0", "28.35", DEFAULT, True),
    ("0", "28.36", DEFAULT, False),
])
def test_tolerance_table(expected, measured, config, ok):
    check = judge(D(expected), D(measured), config)
    assert check.passed is ok
    assert check.verdict.code == ("weight_ok" if ok else "weight_out_of_tolerance")
    assert check.verdict.status == ("ok" if ok else "blocked")
    assert check.verdict.colour == ("green" if ok else "red")


def test_result_fields():
    check = judge(D("1000"), D("1100"), NO_FLOOR)
    assert (check.expected_g, check.measured_g, check.diff_g, check.diff_pct, check.allowed_g) == (
        D("1000"), D("1100"), D("100"), D("10.00"), D("50"))
    assert check.verdict.data["diff_g"] == "+100.0" and check.verdict.data["diff_pct"] == "+10.00"
    assert "+100.0 g (+10.00 %)" in check.verdict.message and "±50.0 g" in check.verdict.message
    assert check.verdict.next == "reweigh_or_override"
    assert check.as_dict()["result"] == "fail"
    under = judge(D("1000"), D("900"), NO_FLOOR)
    assert under.diff_g == D("-100") and under.verdict.data["diff_pct"] == "-10.00"


def test_expected_weight_sums_units_and_tare():
    items = [(sku("A", "250.0"), 2), (sku("B", "525.0"), 1)]
    assert expected_weight(items, Packaging("BOX", "box", D("200"))) == (D("1225.0"), [])
    assert expected_weight(items, None) == (D("1025.0"), [])
    assert expected_weight([(sku("A", None), 1), (sku("B"), 1)], None) == (None, ["A"])


def test_check_weight_pass_and_fail():
    items = [(sku("A", "250.0"), 2), (sku("B", "525.0"), 1)]
    box = Packaging("BOX", "box", D("200"))
    assert check_weight(items, box, D("1230"), True).passed
    failed = check_weight(items, box, D("2000"), True)
    assert not failed.passed and failed.diff_g == D("775.0")


@pytest.mark.parametrize("measured, stable", [(D("1225"), False), (None, True), (None, False)])
def test_only_stable_readings_count(measured, stable):
    check = check_weight([(sku("A", "1025"), 1)], Packaging("B", "b", D("200")), measured, stable)
    assert check.verdict.code == "weight_unstable" and check.verdict.status == "prompt"
    assert not check.passed and check.result == "unstable" and check.verdict.next == "weigh"


def test_no_catalog_weight_never_passes():
    check = check_weight([(sku("A", None), 1), (sku("B", "10"), 1)], None, D("10"), True)
    assert check.verdict.code == "no_catalog_weight" and check.verdict.status == "blocked"
    assert check.verdict.data["missing"] == ["A"] and "A" in check.verdict.message
    assert check.result == "unverifiable" and not check.passed
    assert check.verdict.next == "scan_supervisor_badge"


def test_float_reading_is_refused():
    with pytest.raises(TypeError):
        check_weight([(sku(), 1)], None, 100.0, True)


def test_category_tolerance_strictest_wins():
    config = ToleranceConfig(pct=D("5"), category_pct={"fragile": D("2"), "bulk": D("10")}, floors=())
    assert config.pct_for(["grocery"]) == D("5")
    assert config.pct_for(["bulk"]) == D("5")  # a looser category never loosens the site rule ...
    assert config.pct_for(["fragile", "grocery"]) == D("2")
    items = [(sku("A", "1000", "fragile"), 1)]
    assert not check_weight(items, None, D("1030"), True, config).passed
    assert check_weight(items, None, D("1020"), True, config).passed
    assert check_weight([(sku("A", "1000", "grocery"), 1)], None, D("1030"), True, config).passed


def test_site_pct_is_configurable():
    config = ToleranceConfig(pct=D("2"), floors=())
    assert judge(D("1000"), D("1020"), config).passed and not judge(D("1000"), D("1021"), config).passed


def test_from_settings_uses_decimal_strings():
    config = ToleranceConfig.from_settings(5.0, {"fragile": 3.3}, use_floor=True)
    assert config.pct == D("5.0") and config.category_pct == {"fragile": D("3.3")}
    assert config.floors == DEFAULT.floors
    assert ToleranceConfig.from_settings(5, use_floor=False).floors == ()
    assert ToleranceConfig.from_settings(5, floor_table="ounce").floor_for(D("5000")) == D("28.35")
    with pytest.raises(ConfigError):
        ToleranceConfig.from_settings(5, floor_table="nope")


@pytest.mark.parametrize("kwargs", [
    {"pct": D("0")}, {"pct": D("100")}, {"pct": 5}, {"category_pct": {"x": D("-1")}},
    {"floors": (FloorBand(None, D("1")), FloorBand(D("10"), D("1")))},
    {"floors": (FloorBand(D("10"), D("1")),)},
    {"floors": (FloorBand(D("10"), D("1")), FloorBand(D("5"), D("1")), FloorBand(None, D("1")))},
    {"floors": (FloorBand(None, D("-1")),)},
])
def test_bad_config_is_refused(kwargs):
    with pytest.raises(ConfigError):
        ToleranceConfig(**kwargs)


def test_floor_table_lookup():
    assert DEFAULT.floor_for(D("0")) == D("28.35")
    assert DEFAULT.floor_for(D("453.59")) == D("28.35")
    assert DEFAULT.floor_for(D("453.6")) == D("453.6")
    assert NO_FLOOR.floor_for(D("100")) == D("0")


grams = st.decimals(min_value=D("0"), max_value=D("100000"), places=2, allow_nan=False, allow_infinity=False)
configs = st.sampled_from([DEFAULT, NO_FLOOR, ToleranceConfig(pct=D("2.5"), floors=FLOOR_TABLES["ounce"])])


@settings(max_examples=300, deadline=None)
@given(expected=grams, gap=grams, config=configs)
def test_symmetric(expected, gap, config):
    assert judge(expected, expected + gap, config).passed == judge(expected, expected - gap, config).passed


@settings(max_examples=300, deadline=None)
@given(expected=grams, gap=grams, smaller=st.floats(min_value=0, max_value=1), config=configs)
def test_monotone_in_the_gap(expected, gap, smaller, config):
    small_gap = (gap * D(str(smaller))).quantize(D("0.01"))
    if judge(expected, expected + gap, config).passed:
        assert judge(expected, expected + small_gap, config).passed


@settings(max_examples=200, deadline=None)
@given(expected=grams, config=configs)
def test_exact_weight_passes_and_allowed_covers_pct_and_floor(expected, config):
    check = judge(expected, expected, config)
    assert check.passed
    assert check.allowed_g >= expected * config.pct / 100 and check.allowed_g >= config.floor_for(expected)


def test_a_blocked_gap_never_reads_as_equal_to_the_allowed_one():
    check = judge(Decimal("20000"), Decimal("21000.04"))  # allowed 1000 g (5 %), gap 1000.04 g
    assert check.verdict.code == "weight_out_of_tolerance"
    assert check.verdict.data["diff_g"] == "+1000.1" and check.verdict.data["diff_pct"] == "+5.01"
    assert "+5.00 %" not in check.verdict.message and "±1000.0 g" in check.verdict.message
