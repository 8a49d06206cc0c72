"""The pure rules of a return at the table (逆向物流): receive the parcel against its RMA, check each unit against
what was shipped, grade it, weigh the returned units, close.

    outcome = receive(session, rma, operator)             # the RMA found by its waybill or id
    outcome = item(session, ItemScan(...), sku, operator) # each returned unit
    outcome = approve(session, supervisor)                # a unit that is not the one shipped (调包)
    outcome = second(session, employee)                   # a special item's second badge
    outcome = grade(session, index, grade, reason, photo, putaway, operator)
    outcome = weigh(session, grams, expected, tolerance, operator)
    outcome = close(session, operator)

Invariants: a refusal changes nothing and records nothing. Every step that happened carries exactly one
confirmation (``return_received``, ``return_item``, ``return_graded``, ``return_closed``); the weighing is part of
the evidence and of ``return_closed``. A unit whose serial or lot is not among what was shipped for its SKU
waits for a supervisor (the return goes to review whatever its grade); a special item waits for a second person.
The return closes only when every unit scanned is graded and the returned units were weighed; its outcome is
``refund`` when every unit the RMA announced came back graded A, none was swapped and the weight matched, else
``review`` (the WMS decides, with the same rule: ``sync/upstream/returns.py``).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Mapping

from packgate.station.core import texts
from packgate.station.core.effects import AuditEntry, Confirmation, Outcome
from packgate.station.core.models import Employee, Sku
from packgate.station.core.verdicts import grams, make
from packgate.station.core.words import REASON

RECEIVED, ITEM, GRADED, CLOSED = "return_received", "return_item", "return_graded", "return_closed"
ACTIONS = (RECEIVED, ITEM, GRADED, CLOSED)
GRADES = ("A", "B", "C")  # resellable, light wear, not resellable
# the reason codes a grader picks for a B or C unit (A needs none)
GRADE_REASONS = ("packaging_opened", "signs_of_use", "scratched", "missing_parts", "damaged", "stained",
                 "expired", "seal_broken", "not_working", "other")
REFUND, REVIEW = "refund", "review"
SWAP_WORDS = {"serial": "序列号", "lot": "批次"}  # what did not match, in Chinese (the English is the field's name)


class State:
    IDLE = "idle"
    OPEN = "open"
    SWAP_REVIEW = "swap_review"  # a unit not the one shipped: a supervisor decides
    SECOND_BADGE = "second_badge"  # a special item: a second person confirms
    CLOSED = "closed"


@dataclass(frozen=True)
class Rma:
    rma_id: str
    order_id: str
    waybill: str | None
    reason: str
    lines: Mapping[str, int]
    shipped: tuple[Mapping[str, Any], ...] = ()  # what was packed: sku, lot, serial per unit
    outbound: Mapping[str, Any] = field(default_factory=dict)  # weight, photo, clip, station, packed_at

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Rma | None":
        """The RMA of a reference row, or None when the row cannot be one (no id, order or lines)."""
        lines: dict[str, int] = {}
        for line in row.get("lines") or ():
            if isinstance(line, dict) and isinstance(line.get("sku"), str) and isinstance(line.get("qty"), int) \
                    and not isinstance(line.get("qty"), bool) and line["qty"] > 0:
                lines[line["sku"]] = lines.get(line["sku"], 0) + line["qty"]
        if not isinstance(row.get("rma_id"), str) or not isinstance(row.get("order_id"), str) or not lines:
            return None
        sent = row.get("shipped")
        shipped: Mapping[str, Any] = sent if isinstance(sent, dict) else {}
        units = tuple(u for u in shipped.get("units") or () if isinstance(u, dict) and isinstance(u.get("sku"), str))
        outbound = {k: v for k, v in shipped.items() if k != "units"}
        return cls(row["rma_id"], row["order_id"], row.get("waybill") if isinstance(row.get("waybill"), str) else None,
                   str(row.get("reason") or "unspecified"), lines, units, outbound)

    def as_dict(self) -> dict[str, Any]:
        return {"rma_id": self.rma_id, "order_id": self.order_id, "waybill": self.waybill, "reason": self.reason,
                "lines": [{"sku": s, "qty": q} for s, q in self.lines.items()],
                "shipped": {"units": [dict(u) for u in self.shipped], **self.outbound}}


@dataclass(frozen=True)
class ReturnedUnit:
    sku: str
    serial: str | None
    lot: str | None
    swapped: str | None = None  # "serial" or "lot": not what was shipped
    approved_by: str | None = None  # the supervisor who let a swapped unit in
    second_by: str | None = None
    grade: str | None = None
    reason: str | None = None
    photo: str | None = None
    putaway: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "serial": self.serial, "lot": self.lot, "swapped": self.swapped,
                "approved_by": self.approved_by, "second_by": self.second_by, "grade": self.grade,
                "reason": self.reason, "photo": self.photo, "putaway": dict(self.putaway) if self.putaway else None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ReturnedUnit":
        return cls(d["sku"], d.get("serial"), d.get("lot"), d.get("swapped"), d.get("approved_by"),
                   d.get("second_by"), d.get("grade"), d.get("reason"), d.get("photo"), d.get("putaway"))


@dataclass(frozen=True)
class ItemScan:
    sku: str
    serial: str | None = None
    lot: str | None = None


@dataclass(frozen=True)
class Weighing:
    measured_g: Decimal
    expected_g: Decimal
    allowed_g: Decimal

    @property
    def gap_g(self) -> Decimal:
        return self.measured_g - self.expected_g

    @property
    def flagged(self) -> bool:
        return abs(self.gap_g) > self.allowed_g

    def as_dict(self) -> dict[str, Any]:
        return {"measured_g": grams(self.measured_g), "expected_g": grams(self.expected_g),
                "gap_g": grams(self.gap_g), "allowed_g": grams(self.allowed_g), "flagged": self.flagged}


@dataclass(frozen=True)
class ReturnSession:
    state: str = State.IDLE
    rma: Rma | None = None
    units: tuple[ReturnedUnit, ...] = ()
    pending: ReturnedUnit | None = None
    weighing: Weighing | None = None
    operator: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "rma": self.rma.as_dict() if self.rma else None,
                "units": [u.as_dict() for u in self.units],
                "pending": self.pending.as_dict() if self.pending else None,
                "weighing": self.weighing.as_dict() if self.weighing else None, "operator": self.operator}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ReturnSession":
        w = d.get("weighing")
        return cls(d.get("state", State.IDLE), Rma.from_row(d["rma"]) if d.get("rma") else None,
                   tuple(ReturnedUnit.from_dict(u) for u in d.get("units") or ()),
                   ReturnedUnit.from_dict(d["pending"]) if d.get("pending") else None,
                   Weighing(Decimal(w["measured_g"]), Decimal(w["expected_g"]), Decimal(w["allowed_g"])) if w else None,
                   d.get("operator"))

    def remaining(self) -> dict[str, int]:
        """Units the RMA announced that have not come back yet, per SKU."""
        if self.rma is None:
            return {}
        back = Counter(u.sku for u in self.units)
        return {s: q - back[s] for s, q in self.rma.lines.items() if q - back[s] > 0}

    def outcome(self) -> tuple[str, list[str]]:
        """``refund`` or ``review``, with why a review."""
        why = []
        if self.remaining():
            why.append("units_missing")
        if any(u.grade != "A" for u in self.units):
            why.append("not_all_grade_a")
        if any(u.swapped for u in self.units):
            why.append("not_the_unit_shipped")
        if self.weighing is None or self.weighing.flagged:
            why.append("weight_gap")
        return (REVIEW, why) if why else (REFUND, [])


def refuse(s: ReturnSession, code: str, /, **data: Any) -> Outcome:
    return Outcome(s, make(code, **data), [])


def _conf(s: ReturnSession, action: str, payload: dict[str, Any], operator: str | None,
          image: str | None = None) -> Confirmation:
    assert s.rma is not None
    return Confirmation(action, "rma", s.rma.rma_id, {"rma_id": s.rma.rma_id, "order_id": s.rma.order_id, **payload},
                        operator, image_sha256=image)


def receive(s: ReturnSession, rma: Rma, operator: str) -> Outcome:
    if s.state != State.IDLE and s.state != State.CLOSED:
        assert s.rma is not None
        return refuse(s, "return_busy", rma_id=s.rma.rma_id)
    new = ReturnSession(State.OPEN, rma, operator=operator)
    units = sum(rma.lines.values())
    conf = _conf(new, RECEIVED, {"waybill": rma.waybill, "reason": rma.reason, "lines": rma.as_dict()["lines"]},
                 operator)
    return Outcome(new, make("return_received", rma_id=rma.rma_id, order_id=rma.order_id, units=units,
                             reason=rma.reason), [conf])


def item(s: ReturnSession, scan: ItemScan, sku: Sku | None, operator: str) -> Outcome:
    if s.rma is None or s.state == State.CLOSED or s.state == State.IDLE:
        return refuse(s, "return_none_open")
    if s.state != State.OPEN:
        return refuse(s, "return_waiting_badge")
    if sku is None or sku.sku not in s.rma.lines:
        return refuse(s, "return_item_not_in_rma", code=sku.sku if sku else scan.sku, rma_id=s.rma.rma_id)
    if s.remaining().get(sku.sku, 0) <= 0:
        return refuse(s, "return_item_extra", sku=sku.sku, qty=s.rma.lines[sku.sku])
    if scan.serial and any(u.sku == sku.sku and u.serial == scan.serial for u in s.units):
        return refuse(s, "return_item_twice", sku=sku.sku, serial=scan.serial)
    unit = ReturnedUnit(sku.sku, scan.serial, scan.lot or _shipped_lot(s.rma, sku.sku, scan.serial))
    swapped = _swapped(s.rma, unit)
    if swapped:
        shipped = ", ".join(sorted({str(u.get(swapped)) for u in s.rma.shipped if u["sku"] == sku.sku
                                    and u.get(swapped)})) or "-"
        held = replace(unit, swapped=swapped)
        return Outcome(replace(s, state=State.SWAP_REVIEW, pending=held),
                       make("return_not_our_unit", sku=sku.sku, what=swapped, what_zh=SWAP_WORDS[swapped],
                            got=getattr(unit, swapped) or "-", shipped=shipped), [])
    if sku.special:
        return Outcome(replace(s, state=State.SECOND_BADGE, pending=unit),
                       make("return_second_badge", sku=sku.sku), [])
    return _take(s, unit, operator)


def _take(s: ReturnSession, unit: ReturnedUnit, operator: str | None) -> Outcome:
    assert s.rma is not None
    new = replace(s, state=State.OPEN, pending=None, units=s.units + (unit,))
    conf = _conf(new, ITEM, {"index": len(s.units), **unit.as_dict(), "remaining": new.remaining()}, operator)
    verdict = make("return_item_taken", sku=unit.sku, index=len(s.units) + 1, left=sum(new.remaining().values()),
                   status="blocked" if unit.swapped else None)
    return Outcome(new, verdict, [conf])


def approve(s: ReturnSession, supervisor: Employee, reason: str) -> Outcome:
    """A supervisor takes the unit that is not the one shipped into the return (it goes to review) or refuses it."""
    if s.state != State.SWAP_REVIEW or s.pending is None:
        return refuse(s, "return_nothing_to_approve")
    if supervisor.role != "supervisor":
        return refuse(s, "return_supervisor_needed", name=supervisor.name)
    if not reason.strip():
        return refuse(s, "return_reason_needed")
    unit = replace(s.pending, approved_by=supervisor.employee_id)
    taken = _take(s, unit, supervisor.employee_id)
    audit = AuditEntry("return_swap_accepted", supervisor.employee_id, {"pending": s.pending.as_dict()},
                       {"unit": unit.as_dict()}, reason.strip())
    return Outcome(taken.session, taken.verdict, [*taken.effects, audit])


def put_aside(s: ReturnSession) -> Outcome:
    """The unit waiting for a badge is not taken (it stays out of the return)."""
    if s.pending is None:
        return refuse(s, "return_nothing_to_approve")
    return Outcome(replace(s, state=State.OPEN, pending=None), make("return_item_put_aside", sku=s.pending.sku), [])


def second(s: ReturnSession, employee: Employee) -> Outcome:
    if s.state != State.SECOND_BADGE or s.pending is None:
        return refuse(s, "return_nothing_to_approve")
    if employee.employee_id == s.operator:
        return refuse(s, "return_second_same_person")
    return _take(s, replace(s.pending, second_by=employee.employee_id), s.operator)


def grade(s: ReturnSession, index: int, mark: str, reason: str | None, photo: str | None,
          putaway: Mapping[str, Any] | None) -> Outcome:
    if s.rma is None or s.state not in (State.OPEN,):
        return refuse(s, "return_none_open" if s.rma is None else "return_waiting_badge")
    if not 0 <= index < len(s.units):
        return refuse(s, "return_no_such_unit", index=index + 1, units=len(s.units))
    if mark not in GRADES:
        return refuse(s, "return_bad_grade", grade=mark)
    if mark != "A" and reason not in GRADE_REASONS:
        return refuse(s, "return_grade_reason", grade=mark, reasons=", ".join(GRADE_REASONS))
    unit = replace(s.units[index], grade=mark, reason=reason if mark != "A" else None, photo=photo,
                   putaway=putaway if mark == "A" else None)
    units = s.units[:index] + (unit,) + s.units[index + 1:]
    new = replace(s, units=units)
    conf = _conf(new, GRADED, {"index": index, **unit.as_dict()}, s.operator, image=photo)
    status = "ok" if mark == "A" else "prompt" if mark == "B" else "blocked"
    where = (putaway or {}).get("bin") or "-"
    verdict = make("return_graded_a" if mark == "A" else "return_graded", sku=unit.sku, grade=mark,
                   reason=reason or "-", lot=(putaway or {}).get("lot") or unit.lot or "-", bin=where, status=status)
    return Outcome(new, verdict, [conf])


def weigh(s: ReturnSession, measured: Decimal, expected: Decimal, allowed: Decimal) -> Outcome:
    if s.rma is None or s.state != State.OPEN:
        return refuse(s, "return_none_open" if s.rma is None else "return_waiting_badge")
    if not s.units:
        return refuse(s, "return_weigh_after_items")
    w = Weighing(measured, expected, allowed)
    new = replace(s, weighing=w)
    if w.flagged:
        return Outcome(new, make("return_weight_gap", measured=grams(measured), expected=grams(expected),
                                 gap=grams(w.gap_g), allowed=grams(allowed)), [])
    return Outcome(new, make("return_weight_ok", measured=grams(measured), expected=grams(expected)), [])


def close(s: ReturnSession, evidence_sha256: str | None = None, clip_sha256: str | None = None) -> Outcome:
    if s.rma is None or s.state == State.CLOSED or s.state == State.IDLE:
        return refuse(s, "return_none_open")
    if s.state != State.OPEN:
        return refuse(s, "return_waiting_badge")
    ungraded = [i + 1 for i, u in enumerate(s.units) if u.grade is None]
    if not s.units:
        return refuse(s, "return_close_empty")
    if ungraded:
        return refuse(s, "return_close_ungraded", units=", ".join(map(str, ungraded)))
    if s.weighing is None:
        return refuse(s, "return_close_unweighed")
    result, why = s.outcome()
    new = replace(s, state=State.CLOSED, pending=None)
    grades = Counter(u.grade for u in s.units)
    payload = {"reason": s.rma.reason, "units": [u.as_dict() for u in s.units], "missing": s.remaining(),
               "grades": {g: grades.get(g, 0) for g in GRADES}, "weight": s.weighing.as_dict(),
               "outcome": result, "review_reasons": why, "evidence_sha256": evidence_sha256, "clip_sha256": clip_sha256}
    verdict = make("return_closed_refund" if result == REFUND else "return_closed_review", rma_id=s.rma.rma_id,
                   why=_words("en", why), why_zh=_words("zh", why), outcome=result)
    return Outcome(new, verdict, [_conf(new, CLOSED, payload, s.operator)])


def _words(lang: str, codes: list[str]) -> str:
    said = [texts.text(lang, f"reason:{c}", REASON[c][lang == "zh"]) if c in REASON else c for c in codes]
    return ("、" if lang == "zh" else ", ").join(said) or "-"


def expected_weight(units: tuple[ReturnedUnit, ...], skus: Mapping[str, Sku | None]) -> Decimal:
    """What the returned units should weigh (catalog weights; a unit without one counts nothing)."""
    total = Decimal(0)
    for u in units:
        sku = skus.get(u.sku)
        if sku is not None and sku.unit_weight_g is not None:
            total += sku.unit_weight_g
    return total


def allowed_gap(expected: Decimal, pct: Decimal, floor_g: Decimal) -> Decimal:
    return max(expected * pct / 100, floor_g)


def _shipped_lot(rma: Rma, sku: str, serial: str | None) -> str | None:
    for u in rma.shipped:
        if u["sku"] == sku and (serial is None or u.get("serial") == serial) and u.get("lot"):
            return str(u["lot"])
    return None


def _swapped(rma: Rma, unit: ReturnedUnit) -> str | None:
    """``serial`` or ``lot`` when the unit is not among what was shipped for its SKU (only what was recorded counts)."""
    shipped = [u for u in rma.shipped if u["sku"] == unit.sku]
    serials = {u.get("serial") for u in shipped if u.get("serial")}
    if serials and unit.serial not in serials:
        return "serial"
    lots = {u.get("lot") for u in shipped if u.get("lot")}
    if lots and unit.lot is not None and unit.lot not in lots:
        return "lot"
    return None
