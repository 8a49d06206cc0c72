"""One evidence record per parcel: everything the station knows about one order, in one JSON document.

Built on demand from what the station already commits (nothing is copied): the order's confirmations in
the outbox (every scan with lot and serial, every badge, weighing, override, label and pack, each with its
operator, device, location and time), the audit rows about the order with their chain hashes, the
weighings, and, kept here, the **raw scale frames each weighing was judged on** (``evidence_frames``: the
bytes exactly as the scale sent them, the judged frame flagged, with the few frames before it), and the names of
the people in it (``people``, from the reference data).

``export`` writes ``evidence.json`` and the media named in it (photos, clips: files named by their
SHA-256, checked against it) into a folder.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from packgate.device.scale.reading import Reading
from packgate.station import video
from packgate.station.core.effects import Confirmation, Outcome

FRAMES_KEPT = 8  # the judged frame and the ones that led up to it
BADGE_ROLES = ("packer", "second_person", "supervisor")


class FrameRing:
    """The last few scale readings (raw bytes included), so a weighing can keep the frames it was judged on."""

    def __init__(self, size: int = FRAMES_KEPT):
        self._frames: deque[Reading] = deque(maxlen=size)

    def add(self, reading: Reading) -> None:
        self._frames.append(reading)

    def upto(self, judged: Reading | None) -> list[Reading]:
        """The frames up to and including ``judged`` (which is always the last; none without one)."""
        if judged is None:
            return []
        frames = list(self._frames)
        while frames and frames[-1] is not judged:
            frames.pop()
        return frames or [judged]


def add_frames(conn: sqlite3.Connection, outcome: Outcome, frames: list[Reading] | None, at: str) -> None:
    """Keep ``frames`` with each weighing in ``outcome`` (inside the commit's transaction)."""
    for effect in outcome.effects:
        if not (isinstance(effect, Confirmation) and effect.action == "weigh" and frames):
            continue
        attempt = int(effect.payload.get("attempt") or 0)
        conn.executemany(
            "INSERT INTO evidence_frames (order_id, attempt, at, seq, judged, raw_hex, reading) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(effect.object_id, attempt, at, i, int(i == len(frames) - 1), f.raw.hex(),
              json.dumps(f.as_dict(), sort_keys=True)) for i, f in enumerate(frames)])


# ---------------------------------------------------------------------------------------- the record
def _when(at: str) -> datetime:
    return datetime.fromisoformat(at)


