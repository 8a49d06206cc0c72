"""Returns in the reference WMS (逆向物流): the RMA contract and what the tables' return confirmations do.

An RMA is reference data of kind ``rmas`` (key ``rma_id``): the original order, the lines and quantities coming
back, the customer's reason (a code: the site counts the top ten), the return waybill, and ``shipped`` (what the
order's ``pack`` confirmations recorded: units with lot and serial, the outbound weight, photo and clip), so a
table can check each unit against what left the warehouse even while the WMS cannot be reached. ``announce``
validates one (the admin API); a ``pack`` arriving later for its order fills ``shipped`` in (``on_pack``).

The tables send ``return_received``, ``return_item``, ``return_graded`` and ``return_closed`` (object ``rma``).
``apply`` runs inside the confirmation's own transaction, after its key was found new: the RMA moves to
``received``, then on ``return_closed`` the WMS decides with the station's rule (``station/core/returns.py``):
**refunded** when every unit announced came back graded A, none was swapped and the weight matched, else
**review**; A-grade units go back into their lots (stock +1 each). The decision row (``up_rma_outcomes``, key
``rma_id``) makes the refund and the restock happen once, whatever is sent twice.
"""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import datetime
from typing import Any

from packgate.device.clock import isoformat, parse_iso
from packgate.sync.upstream import store

