"""Reference data as frozen dataclasses, and an in-memory ``Catalog`` to look it up.

Rows arrive from upstream as JSON dicts (see the contract); ``from_dict`` validates one row and
raises ``ReferenceDataError`` naming the row and the field. Weights are ``Decimal`` grams and
travel as strings: a float is refused, never rounded silently. ``as_dict`` is the inverse.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal, Mapping, Protocol, overload

from packgate.device.clock import isoformat, parse_iso
from packgate.device.codes import canonical_badge, gtin14
from packgate.station.errors import ReferenceDataError


class Role(StrEnum):
    PACKER = "packer"
    PICKER = "picker"
    SUPERVISOR = "supervisor"


class LineKind(StrEnum):
    """What an order line is to the packer: an ordered item, or something that travels with the order and is
    the easiest thing to forget (赠品 gift, 配件 accessory); both are scanned like any item and shown apart."""

    ITEM = "item"
    GIFT = "gift"
    ACCESSORY = "accessory"


class LotPolicy(StrEnum):
    FIFO = "FIFO"  # oldest production date first
    FEFO = "FEFO"  # earliest expiry first
    NONE = "NONE"  # lots not controlled


# ---------------------------------------------------------------- field parsers


def _where(kind: str, row: Mapping[str, Any]) -> str:
    keys = {"sku": "sku", "lot": "lot", "packaging": "code", "employee": "employee_id", "order": "order_id", "component": "sku"}
    return f"{kind} {row.get(keys.get(kind, ''), '?')!r}"


def _req(row: Mapping[str, Any], key: str, kind: str) -> Any:
    if not isinstance(row, Mapping):
        raise ReferenceDataError(f"{kind} row must be an object (got {type(row).__name__})")
    value = row.get(key)
    if value is None or value == "":
        raise ReferenceDataError(f"{_where(kind, row)}: field {key!r} is required")
    return value


@overload
def _text(row: Mapping[str, Any], key: str, kind: str, required: Literal[True] = True) -> str: ...
@overload
def _text(row: Mapping[str, Any], key: str, kind: str, required: bool) -> str | None: ...
def _text(row: Mapping[str, Any], key: str, kind: str, required: bool = True) -> str | None:
    value = _req(row, key, kind) if required else row.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReferenceDataError(f"{_where(kind, row)}: field {key!r} must be a string (got {value!r})")
    return value


def parse_grams(value: Any, what: str = "weight") -> Decimal:
    """A weight in grams from a decimal string (or int / Decimal). Floats, NaN and negatives are refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ReferenceDataError(f"{what}: weights travel as decimal strings, not {type(value).__name__} ({value!r})")
    try:
        grams = Decimal(value) if isinstance(value, (str, int, Decimal)) else None
    except InvalidOperation:
        grams = None
    if grams is None or not grams.is_finite():
        raise ReferenceDataError(f"{what}: {value!r} is not a decimal number of grams")
    if grams < 0:
        raise ReferenceDataError(f"{what}: {value!r} is negative")
    return grams


@overload
def _grams(row: Mapping[str, Any], key: str, kind: str, required: Literal[True]) -> Decimal: ...
@overload
def _grams(row: Mapping[str, Any], key: str, kind: str, required: bool) -> Decimal | None: ...
def _grams(row: Mapping[str, Any], key: str, kind: str, required: bool) -> Decimal | None:
    value = _req(row, key, kind) if required else row.get(key)
    if value is None or value == "":
        return None
    return parse_grams(value, f"{_where(kind, row)} field {key!r}")


def _date(row: Mapping[str, Any], key: str, kind: str) -> date | None:
    value = row.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ReferenceDataError(f"{_where(kind, row)}: field {key!r} must be a date YYYY-MM-DD (got {value!r})") from None


def _int(row: Mapping[str, Any], key: str, kind: str, default: int | None = None, minimum: int = 0) -> int:
    value = row.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ReferenceDataError(f"{_where(kind, row)}: field {key!r} must be an integer >= {minimum} (got {value!r})")
    return value


def _opt_iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


# ---------------------------------------------------------------- rows


@dataclass(frozen=True)
class Component:
    """One component of a kit: ``qty`` units of ``sku`` per kit."""

    sku: str
    qty: int

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "qty": self.qty}


