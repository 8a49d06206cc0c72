"""Picking: a pick list in walking (bin) order, and a pure pick-session state machine.

    outcome = start_pick(order, picker, ctx)        # -> Outcome(PickSession | None, verdict, [])
    outcome = pick_step(session, event, ctx)        # events: ScanBin, ScanItem, ScanTote, PutBack,
                                                    #         FifoTakeOlder, FifoOverride
The list allocates each order line to lots by the SKU's policy (FIFO / FEFO, expired and empty
lots skipped) and sorts the picks by bin code. The picker scans the bin (must be the expected
one; a wrong bin is refused naming the right one), then the items (lot rules as in packing:
expired refused, an older lot prompts), then the tote. Completion emits one ``pick`` confirmation
per order line (with the lots and bins) and one ``tote_load`` confirmation for the tote (the contract's ``ship_load`` is the dock hand-over).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import date
from enum import StrEnum
from typing import Any, Callable

from packgate.station.core.effects import AuditEntry, Confirmation, Effect, Outcome
from packgate.station.core.lots import allocate, bin_sort_key, check_lot, effective_policy, less_taken
from packgate.station.core.models import CatalogView, Employee, LotPolicy, Operator, Order, Role
from packgate.station.core.packing import NOT_PACKABLE, FifoOverride, FifoTakeOlder, PutBack, ScanItem, authorise_override
from packgate.station.core.step import Machine, refuse
from packgate.station.core.verdicts import make
from packgate.station.errors import StationError


@dataclass(frozen=True)
class PickTask:
    sku: str
    name: str
    bin: str | None
    lot: str | None
    qty: int
    expires: date | None = None


@dataclass(frozen=True)
class Shortage:
    sku: str
    missing: int


@dataclass(frozen=True)
class PickList:
    order_id: str
    tasks: tuple[PickTask, ...]
    shortages: tuple[Shortage, ...] = ()


def pick_list(order: Order, catalog: CatalogView, today: date, site_policy: LotPolicy = LotPolicy.FIFO) -> PickList:
    """Allocate every line to usable lots in policy order; tasks sorted by bin (then SKU, lot)."""
    tasks: list[PickTask] = []
    shortages: list[Shortage] = []
    for sku_code, qty in order.quantities().items():
        sku = catalog.sku(sku_code)
        policy = effective_policy(sku, site_policy) if sku else site_policy
        taken, missing = allocate(catalog.lots_for(sku_code), qty, policy, today)
        for lot, units in taken:
            tasks.append(PickTask(sku_code, sku.name if sku else sku_code, lot.bin, lot.lot, units, lot.expires))
        if missing:
            shortages.append(Shortage(sku_code, missing))
    tasks.sort(key=lambda t: (bin_sort_key(t.bin), t.sku, t.lot or ""))
    return PickList(order.order_id, tuple(tasks), tuple(shortages))


class PickState(StrEnum):
    TO_BIN = "to_bin"  # walk to the next bin and scan it
    AT_BIN = "at_bin"  # scan the items of this bin
    AWAITING_FIFO_DECISION = "awaiting_fifo_decision"
    TO_TOTE = "to_tote"  # everything picked: scan the tote
    PICKED = "picked"


@dataclass(frozen=True)
class ScanBin:
    code: str
    name = "scan_bin"


@dataclass(frozen=True)
class ScanTote:
    code: str
    name = "scan_tote"


P = PickState
PICK_TRANSITIONS: dict[PickState, dict[str, frozenset[PickState]]] = {
    P.TO_BIN: {"scan_bin": frozenset({P.AT_BIN})},
    P.AT_BIN: {"scan_bin": frozenset(), "scan_item": frozenset({P.TO_BIN, P.TO_TOTE, P.AWAITING_FIFO_DECISION})},
    P.AWAITING_FIFO_DECISION: {"put_back": frozenset({P.AT_BIN}), "fifo_take_older": frozenset({P.AT_BIN}),
                               "fifo_override": frozenset({P.AT_BIN, P.TO_BIN, P.TO_TOTE})},
    P.TO_TOTE: {"scan_tote": frozenset({P.PICKED})},
    P.PICKED: {},
}
NEXT_IN_PICK_STATE = {P.TO_BIN: "scan_bin", P.AT_BIN: "scan_item", P.AWAITING_FIFO_DECISION: "take_older_lot_or_override",
                      P.TO_TOTE: "scan_tote", P.PICKED: "done"}


@dataclass(frozen=True)
class PickedUnit:
    task: int  # index into tasks
    sku: str
    lot: str | None
    bin: str | None
    approved_by: str | None = None


@dataclass(frozen=True)
class PickPending:
    unit: PickedUnit
    code: str
    older_lot: str | None = None
    older_bin: str | None = None


@dataclass(frozen=True)
class PickSession:
    order: Order
    picker: Operator
    tasks: tuple[PickTask, ...]
    state: PickState = PickState.TO_BIN
    picked: tuple[PickedUnit, ...] = ()
    pending: PickPending | None = None

    def done(self, task: int) -> int:
        return sum(1 for unit in self.picked if unit.task == task)

    @property
    def current(self) -> int | None:
        """Index of the first task not yet fully picked (None when all are)."""
        return next((i for i, t in enumerate(self.tasks) if self.done(i) < t.qty), None)

    def progress(self) -> list[dict[str, Any]]:
        return [{"sku": t.sku, "bin": t.bin, "lot": t.lot, "qty": t.qty, "picked": self.done(i)}
                for i, t in enumerate(self.tasks)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``from_dict`` restores an equal session (e.g. after a restart)."""
        def task(t: PickTask) -> dict[str, Any]:
            return {**asdict(t), "expires": t.expires.isoformat() if t.expires else None}
        return {"order": self.order.as_dict(), "picker": self.picker.as_dict(), "tasks": [task(t) for t in self.tasks],
                "state": str(self.state), "picked": [asdict(u) for u in self.picked],
                "pending": asdict(self.pending) if self.pending else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PickSession":
        def task(t: dict[str, Any]) -> PickTask:
            return PickTask(**{**t, "expires": date.fromisoformat(t["expires"]) if t.get("expires") else None})
        pending = d.get("pending")
        return cls(Order.from_dict(d["order"]), Operator.from_dict(d["picker"]), tuple(task(t) for t in d["tasks"]),
                   PickState(d["state"]), tuple(PickedUnit(**u) for u in d.get("picked", [])),
                   PickPending(**{**pending, "unit": PickedUnit(**pending["unit"])}) if pending else None)


@dataclass(frozen=True)
class PickContext:
    catalog: CatalogView
    today: date
    lot_policy: LotPolicy = LotPolicy.FIFO
    require_lot: bool = True
    allow_self_override: bool = False
    pick_roles: frozenset[Role] = frozenset({Role.PICKER, Role.SUPERVISOR, Role.PACKER})


def start_pick(order: Order, picker: Employee, ctx: PickContext) -> Outcome:
    """A new pick session for ``order``, or a refusal (session None): not pickable, role, stock short."""
    if order.status in NOT_PACKABLE or order.status == "picked":
        return Outcome(None, make("order_not_pickable", order_id=order.order_id, order_status=order.status), [])
    if picker.role not in ctx.pick_roles:
        return Outcome(None, make("role_not_allowed", name=picker.name, role=str(picker.role)), [])
    plan = pick_list(order, ctx.catalog, ctx.today, ctx.lot_policy)
    if plan.shortages:
        short = plan.shortages[0]
        return Outcome(None, make("stock_short", sku=short.sku, missing=short.missing,
                                  shortages=[{"sku": x.sku, "missing": x.missing} for x in plan.shortages]), [])
    session = PickSession(order, picker.operator, plan.tasks)
    return Outcome(session, make("pick_started", order_id=order.order_id, tasks=len(plan.tasks),
                                 bin=plan.tasks[0].bin or "-"), [])


def _pending(s: PickSession) -> PickPending:
    if s.pending is None:
        raise StationError(f"bug: nothing pending in state {s.state}")
    return s.pending


def _current(s: PickSession) -> int:
    current = s.current
    if current is None:
        raise StationError(f"bug: no task left in state {s.state}")
    return current


def pick_step(session: PickSession, event: Any, ctx: PickContext) -> Outcome:
    """Apply one picking event; refusals leave the session unchanged and have no effects."""
    return MACHINE.run(session, event, ctx)


def _scan_bin(s: PickSession, e: ScanBin, ctx: PickContext) -> Outcome:
    task = s.tasks[_current(s)]
    if e.code.strip() != task.bin:
        return refuse(s, "wrong_bin", bin=e.code, expected_bin=task.bin)
    left = task.qty - s.done(_current(s))
    return Outcome(replace(s, state=P.AT_BIN), make("bin_ok", bin=task.bin, qty=left, sku=task.sku, name=task.name,
                                                    lot=task.lot or "-"), [])


def _scan_item(s: PickSession, e: ScanItem, ctx: PickContext) -> Outcome:
    current = s.tasks[_current(s)]
    sku = ctx.catalog.sku(e.code)
    if sku is None:
        return refuse(s, "unknown_item", code=e.code)
    if s.order.qty_for(sku.sku) == 0:
        return refuse(s, "pick_not_in_order", sku=sku.sku, name=sku.name, order_id=s.order.order_id,
                      bin=current.bin or "-")
    here = [i for i, t in enumerate(s.tasks) if t.bin == current.bin and t.sku == sku.sku and s.done(i) < t.qty]
    if not here:
        if sum(1 for u in s.picked if u.sku == sku.sku) >= s.order.qty_for(sku.sku):
            return refuse(s, "over_quantity", sku=sku.sku, order_id=s.order.order_id, ordered=s.order.qty_for(sku.sku))
        return refuse(s, "wrong_item", sku=sku.sku, bin=current.bin or "-", expected_sku=current.sku)
    taken = Counter(u.lot for u in s.picked if u.sku == sku.sku and u.lot)
    check = check_lot(sku, e.lot, less_taken(ctx.catalog.lots_for(sku.sku), taken), ctx.today, ctx.lot_policy,
                      expires=e.expires, produced=e.produced, require_lot=ctx.require_lot)
    task = next((i for i in here if s.tasks[i].lot == e.lot), here[0])
    unit = PickedUnit(task, sku.sku, e.lot, current.bin)
    if check.verdict is not None and check.verdict.status == "error":
        return Outcome(s, check.verdict, [])
    if check.verdict is not None:
        pending = PickPending(unit, check.verdict.code, check.older.lot if check.older else None,
                              check.older.bin if check.older else None)
        return Outcome(replace(s, state=P.AWAITING_FIFO_DECISION, pending=pending), check.verdict, [])
    return _count(s, unit)


def _count(s: PickSession, unit: PickedUnit, effects: tuple[Effect, ...] = (),
           verdict: Callable[[str], Any] | None = None) -> Outcome:
    new = replace(s, picked=s.picked + (unit,), pending=None)
    nxt = new.current
    task = s.tasks[unit.task]
    if nxt is None:
        new = replace(new, state=P.TO_TOTE)
        shown = make("pick_complete", tote=s.order.tote or "-")
    elif s.tasks[nxt].bin == unit.bin:
        new = replace(new, state=P.AT_BIN)
        shown = make("item_picked", sku=task.sku, picked=new.done(unit.task), qty=task.qty, bin=unit.bin or "-")
    else:
        new = replace(new, state=P.TO_BIN)
        shown = make("go_to_bin", done_bin=unit.bin or "-", bin=s.tasks[nxt].bin or "-")
    if verdict is not None:
        shown = verdict(shown.next)
    return Outcome(new, shown, list(effects))


def _put_back(s: PickSession, e: PutBack, ctx: PickContext) -> Outcome:
    unit = _pending(s).unit
    return Outcome(replace(s, state=P.AT_BIN, pending=None), make("item_put_back", sku=unit.sku, lot=unit.lot or "-"), [])


def _fifo_take_older(s: PickSession, e: FifoTakeOlder, ctx: PickContext) -> Outcome:
    p = _pending(s)
    if p.older_lot is None:
        return _put_back(s, PutBack(), ctx)
    audit = AuditEntry("lot_swap", s.picker.employee_id, {"sku": p.unit.sku, "lot": p.unit.lot},
                       {"sku": p.unit.sku, "lot": p.older_lot, "bin": p.older_bin}, p.code)
    return Outcome(replace(s, state=P.AT_BIN, pending=None),
                   make("lot_swap", lot=p.unit.lot, older_lot=p.older_lot, older_bin=p.older_bin or "-", sku=p.unit.sku,
                        packed=s.done(s.current) if s.current is not None else 0,
                        ordered=s.tasks[s.current].qty if s.current is not None else 0), [audit])


def _fifo_override(s: PickSession, e: FifoOverride, ctx: PickContext) -> Outcome:
    found = authorise_override(ctx.catalog, e.uid, e.reason, s.picker.employee_id, ctx.allow_self_override,
                               e.present)
    if not isinstance(found, Employee):
        code, data = found
        return refuse(s, code, "scan_supervisor_badge", **data)
    p, reason = _pending(s), e.reason.strip()
    unit = replace(p.unit, approved_by=found.employee_id)
    audit = AuditEntry("lot_override", found.employee_id, {"sku": unit.sku, "suggested_lot": p.older_lot,
                                                          "suggested_bin": p.older_bin, "code": p.code},
                       {"sku": unit.sku, "lot": unit.lot}, reason)
    conf = Confirmation("override", "order", s.order.order_id,
                        {"kind": "lot", "code": p.code, "sku": unit.sku, "lot": unit.lot, "suggested_lot": p.older_lot,
                         "reason": reason, "picker": s.picker.employee_id}, found.employee_id)
    return _count(s, unit, (audit, conf), lambda nxt: make("lot_overridden", next=nxt, sku=unit.sku,
                                                           lot=unit.lot or "-", supervisor=found.name, reason=reason))


def _scan_tote(s: PickSession, e: ScanTote, ctx: PickContext) -> Outcome:
    tote = e.code.strip()
    if s.order.tote and tote != s.order.tote:
        return refuse(s, "wrong_tote", tote=tote, expected_tote=s.order.tote)
    effects: list[Effect] = []
    for sku, ordered in s.order.quantities().items():  # one pick per SKU, lot and bin, located at the bin
        per_lot = Counter((u.lot, u.bin) for u in s.picked if u.sku == sku)
        for (lot, bin_), n in sorted(per_lot.items(), key=str):
            approved = sorted({u.approved_by for u in s.picked
                               if (u.sku, u.lot, u.bin) == (sku, lot, bin_) and u.approved_by})
            effects.append(Confirmation("pick", "order", s.order.order_id,
                                        {"sku": sku, "lot": lot, "bin": bin_, "qty": n, "ordered": ordered,
                                         "tote": tote, "approved_by": approved},
                                        s.picker.employee_id, location=bin_))
    effects.append(Confirmation("tote_load", "tote", tote, {"order_id": s.order.order_id, "units": s.order.units},
                                s.picker.employee_id))
    return Outcome(replace(s, state=P.PICKED), make("order_picked", order_id=s.order.order_id, tote=tote), effects)


_HANDLERS: dict[str, Callable[..., Outcome]] = {
    "scan_bin": _scan_bin, "scan_item": _scan_item, "put_back": _put_back, "fifo_take_older": _fifo_take_older,
    "fifo_override": _fifo_override, "scan_tote": _scan_tote,
}

MACHINE: Machine[Any, Any] = Machine("PICK_TRANSITIONS", PICK_TRANSITIONS, _HANDLERS, NEXT_IN_PICK_STATE)