def record(conn: sqlite3.Connection, order_id: str) -> dict[str, Any] | None:
    """The evidence record of ``order_id``, or None when the station knows nothing about it."""
    state = conn.execute("SELECT * FROM order_state WHERE order_id = ?", (order_id,)).fetchone()
    confs = [json.loads(r[0]) | {"sync_state": r[1], "sent_at": r[2]} for r in conn.execute(
        "SELECT body, state, sent_at FROM sync_outbox WHERE object_type IN ('order', 'parcel') AND object_id = ? "
        "ORDER BY seq", (order_id,))]
    if state is None and not confs:
        return None
    audit = [dict(r) for r in conn.execute("SELECT * FROM audit WHERE object_id = ? ORDER BY id", (order_id,))]
    frames: dict[int, list[dict]] = {}
    for r in conn.execute("SELECT * FROM evidence_frames WHERE order_id = ? ORDER BY attempt, seq", (order_id,)):
        frames.setdefault(r["attempt"], []).append({"at": r["at"], "judged": bool(r["judged"]), "raw_hex": r["raw_hex"],
                                                   "reading": json.loads(r["reading"])})
    scans, weighings, labels, badges = [], [], [], {role: [] for role in BADGE_ROLES}  # type: ignore[var-annotated]
    photos: list[str] = []
    clips: list[str] = []
    for c in confs:
        p = c.get("payload") or {}
        base = {"at": c["at"], "confirmation_id": c["id"], "operator": c.get("operator"), "device": c.get("device"),
                "location": c.get("location")}
        if c["action"] in ("scan", "verify"):
            item = {k: p.get(k) for k in ("sku", "gtin", "lot", "expires", "serial")} if c["action"] == "verify" else {}
            scans.append({**base, "action": c["action"], **item,
                          **{k: p[k] for k in ("tote", "packaging") if p.get(k) is not None}})
        if c["action"] == "weigh":
            attempt = int(p.get("attempt") or 0)
            judged = frames.get(attempt, [])
            weighings.append({**base, "attempt": attempt, **{k: p.get(k) for k in
                              ("result", "measured_g", "expected_g", "diff_g", "diff_pct", "allowed_g", "packaging")},
                              "source": "scale" if judged else "entered", "frames": judged})
        if "label" in c["action"] or "waybill" in p:
            labels.append({**base, "action": c["action"], **p})
        if c.get("operator"):
            role = "supervisor" if c["action"] == "override" else "packer"
            _add_badge(badges, role, c["operator"], c["at"], c["action"])
        for who in (p.get("second_by"),):
            if who:
                _add_badge(badges, "second_person", who, c["at"], c["action"])
        if c.get("image_sha256"):
            photos.append(c["image_sha256"])
        if p.get("clip_sha256"):
            clips.append(p["clip_sha256"])
    recorded = video.clips_of(conn, order_id)  # every clip of the order: packed, stopped, cancelled, removed
    clips += [c["sha256"] for c in recorded if c["sha256"] not in clips and c["removed_at"] is None]
    timeline = sorted(
        [{"at": c["at"], "kind": "confirmation", "action": c["action"], "who": c.get("operator"), "id": c["id"]}
         for c in confs]
        + [{"at": a["at"], "kind": "audit", "action": a["action"], "who": a["who"], "id": a["id"],
            "reason": a["reason"]} for a in audit],
        key=lambda e: (_when(e["at"]), e["kind"] != "confirmation"))
    ids = {c.get("operator") for c in confs} | {a["who"] for a in audit} | \
        {b["employee_id"] for role in badges.values() for b in role}
    return {"order_id": order_id, "station": (confs[0]["station"] if confs else (state["station"] if state else None)),
            "people": _names(conn, sorted(i for i in ids if i)),
            "order": dict(state) if state else None, "scans": scans, "badges": badges, "weighings": weighings,
            "labels": labels, "media": {"photos": photos, "clips": clips},
            "clips": [{k: c[k] for k in c if k != "path"} for c in recorded],
            "audit": [{**a, "before": json.loads(a["before"]), "after": json.loads(a["after"])} for a in audit],
            "timeline": timeline, "confirmations": confs}


def _names(conn: sqlite3.Connection, employee_ids: list[str]) -> dict[str, str]:
    """The names of the people in the record (the reference data's), by employee id."""
    if not employee_ids:
        return {}
    rows = conn.execute(f"SELECT employee_id, json_extract(data, '$.name') FROM ref_employees WHERE employee_id IN "
                        f"({','.join('?' * len(employee_ids))})", employee_ids)
    return {r[0]: r[1] for r in rows if r[1]}


def _add_badge(badges: dict[str, list[dict]], role: str, who: str, at: str, action: str) -> None:
    if not any(b["employee_id"] == who for b in badges[role]):
        badges[role].append({"employee_id": who, "first_at": at, "action": action})


# ---------------------------------------------------------------------------------------- export
def media_dirs(data_dir: Path, extra: Iterable[str] = ()) -> list[Path]:
    """Where photos and clips are kept: the data folder's photos/ and clips/, the camera's default snapshot
    folder, and any ``extra``."""
    return [*(Path(e) for e in extra), data_dir / "photos", data_dir / "clips",
            Path(tempfile.gettempdir()) / "packgate-snapshots"]


def _find(sha: str, folders: list[Path]) -> Path | None:
    for folder in folders:
        for path in sorted([*folder.glob(f"{sha}.*"), *folder.glob(f"*/{sha}.*")]) if folder.is_dir() else []:
            if path.suffix != ".tmp" and hashlib.sha256(path.read_bytes()).hexdigest() == sha:
                return path
    return None


def export(rec: dict[str, Any], folder: Path, media: list[Path]) -> list[Path]:
    """Write ``evidence.json`` and the media files found (hash-checked) into ``folder``; a medium that is
    missing or whose bytes do not match its hash is listed under ``media_missing``, never silently left out."""
    folder.mkdir(parents=True, exist_ok=True)
    written, missing = [], []
    for sha in [*rec["media"]["photos"], *rec["media"]["clips"]]:
        found = _find(sha, media)
        if found is None:
            missing.append(sha)
            continue
        target = folder / found.name
        shutil.copyfile(found, target)
        written.append(target)
    doc = {**rec, "media_files": [p.name for p in written], "media_missing": missing}
    out = folder / "evidence.json"
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True, default=str), encoding="utf-8")
    return [out, *written]
