"""The dock hand-over (扫码出库): parcels scanned into a batch for one carrier, closed into shipments.

A PDA (or a station in dock mode) opens a batch (carrier, vehicle or route), scans each parcel's label
(its waybill, or the order id printed on it) and closes the batch. The rules are ``core.dock.check``.

In a site the dock belongs to the site: a batch takes any parcel packed at any table. Each scan asks the hub to hold
the parcel for this batch (the hub arbitrates: one batch per parcel of the site) and judges the facts it answers
(stage, WMS status, carrier, the batch that holds it) with the same rules; a parcel the batch refuses after the hub
held it is given back at once. While the hub cannot be reached only a parcel packed at this table can be checked
(from the station's own tables; the hub learns of it from the ``ship_load``, and records a conflict if another
batch held it meanwhile); any other label is refused (``dock_hub_offline``). A parcel packed here that the hub does
not know yet (its ``pack`` still in the outbox) is judged from the station's own tables too.
Closing is ONE transaction: the batch is marked closed, one ``ship_load`` confirmation per parcel and one
``manifest`` confirmation go into the outbox, the orders become ``shipped`` locally. A crash before the
commit leaves the batch open with nothing sent (close it again); after it, the outbox delivers at least
once with the same keys and upstream applies each shipment once.

A parcel of an order the WMS held or cancelled (订单拦截) is refused at its scan with the INTERCEPTED verdict and
one ``intercept`` confirmation (``stop``, the station's check; when only the hub's facts or the reference rows say so,
the station takes that word first, so the answer and the record are the same); closing a batch leaves out a parcel whose order was
stopped after it was scanned in (recorded the same way), so no hand-over of it reaches upstream.
"""
from __future__ import annotations

from typing import Any, Callable

from packgate.device.clock import isoformat
from packgate.station import store
from packgate.station.core import dock as rules
from packgate.station.core import order_state
from packgate.station.core.verdicts import answer, make
from packgate.station.hub_link import SiteLink
from packgate.station.parts import Parts
from packgate.station.pda import pda_device
from packgate.sync.common.db import write_tx

TEXT_MAX = 64
# (order id, step, meta, what the dock's facts say the WMS decided) -> the INTERCEPTED answer, or None
Stop = Callable[[str, str, dict, "dict | None"], "dict | None"]


