"""What the workflow asks the persistence layer to record. Plain data, no I/O.

The workflow (``packing.step``, ``picking.step``) returns a list of these with every outcome;
the station writes them in the *same* transaction as the new session state:

* ``Confirmation`` -> ``Outbox.enqueue(conn, action=..., object_type=..., object_id=..., operator=...,
  payload=..., image_sha256=...)`` (device and location are the station's);
* ``AuditEntry``   -> the local audit table (who, when, before, after, reason) for manual changes.

A refusal never produces effects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Confirmation:
    action: str  # badge | scan | verify | weigh | override | pack | cancel | pick | load
    object_type: str  # order | tote | bin | parcel | employee
    object_id: str
    payload: dict[str, Any] = field(default_factory=dict)
    operator: str | None = None  # employee id whose badge the action is recorded against
    image_sha256: str | None = None
    location: str | None = None  # where it happened when not at the station itself, e.g. the bin tag of a pick


@dataclass(frozen=True)
class AuditEntry:
    action: str  # e.g. weight_override, lot_override, lot_swap, reweigh, cancel, abandon, packaging_change
    who: str  # employee id
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


Effect = Confirmation | AuditEntry


class Outcome(NamedTuple):
    """``session, verdict, effects = step(...)``."""

    session: Any
    verdict: Any
    effects: list[Effect]
