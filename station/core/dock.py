"""The dock hand-over rules (扫码出库), pure: may this parcel go into this carrier's batch?

A parcel goes to a carrier only when its order is packed (every check passed, or a supervisor approved), the WMS
has not intercepted it (held or cancelled, ``core.order_state``), it is not already handed over (in any batch of the
site: the hub says which batch holds it), and its order is not booked with another carrier. Each refusal is a
verdict code from ``core.verdicts`` (both languages). The same rules judge a parcel of this table (from the station's
own tables) and a parcel of another table of the site (from the hub's facts): ``station/dock.py`` gathers the facts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from packgate.device.clock import parse_iso
from packgate.station.core import order_state
from packgate.station.core.texts import Word
from packgate.station.core.verdicts import Verdict, make


@dataclass(frozen=True)
class Parcel:
    order_id: str
    status: str | None  # the order's floor status (packed, blocked, packing, ..., None: never seen)
    carrier: str | None  # the carrier the order is booked with upstream (None: not said)
    handed_over_in: str | None  # the batch that already holds it
    wms_status: str | None = None  # the order's status as the WMS decided it (held, cancelled: intercepted)
    wms_reason: str = ""  # why the WMS held or cancelled it
    wms_at: str | None = None  # when it did (ISO 8601 with offset)
    wms_revision: int | None = None  # the revision of the order's contents the WMS was at


@dataclass(frozen=True)
class Batch:
    batch_id: str
    carrier: str
    closed: bool


def wms_word(parcel: Parcel) -> dict[str, Any] | None:
    """The WMS's word on ``parcel``'s order as the dock's facts say it, as an order record (``order_id``,
    ``status``, ``status_reason``, ``status_at``, ``revision``), or None when they say no status."""
    if not isinstance(parcel.wms_status, str) or not parcel.wms_status:
        return None
    status = parcel.wms_status.lower()
    row: dict[str, Any] = {"order_id": parcel.order_id, "status": "cancelled" if status == "canceled" else status,
                           "status_reason": parcel.wms_reason or None, "status_at": parcel.wms_at or None}
    if isinstance(parcel.wms_revision, int) and not isinstance(parcel.wms_revision, bool):
        row["revision"] = parcel.wms_revision
    return row


def _at(text: str | None) -> datetime | None:
    try:
        return parse_iso(text) if text else None
    except ValueError:
        return None


def check(parcel: Parcel | None, code: str, batch: Batch, tz: tzinfo | None = None) -> Verdict:
    """The verdict for scanning ``code`` (a parcel's label) into ``batch``; an intercepted parcel is the same
    INTERCEPTED verdict as every other stopped step (``tz``: the station's, for the decision's time)."""
    if batch.closed:
        return make("dock_batch_closed", batch_id=batch.batch_id)
    if parcel is None:
        return make("dock_unknown_parcel", code=code)
    said = wms_word(parcel)
    if said is not None and order_state.intercepted(said["status"]):
        status = said["status"]
        return make("intercepted", next="interception_bin" if status == order_state.CANCELLED else
                    "interception_bin_held", order_id=parcel.order_id, what=Word(f"word:{status}"),
                    time=order_state.clock_time(_at(said["status_at"]), tz), wms_status=status, step="dock_scan",
                    reason=parcel.wms_reason or Word("word:no_reason"), at=said["status_at"])
    if parcel.handed_over_in is not None:
        return make("dock_already_handed_over", order_id=parcel.order_id, batch_id=parcel.handed_over_in)
    if parcel.status != "packed":
        return make("dock_not_packed", order_id=parcel.order_id, order_status=parcel.status or "unknown")
    if parcel.carrier and parcel.carrier != batch.carrier:
        return make("dock_wrong_carrier", order_id=parcel.order_id, carrier=parcel.carrier,
                    batch_carrier=batch.carrier)
    return make("dock_parcel_added", order_id=parcel.order_id, batch_id=batch.batch_id, carrier=batch.carrier)
