"""The packing video of each order: when to record, where a clip is filed, and how long it is kept.

With a camera and ``video.enabled``, a clip (``device.recorder.ClipRecorder``, its own thread fed by the
camera's frames through a bounded queue) runs from the verdict that opens an order until the order is packed,
stopped (back to the queue, or abandoned by signing out) or cancelled. The order id, the station, the operator
and the time are burned into the frames; every verdict shown meanwhile is a band in its colour with its title and English text (``band_text``).

* **Pack:** ``seal()`` finishes the clip before the pack is committed and puts its SHA-256 into the pack
  confirmation (``payload.clip_sha256``); the evidence record and export find the file by that hash.
* **Filing:** ``<data_dir>/clips/<order_id>/<sha256>.<ext>``, and a ``video_clips`` row with the order, the
  waybill when known, the operator, start and end, how it ended (packed / stopped / cancelled / interrupted),
  codec, size and frames dropped.
* **Retention** (``apply_retention``, after every clip): clips of shipped orders older than
  ``video.retention_days`` are removed, then, over ``video.max_disk_mb``, the oldest clips of shipped orders
  until the clips fit. Evidence of orders not yet shipped is never removed for space: when only such clips
  are left over the budget, or the clips reach ``video.warn_pct`` of it, or the disk has less than
  ``video.min_free_mb`` free, it is a health problem (``/health``). A removed clip keeps its row
  (``removed_at``), so the evidence record says it was removed and why.
"""
from __future__ import annotations

import logging
import shutil
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packgate.device.clock import isoformat
from packgate.station.core import packing as pk
from packgate.station.core import texts
from packgate.station.core.effects import Confirmation, Outcome
from packgate.station.parts import Parts
from packgate.sync.common.db import write_tx

if TYPE_CHECKING:  # OpenCV (~16 MB) is loaded only by a station with a camera
    from packgate.device.camera.recorder import Clip, ClipRecorder, Codec

log = logging.getLogger("packgate.video")

MB = 1024 * 1024


def clips_of(conn: sqlite3.Connection, order_id: str) -> list[dict[str, Any]]:
    """The order's clips, oldest first (removed ones too, with when and why); none in a database from before."""
    try:
        rows = conn.execute("SELECT * FROM video_clips WHERE order_id = ? ORDER BY started_at", (order_id,))
        return [{k: r[k] for k in r.keys()} for r in rows]
    except sqlite3.OperationalError:  # a read-only database that never had the table
        return []


def file_clip(conn: sqlite3.Connection, clip: Clip, *, order_id: str, waybill: str | None, operator: str | None,
              station: str, outcome: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO video_clips (sha256, order_id, waybill, operator, station, path, codec, bytes, "
        "frames, dropped, started_at, ended_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (clip.sha256, order_id, waybill, operator, station, str(clip.path), clip.codec, clip.size, clip.frames,
         clip.dropped, isoformat(clip.started), isoformat(clip.ended), outcome))


# ------------------------------------------------------------------------------------------- retention
@dataclass(frozen=True)
class Budget:
    retention_days: float
    max_bytes: int
    warn_pct: float
    min_free_bytes: int

    @classmethod
    def from_settings(cls, cfg: Any) -> "Budget":
        return cls(float(cfg["video.retention_days"]), int(float(cfg["video.max_disk_mb"]) * MB),
                   float(cfg["video.warn_pct"]), int(float(cfg["video.min_free_mb"]) * MB))


@dataclass
class Kept:
    removed: list[str] = field(default_factory=list)  # sha256 of the clips removed now
    used_bytes: int = 0
    problems: list[str] = field(default_factory=list)


def apply_retention(conn: sqlite3.Connection, now: datetime, budget: Budget, free_bytes: int | None = None) -> Kept:
    """Remove expired and, over the budget, the oldest clips of shipped orders (in ``conn``'s transaction)."""
    rows = [dict(r) for r in conn.execute(
        "SELECT c.sha256, c.path, c.bytes, c.ended_at, o.status FROM video_clips c "
        "LEFT JOIN order_state o ON o.order_id = c.order_id WHERE c.removed_at IS NULL ORDER BY c.ended_at, c.sha256")]
    kept = Kept(used_bytes=sum(r["bytes"] for r in rows))
    cutoff = now - timedelta(days=budget.retention_days)

    def remove(row: dict, reason: str) -> None:
        Path(row["path"]).unlink(missing_ok=True)
        conn.execute("UPDATE video_clips SET removed_at = ?, removed_reason = ? WHERE sha256 = ?",
                     (isoformat(now), reason, row["sha256"]))
        kept.removed.append(row["sha256"])
        kept.used_bytes -= row["bytes"]

    shipped = [r for r in rows if r["status"] == "shipped"]
    for row in shipped:
        if datetime.fromisoformat(row["ended_at"]) < cutoff:
            remove(row, "retention_days")
    for row in shipped:
        if kept.used_bytes <= budget.max_bytes:
            break
        if row["sha256"] not in kept.removed:
            remove(row, "max_disk_mb")
    kept.problems = budget_problems(kept.used_bytes, budget, free_bytes)
    return kept


