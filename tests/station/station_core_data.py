"""Plain reference data for the pure-core tests (contract JSON shapes)."""
from __future__ import annotations

from datetime import date
from typing import Any, Iterable, Mapping

from packgate.device.codes import canonical_badge, gtin14
from packgate.station.core.models import Employee, Lot, Order, Packaging, Sku


class Catalog:
    """In-memory reference data. Later rows with the same key replace earlier ones."""

    def __init__(self, skus: Iterable[Sku] = (), lots: Iterable[Lot] = (), packaging: Iterable[Packaging] = (),
                 employees: Iterable[Employee] = (), orders: Iterable[Order] = ()):
        self._skus = {s.sku: s for s in skus}
        self._gtins = {s.gtin: s for s in self._skus.values() if s.gtin}
        self._lots: dict[str, dict[str, Lot]] = {}
        for lot in lots:
            self._lots.setdefault(lot.sku, {})[lot.lot] = lot
        self._packaging = {p.code: p for p in packaging}
        self._badges = {e.badge_uid: e for e in employees}
        self._orders = {o.order_id: o for o in orders}
        self._totes = {o.tote: o for o in self._orders.values() if o.tote}

    @classmethod
    def from_reference(cls, payload: Mapping[str, Any]) -> "Catalog":
        """Build from a ``GET /v1/reference`` body (keys skus, lots, packaging, employees, orders)."""
        return cls(skus=[Sku.from_dict(r) for r in payload.get("skus", [])],
                   lots=[Lot.from_dict(r) for r in payload.get("lots", [])],
                   packaging=[Packaging.from_dict(r) for r in payload.get("packaging", [])],
                   employees=[Employee.from_dict(r) for r in payload.get("employees", [])],
                   orders=[Order.from_dict(r) for r in payload.get("orders", [])])

    def sku(self, code: str) -> Sku | None:
        gtin = gtin14(code)
        return self._skus.get(code.strip()) or (self._gtins.get(gtin) if gtin else None)

    def lots_for(self, sku: str) -> tuple[Lot, ...]:
        return tuple(self._lots.get(sku, {}).values())

    def packaging(self, code: str) -> Packaging | None:
        return self._packaging.get(code.strip())

    def employee_by_badge(self, uid: str) -> Employee | None:
        return self._badges.get(canonical_badge(uid))

    def order(self, code: str) -> Order | None:
        code = code.strip()
        return self._orders.get(code) or self._totes.get(code)



TODAY = date(2026, 2, 10)

SKUS = [
    {"sku": "SKU-001", "gtin": "07032069804988", "name": "Jasmine tea", "unit_weight_g": "250.0",
     "special": False, "category": "grocery", "lot_policy": "FIFO"},
    {"sku": "SKU-002", "gtin": "06901234000021", "name": "Noodles", "unit_weight_g": "525.0",
     "special": False, "category": "grocery", "lot_policy": "FEFO"},
    {"sku": "SKU-003", "gtin": "06901234000038", "name": "Earbuds", "unit_weight_g": "85.0",
     "special": True, "category": "electronics", "lot_policy": "NONE"},
    {"sku": "SKU-004", "gtin": "06901234000045", "name": "Mystery box", "unit_weight_g": None,
     "special": False, "category": "misc", "lot_policy": "NONE"},
    {"sku": "SKU-005", "gtin": None, "name": "Sticker", "unit_weight_g": "5",
     "special": False, "category": "office", "lot_policy": None},
]

LOTS = [
    {"sku": "SKU-001", "lot": "L20251103", "produced": "2025-11-03", "expires": "2026-05-03", "bin": "A-01-02", "qty": 2},
    {"sku": "SKU-001", "lot": "L20251217", "produced": "2025-12-17", "expires": "2026-06-17", "bin": "A-01-03", "qty": 10},
    {"sku": "SKU-001", "lot": "L20260129", "produced": "2026-01-29", "expires": "2026-07-29", "bin": "B-02-01", "qty": 5},
    {"sku": "SKU-001", "lot": "L20250801", "produced": "2025-08-01", "expires": "2026-02-01", "bin": "A-01-01", "qty": 3},
    {"sku": "SKU-002", "lot": "N-MAR", "produced": "2025-12-01", "expires": "2026-03-01", "bin": "C-10-1", "qty": 4},
    {"sku": "SKU-002", "lot": "N-JUN", "produced": "2025-10-01", "expires": "2026-06-01", "bin": "C-2-1", "qty": 4},
    {"sku": "SKU-002", "lot": "N-NONE", "produced": "2025-09-01", "expires": None, "bin": "C-3-1", "qty": 4},
    {"sku": "SKU-003", "lot": "-", "produced": None, "expires": None, "bin": "E-01-01", "qty": 9},
    {"sku": "SKU-004", "lot": "-", "produced": None, "expires": None, "bin": "E-02-01", "qty": 9},
]

PACKAGING = [
    {"code": "BOX-S", "name": "Small box", "tare_g": "120"},
    {"code": "BOX-M", "name": "Medium box", "tare_g": "200"},
]

EMPLOYEES = [
    {"employee_id": "E001", "name": "Li Wei", "badge_uid": "04A1B2C3D4E5F6", "role": "packer", "pin": "1234",
     "phone": "+86 138 0013 8000"},
    {"employee_id": "E002", "name": "Zhang Min", "badge_uid": "04000000000002", "role": "packer", "pin": "2222",
     "phone": None},
    {"employee_id": "E003", "name": "Wang Fang", "badge_uid": "04000000000003", "role": "supervisor", "pin": "3333",
     "phone": "13800138000"},
    {"employee_id": "E004", "name": "Chen Jie", "badge_uid": "04000000000004", "role": "picker", "pin": "4444",
     "phone": None},
    {"employee_id": "E005", "name": "Zhao Lei", "badge_uid": "04000000000005", "role": "supervisor", "pin": "5555",
     "phone": None},
]
PACKER, PACKER2, SUPERVISOR, PICKER, SUPERVISOR2 = (e["badge_uid"] for e in EMPLOYEES)
UNKNOWN_BADGE = "04FFFFFFFFFFFF"

ORDERS = [
    {"order_id": "SO-10001", "tote": "T-0001", "packaging": "BOX-M", "priority": 0, "status": "open",
     "lines": [{"sku": "SKU-001", "qty": 2}, {"sku": "SKU-002", "qty": 1}], "updated_at": "2026-02-10T08:00:00.000+08:00"},
    {"order_id": "SO-10002", "tote": "T-0002", "packaging": "BOX-S", "priority": 0, "status": "open",
     "lines": [{"sku": "SKU-003", "qty": 1}]},
    {"order_id": "SO-10003", "tote": "T-0003", "packaging": "BOX-S", "priority": 0, "status": "open",
     "lines": [{"sku": "SKU-004", "qty": 1}]},
    {"order_id": "SO-10004", "tote": "T-0004", "packaging": "BOX-S", "priority": 0, "status": "packed",
     "lines": [{"sku": "SKU-005", "qty": 1}]},
    {"order_id": "SO-10005", "tote": None, "packaging": None, "priority": 0, "status": "open",
     "lines": [{"sku": "SKU-005", "qty": 2}, {"sku": "SKU-003", "qty": 1}]},
]


def reference() -> dict:
    return {"skus": SKUS, "lots": LOTS, "packaging": PACKAGING, "employees": EMPLOYEES, "orders": ORDERS}


def catalog() -> Catalog:
    return Catalog.from_reference(reference())
