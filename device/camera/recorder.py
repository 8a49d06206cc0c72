"""Packing video: a clip recorded in its own thread from the frames a camera offers, with an overlay.

    codec = choose_codec()                                   # the first of CODECS this OpenCV build can write
    rec = ClipRecorder(codec, "/data/clips/SO-1/.SO-1.part", ["SO-1  ST01  E100"], wall=clock.now)
    rec.start(); camera.on_frame = rec.offer                 # offer() never blocks: a full queue drops the frame
    rec.mark("packed", "ok")                                 # a coloured band with the code for ``mark_s`` seconds
    clip = rec.finish(directory)                             # -> Clip(path=<sha256>.webm, sha256, ...)

The clip runs at a fixed ``fps``: frames are written against the recorder's monotonic clock, so a camera
that delivers faster is thinned and one that delivers slower is held (the clip's time is the real time).
Frames are scaled to ``width`` before the overlay is drawn. OpenCV's fonts are ASCII: the overlay carries
ids and plain English words (the verdict's title and text, cut to fit), not names. What OpenCV and FFmpeg print
while a writer opens is kept off stderr (``quiet``): the station's log says which codec it writes.
"""
from __future__ import annotations

import hashlib
import logging
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from packgate.device.camera.quiet import native_stderr, quiet_opencv
from packgate.device.clock import isoformat

log = logging.getLogger("packgate.recorder")
quiet_opencv(cv2)


@dataclass(frozen=True)
class Codec:
    fourcc: str
    ext: str
    browser: bool  # every browser plays it in a <video> element

    def __str__(self) -> str:
        return f"{self.fourcc}{self.ext}"


# The order tried: H.264 where the build has it, then VP8/VP9 in WebM (every browser plays WebM/VP8), then
# MPEG-4 Part 2 and Motion JPEG, which are written but not played by browsers (the export still has them).
CODECS = (Codec("avc1", ".mp4", True), Codec("H264", ".mp4", True), Codec("VP80", ".webm", True),
          Codec("VP90", ".webm", True), Codec("mp4v", ".mp4", False), Codec("MJPG", ".avi", False))
BUSY_EVERY_S = 1.0  # while the machine is busy (load shedding) a clip takes one frame this often
COLOURS = {"ok": (40, 160, 40), "warning": (0, 170, 255), "error": (30, 30, 220)}  # BGR, by verdict status


def can_write(codec: Codec, size: tuple[int, int] = (64, 48)) -> bool:
    """Whether this OpenCV build writes ``codec``: open a writer, write two frames, check bytes came out."""
    with tempfile.TemporaryDirectory(prefix="packgate-codec-") as tmp:
        path = Path(tmp) / f"probe{codec.ext}"
        with native_stderr(log):  # a codec this build lacks makes FFmpeg complain: the answer is False
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*codec.fourcc), 10.0, size)
        try:
            if not writer.isOpened():
                return False
            for _ in range(2):
                writer.write(np.zeros((size[1], size[0], 3), np.uint8))
        finally:
            writer.release()
        return path.exists() and path.stat().st_size > 0


def choose_codec(preferred: str = "auto", candidates: tuple[Codec, ...] = CODECS) -> Codec | None:
    """The first codec of ``candidates`` (or the one named ``preferred``, e.g. ``VP80``) the build can write."""
    order = [c for c in candidates if preferred in ("auto", c.fourcc)]
    return next((c for c in order if can_write(c)), None)


