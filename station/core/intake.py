"""Where input becomes a core event: a scan, a badge tap or a scale reading, for the kiosk and the PDA alike.

Every guess about what a code means is made here, once: a badge taps in (or approves, when a supervisor's
reason is waiting), an order or tote opens, a box is chosen, an item is counted; a code of no known kind
is tried as what the session is waiting for. A scale reading weighs a parcel that is ready and steady,
weighs a blocked parcel again when it was corrected, and lifting a weighed parcel off the scale packs it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from packgate.device.codes import canonical_badge
from packgate.device.scale.reading import Reading
from packgate.device.scanner.barcode import Scan
from packgate.station.core import labels as lb
from packgate.station.core import packing as pk
from packgate.station.core import picking as pick
from packgate.station.core.models import CatalogView

MIN_PARCEL_G = Decimal("5")  # a stable reading below this is an empty scale
_GRAMS = re.compile(r"[0-9]{1,7}(\.[0-9]{1,3})?")  # ASCII digits only: no "2_15", "２１５", "1e309", "NaN"


def grams(value: object, capacity_g: Decimal) -> Decimal | str:
    """A weight typed or sent by a client: a plain ASCII decimal string within 0..``capacity_g``, or the
    ``verdicts.FIELD_RULES`` code of the rule it breaks."""
    if not isinstance(value, str):
        return "not_a_json_number"
    if not _GRAMS.fullmatch(value):
        return "decimal_string"
    parsed = Decimal(value)
    return parsed if parsed <= capacity_g else "in_scale_range"
ITEM_KINDS = ("gs1", "gtin")


@dataclass(frozen=True)
class Reject:
    """Input nobody can use: kept for review with the reason."""

    raw: str
    reason: str


@dataclass(frozen=True)
class WrongCode:
    """A code of a known kind that has no place at this terminal (e.g. a bin label at the kiosk)."""

    kind: str
    code: str


def badge(uid: str, state: pk.State, override_reason: str | None, *, present: bool) -> pk.Event:
    """A badge at the kiosk: an approval while a supervisor's reason waits on a blocked parcel or a lot
    decision, else a sign-in, second badge or sign-out (the packing machine decides which).

    ``present`` is the proof that the person is there: a tap on this station's own reader, or badge + PIN
    checked by the station. A typed or scanned badge code is not, and never authorises anything."""
    code = canonical_badge(uid)
    if override_reason and state is pk.State.BLOCKED:
        return pk.SupervisorOverride(code, override_reason, present)
    if override_reason and state is pk.State.AWAITING_FIFO_DECISION:
        return pk.FifoOverride(code, override_reason, present)
    return pk.Badge(code, present)


def approval(uid: str, reason: str, state: pk.State, *, present: bool) -> pk.Event:
    """A supervisor's approval of what the session waits on: the weight of a blocked parcel, else a lot."""
    code = canonical_badge(uid)
    return pk.SupervisorOverride(code, reason, present) if state is pk.State.BLOCKED \
        else pk.FifoOverride(code, reason, present)


def item(scan: Scan) -> pk.ScanItem:
    return pk.ScanItem(scan.gtin or scan.value, scan.lot, scan.expiry, scan.production, scan.serial)


def no_waybills(code: str) -> str | None:
    return None


