"""The label gate's pure rules: the label modes, the label events of the pack machine, what the station
remembers about a carton's label, and the label request a carton makes. No I/O (station/labels.py does it).

Modes (``label.mode``):

* ``none`` — no printer at this table: a passing weighing, lifted off the scale, packs the carton;
* ``print`` — print at pack: the label is requested and printed only after every rule passed (the weighing
  or a supervisor's override), then the packer scans it on the parcel (``label.verify``): the right waybill
  closes the carton, another order's waybill is refused naming that order;
* ``weigh_and_ship`` (称重发货) — the waybill was printed at picking: scanning it opens the order, and the
  passing weighing is the carton's (the order's) shipment confirmation, sent exactly once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Mapping


class LabelMode(StrEnum):
    NONE = "none"
    PRINT = "print"
    WEIGH_AND_SHIP = "weigh_and_ship"


MODES = tuple(str(m) for m in LabelMode)


# ---------------------------------------------------------------- events of the pack machine


@dataclass(frozen=True)
class CloseCarton:
    """The packer closes the carton in hand (more cartons follow): weigh it on its own. ``code``: its box."""

    code: str | None = None
    name = "close_carton"


@dataclass(frozen=True)
class LabelPrinted:
    """The printer took the carton's label (reported by the station after the job was sent and accepted)."""

    waybill: str
    carton: int
    revision: int = 1  # the WMS's revision of the order the label was requested for (its address and carrier)
    name = "label_printed"


@dataclass(frozen=True)
class ScanLabel:
    """A waybill scanned at the table; ``owner`` is the order it belongs to when the station knows it."""

    code: str
    owner: str | None = None
    name = "scan_label"


@dataclass(frozen=True)
class Reprint:
    """The same label again (audited; the same waybill), or, when the WMS changed the order's address or carrier
    since it was printed, the new label the station printed for it (``waybill``, ``revision``: a new job)."""

    reason: str = "reprint"
    waybill: str | None = None
    revision: int | None = None
    name = "reprint"


LabelEvent = CloseCarton | LabelPrinted | ScanLabel | Reprint


# ---------------------------------------------------------------- what a session remembers


@dataclass(frozen=True)
class LabelInfo:
    """The label of the carton in hand: ``state`` printed | verified, how often it was reprinted, and the WMS's
    revision of the order it was printed for (a later revision may have another address or carrier)."""

    carton: int
    waybill: str
    state: str = "printed"
    reprints: int = 0
    revision: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {"carton": self.carton, "waybill": self.waybill, "state": self.state, "reprints": self.reprints,
                "revision": self.revision}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LabelInfo":
        return cls(int(d["carton"]), str(d["waybill"]), str(d.get("state", "printed")), int(d.get("reprints", 0)),
                   int(d.get("revision", 1)))

    def reprinted(self) -> "LabelInfo":
        return replace(self, reprints=self.reprints + 1)


@dataclass(frozen=True)
class Carton:
    """A closed carton: its units (by position in the session's ``units``), box, weighing and waybill."""

    number: int
    count: int  # units in this carton
    packaging: str | None
    weight: dict[str, Any] | None
    waybill: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "count": self.count, "packaging": self.packaging, "weight": self.weight,
                "waybill": self.waybill}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Carton":
        return cls(int(d["number"]), int(d["count"]), d.get("packaging"), d.get("weight"), d.get("waybill"))


# ---------------------------------------------------------------- the label request


def label_key(station: str, order_id: str, carton: int, revision: int = 1) -> str:
    """The parcel's idempotency key upstream: the same carton of the same revision of the order always asks with
    the same key (a retry or a restart gets the same waybill back, never a second one); a new revision (the WMS
    changed the lines, the address or the carrier) is a new request, for a new label."""
    return f"{station}:{order_id}:C{carton}" + (f":r{revision}" if revision > 1 else "")


def request_body(key: str, order_id: str, carton: int, cartons: int, weight_g: int, box: str | None,
                 fmt: str, waybill: str | None = None, revision: int = 1) -> dict[str, Any]:
    """``POST /v1/labels`` for one carton (frozen before it is sent, so every retry sends the same bytes)."""
    body: dict[str, Any] = {"key": key, "order_id": order_id, "carton": carton, "cartons": max(cartons, carton),
                            "weight_g": max(1, weight_g), "box": box, "format": fmt}
    if waybill is not None:
        body["waybill"] = waybill
    if revision > 1:
        body["revision"] = revision
    return body


def label_fields(order_id: str, waybill: str, carton: int, cartons: int, weight_g: int, day: str,
                 sender: str, ship_to: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The template fields when the station fills them itself (offline, with a pre-issued waybill)."""
    ship = ship_to or {}
    return {"waybill": waybill, "order": order_id, "carton": carton, "cartons": max(cartons, carton),
            "weight_g": max(1, weight_g), "ship_to_name": str(ship.get("name") or "-"),
            "ship_to_phone": str(ship.get("phone") or ""), "sender": sender, "date": day}
