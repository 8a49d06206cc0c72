"""Order review rules (订单审核), pure: which of the site's rules an order matches, so that it waits for a supervisor
before its label.

    rules = ReviewRules.from_settings(cfg.section("review"))
    found = rules.match(order_row, order, catalog)     # [] -> no review; else one Match per rule that fired

The rules read the WMS's order record (``value``, ``region`` or ``ship_to.region``/``address.region``, the customer's
``flags`` in ``customer.flags`` or ``customer_flags``) and the catalogue (the expected weight of the order from its
SKUs' unit weights, the SKUs' ``category``, the suggested box). A rule left at its default is off. Nothing here does
I/O; ``station.review`` keeps the decisions.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from packgate.station.core import packing as pk
from packgate.station.core import texts
from packgate.station.core.effects import AuditEntry, Confirmation, Outcome
from packgate.station.core.models import CatalogView, Order
from packgate.station.core.verdicts import make
from packgate.station.core.words import WORD

DECISIONS = ("approved", "refused")


@dataclass(frozen=True)
class Match:
    rule: str  # order_value | region | weight | size | box | customer_flag | category
    detail: str  # what fired it, e.g. "1299.00 > 1000", "XZ", "new_customer"

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "detail": self.detail}


@dataclass(frozen=True)
class ReviewRules:
    value_over: Decimal | None = None  # an order worth more than this
    regions: frozenset[str] = frozenset()  # shipped to one of these regions
    weight_over_g: Decimal | None = None  # expected weight above this
    units_over: int | None = None  # more units than this (size)
    packaging: frozenset[str] = frozenset()  # suggested box is one of these (oversize boxes)
    customer_flags: frozenset[str] = frozenset()  # the WMS flags the customer with one of these
    categories: frozenset[str] = frozenset()  # a SKU of one of these categories

    @classmethod
    def from_settings(cls, section: Mapping[str, Any]) -> "ReviewRules":
        def dec(key: str) -> Decimal | None:
            value = Decimal(str(section.get(key) or 0))
            return value if value > 0 else None

        def names(key: str) -> frozenset[str]:
            return frozenset(str(v).strip().upper() if key == "regions" else str(v).strip()
                             for v in section.get(key) or () if str(v).strip())

        units = int(section.get("units_over") or 0)
        return cls(dec("order_value_over"), names("regions"), dec("weight_over_g"), units if units > 0 else None,
                   names("packaging"), names("customer_flags"), names("categories"))

    @property
    def enabled(self) -> bool:
        return any((self.value_over, self.regions, self.weight_over_g, self.units_over, self.packaging,
                    self.customer_flags, self.categories))

    def match(self, row: Mapping[str, Any], order: Order, catalog: CatalogView) -> list[Match]:
        """Every rule ``order`` (its WMS record ``row``) matches, in a fixed order."""
        found: list[Match] = []
        value = order_value(row)
        if self.value_over is not None and value is not None and value > self.value_over:
            found.append(Match("order_value", f"{value} > {_num(self.value_over)}"))
        region = order_region(row)
        if self.regions and region is not None and region.upper() in self.regions:
            found.append(Match("region", region))
        if self.weight_over_g is not None:
            weight = expected_weight_g(order, catalog)
            if weight is not None and weight > self.weight_over_g:
                found.append(Match("weight", f"{_num(weight)} g > {_num(self.weight_over_g)} g"))
        if self.units_over is not None and order.units > self.units_over:
            found.append(Match("size", f"{order.units} > {self.units_over}"))
        if self.packaging and order.packaging in self.packaging:
            found.append(Match("box", str(order.packaging)))
        flags = sorted(customer_flags(row) & self.customer_flags)
        if flags:
            found.append(Match("customer_flag", ", ".join(flags)))
        if self.categories:
            cats = sorted({sku.category for sku in (catalog.sku(s) for s in order.quantities())
                           if sku is not None and sku.category in self.categories} - {None})
            if cats:
                found.append(Match("category", ", ".join(c for c in cats if c)))
        return found


def _num(value: Decimal) -> str:
    return str(value.quantize(Decimal(1))) if value == value.to_integral_value() else str(value)


def order_value(row: Mapping[str, Any]) -> Decimal | None:
    raw = row.get("value")
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def order_region(row: Mapping[str, Any]) -> str | None:
    for where in (row, row.get("ship_to"), row.get("address")):
        if isinstance(where, Mapping) and isinstance(where.get("region"), str) and where["region"].strip():
            return str(where["region"]).strip()
    return None


def customer_flags(row: Mapping[str, Any]) -> frozenset[str]:
    customer = row.get("customer")
    flags = customer.get("flags") if isinstance(customer, Mapping) else None
    if flags is None:
        flags = row.get("customer_flags")
    if not isinstance(flags, (list, tuple)):
        return frozenset()
    return frozenset(str(f) for f in flags if isinstance(f, str))


def expected_weight_g(order: Order, catalog: CatalogView) -> Decimal | None:
    """The order's goods by catalogue weight (None when a SKU has none)."""
    total = Decimal(0)
    for code, qty in order.quantities().items():
        sku = catalog.sku(code)
        if sku is None or sku.unit_weight_g is None:
            return None
        total += sku.unit_weight_g * qty
    return total


def describe(found: list[Match] | list[dict[str, str]], lang: str) -> str:
    """The rules that fired, in ``lang`` ("en" or "zh"), for the verdict."""
    parts = []
    for m in found:
        rule, detail = (m.rule, m.detail) if isinstance(m, Match) else (m["rule"], m["detail"])
        key = f"rule_{rule}"
        parts.append(texts.text(lang, f"word:{key}", WORD[key][lang == "zh"]).format(detail=detail))
    return ("; " if lang == "en" else "；").join(parts)


def decided(session: Any, supervisor: Any, decision: str, reason: str, found: list[dict[str, str]]) -> Outcome:
    """A supervisor's decision on the review of the order open in ``session`` (``supervisor``: an ``Employee``
    proven present): approved, the order goes on (its label may print); refused, the order ends at this table. Both
    are audited and sent upstream as one ``review`` confirmation."""
    order_id = session.order.order_id
    packer = session.operator.employee_id if session.operator else None
    payload = {"decision": decision, "rules": list(found), "reason": reason, "packer": packer,
               "supervisor": supervisor.employee_id}
    conf = Confirmation("review", "order", order_id, payload, supervisor.employee_id)
    audit = AuditEntry(f"review_{decision}", supervisor.employee_id, {"order_id": order_id, "review": "pending"},
                       {"order_id": order_id, "review": decision}, reason)
    if decision == "approved":
        return Outcome(session, make("review_approved", next=pk.NEXT_IN_STATE[session.state], order_id=order_id,
                                     supervisor=supervisor.name, reason=reason), [audit, conf])
    new = replace(session, state=pk.State.CANCELLED, pending=None)
    return Outcome(new, make("review_refused", order_id=order_id, supervisor=supervisor.name, reason=reason),
                   [audit, conf])
