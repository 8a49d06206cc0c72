"""Camera barcode reading through OpenCV, with a dedupe window and hashed snapshots.

    cam = CameraScanner("0", on_scan=print)                  # device index, /dev/video2, a video file,
    cam.start(); ...; snap = cam.snapshot("/var/lib/packgate/snapshots"); cam.stop()   # or rtsp:// URL

A code that stays in view is reported once: it is reported again only after it has been out of
view for ``dedupe_s`` seconds. Time is the frame's own timestamp for video files (so a file is
judged as it was recorded, however fast we decode it) and the monotonic clock for live sources.

``process_frame(frame, t)`` is the one path from pixels to ``Scan`` events; the thread calls it
for every frame it grabs and tests may call it directly. ``on_frame(frame, t)`` (e.g. the packing
video's ``ClipRecorder.offer``, which never blocks) sees every frame before it is decoded.

``playback`` applies to video files (an emulated camera): ``fast`` decodes as fast as possible (judged
by the file's own timestamps), ``realtime`` plays at the file's frame rate, ``loop`` plays in real time
over and over, like a live camera.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from packgate.device.backoff import Backoff
from packgate.device.camera.decoders import Decoder, make_decoder
from packgate.device.errors import ReaderError
from packgate.device.reader_thread import ReaderThread, call_safely
from packgate.device.scanner.barcode import Scan, SitePatterns, interpret


def parse_source(source: str | int) -> str | int:
    """``"0"`` -> camera index 0; anything else (path, URL) unchanged."""
    if isinstance(source, int):
        return source
    return int(source) if source.isdigit() else source


def is_live(source: str | int) -> bool:
    s = parse_source(source)
    return isinstance(s, int) or str(s).startswith(("/dev/", "rtsp://", "rtsps://", "http://", "https://", "udp://",
                                                    "tcp://"))


class Dedupe:
    """Reports a key when it was not seen within the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 1.0):
        self.window_s = window_s
        self._last: dict[tuple, float] = {}

    def first_sighting(self, key: tuple, t: float) -> bool:
        prev = self._last.get(key)
        self._last[key] = t
        if len(self._last) > 256:  # forget codes long gone
            self._last = {k: v for k, v in self._last.items() if t - v <= self.window_s}
        return prev is None or t - prev > self.window_s or t < prev


@dataclass(frozen=True)
class Snapshot:
    path: Path
    sha256: str
    size: int


def save_snapshot(frame: np.ndarray, directory: str | os.PathLike, ext: str = ".jpg", quality: int = 90) -> Snapshot:
    """Encode ``frame`` and write it as ``<sha256>.<ext>`` (the hash of the file's bytes)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, frame, params)
    if not ok:
        raise ReaderError(f"could not encode a {ext} snapshot")
    data = buf.tobytes()
    digest = hashlib.sha256(data).hexdigest()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{digest}{ext}"
    tmp = path.with_suffix(ext + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return Snapshot(path, digest, len(data))


class CameraScanner(ReaderThread):
    """A thread reading frames from ``source`` and calling ``on_scan(Scan)`` for new codes.

    States via ``on_state``: connected / disconnected / retrying / ended (a file ran out) / stopped.
    ``every_nth`` decodes only every n-th frame (CPU budget on small PCs).
    """

    thread_name = "camera"

    def __init__(self, source: str | int, on_scan: Callable[[Scan], None] | None = None, *,
                 decoder: str | Decoder = "zxing", formats: list[str] | None = None, fast: bool = False,
                 dedupe_s: float = 1.0, patterns: SitePatterns | None = None, every_nth: int = 1,
                 on_state: Callable[[str, str | None], None] | None = None, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic, snapshot_dir: str | os.PathLike | None = None,
                 playback: str = "fast"):
        super().__init__(on_state, backoff or Backoff(base_s=0.5, cap_s=10.0))
        self.source = parse_source(source)
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir else Path(tempfile.gettempdir()) / "packgate-snapshots"
        self.live = is_live(self.source)
        self.decoder = make_decoder(decoder, formats, fast) if isinstance(decoder, str) else decoder
        self.dedupe = Dedupe(dedupe_s)
        self.on_scan = on_scan
        self.patterns = patterns
        self.every_nth = max(1, every_nth)
        self.clock = clock
        self.frames = 0
        self.latest: Scan | None = None
        self.latest_frame: np.ndarray | None = None
        self.on_frame: Callable[[np.ndarray, float], None] | None = None
        self.playback = playback
        self._lock = threading.Lock()

    # ------------------------------------------------------------ the pixel -> Scan path
    def process_frame(self, frame: np.ndarray, t: float) -> list[Scan]:
        with self._lock:
            self.latest_frame = frame
        call_safely(self.on_frame, "on_frame", frame, t)
        self.frames += 1
        if (self.frames - 1) % self.every_nth:
            return []
        scans = []
        for d in self.decoder.decode(frame):
            if not self.dedupe.first_sighting((d.symbology, d.text), t):
                continue
            scan = interpret(d.scan_text, self.patterns, source=f"camera:{self.source}")
            scans.append(scan)
            self.latest = scan
            call_safely(self.on_scan, "on_scan", scan)
        return scans

    def snapshot(self, directory: str | os.PathLike | None = None, ext: str = ".jpg") -> Snapshot:
        """Save the latest frame (for a parcel photo) into ``directory`` (default ``snapshot_dir``);
        its SHA-256 goes into the confirmation."""
        directory = self.snapshot_dir if directory is None else directory
        with self._lock:
            frame = self.latest_frame
        if frame is None:
            raise ReaderError(f"no frame from camera {self.source!r} yet")
        return save_snapshot(frame, directory, ext)

    def snapshot_sha256(self) -> str:
        """Save a snapshot into ``snapshot_dir``; return its SHA-256 (hex)."""
        return self.snapshot().sha256

    # ------------------------------------------------------------ thread
    def thread_subject(self) -> str:
        return str(self.source)

    def run(self) -> None:
        """Run in the calling thread until the source ends or ``stop()``."""
        self._run()

    def _run(self) -> None:
        looped = False
        while not self._stop.is_set():
            cap = cv2.VideoCapture(self.source)
            if not cap.isOpened():
                cap.release()
                self._disconnected(f"cannot open camera source {self.source!r}")
                if not self.live or not self._retry(str(self.source)):
                    break  # a file that cannot be opened will not get better
                continue
            self.backoff.reset()
            if not looped:
                self._set_state("connected", str(self.source))
            ended = False
            paced = not self.live and self.playback in ("realtime", "loop")
            begun = self.clock()
            try:
                while not self._stop.is_set():
                    ok, frame = cap.read()
                    if not ok:
                        ended = not self.live
                        break
                    t = self.clock() if self.live else cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                    if paced:  # an emulated live camera: the frame is shown at its time in the file
                        if self._stop.wait(max(0.0, begun + t - self.clock())):
                            break
                        t = self.clock()
                    self.process_frame(frame, t)
            finally:
                cap.release()
            looped = ended and self.playback == "loop"
            if looped and not self._stop.is_set():
                continue
            if ended:
                self._set_state("ended", str(self.source))
                break
            if self._stop.is_set():
                break
            self._set_state("disconnected", f"camera {self.source!r} stopped delivering frames")
            if not self._retry(str(self.source)):
                break
        self._set_state("stopped")
