"""The dock hand-over rules (扫码出库), pure: may this parcel go into this carrier's batch?

A parcel goes to a carrier only when its order is packed (every check passed, or a supervisor approved),
it is not already handed over, and its order is not booked with another carrier. Each refusal is a verdict
code from ``core.verdicts`` (both languages).
"""
from __future__ import annotations

from dataclasses import dataclass

from packgate.station.core.verdicts import Verdict, make


@dataclass(frozen=True)
class Parcel:
    order_id: str
    status: str | None  # the station's local order status (packed, blocked, packing, ..., None: never seen)
    carrier: str | None  # the carrier the order is booked with upstream (None: not said)
    handed_over_in: str | None  # the batch that already holds it


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
    if parcel.handed_over_in is not None:
        return make("dock_already_handed_over", order_id=parcel.order_id, batch_id=parcel.handed_over_in)
    if parcel.status != "packed":
        return make("dock_not_packed", order_id=parcel.order_id, order_status=parcel.status or "unknown")
    if parcel.carrier and parcel.carrier != batch.carrier:
        return make("dock_wrong_carrier", order_id=parcel.order_id, carrier=parcel.carrier,
                    batch_carrier=batch.carrier)
    return make("dock_parcel_added", order_id=parcel.order_id, batch_id=batch.batch_id, carrier=batch.carrier)
