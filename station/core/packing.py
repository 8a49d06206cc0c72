"""The pack session: a pure state machine over immutable sessions.

    outcome = step(session, event, ctx)      # -> Outcome(session, verdict, effects)

``session`` is a frozen ``PackSession`` (persist it with ``to_dict`` / ``from_dict``), ``event``
one of the event dataclasses below, ``ctx`` a ``PackContext`` with the reference data and the
rules. Nothing here does I/O: the caller writes ``effects`` (``Confirmation`` to the outbox,
``AuditEntry`` to the audit table) in the same transaction as the new session, then shows the
verdict. A refusal (verdict status "error") leaves the session unchanged and has no effects.

States and the events each accepts are in ``TRANSITIONS``; any other event gets
``not_allowed_now``. The flow:

    idle -badge-> signed_in -open_order-> order_open -scan_item-> scanning -...-> ready_to_weigh
      -weigh-> weighed_ok -pack-> packed          (ready_to_weigh: every line complete + packaging)
                 \\-> blocked -reweigh-> ready_to_weigh | -supervisor_override-> weighed_ok
    scan_item may detour: awaiting_fifo_decision (older lot / unknown lot), awaiting_second_badge
    (special item); cancel from any order state; the same badge tapped again, or sign_out, -> idle.

The label gate and cartons (core.labels): close_carton weighs the carton in hand on its own (more cartons
follow); in label mode "print" a weighed carton waits for label_printed -> label_printed -scan_label-> the
next carton (scanning) or packed; in "weigh_and_ship" the waybill opens the order (scan_label) and the
passing weighing closes it (packed), the shipment confirmation.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Callable, Container, Mapping, TypeAlias

from packgate.station.core.effects import AuditEntry, Confirmation, Effect, Outcome
from packgate.station.core.labels import Carton, CloseCarton, LabelInfo, LabelMode, LabelPrinted, Reprint, ScanLabel
from packgate.station.core.lots import check_lot, less_taken
from packgate.station.core.models import CatalogView, Employee, LotPolicy, Operator, Order, Role, Sku
from packgate.station.core.step import Machine, refuse
from packgate.station.core.texts import Word
from packgate.station.core.tolerance import DEFAULT as DEFAULT_TOLERANCE
from packgate.station.core.tolerance import ToleranceConfig, WeightCheck, check_weight
from packgate.station.core.verdicts import Verdict, grams, make
from packgate.station.core.weight_gate import TableGate
from packgate.station.errors import StationError


class State(StrEnum):
    IDLE = "idle"
    SIGNED_IN = "signed_in"
    ORDER_OPEN = "order_open"
    SCANNING = "scanning"
    AWAITING_FIFO_DECISION = "awaiting_fifo_decision"
    AWAITING_SECOND_BADGE = "awaiting_second_badge"
    READY_TO_WEIGH = "ready_to_weigh"
    BLOCKED = "blocked"
    WEIGHED_OK = "weighed_ok"
    PACKED = "packed"
    CANCELLED = "cancelled"
    LABEL_PRINTED = "label_printed"  # the carton's label is printed; its scan on the parcel is expected


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class Badge:
    """A badge tap (canonical UID). Signs in, signs out (same badge again), or is the second
    person's badge while a special item waits."""

    uid: str
    present: bool = True  # a tap on this station's own reader, or badge + PIN checked by the station
    name = "badge"


@dataclass(frozen=True)
class OpenOrder:
    code: str  # order id or tote code
    name = "open_order"


@dataclass(frozen=True)
class ScanItem:
    code: str  # GTIN (8-14 digits) or SKU code
    lot: str | None = None
    expires: date | None = None
    produced: date | None = None
    serial: str | None = None
    name = "scan_item"


@dataclass(frozen=True)
class ChoosePackaging:
    code: str
    name = "choose_packaging"


@dataclass(frozen=True)
class SecondBadge:
    uid: str
    present: bool = True
    name = "second_badge"


@dataclass(frozen=True)
class FifoTakeOlder:
    """The packer puts the scanned unit back to take the older lot (recorded as a lot swap)."""

    name = "fifo_take_older"


@dataclass(frozen=True)
class PutBack:
    """The unit waiting for a decision or a second badge is put back, uncounted."""

    name = "put_back"


@dataclass(frozen=True)
class FifoOverride:
    """A supervisor approves the scanned (newer or unknown) lot."""

    uid: str
    reason: str
    present: bool = True
    name = "fifo_override"


@dataclass(frozen=True)
class Weigh:
    grams: Decimal | None
    stable: bool
    name = "weigh"


@dataclass(frozen=True)
class Reweigh:
    reason: str = "reweigh"
    name = "reweigh"


@dataclass(frozen=True)
class SupervisorOverride:
    """A supervisor accepts a blocked parcel (weight out of tolerance or no catalog weight)."""

    uid: str
    reason: str
    present: bool = True
    name = "supervisor_override"


@dataclass(frozen=True)
class Pack:
    image_sha256: str | None = None
    name = "pack"


@dataclass(frozen=True)
class Cancel:
    """``scope="pack_session"`` stops packing (the order goes back to the queue); ``"order"`` cancels the order, which
    needs a supervisor present (``approved_by``: their employee id, proven by a tap or badge + PIN)."""

    reason: str
    scope: str = "pack_session"
    approved_by: str | None = None
    name = "cancel"


CANCEL_SCOPES = ("pack_session", "order")


@dataclass(frozen=True)
class SignOut:
    """Signing out with counted units asks first unless ``confirmed`` (the idle timer does not ask)."""

    reason: str = "manual"  # "manual" | "idle" | ...
    confirmed: bool = False
    name = "sign_out"


Event: TypeAlias = (Badge | OpenOrder | ScanItem | ChoosePackaging | SecondBadge | FifoTakeOlder | PutBack | FifoOverride
         | Weigh | Reweigh | SupervisorOverride | Pack | Cancel | SignOut
         | CloseCarton | LabelPrinted | ScanLabel | Reprint)