def _components(row: Mapping[str, Any]) -> tuple[Component, ...]:
    value = row.get("components")
    if value is None or value == []:
        return ()
    if not isinstance(value, list):
        raise ReferenceDataError(f"{_where('sku', row)}: components must be a list of {{sku, qty}} objects")
    parts: list[Component] = []
    for part in value:
        try:
            parts.append(Component(_text(part, "sku", "component"), _int(part, "qty", "component", default=1, minimum=1)))
        except ReferenceDataError as exc:
            raise ReferenceDataError(f"{_where('sku', row)}: {exc}") from None
    skus = [p.sku for p in parts]
    if len(set(skus)) != len(skus) or row.get("sku") in skus:
        raise ReferenceDataError(f"{_where('sku', row)}: components must name each SKU once, and not the kit itself")
    return tuple(parts)


@dataclass(frozen=True)
class Sku:
    sku: str
    gtin: str | None
    name: str
    unit_weight_g: Decimal | None  # None: no catalog weight, the parcel cannot pass automatically
    special: bool = False  # needs a second person's badge
    category: str | None = None
    lot_policy: LotPolicy | None = None  # None: the site default
    components: tuple[Component, ...] = ()  # a kit: packed as these (or pre-packed under its own code)

    @property
    def is_kit(self) -> bool:
        return bool(self.components)

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Sku":
        gtin = _text(row, "gtin", "sku", required=False)
        if gtin is not None and gtin14(gtin) is None:
            raise ReferenceDataError(f"{_where('sku', row)}: gtin {gtin!r} is not 8, 12, 13 or 14 digits")
        policy = row.get("lot_policy")
        if policy not in (None, "", *LotPolicy):
            raise ReferenceDataError(f"{_where('sku', row)}: lot_policy must be FIFO, FEFO or NONE (got {policy!r})")
        special = row.get("special", False)
        if not isinstance(special, bool):
            raise ReferenceDataError(f"{_where('sku', row)}: special must be true or false (got {special!r})")
        return cls(sku=_text(row, "sku", "sku"), gtin=gtin14(gtin) if gtin else None,
                   name=_text(row, "name", "sku", required=False) or "",
                   unit_weight_g=_grams(row, "unit_weight_g", "sku", required=False), special=special,
                   category=_text(row, "category", "sku", required=False),
                   lot_policy=LotPolicy(policy) if policy else None, components=_components(row))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sku": self.sku, "gtin": self.gtin, "name": self.name,
                               "unit_weight_g": None if self.unit_weight_g is None else str(self.unit_weight_g),
                               "special": self.special, "category": self.category,
                               "lot_policy": None if self.lot_policy is None else str(self.lot_policy)}
        if self.components:  # only kits carry the key: rows of plain SKUs read as they always did
            out["components"] = [c.as_dict() for c in self.components]
        return out


@dataclass(frozen=True)
class Lot:
    sku: str
    lot: str
    produced: date | None
    expires: date | None  # None: no expiry known
    bin: str | None
    qty: int

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Lot":
        return cls(sku=_text(row, "sku", "lot"), lot=_text(row, "lot", "lot"), produced=_date(row, "produced", "lot"),
                   expires=_date(row, "expires", "lot"), bin=_text(row, "bin", "lot", required=False),
                   qty=_int(row, "qty", "lot", default=0))

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "lot": self.lot, "produced": _opt_iso(self.produced),
                "expires": _opt_iso(self.expires), "bin": self.bin, "qty": self.qty}


@dataclass(frozen=True)
class Packaging:
    code: str
    name: str
    tare_g: Decimal

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Packaging":
        return cls(code=_text(row, "code", "packaging"), name=_text(row, "name", "packaging", required=False) or "",
                   tare_g=_grams(row, "tare_g", "packaging", required=True))

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "tare_g": str(self.tare_g)}


@dataclass(frozen=True)
class Operator:
    """Who did something, as kept in sessions and effects: no pin, no phone."""

    employee_id: str
    name: str
    role: Role

    def as_dict(self) -> dict[str, Any]:
        return {"employee_id": self.employee_id, "name": self.name, "role": str(self.role)}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Operator":
        return cls(employee_id=row["employee_id"], name=row["name"], role=Role(row["role"]))


