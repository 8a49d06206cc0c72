"""Gifts, accessories and kits: order lines by kind, kits packed as components or pre-packed, what is missing."""
from __future__ import annotations

from decimal import Decimal as D

import pytest
from station_core_data import Catalog

from packgate.station.core.contents import Contents, Missing, missing_words
from packgate.station.core.models import Component, LineKind, Order, OrderLine, Sku
from packgate.station.errors import ReferenceDataError

PHONE = Sku("PHONE", None, "Phone", D("180"))
CHARGER = Sku("CHG", None, "Charger", D("25"))
SAMPLE = Sku("SMP", None, "Sample", D("12"))
CABLE = Sku("CBL", None, "Cable", D("30"))
CASE = Sku("CASE", None, "Case", D("40"))
KIT = Sku("KIT", None, "Starter kit", D("999"), components=(Component("CBL", 2), Component("CASE", 1)))
CATALOG = Catalog(skus=[PHONE, CHARGER, SAMPLE, CABLE, CASE, KIT])


def order(*lines: OrderLine) -> Order:
    return Order("SO-1", None, None, 0, "open", lines)


PHONE_ORDER = order(OrderLine("PHONE", 1), OrderLine("CHG", 1, LineKind.ACCESSORY), OrderLine("SMP", 1, LineKind.GIFT))


def test_lines_keep_their_kind_and_read_as_before_when_plain():
    line = OrderLine.from_dict({"sku": "CHG", "qty": 1, "kind": "accessory"})
    assert line.kind is LineKind.ACCESSORY and line.as_dict() == {"sku": "CHG", "qty": 1, "kind": "accessory"}
    plain = OrderLine.from_dict({"sku": "PHONE", "qty": 2})
    assert plain.kind is LineKind.ITEM and plain.as_dict() == {"sku": "PHONE", "qty": 2}
    with pytest.raises(ReferenceDataError, match="kind must be item, gift or accessory"):
        OrderLine.from_dict({"sku": "X", "qty": 1, "kind": "freebie"})


def test_a_kit_row_carries_its_components_and_bad_ones_are_named():
    row = {"sku": "KIT", "name": "Starter kit", "components": [{"sku": "CBL", "qty": 2}, {"sku": "CASE"}]}
    kit = Sku.from_dict(row)
    assert kit.is_kit and kit.components == (Component("CBL", 2), Component("CASE", 1))
    assert Sku.from_dict(kit.as_dict()) == kit
    assert "components" not in PHONE.as_dict() and not PHONE.is_kit
    for bad, words in [([{"sku": "CBL", "qty": 0}], "qty"), ([{"qty": 1}], "'sku' is required"),
                       ([{"sku": "CBL"}, {"sku": "CBL"}], "each SKU once"), ([{"sku": "KIT"}], "not the kit itself"),
                       ("CBL", "must be a list")]:
        with pytest.raises(ReferenceDataError, match=words):
            Sku.from_dict({**row, "components": bad})


def test_gifts_and_accessories_are_shown_apart_and_named_when_missing():
    contents = Contents.of(PHONE_ORDER, CATALOG)
    by_kind = contents.by_kind()
    assert [n.sku for n in by_kind[LineKind.ITEM]] == ["PHONE"]
    assert [n.sku for n in by_kind[LineKind.ACCESSORY]] == ["CHG"] and [n.sku for n in by_kind[LineKind.GIFT]] == ["SMP"]
    progress = contents.progress(["PHONE", "SMP"])
    assert not progress.complete
    assert progress.missing() == [Missing(LineKind.ACCESSORY, "CHG", "Charger", 1)]
    assert missing_words(progress.missing(), "en") == "1 × Charger (accessory)"
    assert missing_words(progress.missing(), "zh") == "1 × Charger（配件）"
    assert contents.progress(["SMP", "CHG", "PHONE"]).complete


def test_a_kit_counts_by_its_components_or_by_its_own_code():
    contents = Contents.of(order(OrderLine("KIT", 2)), CATALOG)
    by_parts = contents.progress(["CBL", "CASE", "CBL"])
    assert by_parts.needs[0].done == 1 and not by_parts.complete
    assert by_parts.missing() == [Missing(LineKind.ITEM, "CBL", "Cable", 2, of_kit="Starter kit"),
                                  Missing(LineKind.ITEM, "CASE", "Case", 1, of_kit="Starter kit")]
    assert "2 × Cable (part of Starter kit)" in missing_words(by_parts.missing(), "en")
    assert "Starter kit的组件" in missing_words(by_parts.missing(), "zh")
    # one kit from its parts, one pre-packed
    mixed = contents.progress(["CBL", "CASE", "CBL", "KIT"])
    assert mixed.complete and mixed.refused == ()
    assert contents.progress(["KIT", "KIT"]).complete
    assert contents.progress([]).missing() == [Missing(LineKind.ITEM, "KIT", "Starter kit", 2)]


def test_scans_without_room_are_refused_and_say_so():
    contents = Contents.of(order(OrderLine("KIT", 1), OrderLine("PHONE", 1)), CATALOG)
    progress = contents.progress(["CBL", "KIT", "PHONE", "PHONE", "CHG", "CASE", "CBL", "CBL"])
    # the kit was started from parts, so its own code has no room; a third cable is one too many
    assert progress.refused == ("KIT", "PHONE", "CHG", "CBL")
    assert progress.complete
    assert progress.room_for("PHONE") is None and progress.room_for("CBL") is None


def test_the_same_sku_on_two_lines_fills_them_in_line_order():
    contents = Contents.of(order(OrderLine("SMP", 1, LineKind.GIFT), OrderLine("SMP", 2)), CATALOG)
    progress = contents.progress(["SMP"])
    assert [p.done for p in progress.needs] == [1, 0]
    assert progress.room_for("SMP") is not None and progress.room_for("SMP").kind is LineKind.ITEM


def test_a_kit_weighs_what_its_components_weigh():
    items = Contents.of(order(OrderLine("KIT", 2), OrderLine("CBL", 1), OrderLine("GHOST", 1)), CATALOG).weight_items(CATALOG)
    weights = {sku.sku: (sku.unit_weight_g, qty) for sku, qty in items}
    assert weights == {"CBL": (D("30"), 5), "CASE": (D("40"), 2), "GHOST": (None, 1)}
    assert "KIT" not in weights  # the kit's own catalogue weight (999 g) is not used
