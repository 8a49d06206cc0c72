"""Reference rows: parsing, refusal of bad rows, lookups."""
from datetime import date
from decimal import Decimal

import pytest
from station_core_data import EMPLOYEES, LOTS, ORDERS, PACKAGING, SKUS, catalog

from packgate.device.codes import gtin14
from packgate.station.core.models import Employee, Lot, LotPolicy, Order, Packaging, Role, Sku, parse_grams
from packgate.station.errors import ReferenceDataError, StationError


def test_rows_parse_and_round_trip():
    for cls, rows in [(Sku, SKUS), (Lot, LOTS), (Packaging, PACKAGING), (Employee, EMPLOYEES), (Order, ORDERS)]:
        for row in rows:
            obj = cls.from_dict(row)
            assert cls.from_dict(obj.as_dict()) == obj


def test_sku_fields():
    sku = Sku.from_dict(SKUS[0])
    assert sku.unit_weight_g == Decimal("250.0") and sku.lot_policy is LotPolicy.FIFO and not sku.special
    assert Sku.from_dict(SKUS[3]).unit_weight_g is None
    assert Sku.from_dict(SKUS[4]).lot_policy is None  # site default


@pytest.mark.parametrize("value, ok", [
    ("250.0", True), ("0", True), (250, True), (Decimal("1.5"), True),
    (250.0, False), (True, False), ("-1", False), ("abc", False), ("NaN", False), ("Infinity", False), ([], False),
])
def test_weights_are_decimal_strings(value, ok):
    if ok:
        assert parse_grams(value) == Decimal(value)
    else:
        with pytest.raises(ReferenceDataError):
            parse_grams(value)


@pytest.mark.parametrize("row, field", [
    ({**SKUS[0], "unit_weight_g": 250.0}, "unit_weight_g"),
    ({**SKUS[0], "sku": None}, "sku"),
    ({**SKUS[0], "gtin": "12345"}, "gtin"),
    ({**SKUS[0], "lot_policy": "LIFO"}, "lot_policy"),
    ({**SKUS[0], "special": "yes"}, "special"),
])
def test_bad_sku_rows_are_refused_naming_the_field(row, field):
    with pytest.raises(ReferenceDataError, match=field):
        Sku.from_dict(row)


@pytest.mark.parametrize("cls, row, field", [
    (Lot, {**LOTS[0], "expires": "2026-13-01"}, "expires"),
    (Lot, {**LOTS[0], "qty": -1}, "qty"),
    (Lot, {**LOTS[0], "qty": "3"}, "qty"),
    (Packaging, {**PACKAGING[0], "tare_g": None}, "tare_g"),
    (Employee, {**EMPLOYEES[0], "role": "admin"}, "role"),
    (Order, {**ORDERS[0], "lines": []}, "lines"),
    (Order, {**ORDERS[0], "lines": [{"sku": "SKU-001", "qty": 0}]}, "qty"),
    (Order, {**ORDERS[0], "updated_at": "2026-02-10T08:00:00"}, "offset"),
])
def test_bad_rows_are_refused(cls, row, field):
    with pytest.raises(ReferenceDataError, match=field):
        cls.from_dict(row)
    assert issubclass(ReferenceDataError, StationError)


def test_employee_repr_hides_pin_and_phone():
    e = Employee.from_dict(EMPLOYEES[0])
    assert "1234" not in repr(e) and "8000" not in repr(e)
    assert e.operator.as_dict() == {"employee_id": "E001", "name": "Li Wei", "role": "packer"}
    assert e.role is Role.PACKER


@pytest.mark.parametrize("code, expected", [
    ("07032069804988", "07032069804988"), ("7032069804988", "07032069804988"), ("12345670", "00000012345670"),
    ("123456789012", "00123456789012"), ("SKU-001", None), ("123", None), ("٠١٢٣٤٥٦٧", None),
])
def test_gtin14(code, expected):
    assert gtin14(code) == expected


def test_catalog_lookups():
    cat = catalog()
    assert cat.sku("SKU-001").name == "Jasmine tea"
    assert cat.sku("7032069804988").sku == "SKU-001"  # GTIN-13 finds the GTIN-14 row
    assert cat.sku("nope") is None
    assert {lot.lot for lot in cat.lots_for("SKU-002")} == {"N-MAR", "N-JUN", "N-NONE"}
    assert cat.lots_for("SKU-999") == ()
    assert cat.employee_by_badge(" 04a1b2c3d4e5f6 ").employee_id == "E001"
    assert cat.order("T-0001").order_id == "SO-10001" and cat.order("SO-10002").tote == "T-0002"
    assert cat.packaging("BOX-M").tare_g == Decimal("200")


def test_order_quantities_add_up_repeated_skus():
    order = Order.from_dict({**ORDERS[0], "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}, {"sku": "A", "qty": 3}]})
    assert order.qty_for("A") == 4 and order.qty_for("Z") == 0
    assert order.quantities() == {"A": 4, "B": 2} and order.units == 6


def test_lot_dates():
    lot = Lot.from_dict(LOTS[6])
    assert lot.expires is None and lot.produced == date(2025, 9, 1)