def kiosk_scan(scan: Scan, session: pk.PackSession, override_reason: str | None,
               catalog: CatalogView, waybill_owner: Callable[[str], str | None] = no_waybills,
               ) -> pk.Event | Reject | WrongCode:
    """``waybill_owner(code)``: the order a waybill known to the station belongs to (labels it printed or
    holds pre-issued); while a printed label waits for its scan, every code is tried as that label."""
    kind, value = scan.kind, scan.value
    if kind == "badge":
        return badge(value, session.state, override_reason, present=False)  # typed or scanned: not a tap
    waybill = scan.raw.strip() or value  # as printed: a numeric waybill must not become a 14-digit GTIN
    if session.state is pk.State.LABEL_PRINTED:
        return lb.ScanLabel(waybill, waybill_owner(waybill))
    if scan.error and kind == "unknown":
        return Reject(scan.raw, scan.error)
    owner = waybill_owner(waybill) if session.state in (pk.State.SIGNED_IN, pk.State.PACKED, pk.State.CANCELLED) \
        else None
    if owner is not None:
        return lb.ScanLabel(waybill, owner)
    if kind in ("order", "tote"):
        return pk.OpenOrder(value)
    if kind == "packaging":
        return pk.ChoosePackaging(value)
    if kind in ITEM_KINDS and scan.gtin:
        return item(scan)
    if kind == "unknown" or kind in ITEM_KINDS:
        waiting_for_order = session.state in (pk.State.SIGNED_IN, pk.State.PACKED, pk.State.CANCELLED)
        if waiting_for_order and catalog.order(value):
            return pk.OpenOrder(value)
        if catalog.packaging(value):
            return pk.ChoosePackaging(value)
        if waiting_for_order:  # nothing else is expected: it is read as an order, and refused as an unknown one
            return pk.OpenOrder(value)
        return pk.ScanItem(value)
    return WrongCode(kind, value)


def pda_scan(scan: Scan, state: pick.PickState) -> pick.ScanBin | pick.ScanTote | pk.ScanItem:
    if scan.kind == "bin":
        return pick.ScanBin(scan.value)
    if scan.kind in ("tote", "order"):
        return pick.ScanTote(scan.value)
    if scan.kind in ITEM_KINDS and scan.gtin:
        return item(scan)
    if state is pick.PickState.TO_BIN:
        return pick.ScanBin(scan.value)
    if state is pick.PickState.TO_TOTE:
        return pick.ScanTote(scan.value)
    return pk.ScanItem(scan.value)


@dataclass(frozen=True)
class ScaleIntake:
    events: tuple[pk.Weigh | pk.Pack | pk.Reweigh, ...]
    loaded: bool  # a parcel is on the scale now


AUTO_REWEIGH = "scale_changed"  # the audited reason of a re-weigh the scale itself started


def resolution_g(r: Reading) -> Decimal:
    """The smallest step the reading shows, in grams (e.g. 0.1 for "1200.0 g", 5 for "0.005 kg")."""
    if r.weight is None or r.grams is None or r.weight == 0:
        return Decimal("1")
    step = Decimal(1).scaleb(min(r.weight.as_tuple().exponent, 0))
    return abs(step * r.grams / r.weight)


def reading(state: pk.State, was_loaded: bool, r: Reading, blocked_g: Decimal | None = None,
            lift_packs: bool = True) -> ScaleIntake:
    """A usable (stable) reading: weigh a parcel that waits for the scale; pack one lifted off after it passed
    (the station adds the photo to that ``Pack``); weigh a blocked parcel again, as an audited re-weigh, once
    it was lifted off and put back or its weight moved by more than the scale's resolution from ``blocked_g``.
    Lifting a weighed parcel off does not pack it where the label is the gate (``lift_packs=False``)."""
    if not r.usable or r.grams is None:
        return ScaleIntake((), was_loaded)
    loaded = r.grams >= MIN_PARCEL_G
    if state is pk.State.READY_TO_WEIGH and loaded:
        return ScaleIntake((pk.Weigh(r.grams, True),), loaded)
    if lift_packs and state is pk.State.WEIGHED_OK and was_loaded and not loaded:
        return ScaleIntake((pk.Pack(),), loaded)
    if state is pk.State.BLOCKED and loaded:
        moved = blocked_g is None or abs(r.grams - blocked_g) > resolution_g(r)
        if not was_loaded or moved:
            return ScaleIntake((pk.Reweigh(AUTO_REWEIGH), pk.Weigh(r.grams, True)), loaded)
    return ScaleIntake((), loaded)