class DockDesk:
    def __init__(self, parts: Parts, site: SiteLink | None = None, stop: Stop | None = None,
                 switched: Callable[[str], str | None] | None = None):
        self.p = parts
        self.site = site
        self.stop: Stop = stop or (lambda _order, _step, _meta, _said: None)
        self.switched = switched or (lambda _order: None)  # the carrier an order was switched to (station.carriers)

    # ---------------------------------------------------------------------------- reads
    def batch(self, batch_id: str) -> dict | None:
        row = self.p.conn.execute("SELECT * FROM dock_batches WHERE batch_id = ?", (batch_id,)).fetchone()
        if row is None:
            return None
        parcels = [dict(r) for r in self.p.conn.execute(
            "SELECT * FROM dock_parcels WHERE batch_id = ? ORDER BY scanned_at, order_id", (batch_id,))]
        return {**dict(row), "parcels": parcels}

    def _resolve(self, code: str) -> tuple[rules.Parcel | None, str | None, bool]:
        """The parcel a label names from the station's own tables (a waybill the station confirmed for an order, or
        the order id itself), its waybill, and whether it was packed at this table."""
        conn = self.p.conn
        row = conn.execute("SELECT object_id FROM sync_outbox WHERE object_type = 'order' AND "
                           "json_extract(body, '$.payload.waybill') = ? ORDER BY seq DESC LIMIT 1", (code,)).fetchone()
        order_id, waybill = (row[0], code) if row else (code, None)
        local = store.order_row(conn, order_id)
        if local is None:
            return None, None, False
        ref = self.p.catalog.cache.get_order(order_id) or {}
        here = local["status"] in ("packed", "shipped") and local.get("station") in (None, self.p.id)
        return rules.Parcel(order_id, local["status"], self.switched(order_id) or ref.get("carrier"),
                            self._batch_of(order_id), ref.get("status"), str(ref.get(order_state.REASON) or ""),
                            ref.get(order_state.AT), ref.get(order_state.REVISION)), waybill, here

    def _batch_of(self, order_id: str) -> str | None:
        held = self.p.conn.execute("SELECT batch_id FROM dock_parcels WHERE order_id = ?", (order_id,)).fetchone()
        return str(held[0]) if held else None

    def _from_site(self, facts: dict, batch_id: str) -> tuple[rules.Parcel, str | None]:
        """The parcel as the hub knows it (any table's), with what this station knows on top: the batch of its own
        that holds it, and the WMS status of its reference rows when the hub's says nothing."""
        order_id = str(facts["order_id"])
        ref = self.p.catalog.cache.get_order(order_id) or {}
        wms = facts["wms"] if isinstance(facts.get("wms"), dict) else {}
        status, reason, at, revision = wms.get("status"), wms.get("reason"), wms.get("at"), wms.get("revision")
        if not order_state.intercepted(status) and order_state.intercepted(ref.get("status")):
            status, reason, at, revision = (ref.get("status"), ref.get(order_state.REASON), ref.get(order_state.AT),
                                            ref.get(order_state.REVISION))
        held = self._batch_of(order_id)
        elsewhere = facts.get("batch_id") if facts.get("batch_id") not in (None, batch_id) else None
        carrier = self.switched(order_id) or facts.get("carrier") or ref.get("carrier")
        return rules.Parcel(order_id, str(facts.get("stage") or "open"), carrier,
                            held or elsewhere, status, str(reason or ""), at, revision), facts.get("waybill")

    # ---------------------------------------------------------------------------- actions
    def open(self, body: dict, operator: str) -> dict:
        fields = {}
        for name, required in (("carrier", True), ("vehicle", True), ("route", False)):
            value = body.get(name)
            if value is None and not required:
                continue
            if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX:
                return answer("dock_batch_bad", problem=f"{name} must be a text of 1 to {TEXT_MAX} characters",
                              problem_zh=f"{name}必须是1到{TEXT_MAX}个字符的文本")
            fields[name] = value.strip()
        at = isoformat(self.p.clock.now())
        with self.p.lock, write_tx(self.p.conn) as conn:
            n = conn.execute("SELECT COUNT(*) FROM dock_batches").fetchone()[0] + 1
            batch_id = f"{self.p.cfg['station.id']}-H{n:05d}"
            conn.execute("INSERT INTO dock_batches (batch_id, carrier, vehicle, route, opened_at, opened_by) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (batch_id, fields["carrier"], fields["vehicle"],
                                                       fields.get("route"), at, operator))
        return {**answer("dock_batch_opened", batch_id=batch_id, carrier=fields["carrier"], vehicle=fields["vehicle"]),
                "batch": self.batch(batch_id)}

    def scan(self, batch_id: str, code: Any, operator: str, device: str | None = None) -> dict:
        """Scan a parcel's label into the batch (``device``: the PDA that scanned it, else the station's dock)."""
        if not isinstance(code, str) or not code.strip() or len(code) > 128:
            return answer("dock_batch_bad", problem="code must be the label's text (1 to 128 characters)",
                          problem_zh="code必须是面单内容（1到128个字符）")
        code = code.strip()
        with self.p.lock:
            row = self.p.conn.execute("SELECT * FROM dock_batches WHERE batch_id = ?", (batch_id,)).fetchone()
            if row is None:
                return answer("dock_unknown_batch", batch_id=batch_id)
            batch = rules.Batch(batch_id, row["carrier"], row["closed_at"] is not None)
            if batch.closed:
                return rules.check(None, code, batch).as_dict()
            parcel, waybill, here = self._resolve(code)
        how, facts = self.site.dock_parcel(batch_id, code, operator) if self.site else ("standalone", None)
        if how == "site" and facts is not None and (facts.get("packed_station") or not here):
            parcel, waybill = self._from_site(facts, batch_id)
        elif how == "unknown" and not here:
            parcel = None
        elif how == "offline" and not here:
            return make("dock_hub_offline", code=code).as_dict()
        with self.p.lock:
            closed = self.p.conn.execute("SELECT closed_at FROM dock_batches WHERE batch_id = ?", (batch_id,)).fetchone()
            if parcel is not None and closed[0] is None:
                stopped = self.stop(parcel.order_id, "dock_scan", self._meta(operator, device), rules.wms_word(parcel))
                if stopped is not None:
                    if facts is not None and facts.get("taken") and self.site is not None:
                        self.site.dock_give_back(str(facts["order_id"]), batch_id)
                    return stopped
            verdict = rules.check(parcel, code, rules.Batch(batch_id, batch.carrier, closed[0] is not None),
                                  self.p.clock.now().tzinfo)
            if verdict.code == "dock_parcel_added" and parcel is not None:
                with write_tx(self.p.conn) as conn:
                    conn.execute("INSERT INTO dock_parcels (order_id, batch_id, code, waybill, scanned_at, scanned_by) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", (parcel.order_id, batch_id, code, waybill,
                                                               isoformat(self.p.clock.now()), operator))
                return verdict.as_dict()
            if verdict.code == "dock_unknown_parcel":  # a label no table of the site packed: kept for review
                with write_tx(self.p.conn) as conn:
                    store.record_rejected(conn, isoformat(self.p.clock.now()), self._meta(operator, device)["device"],
                                          code, "dock: not a parcel packed here")
        if facts is not None and facts.get("taken") and self.site is not None:
            self.site.dock_give_back(str(facts["order_id"]), batch_id)
        return verdict.as_dict()

    def close(self, batch_id: str, operator: str, device: str | None = None) -> dict:
        """Close the batch: its ``ship_load`` confirmations and ``manifest`` (``device``: the PDA that closed it,
        else the station's dock)."""
        with self.p.lock:
            batch = self.batch(batch_id)
            if batch is None:
                return answer("dock_unknown_batch", batch_id=batch_id)
            if batch["closed_at"]:
                return {**answer("dock_batch_closed", batch_id=batch_id), "batch": batch}
            left_out = []
            for parcel in list(batch["parcels"]):  # stopped by the WMS since it was scanned in: it stays here
                if self.stop(parcel["order_id"], "dock_close", self._meta(operator, device), None) is not None:
                    left_out.append(parcel["order_id"])
                    with write_tx(self.p.conn) as conn:
                        conn.execute("DELETE FROM dock_parcels WHERE order_id = ? AND batch_id = ?",
                                     (parcel["order_id"], batch_id))
                    batch["parcels"].remove(parcel)
            if not batch["parcels"]:
                return answer("dock_batch_empty", batch_id=batch_id)
            now = self.p.clock.now()
            at = isoformat(now)
            where = {"carrier": batch["carrier"], "vehicle": batch["vehicle"], "route": batch["route"],
                     "batch_id": batch_id}
            device = self.p.device_id("dock") if device is None else pda_device(self.p, device)
            location = self.p.cfg["station.location"]
            with write_tx(self.p.conn) as conn:
                conn.execute("UPDATE dock_batches SET closed_at = ?, closed_by = ? WHERE batch_id = ?",
                             (at, operator, batch_id))
                for parcel in batch["parcels"]:
                    self.p.outbox.enqueue(conn, action="ship_load", object_type="order", object_id=parcel["order_id"],
                                          operator=operator, device=device, location=location,
                                          payload={**where, "waybill": parcel["waybill"],
                                                   "scanned_at": parcel["scanned_at"]})
                    store.set_order(conn, parcel["order_id"], at, status="shipped")
                self.p.outbox.enqueue(conn, action="manifest", object_type="manifest", object_id=batch_id,
                                      operator=operator, device=device, location=location,
                                      payload={**where, "closed_at": at,
                                               "parcels": [{"order_id": p["order_id"], "waybill": p["waybill"]}
                                                           for p in batch["parcels"]]})
        return {**answer("dock_batch_handed_over", batch_id=batch_id, parcels=len(batch["parcels"]),
                         carrier=batch["carrier"]), "batch": self.batch(batch_id), "intercepted": left_out}

    def _meta(self, operator: str, device: str | None = None) -> dict:
        return {"operator": operator, "device": self.p.device_id("dock") if device is None else pda_device(self.p, device),
                "location": self.p.cfg["station.location"]}

    def waiting(self) -> list[dict]:
        """Packed orders not yet in any hand-over, oldest first."""
        return [dict(r) for r in self.p.conn.execute(
            "SELECT order_id, packed_at FROM order_state WHERE status = 'packed' AND order_id NOT IN "
            "(SELECT order_id FROM dock_parcels) ORDER BY packed_at")]
