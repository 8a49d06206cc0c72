"""Screening a reference page before it is stored: nothing ambiguous or unusable is resolved silently.

* a row without its key fields is refused (kept in ``ref_rejected`` with the reason);
* the same order id twice in one page is refused as a whole and the order is marked ambiguous
  (``ref_ambiguous``) until a later page carries it once;
* two employees with one badge UID, and two open orders in one tote, are stored as sent but are
  ambiguous at lookup time (``ambiguity``): the station refuses them with a message naming the clash.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from packgate.device.clock import parse_iso
from packgate.device.codes import canonical_badge

KINDS = ("skus", "lots", "packaging", "employees", "orders", "rmas", "carriers")
REQUIRED = {"skus": ("sku",), "lots": ("sku", "lot"), "packaging": ("code",), "employees": ("employee_id", "badge_uid"),
            "orders": ("order_id",), "rmas": ("rma_id", "order_id"), "carriers": ("carrier",)}
OPEN_STATUSES = "('open', 'picking', 'picked', 'packing')"


@dataclass(frozen=True)
class Refused:
    kind: str
    key: str | None
    reason: str
    row: Any
    ambiguous: str | None = None  # the ref_ambiguous kind this refusal marks


def screen(conn: sqlite3.Connection, page: dict) -> tuple[dict[str, list[dict]], list[Refused]]:
    kept: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    refused: list[Refused] = []
    for kind in KINDS:
        rows = page.get(kind) or []
        if not isinstance(rows, list):
            refused.append(Refused(kind, None, f"{kind} is not a list", rows))
            continue
        for row in rows:
            missing = [f for f in REQUIRED[kind] if not isinstance(row, dict) or not isinstance(row.get(f), str)
                       or not row.get(f)]
            if missing:
                key = row.get(REQUIRED[kind][0]) if isinstance(row, dict) else None
                refused.append(Refused(kind, str(key)[:100] if key is not None else None,
                                       f"{kind[:-1]} row without {', '.join(missing)}", row))
            else:
                kept[kind].append(row)
    ids = Counter(r["order_id"] for r in kept["orders"])
    twice = {oid for oid, n in ids.items() if n > 1}
    for oid in sorted(twice):
        refused.append(Refused("orders", oid, f"order {oid} appears {ids[oid]} times in one reference page", None,
                               ambiguous="order"))
    kept["orders"] = [r for r in kept["orders"] if r["order_id"] not in twice]
    for row in kept["orders"]:  # carried once again: no longer ambiguous
        conn.execute("DELETE FROM ref_ambiguous WHERE kind = 'order' AND key = ?", (row["order_id"],))
    for row in kept["employees"]:
        uid = canonical_badge(row["badge_uid"])
        other = conn.execute("SELECT employee_id FROM ref_employees WHERE badge_uid = ? AND employee_id != ?",
                             (uid, row["employee_id"])).fetchone()
        in_page = [r["employee_id"] for r in kept["employees"]
                   if canonical_badge(r["badge_uid"]) == uid and r["employee_id"] != row["employee_id"]]
        if other or in_page:
            holder = other[0] if other else in_page[0]
            refused.append(Refused("employees", row["employee_id"],
                                   f"badge {uid} of {row['employee_id']} is also the badge of {holder}", None))
    return kept, refused


def word_key(row: dict[str, Any]) -> tuple[int, datetime | None]:
    """(revision, decision time) of a WMS order record: what orders two words of the WMS on one order."""
    revision = row.get("revision")
    at = row.get("status_at")
    try:
        moment = parse_iso(at) if isinstance(at, str) and at else None
    except ValueError:
        moment = None
    return (revision if isinstance(revision, int) and not isinstance(revision, bool) else 1), moment


def is_older(new: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Whether the order record ``new`` is an earlier word of the WMS than ``current`` (a lower revision, or an
    earlier decision): a page read before a faster pull must not undo what the pull stored."""
    if current is None:
        return False
    (new_rev, new_at), (cur_rev, cur_at) = word_key(new), word_key(current)
    if new_rev != cur_rev:
        return new_rev < cur_rev
    return cur_at is not None and (new_at is None or new_at < cur_at)


def badge_clash(conn: sqlite3.Connection, uid: str) -> str | None:
    holders = [r[0] for r in conn.execute("SELECT employee_id FROM ref_employees WHERE badge_uid = ? ORDER BY employee_id",
                                          (canonical_badge(uid),))]
    return f"badge {canonical_badge(uid)} belongs to {' and '.join(holders)}" if len(holders) > 1 else None


def tote_clash(conn: sqlite3.Connection, tote: str) -> str | None:
    orders = [r[0] for r in conn.execute("SELECT order_id FROM ref_orders WHERE json_extract(data, '$.tote') = ? "
                                         f"AND COALESCE(status, 'open') IN {OPEN_STATUSES} ORDER BY order_id", (tote,))]
    return f"tote {tote} holds open orders {' and '.join(orders)}" if len(orders) > 1 else None


def clashes(conn: sqlite3.Connection) -> list[dict]:
    """Every badge and tote that is ambiguous now."""
    found = [{"kind": "badge", "key": r[0], "reason": badge_clash(conn, r[0])} for r in
             conn.execute("SELECT badge_uid FROM ref_employees GROUP BY badge_uid HAVING COUNT(*) > 1")]
    found += [{"kind": "tote", "key": r[0], "reason": tote_clash(conn, r[0])} for r in
              conn.execute("SELECT json_extract(data, '$.tote') FROM ref_orders WHERE json_extract(data, '$.tote') "
                           f"IS NOT NULL AND COALESCE(status, 'open') IN {OPEN_STATUSES} GROUP BY 1 HAVING COUNT(*) > 1")]
    return found