def budget_problems(used_bytes: int, budget: Budget, free_bytes: int | None) -> list[str]:
    problems = []
    if used_bytes > budget.max_bytes:
        problems.append(f"video clips over their disk budget: {used_bytes / MB:.1f} of {budget.max_bytes / MB:.0f} MB "
                        "(only orders not shipped left); recording continues")
    elif used_bytes >= budget.max_bytes * budget.warn_pct / 100:
        problems.append(f"video clips near their disk budget: {used_bytes / MB:.1f} of {budget.max_bytes / MB:.0f} MB")
    if free_bytes is not None and free_bytes < budget.min_free_bytes:
        problems.append(f"disk nearly full: {free_bytes / MB:.0f} MB free for the video clips")
    return problems


# ------------------------------------------------------------------------------------------- recording
@dataclass
class Recording:
    order_id: str
    waybill: str | None
    operator: str | None
    recorder: ClipRecorder
    sealed: Clip | None = None  # finished at pack, filed once the pack is shown
    kind: str = "order"  # "return": a return at the kiosk (station/returns.py), its clip filed under its RMA


class PackingVideo:
    """The station's packing video: one clip per open order (see the module docstring)."""

    def __init__(self, parts: Parts, clips_dir: Path, *, enabled: bool, camera: Any = None):
        self.parts = parts
        self.clips_dir = clips_dir
        self.enabled = enabled
        self.budget = Budget.from_settings(parts.cfg)
        self.fps = float(parts.cfg["video.fps"])
        self.width = int(parts.cfg["video.width"])
        self.codec: Codec | None = None
        self.current: Recording | None = None
        self.camera: Any = None
        if camera is not None:
            self.attach(camera)

    def attach(self, camera: Any) -> None:
        """Record from ``camera`` (a ``CameraScanner``); checks once which codec this OpenCV build writes."""
        if not self.enabled or camera is None:
            return
        self.camera = camera
        from packgate.device.camera.recorder import choose_codec

        self.codec = choose_codec(str(self.parts.cfg["video.codec"]))
        if self.codec is None:
            self.parts.live.problems["video"] = "video: this OpenCV build writes none of the packing video codecs"
            log.error("packing video disabled: no codec can be written")
        else:
            log.info("packing video: %s", self.codec)
        self.retain()

    def clip_file(self, order_id: str, sha256: str) -> Path | None:
        """The file of one of ``order_id``'s clips, while it is kept."""
        with self.parts.lock:
            row = self.parts.conn.execute("SELECT path FROM video_clips WHERE sha256 = ? AND order_id = ? AND "
                                          "removed_at IS NULL", (sha256, order_id)).fetchone()
        path = Path(row[0]) if row else None
        return path if path is not None and path.is_file() else None

    def status(self) -> dict[str, Any]:
        cur = self.current
        return {"enabled": self.codec is not None, "codec": str(self.codec) if self.codec else None,
                "recording": cur.order_id if cur else None,
                "frames": cur.recorder.frames if cur else 0, "dropped": cur.recorder.dropped if cur else 0}

    # ---------------------------------------------------------------- hooks called by the station (under its lock)
    def seal(self, before: pk.PackSession, outcome: Outcome) -> Outcome:
        """At pack: finish the clip and put its SHA-256 into the pack confirmation."""
        cur = self.current
        if cur is None or outcome.session.state is not pk.State.PACKED or before.state is pk.State.PACKED:
            return outcome
        if cur.sealed is None:
            cur.sealed = self._finish(cur)
        if cur.sealed is None:
            return outcome
        sha = cur.sealed.sha256
        effects = [replace(e, payload={**e.payload, "clip_sha256": sha})
                   if isinstance(e, Confirmation) and e.action == "pack" and e.object_id == cur.order_id else e
                   for e in outcome.effects]
        return outcome._replace(effects=effects)

    def on_verdict(self, session: pk.PackSession, shown: dict) -> None:
        """After every verdict shown: mark it, and start or end the clip as the order opens or closes."""
        if self.codec is None:
            return
        cur = self.current
        if cur is not None and cur.kind == "return":  # the kiosk is in Returns mode: the return's clip goes on
            cur.recorder.mark(band_text(shown), str(shown.get("status", "")))
            return
        open_id = session.order.order_id if session.order is not None and session.state in pk.ORDER_STATES else None
        if cur is not None and cur.order_id != open_id:
            self.current = None
            self._close(cur, _ending(session, cur, shown))
            cur = None
        if open_id is not None and cur is None:
            cur = self._start(session)
        if cur is not None:
            cur.recorder.mark(band_text(shown), str(shown.get("status", "")))

    def start_return(self, rma_id: str, operator: str | None) -> None:
        """A return received at the kiosk: film it until it closes (none while an order's clip runs)."""
        if self.codec is None or self.current is not None:
            return
        header = [f"return {rma_id}", f"station {self.parts.id}  operator {operator or '-'}"]
        self.current = self._record(rma_id, None, operator, header, "return")

    def seal_return(self, rma_id: str) -> str | None:
        """The return closes: finish and file its clip (outcome ``returned``); its SHA-256, or None."""
        cur = self.current
        if cur is None or cur.kind != "return" or cur.order_id != rma_id:
            return None
        self.current = None
        clip = self._finish(cur)
        if clip is None:
            return None
        with write_tx(self.parts.conn) as conn:
            file_clip(conn, clip, order_id=rma_id, waybill=None, operator=cur.operator, station=self.parts.id,
                      outcome="returned")
        self.retain()
        return clip.sha256

    def close(self) -> None:
        """The station stops: the clip of an order still open is kept as interrupted."""
        cur, self.current = self.current, None
        if cur is not None:
            self._close(cur, "interrupted")
        if self.camera is not None:
            self.camera.on_frame = None

    # ---------------------------------------------------------------- inside
    def _start(self, session: pk.PackSession) -> Recording | None:
        assert self.codec is not None and session.order is not None
        order = session.order
        operator = session.operator.employee_id if session.operator is not None else None
        waybill = getattr(order, "waybill", None)
        header = [f"{order.order_id}" + (f"  waybill {waybill}" if waybill else ""),
                  f"station {self.parts.id}  operator {operator or '-'}"]
        self.current = self._record(order.order_id, waybill, operator, header, "order")
        return self.current

    def _record(self, subject: str, waybill: str | None, operator: str | None, header: list[str],
                kind: str) -> Recording:
        assert self.codec is not None
        folder = self.clips_dir / _safe(subject)
        part = folder / f".recording-{isoformat(self.parts.clock.now()).replace(':', '')}{self.codec.ext}"
        from packgate.device.camera.recorder import ClipRecorder

        recorder = ClipRecorder(self.codec, part, header, wall=self.parts.clock.now, fps=self.fps, width=self.width,
                                busy=self.parts.load.shedding)
        recording = Recording(subject, waybill, operator, recorder.start(), kind=kind)
        self.camera.on_frame = recorder.offer
        return recording

    def _finish(self, cur: Recording) -> Clip | None:
        if self.camera is not None and self.camera.on_frame == cur.recorder.offer:
            self.camera.on_frame = None
        clip = cur.recorder.finish(self.clips_dir / _safe(cur.order_id))
        if cur.recorder.shed:
            self.parts.load.shed("video_frames", cur.recorder.shed)
        if cur.recorder.error:
            self.parts.live.problems["video"] = f"video: recording {cur.order_id} failed: {cur.recorder.error}"
        return clip

    def _close(self, cur: Recording, outcome: str) -> None:
        clip = cur.sealed or self._finish(cur)
        if clip is None:
            return
        with write_tx(self.parts.conn) as conn:
            file_clip(conn, clip, order_id=cur.order_id, waybill=cur.waybill, operator=cur.operator,
                      station=self.parts.id, outcome=outcome)
        log.info("clip of %s filed: %s (%s, %d frames, %d dropped)", cur.order_id, clip.path.name, outcome,
                 clip.frames, clip.dropped)
        self.retain()

    def retain(self) -> Kept:
        with write_tx(self.parts.conn) as conn:
            kept = apply_retention(conn, self.parts.clock.now(), self.budget, _free_bytes(self.clips_dir))
        for sha in kept.removed:
            log.info("clip %s removed by the retention policy", sha)
        problems = self.parts.live.problems
        problems.pop("video_disk", None)
        if kept.problems:
            problems["video_disk"] = "; ".join(kept.problems)
        return kept


def _ending(session: pk.PackSession, cur: Recording, shown: dict) -> str:
    if cur.sealed is not None:
        return "packed" if session.state is pk.State.PACKED else "interrupted"
    if session.state is pk.State.CANCELLED:
        return "cancelled" if shown.get("code") == "order_cancelled" else "stopped"
    return "stopped"


def _safe(order_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in order_id).lstrip(".") or "_"


def _free_bytes(folder: Path) -> int | None:
    probe = folder if folder.exists() else folder.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


_ASCII = str.maketrans({"±": "+/-", "—": "-", "–": "-", "…": "...", "✓": "OK", "×": "x", "→": "->", "’": "'"})


def band_text(shown: dict) -> str:
    """The verdict in words for the video's band: its title and English text in ASCII (OpenCV draws no other)."""
    title = texts.text("en", f"status:{shown.get('status', '')}", str(shown.get("status", ""))).upper()
    message = str(shown.get("message") or shown.get("code") or "").translate(_ASCII)
    return f"{title}: {message}".encode("ascii", "replace").decode("ascii")
