"""The dock hand-over rules (扫码出库), pure: may this parcel go into this carrier's batch?

A parcel goes to a carrier only when its order is packed (every check passed, or a supervisor approved), the WMS
has not intercepted it (held or cancelled, ``core.order_state``), it is not already handed over (in any batch of the
site: the hub says which batch holds it), and its order is not booked with another carrier. Each refusal is a
verdict code from ``core.verdicts`` (both languages). The same rules judge a parcel of this table (from the station's
own tables) and a parcel of another table of the site (from the hub's facts): ``station/dock.py`` gathers the facts.
"""
from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Batch:
    batch_id: str
    carrier: str
    closed: bool


def check(parcel: Parcel | None, code: str, batch: Batch) -> Verdict:
    """The verdict for scanning ``code`` (a parcel's label) into ``batch``."""
    if batch.closed:
        return make("dock_batch_closed", batch_id=batch.batch_id)
    if parcel is None:
        return make("dock_unknown_parcel", code=code)
    if order_state.intercepted(parcel.wms_status):
        status = str(parcel.wms_status).lower()
        return make("dock_intercepted", order_id=parcel.order_id, wms_status=Word(f"order_status:{status}"),
                    reason=parcel.wms_reason, because=f" ({parcel.wms_reason})" if parcel.wms_reason else "",
                    because_zh=f"（{parcel.wms_reason}）" if parcel.wms_reason else "")
    if parcel.handed_over_in is not None:
        return make("dock_already_handed_over", order_id=parcel.order_id, batch_id=parcel.handed_over_in)
    if parcel.status != "packed":
        return make("dock_not_packed", order_id=parcel.order_id, order_status=parcel.status or "unknown")
    if parcel.carrier and parcel.carrier != batch.carrier:
        return make("dock_wrong_carrier", order_id=parcel.order_id, carrier=parcel.carrier,
                    batch_carrier=batch.carrier)
    return make("dock_parcel_added", order_id=parcel.order_id, batch_id=batch.batch_id, carrier=batch.carrier)
