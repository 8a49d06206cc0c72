"""The pure rules of interception at a table (订单拦截): which events are steps of the open order, and what a held,
cancelled or changed order makes of a step (``core.order_state`` holds what the WMS decided).

    outcome = answer(session, order_id, step, word, tz=tz, operator=employee_id)   # None: go on with the step

Invariants: a stopped step changes nothing but what its answer says. A cancellation ends the order at this table
(the session moves to ``cancelled``: the next order can be scanned); a hold leaves the session as it is (packing goes
on once the WMS releases the order); a change of lines keeps the counted units that still fit, drops the others (the
packer is told to take them out, the last counted first, never from a closed carton), clears the weighing, the
override and the label, and says what to add; a change of the address or the carrier alone stops the label scan
and the pack of a label printed for the older revision until the label is printed again (a new job). Each answer
carries one ``intercept`` confirmation (order, step, status, reason, decision time, revision); the station records
it once per step and decision. A Stop and a sign-out
are never steps: a packer can always clear the table.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import tzinfo

from packgate.device.clock import isoformat
from packgate.station.core import packing as pk
from packgate.station.core import texts
from packgate.station.core.effects import Confirmation, Outcome
from packgate.station.core.order_state import CANCELLED, INTERCEPT, WmsWord, clock_time, line_changes
from packgate.station.core.texts import Word
from packgate.station.core.verdicts import make
from packgate.station.core.words import WORD

FREE_EVENTS = frozenset({"cancel", "sign_out"})


def step_of(session: pk.PackSession, event_name: str) -> str | None:
    """The step ``event_name`` is of the order open in ``session``; None when it is not one (no order open, a Stop,
    a sign-out, a badge that signs out or takes over)."""
    if event_name in FREE_EVENTS or session.order is None or session.state not in pk.ORDER_STATES:
        return None
    if event_name == "badge" and session.state is not pk.State.AWAITING_SECOND_BADGE:
        return None
    return event_name


def answer(session: pk.PackSession, order_id: str, step: str, word: WmsWord | None, *, tz: tzinfo | None,
           operator: str | None) -> Outcome | None:
    """What ``step`` of ``order_id`` becomes given the WMS's ``word``: the INTERCEPTED refusal (held, cancelled),
    verification re-opened (the order open here has other lines now), or None (go on)."""
    if word is None:
        return None
    if word.stops:
        return _stop(session, order_id, step, word, tz, operator)
    here = _open_here(session, order_id)
    wanted = word.quantities()
    if here and session.order is not None and wanted is not None and wanted != session.order.quantities():
        return _reopen(session, step, word, tz, operator)
    if here and outdated_label(session, word) and step != "reprint":
        return _relabel(session, step, word, tz, operator)
    return None


def outdated_label(session: pk.PackSession, word: WmsWord | None) -> bool:
    """The label waiting for its scan was printed for an older revision of the order (the WMS changed its address
    or carrier since): nothing goes on with it until the label is printed again for the new revision."""
    label = session.label
    return word is not None and session.state is pk.State.LABEL_PRINTED and label is not None \
        and word.revision > label.revision


def _relabel(session: pk.PackSession, step: str, word: WmsWord, tz: tzinfo | None, operator: str | None) -> Outcome:
    assert session.order is not None and session.label is not None
    order_id = session.order.order_id
    verdict = make("label_outdated", order_id=order_id, time=clock_time(word.at, tz), revision=word.revision,
                   waybill=session.label.waybill, wms_status="changed", step=step,
                   at=isoformat(word.at) if word.at else None)
    payload = {**_payload(session, order_id, step, word), "status": "changed", "waybill": session.label.waybill,
               "carrier": word.carrier, "address": word.address}
    return Outcome(session, verdict, [Confirmation(INTERCEPT, "order", order_id, payload, operator)])


def _open_here(session: pk.PackSession, order_id: str) -> bool:
    return session.order is not None and session.order.order_id == order_id and session.state in pk.ORDER_STATES


def _payload(session: pk.PackSession, order_id: str, step: str, word: WmsWord) -> dict:
    here = _open_here(session, order_id)
    return {"step": step, "status": word.status, "reason": word.reason, "at": isoformat(word.at) if word.at else None,
            "revision": word.revision, "state": str(session.state), "units_scanned": len(session.units) if here else 0}


def _stop(session: pk.PackSession, order_id: str, step: str, word: WmsWord, tz: tzinfo | None,
          operator: str | None) -> Outcome:
    ends = word.status == CANCELLED and _open_here(session, order_id)
    new = replace(session, state=pk.State.CANCELLED, pending=None) if ends else session
    verdict = make("intercepted", next="interception_bin" if word.status == CANCELLED else "interception_bin_held",
                   order_id=order_id, what=Word(f"word:{word.status}"), time=clock_time(word.at, tz),
                   reason=word.reason or Word("word:no_reason"), wms_status=word.status, step=step,
                   at=isoformat(word.at) if word.at else None)
    conf = Confirmation(INTERCEPT, "order", order_id, _payload(session, order_id, step, word), operator)
    return Outcome(new, verdict, [conf])


def _reopen(session: pk.PackSession, step: str, word: WmsWord, tz: tzinfo | None, operator: str | None) -> Outcome:
    assert session.order is not None and word.lines is not None
    wanted = word.quantities() or {}
    add, take_out = line_changes(Counter(u.sku for u in session.units), wanted)
    kept = list(session.units)
    for sku, n in take_out.items():
        for i in range(len(kept) - 1, session.closed_units - 1, -1):
            if n and kept[i].sku == sku:
                del kept[i]
                n -= 1
    counted = replace(session, order=replace(session.order, lines=word.lines), units=tuple(kept))
    state = pk.State.ORDER_OPEN if not kept else \
        pk.State.READY_TO_WEIGH if counted.complete and counted.packaging else pk.State.SCANNING
    new = replace(counted, state=state, pending=None, weight=None, override=None, label=None, weighings=0)
    order_id = session.order.order_id
    verdict = make("order_changed", order_id=order_id, time=clock_time(word.at, tz), revision=word.revision,
                   todo=_todo("en", add, take_out), todo_zh=_todo("zh", add, take_out), add=add, take_out=take_out,
                   step=step, at=isoformat(word.at) if word.at else None)
    payload = {**_payload(session, order_id, step, word), "status": "changed", "add": add, "take_out": take_out,
               "lines": [line.as_dict() for line in word.lines]}
    return Outcome(new, verdict, [Confirmation(INTERCEPT, "order", order_id, payload, operator)])


def _todo(lang: str, add: dict[str, int], take_out: dict[str, int]) -> str:
    """What the packer changes in the parcel, in ``lang``: what to take out first, then what to add."""
    def say(key: str, sku: str, n: int) -> str:
        return texts.text(lang, f"word:{key}", WORD[key][lang == "zh"]).format(n=n, sku=sku)

    parts = [say("take_out", sku, n) for sku, n in take_out.items()] + [say("add", sku, n) for sku, n in add.items()]
    if not parts:
        return texts.text(lang, "word:nothing_to_change", WORD["nothing_to_change"][lang == "zh"])
    return ("; " if lang == "en" else "；").join(parts)
