"""Draw a parsed label (device.label.Label) as the printer would, to a PNG: texts in a CJK-capable font, boxes and
bars, Code 128 barcodes built by zxing-cpp at the job's module width. No online renderer.

    png: bytes = preview(job, "zpl", dpi=203)      # or render_png(label)
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from packgate.device.errors import LabelError
from packgate.device.printer.label import Barcode, Box, Label, Text
from packgate.device.printer.languages import LANGUAGES

FONTS = (  # the first that exists; Debian fonts-noto-cjk covers Chinese, fonts-dejavu-core only Latin
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def font_path() -> str | None:
    return next((p for p in FONTS if Path(p).is_file()), None)


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default()


def _bars(code: Barcode) -> np.ndarray:
    if code.symbology != "code128":
        raise LabelError(f"preview draws Code 128 only, not {code.symbology!r}")
    try:
        symbol = zxingcpp.create_barcode(code.data, zxingcpp.BarcodeFormat.Code128)
    except (ValueError, RuntimeError) as exc:
        raise LabelError(f"barcode {code.data!r} cannot be Code 128: {exc}") from exc
    row = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False))[0]
    return np.tile(np.repeat(row, code.module), (max(1, code.height), 1)).astype(np.uint8)


def render(label: Label) -> np.ndarray:
    """The label as a grayscale image, one pixel per printer dot (0 = black)."""
    image = Image.new("L", (label.width, label.height), 255)
    draw = ImageDraw.Draw(image)
    canvas = None
    for el in label.elements:
        if isinstance(el, Text):
            draw.text((el.x, el.y), el.text, fill=0, font=_font(max(6, el.height)))
        elif isinstance(el, Box):
            if el.thickness * 2 >= min(el.width, el.height):
                draw.rectangle((el.x, el.y, el.x + el.width - 1, el.y + el.height - 1), fill=0)
            else:
                draw.rectangle((el.x, el.y, el.x + el.width - 1, el.y + el.height - 1), outline=0, width=el.thickness)
    canvas = np.array(image)
    for el in label.elements:
        if isinstance(el, Barcode):
            bars = _bars(el)
            h = min(bars.shape[0], label.height - el.y)
            w = min(bars.shape[1], label.width - el.x)
            if h > 0 and w > 0:
                canvas[el.y:el.y + h, el.x:el.x + w] = bars[:h, :w]
    return canvas


def render_png(label: Label) -> bytes:
    ok, data = cv2.imencode(".png", render(label))
    if not ok:
        raise LabelError("PNG encoding failed")
    return data.tobytes()


def preview(job: bytes, language: str, dpi: int = 203) -> bytes:
    """PNG of the first label in ``job`` (ZPL ^XA..^XZ, TSPL up to PRINT, EZPL ^L..E)."""
    lang = LANGUAGES.get(language)
    if lang is None:
        raise LabelError(f"unknown label language {language!r}")
    labels, _rest = lang.split(job)
    if not labels:
        raise LabelError(f"no complete {language} label in the job")
    return render_png(lang.parse(labels[0], dpi))