@dataclass(frozen=True)
class Employee:
    employee_id: str
    name: str
    badge_uid: str  # canonical upper-case hex (device.wedge.normalise_badge)
    role: Role
    pin_hash: str | None = field(default=None, repr=False)  # argon2 (packgate.sync.common.pins); never a plain PIN
    phone: str | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Employee":
        role = _req(row, "role", "employee")
        if role not in tuple(Role):
            raise ReferenceDataError(f"{_where('employee', row)}: role must be packer, picker or supervisor (got {role!r})")
        return cls(employee_id=_text(row, "employee_id", "employee"), name=_text(row, "name", "employee"),
                   badge_uid=canonical_badge(_text(row, "badge_uid", "employee")), role=Role(role),
                   pin_hash=_text(row, "pin_hash", "employee", required=False), phone=_text(row, "phone", "employee", required=False))

    @property
    def operator(self) -> Operator:
        return Operator(self.employee_id, self.name, self.role)

    def as_dict(self) -> dict[str, Any]:
        return {"employee_id": self.employee_id, "name": self.name, "badge_uid": self.badge_uid,
                "role": str(self.role), "pin_hash": self.pin_hash, "phone": self.phone}


@dataclass(frozen=True)
class OrderLine:
    sku: str
    qty: int
    kind: LineKind = LineKind.ITEM

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "OrderLine":
        kind = row.get("kind") if isinstance(row, Mapping) else None
        if kind not in (None, "", *LineKind):
            raise ReferenceDataError(f"order line {row.get('sku', '?')!r}: kind must be item, gift or accessory (got {kind!r})")
        return cls(sku=_text(row, "sku", "order line"), qty=_int(row, "qty", "order line", minimum=1),
                   kind=LineKind(kind) if kind else LineKind.ITEM)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sku": self.sku, "qty": self.qty}
        if self.kind is not LineKind.ITEM:  # plain lines read as they always did
            out["kind"] = str(self.kind)
        return out


@dataclass(frozen=True)
class Order:
    order_id: str
    tote: str | None
    packaging: str | None  # suggested packaging code
    priority: int
    status: str
    lines: tuple[OrderLine, ...]
    updated_at: datetime | None = None

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "Order":
        lines = row.get("lines")
        if not isinstance(lines, list) or not lines:
            raise ReferenceDataError(f"{_where('order', row)}: field 'lines' must be a non-empty list")
        try:
            parsed = tuple(OrderLine.from_dict(line) for line in lines)
        except ReferenceDataError as exc:
            raise ReferenceDataError(f"{_where('order', row)}: {exc}") from None
        updated = row.get("updated_at")
        try:
            updated_at = parse_iso(updated) if updated else None
        except (TypeError, ValueError) as exc:
            raise ReferenceDataError(f"{_where('order', row)}: updated_at: {exc}") from None
        priority = row.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ReferenceDataError(f"{_where('order', row)}: priority must be an integer (got {priority!r})")
        return cls(order_id=_text(row, "order_id", "order"), tote=_text(row, "tote", "order", required=False),
                   packaging=_text(row, "packaging", "order", required=False), priority=priority,
                   status=_text(row, "status", "order", required=False) or "open", lines=parsed, updated_at=updated_at)

    def qty_for(self, sku: str) -> int:
        """Ordered quantity of ``sku`` (lines for the same SKU add up); 0 when not in the order."""
        return sum(line.qty for line in self.lines if line.sku == sku)

    def quantities(self) -> dict[str, int]:
        """SKU -> ordered quantity, in line order."""
        totals: dict[str, int] = {}
        for line in self.lines:
            totals[line.sku] = totals.get(line.sku, 0) + line.qty
        return totals

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "tote": self.tote, "packaging": self.packaging, "priority": self.priority,
                "status": self.status, "lines": [line.as_dict() for line in self.lines],
                "updated_at": isoformat(self.updated_at) if self.updated_at else None}


# ---------------------------------------------------------------- lookups


class CatalogView(Protocol):
    """What the workflow needs to look up. ``Catalog`` implements it in memory; the station may
    implement it over its SQLite reference cache instead."""

    def sku(self, code: str) -> Sku | None: ...  # SKU code or GTIN (any of 8/12/13/14 digits)
    def lots_for(self, sku: str) -> tuple[Lot, ...]: ...
    def packaging(self, code: str) -> Packaging | None: ...
    def employee_by_badge(self, uid: str) -> Employee | None: ...
    def order(self, code: str) -> Order | None: ...  # order id or tote code
