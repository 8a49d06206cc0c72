"""A camera's view, generated: barcode images (zxing-cpp writer) pasted on frames, written as a video.

    frame = render_frame([("ean13", "4006381333931")], size=(1280, 720))
    write_video("/tmp/cam.avi", [frame] * 10, fps=10)      # MJPG; or write_png_sequence(dir, frames)
    write_video("/tmp/table.avi", table_scene(), fps=10)     # a table with a box moving across, no codes
    CameraScanner("/tmp/cam.avi", ...)                       # the real camera code reads it back
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

from packgate.device.camera.decoders import FORMATS

# GS1 content is given in HRI form "(01)...(10)..." and written with gs1=True (]C1 / ]d2 / ]Q3).
_SCALES = {"qr": 6, "datamatrix": 8, "aztec": 6, "pdf417": 3}


def barcode_image(fmt: str, content: str, gs1: bool = False, scale: int | None = None) -> np.ndarray:
    """A grayscale image (quiet zone included) of one barcode."""
    zfmt = getattr(zxingcpp.BarcodeFormat, FORMATS[fmt][0])
    kwargs = {"gs1": True} if gs1 else {}
    bc = zxingcpp.create_barcode(content, zfmt, **kwargs)
    img = np.asarray(bc.to_image(scale=scale or _SCALES.get(fmt, 3), add_quiet_zones=True))
    if fmt not in _SCALES and img.shape[0] < 120:  # 1-D symbols: make the bars tall enough to see
        img = cv2.resize(img, (img.shape[1], 160), interpolation=cv2.INTER_NEAREST)
    return img


def render_frame(codes: list[tuple], size: tuple[int, int] = (1280, 720), background: int = 235,
                 noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A BGR frame with the given codes, ``(fmt, content[, gs1])`` each, laid out left to right."""
    w, h = size
    frame = np.full((h, w), background, np.uint8)
    x = 40
    for code in codes:
        gs1 = bool(code[2]) if len(code) > 2 else False
        scale = _SCALES.get(code[0], 3)
        img = barcode_image(code[0], code[1], gs1, scale)
        while scale > 1 and x + img.shape[1] > w:  # shrink to fit, keeping whole modules
            scale -= 1
            img = barcode_image(code[0], code[1], gs1, scale)
        ih, iw = img.shape
        if x + iw > w or ih > h:
            raise ValueError(f"{code[0]} image {iw}x{ih} does not fit the {w}x{h} frame at x={x}")
        y = (h - ih) // 2
        frame[y:y + ih, x:x + iw] = img
        x += iw + 40
    if noise:
        rng = np.random.default_rng(seed)
        frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def table_scene(n: int = 20, size: tuple[int, int] = (640, 360), step: int = 10) -> list[np.ndarray]:
    """A grey packing table with a box moving across it and no codes: a camera that only films."""
    w, h = size
    frames = []
    for i in range(n):
        frame = np.full((h, w, 3), 175, np.uint8)
        x, y, side = w // 16 + step * i, h * 5 // 12, h * 5 // 12
        cv2.rectangle(frame, (x, y), (x + side, y + side), (80, 75, 85) if i % 2 else (90, 60, 30), -1)
        frames.append(frame)
    return frames


def write_video(path: str | os.PathLike, frames: list[np.ndarray], fps: float = 10.0, fourcc: str = "MJPG") -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} video to {path}")
    try:
        for f in frames:
            writer.write(f)
    finally:
        writer.release()
    return Path(path)


def write_png_sequence(directory: str | os.PathLike, frames: list[np.ndarray]) -> str:
    """Frames as ``frame_0000.png``...; returns the OpenCV pattern ``dir/frame_%04d.png``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(directory / f"frame_{i:04d}.png"), f)
    return str(directory / "frame_%04d.png")
