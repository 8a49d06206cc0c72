"""Image barcode decoders behind one interface: zxing-cpp (default) and pyzbar.

    dec = make_decoder("zxing", formats=["ean13", "code128", "qr", "datamatrix"])
    for d in dec.decode(gray_or_bgr_ndarray): d.symbology + d.text   # -> device.barcode.interpret

zxing-cpp reports the AIM symbology identifier (``]C1`` GS1-128, ``]d2`` GS1 DataMatrix, ``]Q3``
GS1 QR, ``]E0`` EAN-13 ...) and reads Data Matrix. pyzbar (libzbar) reads no Data Matrix and drops
the FNC1 that tells GS1-128 from Code 128, so its results get an identifier here, by the rules
``interpret`` uses for a scan without one (``barcode.looks_like_gs1``): Code 128 -> ``]C1``/``]C0``,
QR -> ``]Q3``/``]Q1``. From either decoder an ITF of 14 digits with a valid check digit is ITF-14
(``]I1``, a GTIN): the same barcode gives the same interpretation. Both keep GS (0x1D) in the data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np

from packgate.device.codes import gs1_check_ok
from packgate.device.errors import ProfileError
from packgate.device.scanner.barcode import looks_like_gs1

# Our format names -> zxing-cpp format attribute name / pyzbar symbol name (None: unsupported).
FORMATS: dict[str, tuple[str, str | None]] = {
    "ean13": ("EAN13", "EAN13"),
    "ean8": ("EAN8", "EAN8"),
    "upca": ("UPCA", "UPCA"),
    "upce": ("UPCE", "UPCE"),
    "code128": ("Code128", "CODE128"),
    "code39": ("Code39", "CODE39"),
    "code93": ("Code93", "CODE93"),
    "codabar": ("Codabar", "CODABAR"),
    "itf": ("ITF", "I25"),
    "databar": ("DataBar", "DATABAR"),
    "databar-exp": ("DataBarExp", "DATABAR_EXP"),
    "pdf417": ("PDF417", "PDF417"),
    "qr": ("QRCode", "QRCODE"),
    "datamatrix": ("DataMatrix", None),
    "aztec": ("Aztec", None),
}

# pyzbar type -> AIM identifier where the type alone decides it.
PYZBAR_AIM: dict[str, str] = {
    "EAN13": "]E0", "UPCA": "]E0", "UPCE": "]E0", "ISBN13": "]E0", "EAN8": "]E4",
    "DATABAR": "]e0", "DATABAR_EXP": "]e0", "I25": "]I0", "CODE39": "]A0", "CODE93": "]G0",
    "CODABAR": "]F0",
}
# pyzbar type -> (identifier when the data reads as GS1, identifier otherwise): zbar drops the leading FNC1.
PYZBAR_GS1_OR_NOT: dict[str, tuple[str, str]] = {"CODE128": ("]C1", "]C0"), "QRCODE": ("]Q3", "]Q1")}


def identify(symbology: str | None, text: str, pyzbar_type: str | None = None) -> str | None:
    """The AIM identifier both decoders agree on for ``text`` (see the module docstring)."""
    if pyzbar_type in PYZBAR_GS1_OR_NOT:
        gs1, plain = PYZBAR_GS1_OR_NOT[pyzbar_type]
        symbology = gs1 if looks_like_gs1(text) else plain
    elif pyzbar_type is not None:
        symbology = PYZBAR_AIM.get(pyzbar_type)
    if symbology is not None and symbology[:2] == "]I" and len(text) == 14 and gs1_check_ok(text):
        return "]I1"  # ITF-14 (GS1 General Specifications 5.3): carries a GTIN-14
    return symbology


@dataclass(frozen=True)
class Decoded:
    text: str  # payload without identifier, GS kept
    symbology: str | None  # AIM identifier when the backend knows it
    format: str  # backend's format name
    raw: bytes
    position: tuple[tuple[int, int], ...] = ()

    @property
    def scan_text(self) -> str:
        """What a serial scanner with AIM ids on would have sent (without suffix)."""
        return (self.symbology or "") + self.text


class Decoder(Protocol):
    name: str

    def decode(self, image: np.ndarray) -> list[Decoded]: ...

    def supports(self, fmt: str) -> bool: ...


def _check_formats(formats: Iterable[str] | None) -> list[str] | None:
    if formats is None:
        return None
    out = [f.lower() for f in formats]
    unknown = [f for f in out if f not in FORMATS]
    if unknown:
        raise ProfileError(f"unknown barcode format(s) {unknown}; known: {', '.join(FORMATS)}")
    return out


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        import cv2

        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return image


class ZxingDecoder:
    """zxing-cpp. ``fast=True`` turns off rotation/downscale/inversion search (big speed-up for
    a fixed camera looking at upright labels); ``formats`` restricts the symbologies tried."""

    name = "zxing"

    def __init__(self, formats: Iterable[str] | None = None, fast: bool = False):
        import zxingcpp

        self._z = zxingcpp
        self.formats = _check_formats(formats)
        self.fast = fast
        if self.formats is None:
            self._formats = None  # all formats
        else:
            self._formats = zxingcpp.BarcodeFormats([getattr(zxingcpp.BarcodeFormat, FORMATS[f][0])
                                                     for f in self.formats])

    def supports(self, fmt: str) -> bool:
        return fmt in FORMATS

    def decode(self, image: np.ndarray) -> list[Decoded]:
        z = self._z
        kwargs = dict(text_mode=z.TextMode.Plain)
        if self._formats is not None:
            kwargs["formats"] = self._formats
        if self.fast:
            kwargs.update(try_rotate=False, try_downscale=False, try_invert=False)
        out = []
        for bc in z.read_barcodes(_gray(image), **kwargs):
            if not bc.valid:
                continue
            pos = bc.position
            corners = tuple((p.x, p.y) for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left))
            out.append(Decoded(bc.text, identify(bc.symbology_identifier or None, bc.text), str(bc.format),
                               bytes(bc.bytes), corners))
        return out


class PyzbarDecoder:
    """pyzbar (libzbar0). No Data Matrix / Aztec."""

    name = "pyzbar"

    def __init__(self, formats: Iterable[str] | None = None):
        from pyzbar import pyzbar

        self._p = pyzbar
        self.formats = _check_formats(formats)
        if self.formats is None:
            self._symbols = None
        else:
            names = {f: FORMATS[f][1] for f in self.formats}
            missing = [f for f, name in names.items() if name is None]
            if missing:
                raise ProfileError(f"pyzbar cannot read {', '.join(missing)}; use the zxing decoder")
            self._symbols = [getattr(pyzbar.ZBarSymbol, name) for name in names.values() if name is not None]

    def supports(self, fmt: str) -> bool:
        return fmt in FORMATS and FORMATS[fmt][1] is not None

    def decode(self, image: np.ndarray) -> list[Decoded]:
        out = []
        for d in self._p.decode(_gray(image), symbols=self._symbols):
            data = bytes(d.data)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
            out.append(Decoded(text, identify(None, text, d.type), d.type, data, tuple((p.x, p.y) for p in d.polygon)))
        return out


DECODERS = {"zxing": ZxingDecoder, "pyzbar": PyzbarDecoder}


def make_decoder(name: str = "zxing", formats: Iterable[str] | None = None, fast: bool = False) -> Decoder:
    if name == "zxing":
        return ZxingDecoder(formats, fast=fast)
    if name == "pyzbar":
        return PyzbarDecoder(formats)
    raise ProfileError(f"unknown decoder {name!r}; use one of {', '.join(DECODERS)}")
