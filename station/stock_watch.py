"""Stock thresholds at the station (安全库存): every unit counted at the table (``verify``) or picked on a PDA
(``pick``) is checked against its SKU's and its lot's safety level (``core.stock_thresholds``). A level crossed is
kept in ``stock_alerts`` (step 10) and sent upstream as one ``replenish`` confirmation, in the transaction of the
step; a PDA pick short of stock is kept the same way and sent as one ``stock_short``. ``tick`` tells the shift lead (the
``escalation.notify`` channels, Apprise) outside the station lock, each alert once; the supervisor page lists them.
An alert stays open until the WMS's stock is above the level again (``on_reference``): it is not raised twice.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from typing import Any, Iterable

from packgate.device.clock import isoformat
from packgate.station.core import stock_thresholds as rules
from packgate.station.core.effects import Confirmation
from packgate.station.parts import Parts
from packgate.station.ports import Notifier, Outbox

log = logging.getLogger("packgate.stock")
REPLENISH = "replenish"


class StockWatch:
    def __init__(self, parts: Parts, notifier: Notifier | None):
        self.parts = parts
        self.notifier = notifier
        self.default = int(parts.cfg["stock.default_safety_qty"])

    def taken(self, conn: sqlite3.Connection, outbox: Outbox, effects: Iterable[Any], counted: Counter,
              device: str, location: str, at: str, actions: tuple[str, ...] = ("verify",)) -> int:
        """Check the units of the ``verify``/``pick`` confirmations in ``effects`` (``counted``: the units of each
        (sku, lot) already counted for the order before them); raise what they crossed (inside the caller's
        transaction); how many alerts it raised."""
        now: Counter = Counter()
        raised = 0
        for effect in effects:
            if not (isinstance(effect, Confirmation) and effect.action in actions):
                continue
            sku, lot = effect.payload.get("sku"), effect.payload.get("lot")
            if not isinstance(sku, str):
                continue
            qty = effect.payload.get("qty", 1) if effect.action == "pick" else 1
            now[(sku, lot)] += qty if isinstance(qty, int) and qty > 0 else 1
        for sku in sorted({s for s, _ in now}):
            cache = self.parts.catalog.cache
            before = {lot: n for (s, lot), n in counted.items() if s == sku}
            taken = {lot: n for (s, lot), n in now.items() if s == sku}
            for crossing in rules.crossings(sku, cache.get_sku(sku), cache.lots_for_sku(sku), before, taken,
                                            self.default):
                raised += self._raise(conn, outbox, crossing, device, location, at)
        return raised

    def _raise(self, conn: sqlite3.Connection, outbox: Outbox, crossing: rules.Crossing, device: str, location: str,
               at: str) -> int:
        detail = crossing.as_dict()
        added = conn.execute("INSERT OR IGNORE INTO stock_alerts (key, sku, lot, kind, detail, at) VALUES"
                             " (?, ?, ?, 'threshold', ?, ?)",
                             (crossing.key, crossing.sku, crossing.lot, json.dumps(detail), at)).rowcount
        if added:
            outbox.enqueue(conn, action=REPLENISH, object_type="sku", object_id=crossing.sku, operator=None,
                           device=device, location=location, payload=detail, image_sha256=None)
        return int(added)

    def short(self, conn: sqlite3.Connection, outbox: Outbox, verdict: dict, who: str | None, device: str,
              location: str, at: str) -> None:
        """A PDA pick short of stock: kept for the shift lead, and sent upstream as one ``stock_short`` (in a site the
        hub tells its shift lead too)."""
        data = verdict.get("data") or {}
        detail = {"sku": data.get("sku"), "missing": data.get("missing"), "picker": who,
                  "message": verdict.get("message"), "message_zh": verdict.get("message_zh")}
        conn.execute("INSERT INTO stock_alerts (key, sku, lot, kind, detail, at) VALUES (?, ?, NULL, 'short', ?, ?)",
                     (f"{data.get('sku')}|short|{at}", str(data.get("sku") or "?"), json.dumps(detail), at))
        outbox.enqueue(conn, action="stock_short", object_type="sku", object_id=str(data.get("sku") or "?"),
                       operator=who, device=device, location=location,
                       payload={"sku": data.get("sku"), "missing": data.get("missing"), "picker": who},
                       image_sha256=None)

    def on_reference(self, conn: sqlite3.Connection, kept: dict[str, list[dict]]) -> None:
        """``ReferenceCache``'s hook: an alert closes once the WMS's stock of its level is above it again."""
        skus = {row.get("sku") for row in kept.get("lots") or []} | {row.get("sku") for row in kept.get("skus") or []}
        for sku in sorted(s for s in skus if isinstance(s, str)):
            found = conn.execute("SELECT data FROM ref_skus WHERE sku = ?", (sku,)).fetchone()
            lots = [json.loads(r[0]) for r in conn.execute("SELECT data FROM ref_lots WHERE sku = ?", (sku,))]
            low = rules.below(json.loads(found[0]) if found else {"sku": sku}, lots, self.default)
            for (key,) in conn.execute("SELECT key FROM stock_alerts WHERE sku = ? AND open = 1 AND kind = 'threshold'",
                                       (sku,)).fetchall():
                if key not in low:
                    conn.execute("UPDATE stock_alerts SET open = 0 WHERE key = ? AND open = 1", (key,))

    def tick(self) -> int:
        """Tell the shift lead about each alert not told yet (outside the station lock); how many went out."""
        p = self.parts
        with p.lock:
            due = [dict(r) for r in p.conn.execute(
                "SELECT * FROM stock_alerts WHERE notified_at IS NULL AND notify_error IS NULL ORDER BY id LIMIT 20")]
        sent = 0
        for alert in due:
            title, body = _words(alert)
            ok, error = (True, None) if self.notifier is None else \
                self.notifier.send(title, body, {"kind": f"stock_{alert['kind']}", "sku": alert["sku"],
                                                 "lot": alert["lot"], "station": p.id, **json.loads(alert["detail"])})
            with p.lock, p.conn:
                p.conn.execute("UPDATE stock_alerts SET notified_at = ?, notify_error = ? WHERE id = ?",
                               (isoformat(p.clock.now()) if ok else None, None if ok else str(error)[:300],
                                alert["id"]))
            sent += int(ok)
        return sent

    def listing(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.parts.conn.execute("SELECT * FROM stock_alerts ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"]), "open": bool(r["open"])} for r in rows]


def _words(alert: dict) -> tuple[str, str]:
    d = json.loads(alert["detail"])
    if alert["kind"] == "short":
        return (f"Short pick: {alert['sku']} / 拣货缺货：{alert['sku']}",
                f"{d.get('missing')} missing at the pick of {d.get('picker') or '?'} / 缺{d.get('missing')}件")
    where = f"{alert['sku']} lot {alert['lot']}" if alert["lot"] else str(alert["sku"])
    return (f"Stock low: {where} / 库存低于安全水平：{where}",
            f"{d['after']} left, safety level {d['threshold']}; replenishment requested ({d['suggested_qty']}). / "
            f"剩余{d['after']}，安全库存{d['threshold']}；已请求补货（{d['suggested_qty']}）。")