S = State
ORDER_STATES = (S.ORDER_OPEN, S.SCANNING, S.AWAITING_FIFO_DECISION, S.AWAITING_SECOND_BADGE,
                 S.READY_TO_WEIGH, S.BLOCKED, S.WEIGHED_OK, S.LABEL_PRINTED)
_ITEM_DONE = frozenset({S.ORDER_OPEN, S.SCANNING, S.READY_TO_WEIGH})  # where a counted/put-back item can land

# state -> event -> states the event may lead to (besides staying put, which a refusal always does)
TRANSITIONS: dict[State, dict[str, frozenset[State]]] = {
    S.IDLE: {"badge": frozenset({S.SIGNED_IN})},
    S.SIGNED_IN: {"badge": frozenset({S.IDLE}), "open_order": frozenset({S.ORDER_OPEN}), "sign_out": frozenset({S.IDLE}),
                  "scan_label": frozenset({S.ORDER_OPEN})},
    S.ORDER_OPEN: {"badge": frozenset({S.IDLE}), "open_order": frozenset(),
                   "scan_item": _ITEM_DONE | {S.AWAITING_FIFO_DECISION, S.AWAITING_SECOND_BADGE},
                   "choose_packaging": frozenset(), "cancel": frozenset({S.CANCELLED}), "sign_out": frozenset({S.IDLE})},
    S.SCANNING: {"badge": frozenset({S.IDLE}), "open_order": frozenset(),
                 "scan_item": _ITEM_DONE | {S.AWAITING_FIFO_DECISION, S.AWAITING_SECOND_BADGE},
                 "choose_packaging": frozenset({S.READY_TO_WEIGH}), "cancel": frozenset({S.CANCELLED}),
                 "sign_out": frozenset({S.IDLE}), "close_carton": frozenset({S.READY_TO_WEIGH})},
    S.AWAITING_FIFO_DECISION: {"badge": frozenset({S.IDLE}), "fifo_take_older": _ITEM_DONE, "put_back": _ITEM_DONE,
                               "fifo_override": _ITEM_DONE | {S.AWAITING_SECOND_BADGE},
                               "cancel": frozenset({S.CANCELLED}), "sign_out": frozenset({S.IDLE})},
    S.AWAITING_SECOND_BADGE: {"badge": _ITEM_DONE, "second_badge": _ITEM_DONE, "put_back": _ITEM_DONE,
                              "cancel": frozenset({S.CANCELLED}), "sign_out": frozenset({S.IDLE})},
    S.READY_TO_WEIGH: {"badge": frozenset({S.IDLE}), "open_order": frozenset(),
                       "scan_item": _ITEM_DONE | {S.AWAITING_FIFO_DECISION, S.AWAITING_SECOND_BADGE},  # reopens a carton
                       "choose_packaging": frozenset(), "weigh": frozenset({S.WEIGHED_OK, S.BLOCKED, S.PACKED}),
                       "cancel": frozenset({S.CANCELLED}), "sign_out": frozenset({S.IDLE})},
    S.BLOCKED: {"badge": frozenset({S.IDLE}), "open_order": frozenset(), "scan_item": frozenset(),
                "reweigh": frozenset({S.READY_TO_WEIGH}), "supervisor_override": frozenset({S.WEIGHED_OK, S.PACKED}),
                "choose_packaging": frozenset({S.READY_TO_WEIGH}), "cancel": frozenset({S.CANCELLED}),
                "sign_out": frozenset({S.IDLE})},
    S.WEIGHED_OK: {"badge": frozenset({S.IDLE}), "open_order": frozenset(), "scan_item": frozenset(),
                   "pack": frozenset({S.PACKED, S.SCANNING}), "reweigh": frozenset({S.READY_TO_WEIGH}),
                   "choose_packaging": frozenset({S.READY_TO_WEIGH}), "cancel": frozenset({S.CANCELLED}),
                   "sign_out": frozenset({S.IDLE}), "label_printed": frozenset({S.LABEL_PRINTED, S.SCANNING, S.PACKED})},
    S.LABEL_PRINTED: {"badge": frozenset({S.IDLE}), "scan_label": frozenset({S.SCANNING, S.PACKED}),
                      "reprint": frozenset(), "cancel": frozenset({S.CANCELLED}), "sign_out": frozenset({S.IDLE})},
    S.PACKED: {"badge": frozenset({S.IDLE}), "open_order": frozenset({S.ORDER_OPEN}), "sign_out": frozenset({S.IDLE}),
               "scan_label": frozenset({S.ORDER_OPEN})},
    S.CANCELLED: {"badge": frozenset({S.IDLE}), "open_order": frozenset({S.ORDER_OPEN}), "sign_out": frozenset({S.IDLE}),
                  "scan_label": frozenset({S.ORDER_OPEN})},
}

# what to do next in each state (the ``next`` of a not_allowed_now refusal)
NEXT_IN_STATE: dict[State, str] = {
    S.IDLE: "tap_badge", S.SIGNED_IN: "scan_order", S.ORDER_OPEN: "scan_item", S.SCANNING: "scan_item",
    S.AWAITING_FIFO_DECISION: "take_older_lot_or_override", S.AWAITING_SECOND_BADGE: "scan_second_badge",
    S.READY_TO_WEIGH: "weigh", S.BLOCKED: "reweigh_or_override", S.WEIGHED_OK: "pack",
    S.PACKED: "scan_order", S.CANCELLED: "scan_order", S.LABEL_PRINTED: "scan_label",
}

NOT_PACKABLE = frozenset({"packed", "shipped", "cancelled", "canceled"})


def serial_key(sku: str, serial: str) -> str:
    """Serials are unique per SKU: the key kept in the station's set of packed serials."""
    return f"{sku}:{serial}"


# ---------------------------------------------------------------- session


