"""Personal data in the hub's database (SQLite or PostgreSQL): sealed at rest, purged when no longer needed.

The WMS's orders and employees (``hub_ref``), the feed's changes (``hub_feed``: the WMS's word carries the
address) and the subscribers' frozen events (``hub_deliveries``) keep their personal values sealed
(``sync.common.sealing``, the key in ``privacy.key_file``): the store seals as it writes (``Conn.sealer``) and
opens as it reads. ``seal_at_rest`` is the first-start pass over what an older hub kept in clear (marked done in
``hub_meta``); ``reseal`` is also what ``packgate site keys rotate`` runs. ``purge`` clears the personal values of
the orders handed over (``hub_parcels.shipped_at``) more than ``privacy.retention_days`` ago.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from packgate.device.clock import isoformat, parse_iso
from packgate.sync.common.sealing import KeyRing, keys_used, purge_record
from packgate.sync.hub import store
from packgate.sync.hub.engine import Conn, Database

CHUNK = 500


@dataclass(frozen=True)
class Sealed:
    table: str
    key: str  # an increasing column to walk the table by
    where: str


SEALED = (Sealed("hub_ref", "version", "kind IN ('orders', 'employees')"), Sealed("hub_feed", "seq", "1 = 1"),
          Sealed("hub_deliveries", "n", "1 = 1"))


def reseal(db: Database, ring: KeyRing) -> int:
    """Seal every plain personal value and re-seal those under an older key; returns the rows rewritten."""
    done = 0
    for spec in SEALED:
        last = -1
        while True:
            def chunk(conn: Conn, after: int = last, spec: Sealed = spec) -> tuple[int, int | None]:
                rows = conn.execute(f"SELECT {spec.key} AS k, {_column(spec)} AS data FROM {spec.table} WHERE"
                                    f" {spec.where} AND {spec.key} > ? ORDER BY {spec.key} LIMIT ?", (after, CHUNK))
                changed = 0
                for row in rows:
                    before = json.loads(row["data"])
                    after_seal = ring.reseal_record(before)
                    if after_seal != before:
                        conn.execute(f"UPDATE {spec.table} SET {_column(spec)} = ? WHERE {spec.key} = ?",
                                     (json.dumps(after_seal, sort_keys=True, ensure_ascii=False), row["k"]))
                        changed += 1
                return changed, (int(rows[-1]["k"]) if rows else None)

            changed, last_key = db.run(chunk)
            done += changed
            if last_key is None:
                break
            last = last_key
    return done


def _column(spec: Sealed) -> str:
    return "body" if spec.table == "hub_deliveries" else "data"


def keys_in_use(db: Database) -> set[str]:
    found: set[str] = set()
    with db.read() as conn:
        for spec in SEALED:
            for row in conn.execute(f"SELECT {_column(spec)} AS data FROM {spec.table} WHERE {spec.where} AND"
                                    f" {_column(spec)} LIKE '%pgenc1:%'"):
                found |= keys_used(row["data"])
    return found


def seal_at_rest(db: Database, ring: KeyRing) -> int:
    """Once per database: seal what an older hub kept in clear."""
    with db.read() as conn:
        if store.get_meta(conn, "privacy.sealed"):
            return 0
    done = reseal(db, ring)
    db.run(lambda conn: store.set_meta(conn, "privacy.sealed", "1"))
    return done


def purge(db: Database, now: datetime, retention_days: float) -> list[str]:
    """Clear the personal values of the orders handed over before now minus the retention: their reference row, the
    feed's changes about them and their subscribers' delivered events. Returns the orders purged now."""
    horizon = now - timedelta(days=retention_days)

    def run(conn: Conn) -> list[str]:
        # shipped_at is the station's stamp (its own UTC offset): compared as a moment, not as text
        handed = [r["order_id"] for r in conn.execute(
            "SELECT p.order_id, p.shipped_at FROM hub_parcels p JOIN hub_ref r ON r.kind = 'orders' AND"
            " r.key = p.order_id WHERE p.shipped_at IS NOT NULL AND r.data NOT LIKE '%personal_purged_at%'"
            " ORDER BY p.order_id") if parse_iso(r["shipped_at"]) < horizon][:1000]
        stamp = isoformat(now)
        for order_id in handed:
            row = conn.one("SELECT data FROM hub_ref WHERE kind = 'orders' AND key = ?", (order_id,))
            if row is not None:
                cleared = {**purge_record(json.loads(row["data"])), "personal_purged_at": stamp}
                conn.execute("UPDATE hub_ref SET data = ? WHERE kind = 'orders' AND key = ?",
                             (json.dumps(cleared, sort_keys=True, ensure_ascii=False), order_id))
            for table, key, column, where in (("hub_feed", "seq", "data", "subject = ?"),
                                              ("hub_deliveries", "n", "body", "subject = ? AND state <> 'pending'")):
                for item in conn.execute(f"SELECT {key} AS k, {column} AS data FROM {table} WHERE {where}",
                                         (order_id,)):
                    before = json.loads(item["data"])
                    cleared_item = purge_record(before)
                    if cleared_item != before:
                        conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?",
                                     (json.dumps(cleared_item, sort_keys=True, ensure_ascii=False), item["k"]))
        if handed:
            store.audit(conn, now, "system", "personal_purged", "orders", None,
                        {"orders": handed[:200], "count": len(handed), "retention_days": str(retention_days)})
        return handed

    return db.run(run)


__all__ = ["SEALED", "keys_in_use", "purge", "reseal", "seal_at_rest"]
