"""Personal data in station.db: sealed at rest, read unmasked only on the record, purged when no longer needed.

* **Sealed**: the personal fields of the WMS's orders and employees (``ref_orders``, ``ref_employees``) and the
  address of the WMS's word on an order (``wms_orders.address``) are written sealed (``sync.common.sealing``:
  AES-256-GCM, the key in ``privacy.key_file``, never in the database). ``seal_at_rest`` is the first-start pass
  of a file an older packgate wrote in clear (recorded in ``sync_meta`` ``privacy.sealed``); ``reseal`` is also
  what ``packgate keys rotate`` runs with the new key.
* **Read on the record**: ``recipient`` opens an order's ship-to for a supervisor and audits the read
  (``personal_read``); an evidence export is audited too (``evidence_export``, refused ones as
  ``evidence_export_refused``). ``access_report`` lists a day's rows of these.
* **Purged**: ``purge`` removes the personal values of the orders handed over at this station's dock more than
  ``privacy.retention_days`` ago, audited as ``personal_purged``.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from packgate.device.clock import isoformat
from packgate.station import store
from packgate.sync.common.db import write_tx
from packgate.sync.common.sealing import PREFIX, KeyRing, is_sealed, keys_used, purge_record, ring_of
from packgate.sync.schema import get_meta, set_meta

ACCESS_ACTIONS = ("personal_read", "evidence_export", "evidence_export_refused", "personal_purged")
CHUNK = 500


@dataclass(frozen=True)
class Sealed:
    table: str
    key: str
    column: str
    kind: str  # "record": JSON with personal keys; "value": one personal value; "bytes": a label job as printed


SEALED = (Sealed("ref_orders", "order_id", "data", "record"), Sealed("ref_employees", "employee_id", "data", "record"),
          Sealed("wms_orders", "order_id", "address", "value"), Sealed("label_jobs", "key", "fields", "record"),
          Sealed("label_jobs", "key", "job", "bytes"), Sealed("ref_rejected", "id", "data", "value"))


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _resealed(ring: KeyRing, text: Any, kind: str) -> Any:
    """The stored value with every personal value under the current key; None when it is already so."""
    if text is None:
        return None
    if kind == "bytes":
        raw = bytes(text)
        if raw.startswith(PREFIX.encode()) and ring.key_of(raw.decode()) == ring.current:
            return None
        return ring.seal_bytes(ring.open_bytes(raw))
    if kind == "value":
        if is_sealed(text):
            return None if ring.key_of(text) == ring.current else ring.seal(ring.open(text))
        try:
            return ring.seal(json.loads(text))
        except ValueError:  # a refused row kept cut short: sealed as the text it is
            return ring.seal(text)
    before = json.loads(text)
    after = ring.reseal_record(before)
    return None if after == before else json.dumps(after, sort_keys=True, default=str)


def reseal(conn: sqlite3.Connection, ring: KeyRing | None = None) -> int:
    """Seal every plain personal value and re-seal every one under an older key; returns the rows rewritten.
    Each chunk of rows commits on its own (the station keeps working while a big file is done)."""
    ring = ring or ring_of(conn)
    present = _tables(conn)
    done = 0
    for spec in SEALED:
        if spec.table not in present:
            continue
        last: Any = "" if spec.key != "id" else -1
        while True:
            rows = conn.execute(f"SELECT {spec.key}, {spec.column} FROM {spec.table} WHERE {spec.key} > ? "
                                f"ORDER BY {spec.key} LIMIT ?", (last, CHUNK)).fetchall()
            if not rows:
                break
            with write_tx(conn):
                for key, text in rows:
                    new = _resealed(ring, text, spec.kind)
                    if new is not None:
                        conn.execute(f"UPDATE {spec.table} SET {spec.column} = ? WHERE {spec.key} = ?", (new, key))
                        done += 1
            last = rows[-1][0]
    if done:
        forget_old_pages(conn)
    return done


def forget_old_pages(conn: sqlite3.Connection) -> None:
    """Copy the write-ahead log into the file and empty it, so the pages holding the values as they were before
    (in clear, or under a retired key) are overwritten, not kept beside the file (best effort: a reader in the
    middle of a read keeps its snapshot until the next checkpoint)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def keys_in_use(conn: sqlite3.Connection) -> set[str]:
    present = _tables(conn)
    found: set[str] = set()
    for spec in SEALED:
        if spec.table in present:
            for (text,) in conn.execute(f"SELECT {spec.column} FROM {spec.table} WHERE {spec.column} LIKE '%pgenc1:%'"):
                found |= keys_used(text.decode() if isinstance(text, bytes) else text)
    return found


def seal_at_rest(conn: sqlite3.Connection) -> int:
    """Once per file: seal what an older packgate stored in clear (nothing is lost: each value is re-read and
    re-written sealed in the same transaction as its row)."""
    if get_meta(conn, "privacy.sealed").get("privacy.sealed"):
        return 0
    done = reseal(conn)
    with write_tx(conn):
        set_meta(conn, privacy__sealed="1")
    return done


def recipient(conn: sqlite3.Connection, order_id: str, who: str, terminal: str, now: datetime,
              purpose: str) -> dict[str, Any] | None:
    """An order's ship-to, unmasked, for ``who`` (a supervisor); the read is audited. None: no such order."""
    row = conn.execute("SELECT data FROM ref_orders WHERE order_id = ?", (order_id,)).fetchone()
    if row is None:
        return None
    order = ring_of(conn).open_record(json.loads(row[0]))
    found = {k: order.get(k) for k in ("ship_to", "address", "customer") if k in order}
    with write_tx(conn):
        store.add_audit(conn, isoformat(now), who, "personal_read", order_id, None, {"fields": sorted(found)},
                        purpose, terminal)
    return {"order_id": order_id, **found, "purged_at": order.get("personal_purged_at")}