@dataclass(frozen=True)
class PackedUnit:
    sku: str
    lot: str | None = None
    expires: date | None = None
    serial: str | None = None
    second_by: str | None = None  # employee id of the second person (special items)
    approved_by: str | None = None  # supervisor who approved the lot (older or unknown lot)

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "lot": self.lot, "expires": self.expires.isoformat() if self.expires else None,
                "serial": self.serial, "second_by": self.second_by, "approved_by": self.approved_by}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PackedUnit":
        return cls(d["sku"], d.get("lot"), date.fromisoformat(d["expires"]) if d.get("expires") else None,
                   d.get("serial"), d.get("second_by"), d.get("approved_by"))


@dataclass(frozen=True)
class Pending:
    """A scanned unit waiting for a decision (``code``: fifo_older_lot | lot_unknown | second_badge_required)."""

    unit: PackedUnit
    code: str
    older_lot: str | None = None
    older_bin: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit.as_dict(), "code": self.code, "older_lot": self.older_lot, "older_bin": self.older_bin}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Pending":
        return cls(PackedUnit.from_dict(d["unit"]), d["code"], d.get("older_lot"), d.get("older_bin"))


@dataclass(frozen=True)
class WeighRecord:
    """The last stable weighing: result pass | fail | unverifiable; grams as Decimal (None if unknown)."""

    result: str
    expected_g: Decimal | None
    measured_g: Decimal | None
    diff_g: Decimal | None
    diff_pct: Decimal | None
    allowed_g: Decimal | None

    @classmethod
    def of(cls, check: WeightCheck) -> "WeighRecord":
        return cls(check.result, check.expected_g, check.measured_g, check.diff_g, check.diff_pct, check.allowed_g)

    def as_dict(self) -> dict[str, Any]:
        def s(v: Decimal | None) -> str | None:
            return None if v is None else str(v)
        return {"result": self.result, "expected_g": s(self.expected_g), "measured_g": s(self.measured_g),
                "diff_g": s(self.diff_g), "diff_pct": s(self.diff_pct), "allowed_g": s(self.allowed_g)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "WeighRecord":
        def dec(k: str) -> Decimal | None:
            return None if d.get(k) is None else Decimal(d[k])
        return cls(d["result"], dec("expected_g"), dec("measured_g"), dec("diff_g"), dec("diff_pct"), dec("allowed_g"))


@dataclass(frozen=True)
class Override:
    employee_id: str
    name: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"employee_id": self.employee_id, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class PackSession:
    """Everything the station must remember about one packing table. Immutable: events return a new one."""

    station: str = "ST01"
    state: State = State.IDLE
    operator: Operator | None = None
    order: Order | None = None
    units: tuple[PackedUnit, ...] = ()
    packaging: str | None = None
    pending: Pending | None = None
    weight: WeighRecord | None = None
    override: Override | None = None
    weighings: int = 0
    abandon_asked: bool = False  # signing out would throw counted units away: asked once, the next one decides
    cartons: tuple[Carton, ...] = ()  # closed cartons; their units are the first ones of ``units``
    label: LabelInfo | None = None  # the label of the carton in hand
    waybill: str | None = None  # weigh-and-ship: the pre-printed waybill that opened the order

    @property
    def closed_units(self) -> int:
        return sum(c.count for c in self.cartons)

    @property
    def open_units(self) -> tuple[PackedUnit, ...]:
        """The units of the carton in hand."""
        return self.units[self.closed_units:]

    @property
    def carton_no(self) -> int:
        return len(self.cartons) + 1

    def packed_qty(self, sku: str) -> int:
        return sum(1 for unit in self.units if unit.sku == sku)

    @property
    def complete(self) -> bool:
        """Every order line has all its units counted."""
        return self.order is not None and all(self.packed_qty(s) >= q for s, q in self.order.quantities().items())

    @property
    def serials(self) -> frozenset[str]:
        return frozenset(serial_key(u.sku, u.serial) for u in self.units if u.serial)

    def progress(self) -> list[dict[str, Any]]:
        """Per SKU of the order: ordered and packed units (for the kiosk)."""
        if self.order is None:
            return []
        return [{"sku": s, "ordered": q, "packed": self.packed_qty(s)} for s, q in self.order.quantities().items()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``from_dict`` restores an equal session (e.g. after a restart)."""
        return {"station": self.station, "state": str(self.state),
                "operator": self.operator.as_dict() if self.operator else None,
                "order": self.order.as_dict() if self.order else None,
                "units": [u.as_dict() for u in self.units], "packaging": self.packaging,
                "pending": self.pending.as_dict() if self.pending else None,
                "weight": self.weight.as_dict() if self.weight else None,
                "override": self.override.as_dict() if self.override else None, "weighings": self.weighings,
                "abandon_asked": self.abandon_asked,
                "cartons": [c.as_dict() for c in self.cartons], "label": self.label.as_dict() if self.label else None,
                "waybill": self.waybill}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PackSession":
        return cls(station=d["station"], state=State(d["state"]),
                   operator=Operator.from_dict(d["operator"]) if d.get("operator") else None,
                   order=Order.from_dict(d["order"]) if d.get("order") else None,
                   units=tuple(PackedUnit.from_dict(u) for u in d.get("units", [])), packaging=d.get("packaging"),
                   pending=Pending.from_dict(d["pending"]) if d.get("pending") else None,
                   weight=WeighRecord.from_dict(d["weight"]) if d.get("weight") else None,
                   override=Override(**d["override"]) if d.get("override") else None,
                   weighings=d.get("weighings", 0), abandon_asked=bool(d.get("abandon_asked")),
                   cartons=tuple(Carton.from_dict(c) for c in d.get("cartons") or []),
                   label=LabelInfo.from_dict(d["label"]) if d.get("label") else None, waybill=d.get("waybill"))

    def summary(self) -> dict[str, Any]:
        """A short before/after picture for audit entries."""
        return {"state": str(self.state), "order_id": self.order.order_id if self.order else None,
                "units": len(self.units), "packaging": self.packaging,
                "weight": self.weight.as_dict() if self.weight else None}


@dataclass(frozen=True)
class PackContext:
    """Reference data and site rules for one step. ``packed_serials`` holds ``serial_key`` values of
    serials already packed anywhere (any container: a set, or an object querying the database)."""

    catalog: CatalogView
    today: date
    tolerance: ToleranceConfig = DEFAULT_TOLERANCE
    lot_policy: LotPolicy = LotPolicy.FIFO
    packed_serials: Container[str] = frozenset()
    require_lot: bool = True  # a lot-controlled SKU scanned without a lot is refused
    sign_in_roles: frozenset[Role] = frozenset({Role.PACKER, Role.SUPERVISOR})
    second_badge_roles: frozenset[Role] = frozenset({Role.PACKER, Role.SUPERVISOR})
    allow_self_override: bool = False  # may a supervisor approve their own session?
    typed_sign_in: bool = True  # may a typed or scanned badge code (not a tap) sign a packer in?
    preselect_packaging: bool = True  # start with the order's suggested packaging
    label_mode: LabelMode = LabelMode.NONE  # core.labels: none | print | weigh_and_ship
    label_verify: bool = True  # print mode: the packer scans the printed label on the parcel
    gate: TableGate | None = None  # core.weight_gate: the learned gate (None: the catalogue rule, ``tolerance``)


def should_sign_out(last_activity: datetime | None, now: datetime, idle_s: float) -> bool:
    """True when the operator has been idle for ``idle_s`` seconds or more (then send ``SignOut("idle")``)."""
    return last_activity is not None and (now - last_activity).total_seconds() >= idle_s


# ---------------------------------------------------------------- the step function


def _order(s: PackSession) -> Order:
    if s.order is None:
        raise StationError(f"bug: no open order in state {s.state}")
    return s.order


def _who(s: PackSession) -> Operator:
    if s.operator is None:
        raise StationError(f"bug: nobody signed in in state {s.state}")
    return s.operator


def _pending(s: PackSession) -> Pending:
    if s.pending is None:
        raise StationError(f"bug: nothing pending in state {s.state}")
    return s.pending


def step(session: PackSession, event: Event, ctx: PackContext) -> Outcome:
    """Apply ``event``; returns ``Outcome(new_session, verdict, effects)``."""
    outcome = MACHINE.run(session, event, ctx)
    if outcome.session.abandon_asked and outcome.verdict.status != "error" and not _signs_out(session, event, ctx):
        return Outcome(replace(outcome.session, abandon_asked=False), outcome.verdict, outcome.effects)  # went on
    return outcome


def _signs_out(s: PackSession, event: Event, ctx: PackContext) -> bool:
    if isinstance(event, SignOut):
        return True
    if isinstance(event, Badge) and s.operator is not None:
        employee = ctx.catalog.employee_by_badge(event.uid)
        return employee is not None and employee.employee_id == s.operator.employee_id
    return False


def _done(session: PackSession, verdict: Verdict, *effects: Effect) -> Outcome:
    return Outcome(session, verdict, list(effects))


def _order_conf(s: PackSession, action: str, payload: dict[str, Any], operator: str | None = None,
                image_sha256: str | None = None) -> Confirmation:
    return Confirmation(action, "order", _order(s).order_id, payload, operator or _who(s).employee_id, image_sha256)


def _badge(s: PackSession, e: Badge, ctx: PackContext) -> Outcome:
    if s.state is S.AWAITING_SECOND_BADGE:
        return _second_badge(s, SecondBadge(e.uid, e.present), ctx)
    employee = ctx.catalog.employee_by_badge(e.uid)
    if employee is None:
        return refuse(s, "unknown_badge", next=NEXT_IN_STATE[s.state])
    if s.state is S.IDLE:
        if not e.present and not ctx.typed_sign_in:
            return refuse(s, "typed_badge_sign_in_off", next="tap_badge")
        if employee.role not in ctx.sign_in_roles:
            return refuse(s, "role_not_allowed", name=employee.name, role=str(employee.role))
        new = PackSession(station=s.station, state=S.SIGNED_IN, operator=employee.operator)
        return _done(new, make("signed_in", name=employee.name, employee_id=employee.employee_id),
                     Confirmation("badge", "employee", employee.employee_id, {"event": "sign_in"}, employee.employee_id))
    if employee.employee_id == _who(s).employee_id:
        return _sign_out(s, "badge", confirmed=False)
    if employee.role is Role.SUPERVISOR and s.state in (S.BLOCKED, S.AWAITING_FIFO_DECISION):
        return Outcome(s, make("override_reason_required", name=employee.name), [])
    if employee.role is Role.SUPERVISOR and not e.present:
        return refuse(s, "presence_required", next=NEXT_IN_STATE[s.state])
    if employee.role is Role.SUPERVISOR:  # a supervisor takes over the table, session and order as they are
        previous = _who(s)
        new = replace(s, operator=employee.operator)
        audit = AuditEntry("sign_in_as_other", employee.employee_id, {"operator": previous.employee_id},
                           {"operator": employee.employee_id}, f"{employee.name} took over from {previous.name}")
        conf = Confirmation("badge", "employee", employee.employee_id,
                            {"event": "take_over", "from": previous.employee_id}, employee.employee_id)
        return _done(new, make("taken_over", next=NEXT_IN_STATE[s.state], name=employee.name, previous=previous.name),
                     audit, conf)
    return refuse(s, "badge_in_use", name=_who(s).name)


def _sign_out(s: PackSession, reason: str, confirmed: bool) -> Outcome:
    """Sign out; an open order with counted units is asked about first (the same tap again, or a confirmed
    sign-out, decides), then closed upstream with what was counted (a ``cancel`` of the pack session)."""
    op = _who(s)
    open_order = s.order is not None and s.state in ORDER_STATES
    if open_order and s.units and not (confirmed or s.abandon_asked):
        return Outcome(replace(s, abandon_asked=True),
                       make("abandon_confirm", order_id=_order(s).order_id, units=len(s.units)), [])
    payload: dict[str, Any] = {"event": "sign_out", "reason": reason}
    effects: list[Effect] = []
    if open_order:
        order_id = _order(s).order_id
        payload["released_order"] = order_id
        effects.append(AuditEntry("abandon", op.employee_id, s.summary(), {"state": "idle"}, f"sign_out: {reason}"))
        effects.append(_order_conf(s, "cancel", {"scope": "pack_session", "reason": f"sign_out: {reason}",
                                                 "abandoned": True, "units_scanned": len(s.units),
                                                 "units": [u.as_dict() for u in s.units]}))
    effects.insert(0, Confirmation("badge", "employee", op.employee_id, payload, op.employee_id))
    return Outcome(PackSession(station=s.station), make("signed_out", name=op.name, reason=reason), effects)


def _sign_out_event(s: PackSession, e: SignOut, ctx: PackContext) -> Outcome:
    return _sign_out(s, e.reason, e.confirmed)


def _open_order(s: PackSession, e: OpenOrder, ctx: PackContext) -> Outcome:
    order = ctx.catalog.order(e.code)
    if s.state in ORDER_STATES:
        if order is not None and order.order_id == _order(s).order_id:
            return Outcome(s, make("order_opened", next=NEXT_IN_STATE[s.state], order_id=order.order_id,
                                   lines=len(order.lines), units=order.units), [])
        return refuse(s, "order_already_open", next=NEXT_IN_STATE[s.state], order_id=_order(s).order_id)
    if order is None:
        return refuse(s, "unknown_order", code=e.code)
    if order.status in NOT_PACKABLE:
        return refuse(s, "order_not_packable", order_id=order.order_id, order_status=order.status)
    packaging = order.packaging if ctx.preselect_packaging and order.packaging and \
        ctx.catalog.packaging(order.packaging) else None
    new = PackSession(station=s.station, state=S.ORDER_OPEN, operator=s.operator, order=order, packaging=packaging)
    verdict = make("order_opened", order_id=order.order_id, lines=len(order.lines), units=order.units,
                   tote=order.tote, packaging=packaging)
    return _done(new, verdict, _order_conf(new, "scan", {"tote": order.tote, "lines": len(order.lines),
                                                        "units": order.units, "packaging": packaging}))


def _scan_item(s: PackSession, e: ScanItem, ctx: PackContext) -> Outcome:
    sku = ctx.catalog.sku(e.code)
    if sku is None:
        return refuse(s, "unknown_item", code=e.code)
    ordered = _order(s).qty_for(sku.sku)
    if ordered == 0:
        return refuse(s, "item_not_in_order", sku=sku.sku, name=sku.name, order_id=_order(s).order_id)
    if s.packed_qty(sku.sku) >= ordered:
        return refuse(s, "over_quantity", next=NEXT_IN_STATE[s.state], sku=sku.sku, order_id=_order(s).order_id,
                       ordered=ordered)
    if e.serial and (serial_key(sku.sku, e.serial) in s.serials or serial_key(sku.sku, e.serial) in ctx.packed_serials):
        return refuse(s, "serial_already_packed", sku=sku.sku, serial=e.serial)
    taken = Counter(u.lot for u in s.units if u.sku == sku.sku and u.lot)
    check = check_lot(sku, e.lot, less_taken(ctx.catalog.lots_for(sku.sku), taken), ctx.today, ctx.lot_policy,
                      expires=e.expires, produced=e.produced, require_lot=ctx.require_lot)
    unit = PackedUnit(sku.sku, e.lot, check.lot.expires if check.lot else e.expires, e.serial)
    if check.verdict is not None and check.verdict.status == "error":
        return Outcome(s, check.verdict, [])
    if check.verdict is not None:
        pending = Pending(unit, check.verdict.code, check.older.lot if check.older else None,
                          check.older.bin if check.older else None)
        return Outcome(replace(s, state=S.AWAITING_FIFO_DECISION, pending=pending), check.verdict, [])
    return _accept(s, unit, sku, ctx)


def _accept(s: PackSession, unit: PackedUnit, sku: Sku, ctx: PackContext, effects: tuple[Effect, ...] = (),
            verdict: Callable[[str], Verdict] | None = None) -> Outcome:
    """Count ``unit`` (or first ask for the second badge of a special item)."""
    if sku.special and unit.second_by is None:
        new = replace(s, state=S.AWAITING_SECOND_BADGE, pending=Pending(unit, "second_badge_required"))
        return _done(new, make("second_badge_required", sku=sku.sku, name=sku.name), *effects)
    counted = replace(s, units=s.units + (unit,), pending=None)
    ready = counted.complete and counted.packaging is not None
    new = replace(counted, state=S.READY_TO_WEIGH if ready else S.SCANNING)
    next_step = "weigh" if ready else "choose_packaging" if counted.complete else "scan_item"
    ordered, packed = _order(s).qty_for(sku.sku), counted.packed_qty(sku.sku)
    conf = _order_conf(new, "verify", {**unit.as_dict(), "gtin": sku.gtin, "qty": 1, "packed": packed,
                                       "ordered": ordered})
    shown = verdict(next_step) if verdict else make("item_accepted", next=next_step, sku=sku.sku, name=sku.name,
                                                    packed=packed, ordered=ordered, lot=unit.lot)
    return _done(new, shown, *effects, conf)


def _after_pending(s: PackSession) -> State:
    return S.SCANNING if s.units else S.ORDER_OPEN


def _second_badge(s: PackSession, e: SecondBadge, ctx: PackContext) -> Outcome:
    employee = ctx.catalog.employee_by_badge(e.uid)
    if employee is None:
        return refuse(s, "unknown_badge", next="scan_second_badge")
    if not e.present:
        return refuse(s, "presence_required", next="scan_second_badge")
    if employee.employee_id == _who(s).employee_id:
        return refuse(s, "second_badge_same_person", name=_who(s).name)
    if employee.role not in ctx.second_badge_roles:
        return refuse(s, "second_badge_role", name=employee.name, role=str(employee.role))
    unit = replace(_pending(s).unit, second_by=employee.employee_id)
    return _accept(s, unit, ctx.catalog.sku(unit.sku) or Sku(unit.sku, None, unit.sku, None), ctx)


def _put_back(s: PackSession, e: PutBack | FifoTakeOlder, ctx: PackContext) -> Outcome:
    unit = _pending(s).unit
    new = replace(s, state=_after_pending(s), pending=None)
    return Outcome(new, make("item_put_back", sku=unit.sku, lot=unit.lot or "-"), [])


def _fifo_take_older(s: PackSession, e: FifoTakeOlder, ctx: PackContext) -> Outcome:
    p = _pending(s)
    if p.older_lot is None:  # unknown lot: nothing older to take, it is a plain put-back
        return _put_back(s, PutBack(), ctx)
    new = replace(s, state=_after_pending(s), pending=None)
    audit = AuditEntry("lot_swap", _who(s).employee_id, {"sku": p.unit.sku, "lot": p.unit.lot},
                       {"sku": p.unit.sku, "lot": p.older_lot, "bin": p.older_bin}, p.code)
    return _done(new, make("lot_swap", lot=p.unit.lot, older_lot=p.older_lot, older_bin=p.older_bin or "-",
                           sku=p.unit.sku, packed=s.packed_qty(p.unit.sku),
                           ordered=_order(s).quantities().get(p.unit.sku, 0)), audit)


def authorise_override(catalog: CatalogView, uid: str, reason: str | None, operator_id: str | None,
                       allow_self: bool = False, present: bool = False) -> Employee | tuple[str, dict[str, Any]]:
    """The supervisor approving an override, or (refusal code, data): unknown badge, no proof that the
    supervisor is there (``present``: a tap on the station's reader or badge + PIN), not a supervisor,
    their own work (unless ``allow_self``), or no reason given. Shared by packing and picking."""
    employee = catalog.employee_by_badge(uid)
    if employee is None:
        return "unknown_badge", {}
    if not present:
        return "presence_required", {}
    if employee.role is not Role.SUPERVISOR:
        return "override_not_supervisor", {"name": employee.name, "role": str(employee.role)}
    if employee.employee_id == operator_id and not allow_self:
        return "override_self", {"name": employee.name}
    if not (reason or "").strip():
        return "override_reason_missing", {}
    return employee


def _supervisor(s: PackSession, uid: str, reason: str, ctx: PackContext, present: bool) -> Employee | Outcome:
    """The approving supervisor, or the refusal."""
    found = authorise_override(ctx.catalog, uid, reason, _who(s).employee_id, ctx.allow_self_override, present)
    if isinstance(found, Employee):
        return found
    code, data = found
    return refuse(s, code, next="scan_supervisor_badge", **data)


def _fifo_override(s: PackSession, e: FifoOverride, ctx: PackContext) -> Outcome:
    sup = _supervisor(s, e.uid, e.reason, ctx, e.present)
    if isinstance(sup, Outcome):
        return sup
    p, reason = _pending(s), e.reason.strip()
    unit = replace(p.unit, approved_by=sup.employee_id)
    audit = AuditEntry("lot_override", sup.employee_id, {"sku": unit.sku, "suggested_lot": p.older_lot,
                                                        "suggested_bin": p.older_bin, "code": p.code},
                       {"sku": unit.sku, "lot": unit.lot}, reason)
    conf = _order_conf(s, "override", {"kind": "lot", "code": p.code, "sku": unit.sku, "lot": unit.lot,
                                       "suggested_lot": p.older_lot, "reason": reason,
                                       "packer": _who(s).employee_id}, operator=sup.employee_id)
    sku = ctx.catalog.sku(unit.sku) or Sku(unit.sku, None, unit.sku, None)
    return _accept(s, unit, sku, ctx, (audit, conf),
                   lambda nxt: make("lot_overridden", next=nxt, sku=unit.sku, lot=unit.lot or "-",
                                    supervisor=sup.name, reason=reason))


def _choose_packaging(s: PackSession, e: ChoosePackaging, ctx: PackContext) -> Outcome:
    packaging = ctx.catalog.packaging(e.code)
    if packaging is None:
        return refuse(s, "unknown_packaging", code=e.code)
    after_weighing = s.state in (S.BLOCKED, S.WEIGHED_OK)
    state: State
    if s.state is S.ORDER_OPEN or (s.state is S.SCANNING and not s.complete):
        state = s.state
    else:
        state = S.READY_TO_WEIGH
    new = replace(s, state=state, packaging=packaging.code, override=None if after_weighing else s.override)
    effects: list[Effect] = []
    if after_weighing:
        effects.append(AuditEntry("packaging_change", _who(s).employee_id, s.summary(), new.summary(),
                                  "packaging changed after weighing"))
    effects.append(_order_conf(new, "scan", {"packaging": packaging.code, "tare_g": str(packaging.tare_g)}))
    verdict = make("packaging_chosen", next="weigh" if state is S.READY_TO_WEIGH else "scan_item",
                   code=packaging.code, name=packaging.name, tare_g=grams(packaging.tare_g))
    return Outcome(new, verdict, effects)


def parcel_items(order: Order, catalog: CatalogView) -> list[tuple[Sku, int]]:
    """(Sku, qty) for the expected weight; a SKU missing from the catalog counts as 'no catalog weight'."""
    return [(catalog.sku(sku) or Sku(sku, None, sku, None), qty) for sku, qty in order.quantities().items()]


def carton_items(s: PackSession, catalog: CatalogView) -> list[tuple[Sku, int]]:
    """(Sku, qty) of the carton in hand (the whole order when it goes in one carton)."""
    if not s.cartons and s.complete and s.order is not None:
        return parcel_items(s.order, catalog)
    counts = Counter(u.sku for u in s.open_units)
    return [(catalog.sku(sku) or Sku(sku, None, sku, None), qty) for sku, qty in counts.items()]


def _weigh(s: PackSession, e: Weigh, ctx: PackContext) -> Outcome:
    packaging = ctx.catalog.packaging(s.packaging) if s.packaging else None
    items = carton_items(s, ctx.catalog)
    check = check_weight(items, packaging, e.grams, e.stable, ctx.tolerance) if ctx.gate is None else \
        ctx.gate.check(items, packaging, e.grams, e.stable)
    if check.result == "unstable":
        return Outcome(s, check.verdict, [])
    record = WeighRecord.of(check)
    new = replace(s, state=S.WEIGHED_OK if check.passed else S.BLOCKED, weight=record, override=None,
                  weighings=s.weighings + 1)
    basis = {k: check.verdict.data[k] for k in ("basis", "basis_n", "sigma_g") if k in check.verdict.data}  # learned gate
    conf = _order_conf(new, "weigh", {**check.as_dict(), **basis, "packaging": s.packaging, "attempt": new.weighings})
    return _done(new, check.verdict, conf)


def _reweigh(s: PackSession, e: Reweigh, ctx: PackContext) -> Outcome:
    new = replace(s, state=S.READY_TO_WEIGH, override=None)
    audit = AuditEntry("reweigh", _who(s).employee_id, s.summary(), new.summary(), e.reason or "reweigh")
    return _done(new, make("reweigh"), audit)


def _supervisor_override(s: PackSession, e: SupervisorOverride, ctx: PackContext) -> Outcome:
    sup = _supervisor(s, e.uid, e.reason, ctx, e.present)
    if isinstance(sup, Outcome):
        return sup
    reason = e.reason.strip()
    new = replace(s, state=S.WEIGHED_OK, override=Override(sup.employee_id, sup.name, reason))
    audit = AuditEntry("weight_override", sup.employee_id, s.summary(), new.summary(), reason)
    conf = _order_conf(s, "override", {"kind": "weight", "weight": s.weight.as_dict() if s.weight else None,
                                       "reason": reason, "packer": _who(s).employee_id}, operator=sup.employee_id)
    return _done(new, make("weight_overridden", supervisor=sup.name, reason=reason), audit, conf)


def _pack(s: PackSession, e: Pack, ctx: PackContext) -> Outcome:
    if ctx.label_mode is LabelMode.PRINT:
        return refuse(s, "label_first", waybill=s.label.waybill if s.label else "-")
    return _close_carton(s, None, ctx, e.image_sha256)


def _close_carton(s: PackSession, waybill: str | None, ctx: PackContext, image_sha256: str | None = None) -> Outcome:
    """The carton in hand passed (weight or override, and its label when there is one): one ``pack``
    confirmation with its units, weight and waybill; the order is packed when no unit is left outside."""
    units = s.open_units
    carton = Carton(s.carton_no, len(units), s.packaging, s.weight.as_dict() if s.weight else None, waybill)
    closed = replace(s, cartons=s.cartons + (carton,), pending=None)
    serials = sorted(serial_key(u.sku, u.serial) for u in units if u.serial)
    payload: dict[str, Any] = {
        "tote": _order(s).tote, "packaging": s.packaging, "units": [u.as_dict() for u in units],
        "serials": serials, "weight": carton.weight, "override": s.override.as_dict() if s.override else None,
        "carton": carton.number, "waybill": waybill}
    if ctx.label_mode is LabelMode.WEIGH_AND_SHIP:
        payload["shipped"] = True  # the passing weighing is the shipment confirmation upstream forwards
    conf = _order_conf(s, "pack", payload, image_sha256=image_sha256)
    order_id = _order(s).order_id
    if not closed.complete:
        new = replace(closed, state=S.SCANNING, weight=None, override=None, label=None, weighings=0)
        return _done(new, make("carton_packed", carton=carton.number, order_id=order_id, units=len(units),
                               waybill=waybill or "-"), conf)
    new = replace(closed, state=S.PACKED)
    if ctx.label_mode is LabelMode.WEIGH_AND_SHIP:
        verdict = make("shipped", order_id=order_id, waybill=waybill or "-",
                       weight_g=(carton.weight or {}).get("measured_g") or "-")
    else:
        verdict = make("packed", order_id=order_id)
    return _done(new, verdict, conf)


def _close_carton_event(s: PackSession, e: CloseCarton, ctx: PackContext) -> Outcome:
    if ctx.label_mode is LabelMode.WEIGH_AND_SHIP:
        return refuse(s, "carton_one_waybill", order_id=_order(s).order_id)
    if not s.open_units:
        return refuse(s, "carton_empty", carton=s.carton_no)
    packaging = s.packaging
    if e.code:
        found = ctx.catalog.packaging(e.code)
        if found is None:
            return refuse(s, "unknown_packaging", code=e.code)
        packaging = found.code
    if packaging is None:
        return refuse(s, "carton_needs_box", carton=s.carton_no)
    new = replace(s, state=S.READY_TO_WEIGH, packaging=packaging, weight=None, override=None)
    conf = _order_conf(new, "scan", {"packaging": packaging, "carton": s.carton_no, "units": len(s.open_units)})
    return _done(new, make("carton_closing", carton=s.carton_no, units=len(s.open_units), code=packaging), conf)


def _shipped_if_due(out: Outcome, ctx: PackContext) -> Outcome:
    """Weigh-and-ship: a weighing that passes (or is approved) is the shipment, in the same step."""
    s = out.session
    if ctx.label_mode is not LabelMode.WEIGH_AND_SHIP or s.state is not S.WEIGHED_OK:
        return out
    shipped = _close_carton(s, s.waybill, ctx)
    return Outcome(shipped.session, shipped.verdict, out.effects + shipped.effects)


def _weigh_gate(s: PackSession, e: Weigh, ctx: PackContext) -> Outcome:
    return _shipped_if_due(_weigh(s, e, ctx), ctx)


def _override_gate(s: PackSession, e: SupervisorOverride, ctx: PackContext) -> Outcome:
    return _shipped_if_due(_supervisor_override(s, e, ctx), ctx)


def _scan_item_gate(s: PackSession, e: ScanItem, ctx: PackContext) -> Outcome:
    if s.state in (S.BLOCKED, S.WEIGHED_OK) and not s.complete:  # a weighed carton takes no more items
        return refuse(s, "carton_weighed", carton=s.carton_no)
    return _scan_item(s, e, ctx)


def _open_order_gate(s: PackSession, e: OpenOrder, ctx: PackContext) -> Outcome:
    if ctx.label_mode is LabelMode.WEIGH_AND_SHIP and s.state not in ORDER_STATES:
        return refuse(s, "waybill_opens_order", code=e.code)
    return _open_order(s, e, ctx)


def _label_printed(s: PackSession, e: LabelPrinted, ctx: PackContext) -> Outcome:
    info = LabelInfo(e.carton, e.waybill, revision=e.revision)
    if e.carton != s.carton_no:
        raise StationError(f"bug: label of carton {e.carton} reported for carton {s.carton_no}")
    if not ctx.label_verify:  # the site turned the scan check off: printed is packed
        return _close_carton(replace(s, label=info), e.waybill, ctx)
    passed = Word("word:weight_approved" if s.override is not None else "word:weight_ok")
    return _done(replace(s, state=S.LABEL_PRINTED, label=info),
                 make("label_printed", waybill=e.waybill, carton=e.carton, order_id=_order(s).order_id, passed=passed))


def _scan_label(s: PackSession, e: ScanLabel, ctx: PackContext) -> Outcome:
    if s.state is not S.LABEL_PRINTED:  # waiting for an order: a known waybill opens its order
        if e.owner is None:
            return refuse(s, "unknown_waybill", code=e.code)
        opened = _open_order(s, OpenOrder(e.owner), ctx)
        if opened.session.state is not S.ORDER_OPEN:
            return opened
        return Outcome(replace(opened.session, waybill=e.code), opened.verdict, opened.effects)
    label = s.label
    if label is None:
        raise StationError("bug: label_printed without a label")
    order_id = _order(s).order_id
    if e.code == label.waybill:
        return _close_carton(replace(s, label=replace(label, state="verified")), label.waybill, ctx)
    if e.owner is not None and e.owner != order_id:
        return refuse(s, "label_other_order", code=e.code, owner=e.owner, order_id=order_id, waybill=label.waybill)
    return refuse(s, "label_wrong", code=e.code, waybill=label.waybill, order_id=order_id)


def _reprint(s: PackSession, e: Reprint, ctx: PackContext) -> Outcome:
    label = s.label
    if label is None:
        raise StationError("bug: reprint without a label")
    relabel = e.waybill is not None and e.waybill != label.waybill  # a new label: the WMS changed the address/carrier
    new_label = replace(label.reprinted(), waybill=e.waybill, state="printed",
                        revision=e.revision or label.revision) if relabel and e.waybill else label.reprinted()
    new = replace(s, label=new_label)
    audit = AuditEntry("label_reprint", _who(s).employee_id, {"waybill": label.waybill, "reprints": label.reprints},
                       {"waybill": new_label.waybill, "reprints": new_label.reprints, "revision": new_label.revision},
                       (e.reason or "").strip() or "reprint")
    if relabel:
        return _done(new, make("label_reprinted_new", waybill=new_label.waybill, old_waybill=label.waybill,
                               revision=new_label.revision, order_id=_order(s).order_id), audit)
    return _done(new, make("label_reprinted", waybill=label.waybill, reprints=label.reprints + 1), audit)


def _cancel(s: PackSession, e: Cancel, ctx: PackContext) -> Outcome:
    """Stop packing (the order goes back to the queue) or cancel the order (it is not to be packed at all)."""
    reason = (e.reason or "").strip()
    if not reason:
        return refuse(s, "cancel_reason_missing", next=NEXT_IN_STATE[s.state])
    if e.scope == "order" and not e.approved_by:
        return Outcome(s, make("order_cancel_needs_supervisor", order_id=_order(s).order_id, reason=reason), [])
    new = replace(s, state=S.CANCELLED, pending=None)
    action = "order_cancel" if e.scope == "order" else "cancel"
    audit = AuditEntry(action, e.approved_by or _who(s).employee_id, s.summary(), new.summary(), reason)
    payload: dict[str, Any] = {"scope": e.scope, "reason": reason, "units_scanned": len(s.units)}
    if e.approved_by:
        payload.update(approved_by=e.approved_by, packer=_who(s).employee_id)
    conf = _order_conf(s, "cancel", payload)
    code = "order_cancelled" if e.scope == "order" else "cancelled"
    return _done(new, make(code, order_id=_order(s).order_id, reason=reason, units=len(s.units)), audit, conf)


_HANDLERS: dict[str, Callable[..., Outcome]] = {
    "badge": _badge, "open_order": _open_order_gate, "scan_item": _scan_item_gate, "choose_packaging": _choose_packaging,
    "second_badge": _second_badge, "fifo_take_older": _fifo_take_older, "put_back": _put_back,
    "fifo_override": _fifo_override, "weigh": _weigh_gate, "reweigh": _reweigh,
    "supervisor_override": _override_gate, "pack": _pack, "cancel": _cancel, "sign_out": _sign_out_event,
    "close_carton": _close_carton_event, "label_printed": _label_printed, "scan_label": _scan_label,
    "reprint": _reprint,
}

MACHINE: Machine[Any, Any] = Machine("TRANSITIONS", TRANSITIONS, _HANDLERS, NEXT_IN_STATE)
