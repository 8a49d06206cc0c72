"""Strict weights: a weight sent by a client is a plain ASCII decimal string, finite, within the scale's range;
``stable`` is a JSON boolean. Anything else is a ``bad_request`` naming the field, never a weighing and never a 500."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packgate.station.core.intake import grams

CAPACITY = Decimal("150000")


@pytest.fixture
def ready(station, world, h):
    h.sign_in(station)
    h.open_and_scan(station, world, "SO-10009")
    return station


@pytest.mark.parametrize("value", ["2_15", "２１５", "٢١٥", 950, 215.0, "NaN", "Infinity", "-Infinity", "1e309", "1E3",
                                   "9" * 400, "-215", "+215", " 215", "215 ", "0x10", "", "215.", ".5",
                                   "150000.1", True, [], {}])
def test_lax_weights_are_refused_naming_the_field(ready, h, value):
    answer = ready.handle({"action": "weigh", "payload": {"grams": value, "stable": True}})
    assert answer["code"] in ("bad_request", "too_large") and answer["data"]["field"] == "payload.grams", answer
    assert str(ready.pack.state) == "ready_to_weigh" and h.outbox_rows(ready, "action = 'weigh'") == []


@pytest.mark.parametrize("stable", ["false", "no", "0", 0, 1, "true", None])
def test_stable_must_be_a_json_boolean(ready, h, stable):
    answer = ready.handle({"action": "weigh", "payload": {"grams": "215", "stable": stable}})
    assert answer["code"] == "bad_request" and answer["data"]["field"] == "payload.stable", answer
    assert h.outbox_rows(ready, "action = 'weigh'") == []


def test_a_plain_decimal_string_weighs(ready):
    assert ready.handle({"action": "weigh", "payload": {"grams": "215", "stable": True}})["code"] == "weight_ok"


@given(st.text(max_size=40))
def test_the_weight_parser_accepts_only_plain_ascii_decimals(text):
    parsed = grams(text, CAPACITY)
    if isinstance(parsed, Decimal):
        assert parsed.is_finite() and 0 <= parsed <= CAPACITY
        assert all(c in "0123456789." for c in text) and parsed == Decimal(text)  # "007" is 7: leading zeros are digits
    else:
        assert parsed in ("decimal_string", "in_scale_range", "not_a_json_number")


@given(st.decimals(min_value=0, max_value=CAPACITY, places=1, allow_nan=False, allow_infinity=False))
def test_every_weight_in_range_round_trips(value):
    assert grams(str(value), CAPACITY) == value
