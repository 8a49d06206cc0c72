from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packgate.sync.common.ids import ALPHABET, check_char, is_valid_check, is_valid_id, make_id, parse_id
from packgate.sync.errors import InvalidConfirmationIdError

stations = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=8)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
seqs = st.integers(min_value=1, max_value=10**8)


def test_example_shape():
    conf_id = make_id("ST01", date(2026, 1, 5), 42)
    assert conf_id.startswith("ST01-20260105-000042-")
    assert parse_id(conf_id) == {"station": "ST01", "date": date(2026, 1, 5), "seq": 42}


@given(stations, days, seqs)
def test_roundtrip(station, day, seq):
    conf_id = make_id(station, day, seq)
    assert is_valid_id(conf_id)
    assert parse_id(conf_id) == {"station": station, "date": day, "seq": seq}


@given(stations, days, seqs, st.data())
def test_every_single_substitution_is_detected(station, day, seq, data):
    conf_id = make_id(station, day, seq)
    positions = [i for i, ch in enumerate(conf_id) if ch != "-"]
    i = data.draw(st.sampled_from(positions))
    replacement = data.draw(st.sampled_from([c for c in ALPHABET if c != conf_id[i]]))
    assert not is_valid_check(conf_id[:i] + replacement + conf_id[i + 1:])


def test_adjacent_transpositions_are_almost_always_detected():
    """MOD 37,36 (hybrid) misses a few transpositions (~0.4 %); measure instead of pretending."""
    import random
    from datetime import timedelta

    rng = random.Random(1)
    total = missed = 0
    for _ in range(3000):
        body = make_id(f"ST{rng.randint(0, 99):02d}", date(2026, 1, 1) + timedelta(days=rng.randint(0, 3000)),
                       rng.randint(1, 10**6)).replace("-", "")
        for i in range(len(body) - 1):
            if body[i] != body[i + 1]:
                total += 1
                missed += is_valid_check(body[:i] + body[i + 1] + body[i] + body[i + 2:])
    assert missed / total < 0.01


@given(st.text(max_size=40))
def test_parse_never_crashes_on_garbage(text):
    try:
        parse_id(text)
    except InvalidConfirmationIdError:
        pass


@pytest.mark.parametrize("bad", ["", "ST01-20260105-000042", "st01-20260105-000042-K", "ST01-20261305-000042-0",
                                 "ST01-2026010-000042-K", "ST 1-20260105-000042-K"])
def test_malformed_ids(bad):
    assert not is_valid_id(bad)


def test_check_char_ignores_hyphens():
    assert check_char("ST01-20260105-000042") == check_char("ST0120260105000042")


def test_bad_station_and_seq():
    with pytest.raises(InvalidConfirmationIdError):
        make_id("st-01", date(2026, 1, 5), 1)
    with pytest.raises(InvalidConfirmationIdError):
        make_id("ST01", date(2026, 1, 5), 0)
