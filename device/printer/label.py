"""A label as a printer sees it (texts, boxes, Code 128 barcodes in dots) and the fields that fill a template.

    fields = LabelFields(waybill="EE123456785CN", order="SO-10001", carton=1, cartons=2, weight_g=1234,
                         ship_to_name="张伟", ship_to_phone="13812345678", sender="packgate demo",
                         day=date(2026, 1, 5))
    job: bytes = spec.fill(template, fields)   # escaped for the template's language; LabelError if refused

Languages (device.zpl, device.tspl, device.ezpl) parse a job back into a ``Label``; the emulator
records it and device.label_preview draws it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from packgate.device.errors import LabelError

MAX_FIELD = 80
_WAYBILL = re.compile(r"^[0-9A-Z]{8,30}$")


@dataclass(frozen=True)
class Text:
    x: int
    y: int
    height: int
    text: str


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int
    thickness: int


@dataclass(frozen=True)
class Barcode:
    x: int
    y: int
    height: int
    module: int  # narrow bar width in dots
    data: str
    symbology: str = "code128"


@dataclass(frozen=True)
class Label:
    width: int  # dots
    height: int
    dpi: int
    elements: tuple[Text | Box | Barcode, ...] = field(default_factory=tuple)
    copies: int = 1

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.elements if isinstance(e, Text)]

    @property
    def barcodes(self) -> list[str]:
        return [e.data for e in self.elements if isinstance(e, Barcode)]

    def as_dict(self) -> dict:
        return {"width_dots": self.width, "height_dots": self.height, "dpi": self.dpi, "copies": self.copies,
                "texts": self.texts, "barcodes": self.barcodes}


def mask_phone(phone: str) -> str:
    """Only the last 4 digits stay readable (the brief's rule for personal data)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


@dataclass(frozen=True)
class LabelFields:
    waybill: str
    order: str
    carton: int
    cartons: int
    weight_g: int | Decimal
    ship_to_name: str
    ship_to_phone: str
    sender: str
    day: date

    def values(self) -> dict[str, str]:
        """The template's placeholders as text; the phone is masked here, never later."""
        if not _WAYBILL.match(self.waybill):
            raise LabelError(f"field 'waybill': {self.waybill!r} is not 8-30 digits or capital letters")
        if not 1 <= self.carton <= self.cartons:
            raise LabelError(f"field 'carton': {self.carton} of {self.cartons} is not a carton of this order")
        kg = (Decimal(self.weight_g) / 1000).quantize(Decimal("0.001"))
        if kg < 0:
            raise LabelError(f"field 'weight': {kg} kg is negative")
        out = {"waybill": self.waybill, "order": self.order, "carton": f"{self.carton}/{self.cartons}",
               "weight": f"{kg} kg", "ship_to_name": self.ship_to_name,
               "ship_to_phone": mask_phone(self.ship_to_phone), "sender": self.sender, "day": self.day.isoformat()}
        out["date"] = out.pop("day")
        for name, value in out.items():
            if len(value) > MAX_FIELD:
                raise LabelError(f"field {name!r}: {len(value)} characters, at most {MAX_FIELD}")
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "LabelFields":
        """From the label contract's ``fields`` object (upstream's answer)."""
        try:
            return cls(waybill=str(data["waybill"]), order=str(data["order"]), carton=int(data["carton"]),
                       cartons=int(data["cartons"]), weight_g=int(data["weight_g"]),
                       ship_to_name=str(data["ship_to_name"]), ship_to_phone=str(data["ship_to_phone"]),
                       sender=str(data["sender"]), day=date.fromisoformat(str(data["date"])))
        except KeyError as exc:
            raise LabelError(f"field {exc.args[0]!r}: missing") from exc
        except (TypeError, ValueError) as exc:
            raise LabelError(f"label fields: {exc}") from exc


def refuse_controls(name: str, value: str) -> None:
    """No control character (CR, LF, ESC, STX, DEL...) may reach a job: it could end or start a command."""
    for ch in value:
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            raise LabelError(f"field {name!r}: control character U+{ord(ch):04X} is not allowed on a label")


def dots(mm: float, dpi: int) -> int:
    return round(mm * dpi / 25.4)


def split_at(buf: bytes, end: re.Pattern[bytes]) -> tuple[list[bytes], bytes]:
    """The complete labels in ``buf`` (each up to and including the line that ``end`` matches) and what is left:
    for languages whose label ends with a command line (TSPL ``PRINT``, EZPL ``E``)."""
    labels: list[bytes] = []
    while (m := end.search(buf)) is not None:
        labels.append(buf[:m.end()])
        buf = buf[m.end():]
    return labels, buf