ACTIONS = ("return_received", "return_item", "return_graded", "return_closed")
STATUSES = ("announced", "received", "refunded", "review")
TEXT_MAX = 64

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS up_rma_outcomes (rma_id TEXT PRIMARY KEY, order_id TEXT NOT NULL,
        outcome TEXT NOT NULL, reasons TEXT NOT NULL, confirmation_id TEXT NOT NULL, station TEXT NOT NULL,
        restocked TEXT NOT NULL, at TEXT NOT NULL)""",
)


class RmaRefused(ValueError):
    """An RMA the admin API cannot announce (the message names the problem); ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def announce(conn: sqlite3.Connection, body: Any, now: datetime) -> dict[str, Any]:
    """Validate and store one RMA (inside the caller's transaction); returns the stored record."""
    if not isinstance(body, dict):
        raise RmaRefused("expected an RMA object")
    for name in ("rma_id", "order_id", "reason", "waybill"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX:
            raise RmaRefused(f"{name} must be a text of 1 to {TEXT_MAX} characters")
    order = store.get_reference(conn, "orders", body["order_id"])
    if order is None:
        raise RmaRefused(f"unknown order {body['order_id']}", 404)
    ordered: Counter[str] = Counter()
    for line in order.get("lines") or ():
        if isinstance(line, dict):
            ordered[str(line.get("sku"))] += int(line.get("qty") or 0)
    lines = body.get("lines")
    if lines is None:
        lines = [{"sku": s, "qty": q} for s, q in ordered.items()]
    if not isinstance(lines, list) or not lines:
        raise RmaRefused("lines must be a non-empty list of {sku, qty}")
    wanted: Counter[str] = Counter()
    for line in lines:
        qty = line.get("qty") if isinstance(line, dict) else None
        if not isinstance(line, dict) or not isinstance(line.get("sku"), str) or not isinstance(qty, int) \
                or isinstance(qty, bool) or qty < 1:
            raise RmaRefused("each line must be {sku: text, qty: whole number ≥ 1}")
        wanted[line["sku"]] += qty
    over = {s: q for s, q in wanted.items() if q > ordered[s]}
    if over:
        raise RmaRefused("more returned than ordered: " + ", ".join(f"{s} ×{q} (ordered {ordered[s]})"
                                                                    for s, q in sorted(over.items())), 422)
    existing = store.get_reference(conn, "rmas", body["rma_id"])
    if existing is not None and existing.get("status") != "announced":
        raise RmaRefused(f"RMA {body['rma_id']} is {existing.get('status')} already", 409)
    clash = conn.execute("SELECT json_extract(data, '$.rma_id') FROM up_ref WHERE kind = 'rmas' AND"
                         " json_extract(data, '$.waybill') = ? AND key <> ?", (body["waybill"], body["rma_id"])).fetchone()
    if clash is not None:
        raise RmaRefused(f"waybill {body['waybill']} belongs to RMA {clash[0]}", 409)
    record = {"rma_id": body["rma_id"].strip(), "order_id": body["order_id"], "waybill": body["waybill"].strip(),
              "reason": body["reason"].strip(), "note": str(body.get("note") or "")[:500],
              "lines": [{"sku": s, "qty": q} for s, q in wanted.items()], "status": "announced",
              "announced_at": _when(body.get("announced_at")) or isoformat(now),
              "shipped": shipped_of(conn, body["order_id"])}
    store.upsert_reference(conn, "rmas", [record], now)
    return record


def _when(value: Any) -> str | None:
    """An ISO 8601 time the WMS sent (kept as sent), or None when it is not one."""
    try:
        return value if isinstance(value, str) and parse_iso(value) is not None else None
    except ValueError:
        return None


def shipped_of(conn: sqlite3.Connection, order_id: str) -> dict[str, Any]:
    """What the order's ``pack`` confirmations recorded (units with lot and serial, weight, photo, clip)."""
    units: list[dict] = []
    out: dict[str, Any] = {"units": units, "weight_g": None, "photos": [], "clips": [], "station": None,
                           "packed_at": None}
    for (body,) in conn.execute("SELECT body FROM up_confirmations WHERE object_type = 'order' AND object_id = ?"
                                " AND action = 'pack' ORDER BY n", (order_id,)):
        item = json.loads(body)
        p = item.get("payload") or {}
        units.extend({k: u.get(k) for k in ("sku", "lot", "serial", "expires")} for u in p.get("units") or ()
                     if isinstance(u, dict))
        weight = (p.get("weight") or {}).get("measured_g") if isinstance(p.get("weight"), dict) else None
        if weight is not None:
            out["weight_g"] = str(weight) if out["weight_g"] is None else \
                str(float(out["weight_g"]) + float(weight))
        if item.get("image_sha256"):
            out["photos"].append(item["image_sha256"])
        if p.get("clip_sha256"):
            out["clips"].append(p["clip_sha256"])
        out["station"], out["packed_at"] = item.get("station"), item.get("at")
    return out


def on_pack(conn: sqlite3.Connection, order_id: str, now: datetime) -> None:
    """A ``pack`` of ``order_id`` was accepted: its announced RMAs learn what was shipped."""
    for (data,) in conn.execute("SELECT data FROM up_ref WHERE kind = 'rmas' AND json_extract(data, '$.order_id') = ?"
                                " AND json_extract(data, '$.status') = 'announced'", (order_id,)).fetchall():
        rma = json.loads(data)
        store.upsert_reference(conn, "rmas", [{**rma, "shipped": shipped_of(conn, order_id)}], now)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    for statement in SCHEMA:
        conn.execute(statement)
    conn.execute("COMMIT")


def refusal(conn: sqlite3.Connection, item: dict, strict: bool) -> tuple[int, str] | None:
    """A return confirmation naming no RMA this WMS announced is refused (404) when the WMS is strict."""
    if strict and item["action"] in ACTIONS and store.get_reference(conn, "rmas", item["object_id"]) is None:
        return 404, f"unknown RMA {item['object_id']}"
    return None


def apply(conn: sqlite3.Connection, item: dict, now: datetime) -> None:
    """The effect of one new confirmation (inside its transaction, once it is stored): a ``pack`` tells its order's
    RMAs what was shipped; a return confirmation moves its RMA on."""
    if item["action"] == "pack" and item["object_type"] == "order":
        on_pack(conn, item["object_id"], now)
        return
    if item["action"] not in ACTIONS or item["object_type"] != "rma":
        return
    rma = store.get_reference(conn, "rmas", item["object_id"])
    if rma is None:
        return
    if item["action"] != "return_closed":
        if rma.get("status") == "announced":
            store.upsert_reference(conn, "rmas", [{**rma, "status": "received", "received_at": item["at"],
                                                   "received_station": item["station"]}], now)
        return
    if conn.execute("SELECT 1 FROM up_rma_outcomes WHERE rma_id = ?", (rma["rma_id"],)).fetchone() is not None:
        return  # decided once: a second closing (another table, a re-sent close) changes nothing
    p = item["payload"]
    outcome, reasons = decide(rma, p)
    restocked = restock(conn, p, now)
    conn.execute("INSERT INTO up_rma_outcomes (rma_id, order_id, outcome, reasons, confirmation_id, station, restocked,"
                 " at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (rma["rma_id"], rma["order_id"], outcome, json.dumps(reasons),
                                                         item["id"], item["station"], json.dumps(restocked),
                                                         isoformat(now)))
    store.bump(conn, **{f"returns_{outcome}": 1})
    grades = p.get("grades") if isinstance(p.get("grades"), dict) else {}
    store.upsert_reference(conn, "rmas", [{**rma, "status": outcome, "outcome_reasons": reasons,
                                           "closed_at": item["at"], "decided_at": isoformat(now), "grades": grades,
                                           "weight": p.get("weight"), "restocked": restocked,
                                           "received_at": rma.get("received_at") or item["at"],
                                           "received_station": rma.get("received_station") or item["station"]}], now)