def audit_export(conn: sqlite3.Connection, order_id: str, who: str, terminal: str, now: datetime, *,
                 refused: str | None = None, files: int | None = None) -> None:
    after: dict[str, Any] = {"refused": refused} if refused else {"files": files}
    with write_tx(conn):
        store.add_audit(conn, isoformat(now), who, "evidence_export_refused" if refused else "evidence_export",
                        order_id, None, after, refused, terminal)


def purge(conn: sqlite3.Connection, now: datetime, retention_days: float) -> list[str]:
    """Remove the personal values of the orders handed over at this station's dock before now minus the retention;
    returns the orders purged now. (An order handed over at another table leaves the reference cache with the WMS's
    closed orders, ``sync.reference.PRUNE_DAYS`` after its last change.)"""
    if "dock_parcels" not in _tables(conn):
        return []
    horizon = isoformat(now - timedelta(days=retention_days))
    rows = conn.execute(
        "SELECT r.order_id, r.data FROM ref_orders r JOIN dock_parcels d ON d.order_id = r.order_id"
        " WHERE d.scanned_at < ? AND json_extract(r.data, '$.personal_purged_at') IS NULL ORDER BY r.order_id",
        (horizon,)).fetchall()
    if not rows:
        return []
    stamp = isoformat(now)
    done: list[str] = []
    with write_tx(conn):
        for order_id, data in rows:
            cleared = {**purge_record(json.loads(data)), "personal_purged_at": stamp}
            conn.execute("UPDATE ref_orders SET data = ? WHERE order_id = ?", (json.dumps(cleared, sort_keys=True),
                                                                                 order_id))
            conn.execute("UPDATE wms_orders SET address = NULL WHERE order_id = ?", (order_id,))
            done.append(order_id)
        store.add_audit(conn, stamp, "system", "personal_purged", None, None,
                        {"orders": done[:200], "count": len(done), "retention_days": retention_days}, None, None)
    forget_old_pages(conn)
    return done


def access_report(conn: sqlite3.Connection, day: str) -> list[dict[str, Any]]:
    """The day's audited reads of personal data, evidence exports (and refusals) and purges, oldest first."""
    marks = ",".join("?" * len(ACCESS_ACTIONS))
    rows = conn.execute(f"SELECT id, at, who, action, object_id, after, reason, terminal FROM audit WHERE action IN"
                        f" ({marks}) AND substr(at, 1, 10) = ? ORDER BY id", (*ACCESS_ACTIONS, day))
    return [{**dict(r), "after": json.loads(r["after"]) if r["after"] else None} for r in rows]




class PrivacyDesk:
    """The station's side of the above: ``Station.privacy``."""

    def __init__(self, parts: Any, pins: Any, retention_days: float):
        self.parts, self.pins, self.retention_days = parts, pins, retention_days

    def purge(self) -> list[str]:
        p = self.parts
        with p.lock:
            return purge(p.conn, p.clock.now(), self.retention_days)

    def recipient(self, order_id: str, who: str, terminal: str, purpose: str) -> dict[str, Any] | None:
        p = self.parts
        with p.lock:
            return recipient(p.conn, order_id, who, terminal, p.clock.now(), purpose)

    def export(self, order_id: str, badge: Any, pin: Any, terminal: str) -> tuple[dict[str, Any], int]:
        """The evidence record of ``order_id`` for export, or the refusal: a supervisor's badge and PIN, checked
        here, are the second verification; granted and refused exports are both audited."""
        from packgate.station import evidence
        from packgate.station.core.models import Role
        from packgate.station.core.verdicts import answer

        p = self.parts
        refusal: dict[str, Any] | None = None
        who = "-"
        if not isinstance(badge, str) or not isinstance(pin, str) or not badge.strip() or not pin.strip() \
                or len(badge) > 64 or len(pin) > 64:
            refusal = answer("export_needs_supervisor")
        else:
            proven = self.pins.verify(badge, pin, "evidence_export", terminal)
            if isinstance(proven, dict):
                refusal = proven
            elif proven.role is not Role.SUPERVISOR:
                who = proven.employee_id
                refusal = answer("export_not_supervisor", name=proven.name, role=str(proven.role))
            else:
                who = proven.employee_id
        with p.lock:
            if refusal is not None:
                audit_export(p.conn, order_id, who, terminal, p.clock.now(), refused=str(refusal.get("code")))
                return refusal, 403
            record = evidence.record(p.conn, order_id)
            if record is None:
                return answer("evidence_unknown_order", order_id=order_id), 404
            audit_export(p.conn, order_id, who, terminal, p.clock.now(), files=sum(len(v) for v in record["media"].values()))
        return {**record, "exported_by": who}, 200

    def report(self, day: str) -> list[dict[str, Any]]:
        p = self.parts
        with p.lock:
            return access_report(p.conn, day)


REPORT_COLUMNS = ("id", "at", "who", "action", "object_id", "reason", "terminal", "after")


def report_csv(rows: list[dict[str, Any]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow([json.dumps(row[c], sort_keys=True) if c == "after" and row[c] is not None else row[c]
                         for c in REPORT_COLUMNS])
    return out.getvalue()


__all__ = ["ACCESS_ACTIONS", "PrivacyDesk", "SEALED", "access_report", "audit_export", "keys_in_use", "purge",
           "recipient", "report_csv", "reseal", "seal_at_rest"]