@dataclass(frozen=True)
class Clip:
    path: Path
    sha256: str
    size: int
    codec: str
    frames: int
    dropped: int  # frames offered while the queue was full
    started: datetime
    ended: datetime


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ClipRecorder:
    """One clip: ``start()``, ``offer(frame, t)`` from the camera thread, ``mark()``, then ``finish()``."""

    def __init__(self, codec: Codec, part_path: str | os.PathLike, header: list[str], *,
                 wall: Callable[[], datetime], fps: float = 10.0, width: int = 640, queue_size: int = 8,
                 mark_s: float = 1.0, monotonic: Callable[[], float] = time.monotonic,
                 busy: Callable[[], bool] = lambda: False):
        self.codec = codec
        self.part_path = Path(part_path)
        self.header = header
        self.wall = wall
        self.fps = fps
        self.width = width
        self.mark_s = mark_s
        self.monotonic = monotonic
        self.frames = 0
        self.dropped = 0
        self.shed = 0  # frames not encoded while the machine was busy (``busy()``: load shedding)
        self.busy = busy
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=queue_size)
        self._mark: tuple[str, tuple[int, int, int], float] | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._writer: cv2.VideoWriter | None = None
        self._t0 = 0.0
        self._last_offer = -1e9
        self.started = wall()
        self.error: str | None = None

    # ---------------------------------------------------------------- camera side (never blocks)
    def offer(self, frame: np.ndarray, t: float | None = None) -> None:
        """Queue ``frame`` (its capture time ``t`` is not needed: the clip keeps the recorder's time)."""
        if self._done.is_set():
            return
        now = self.monotonic()
        if now - self._last_offer < 0.5 / self.fps:  # more frames than the clip needs: skip before copying
            return
        marking = self._mark is not None and now < self._mark[2]  # a verdict's band is evidence: never shed
        if not marking and now - self._last_offer < BUSY_EVERY_S and self.busy():  # the scan path first: 1 frame/s
            self.shed += 1
            return
        self._last_offer = now
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self.dropped += 1

    def mark(self, text: str, status: str) -> None:
        """Show a band in the verdict's colour with ``text`` (ASCII, cut to fit) for ``mark_s`` seconds."""
        self._mark = (text, COLOURS.get(status, COLOURS["warning"]), self.monotonic() + self.mark_s)

    # ---------------------------------------------------------------- recorder thread
    def start(self) -> "ClipRecorder":
        self.part_path.parent.mkdir(parents=True, exist_ok=True)
        self._t0 = self.monotonic()
        self._thread.start()
        return self

    def _open(self, frame: np.ndarray) -> cv2.VideoWriter:
        h, w = frame.shape[:2]
        with native_stderr(log):
            writer = cv2.VideoWriter(str(self.part_path), cv2.VideoWriter.fourcc(*self.codec.fourcc), self.fps, (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {self.codec} to {self.part_path}")
        return writer

    def _run(self) -> None:
        try:
            while not self._done.is_set() or not self._queue.empty():
                try:
                    frame = self._queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                self._write(frame)
        except Exception as exc:  # noqa: BLE001 - a failed recording never stops packing; it is reported
            self.error = str(exc)
            log.exception("recording %s failed", self.part_path)
        finally:
            if self._writer is not None:
                self._writer.release()

    def _write(self, frame: np.ndarray) -> None:
        now = self.monotonic()
        due = int((now - self._t0) * self.fps) + 1  # frames the clip should hold by now
        copies = min(due - self.frames, int(self.fps * 2)) if self.frames else 1
        if copies > 1 and self.busy():  # busy: the held frame is encoded once, the clip's timeline shortens
            self.shed += copies - 1
            self._t0 += (copies - 1) / self.fps
            copies = 1
        if copies <= 0:
            return
        image = self.overlay(scale_to(frame, self.width), now)
        if self._writer is None:
            self._writer = self._open(image)
        for _ in range(copies):
            self._writer.write(image)
        self.frames += copies

    def overlay(self, image: np.ndarray, now: float) -> np.ndarray:
        """The header lines and the time on a dark strip at the top; the verdict band at the bottom."""
        h, w = image.shape[:2]
        image = image.copy()
        lines = [*self.header, isoformat(self.wall())]
        strip = 8 + 22 * len(lines)
        image[:strip] = (image[:strip] * 0.25).astype(np.uint8)
        for i, text in enumerate(lines):
            cv2.putText(image, text, (8, 24 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        mark = self._mark
        if mark is not None and now < mark[2]:
            band = max(40, h // 7)
            image[h - band:] = mark[1]
            text = fit(mark[0], w - 24, 0.6, 1)
            cv2.putText(image, text, (12, h - band // 2 + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1,
                        cv2.LINE_AA)
        return image

    def finish(self, directory: str | os.PathLike, timeout_s: float = 5.0) -> Clip | None:
        """Stop, close the file and file it as ``<directory>/<sha256><ext>``; None when no frame was written."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        ended = self.wall()
        if self.frames == 0 or not self.part_path.exists():
            self.part_path.unlink(missing_ok=True)
            return None
        sha = sha256_file(self.part_path)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{sha}{self.codec.ext}"
        os.replace(self.part_path, target)
        return Clip(target, sha, target.stat().st_size, str(self.codec), self.frames, self.dropped, self.started, ended)


def fit(text: str, width: int, scale: float, thickness: int) -> str:
    """``text`` cut (with "...") to what OpenCV's simplex font draws within ``width`` pixels."""
    def wide(t: str) -> int:
        return int(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][0])

    if wide(text) <= width:
        return text
    while text and wide(text + "...") > width:
        text = text[:-1]
    return text.rstrip() + "..."


def scale_to(frame: np.ndarray, width: int) -> np.ndarray:
    h, w = frame.shape[:2]
    if w == width or width <= 0:
        return frame
    return cv2.resize(frame, (width, max(2, round(h * width / w)) // 2 * 2), interpolation=cv2.INTER_AREA)