def decide(rma: dict, payload: dict) -> tuple[str, list[str]]:
    """``refunded`` or ``review`` with the reasons, from the closing confirmation and the RMA's own lines."""
    sent = payload.get("units")
    units = [u for u in sent if isinstance(u, dict)] if isinstance(sent, list) else []
    back = Counter(str(u.get("sku")) for u in units)
    reasons = []
    lines = [line for line in rma.get("lines") or () if isinstance(line, dict) and isinstance(line.get("qty"), int)]
    if any(back[str(line.get("sku"))] < line["qty"] for line in lines):
        reasons.append("units_missing")
    if not units or any(u.get("grade") != "A" for u in units):
        reasons.append("not_all_grade_a")
    if any(u.get("swapped") for u in units):
        reasons.append("not_the_unit_shipped")
    weight = payload.get("weight")
    if not isinstance(weight, dict) or weight.get("flagged") is not False:
        reasons.append("weight_gap")
    return ("review", reasons) if reasons else ("refunded", [])


def restock(conn: sqlite3.Connection, payload: dict, now: datetime) -> list[dict]:
    """A-grade units back into their lots (the lot's stock +1 each); returns what was restocked (and where)."""
    per_lot: Counter[tuple[str, str]] = Counter()
    sent = payload.get("units")
    for u in sent if isinstance(sent, list) else ():
        if isinstance(u, dict) and u.get("grade") == "A" and not u.get("swapped"):
            lot = (u.get("putaway") or {}).get("lot") if isinstance(u.get("putaway"), dict) else None
            per_lot[(str(u.get("sku")), str(lot or u.get("lot") or ""))] += 1
    out = []
    for (sku, lot), n in sorted(per_lot.items()):
        row = store.get_reference(conn, "lots", f"{sku}\x1f{lot}") if lot else None
        if row is None or not isinstance(row.get("qty", 0), int):
            out.append({"sku": sku, "lot": lot or None, "qty": n, "restocked": False, "why": "unknown_lot"})
            continue
        store.upsert_reference(conn, "lots", [{**row, "qty": int(row.get("qty") or 0) + n}], now)
        out.append({"sku": sku, "lot": lot, "qty": n, "bin": row.get("bin"), "restocked": True})
    return out


def outcomes(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM up_rma_outcomes ORDER BY at, rma_id")
    return [{**dict(r), "reasons": json.loads(r["reasons"]), "restocked": json.loads(r["restocked"])} for r in rows]


def listing(conn: sqlite3.Connection, status: str | None) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT data FROM up_ref WHERE kind = 'rmas' AND (? IS NULL OR json_extract(data, '$.status')"
                        " = ?) ORDER BY key", (status, status))
    return [json.loads(r[0]) for r in rows]


EFFECTS = store.Effects(refusal, apply)  # what ``store.receive`` does with a confirmation for returns
