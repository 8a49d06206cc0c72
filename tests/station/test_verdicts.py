"""The message tables: every code is complete in both languages and formats."""
from decimal import Decimal

import pytest

from packgate.station.core.verdicts import MESSAGES, NEXT_STEPS, STATUS_STYLE, fields_of, grams, make


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_code_is_complete_in_both_languages(code):
    text = MESSAGES[code]
    assert text.status in STATUS_STYLE
    assert text.next in NEXT_STEPS
    assert text.en.strip() and text.zh.strip()
    assert fields_of(text.en) == fields_of(text.zh), "en and zh must use the same fields"
    assert not fields_of(text.en) & {"next", "status"}, "these names are make() keywords"


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_code_formats_with_its_fields(code):
    data = {name: f"<{name}>" for name in fields_of(MESSAGES[code].en)}
    verdict = make(code, **data)
    assert verdict.code == code
    for value in data.values():
        assert value in verdict.message and value in verdict.message_zh
    hint_en, hint_zh = NEXT_STEPS[verdict.next]
    assert verdict.message.endswith(hint_en) and verdict.message_zh.endswith(hint_zh)


@pytest.mark.parametrize("status, sound, colour", [
    ("ok", "ok", "green"), ("prompt", "prompt", "amber"), ("blocked", "error", "red"), ("error", "error", "red")])
def test_status_sets_sound_and_colour(status, sound, colour):
    verdict = make("reweigh", status=status)
    assert (verdict.sound, verdict.colour) == (sound, colour)


def test_next_override_and_missing_field():
    assert make("item_accepted", next="weigh", sku="S", name="n", packed=1, ordered=1).next == "weigh"
    with pytest.raises(KeyError):
        make("item_accepted", sku="S")
    with pytest.raises(KeyError):
        make("no_such_code")


def test_as_dict_is_plain():
    d = make("signed_in", name="Li").as_dict()
    assert d["code"] == "signed_in" and d["colour"] == "green" and d["data"] == {"name": "Li"}
    assert d["message"] == "Hello Li. Scan the next order or tote."


def test_grams_display():
    assert grams(Decimal("1234.56")) == "1234.6"
    assert grams(Decimal("0.05")) == "0.1"
    assert grams(None) == "-"
