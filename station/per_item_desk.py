"""Per-item weighing at the table (``weighing.mode = "per_item"``): ``core.per_item`` fed by the kiosk's scans and
the scale's readings.

Invariants:

* with ``weighing.mode = "parcel"`` (the default) nothing here runs: the table packs as it always did;
* the per-item check runs while an order is open with its box chosen and units still to scan: first the empty
  box on the scale (its tare against the packaging's), then each item scan counts only after the weight gained
  matches that item (``core.per_item``); the whole parcel is still weighed and judged at the end as before;
* an item scan the per-item check refuses (box not on the scale yet, the last item scanned but not placed, the
  box changed without a scan) never reaches the packing step; one it allows waits for its weight once the
  packing step accepted it;
* readings arrive with the station clock's monotonic time; a reading settles by the scale's flag or by staying
  within one division for ``weighing.steady_s`` (``core.steady``);
* the session is per order, carton and box, and kept in station.db (``per_item_session``) whenever it changes: a
  restart mid-parcel goes on where it was (the box checked, the items placed so far, the item awaited); only its
  steadiness timer starts again. A session of another carton is never taken over; it is dropped when the kiosk has
  no order open.
"""
from __future__ import annotations

import json
from collections import Counter

from packgate.device.clock import isoformat
from packgate.device.scale.reading import Reading, Status
from packgate.station.core import packing as pk
from packgate.station.core import per_item
from packgate.station.core.weight_gate import expectations
from packgate.station.parts import Parts
from packgate.station.weights import TableWeights
from packgate.sync.common.db import write_tx

ACTIVE = frozenset({pk.State.ORDER_OPEN, pk.State.SCANNING, pk.State.READY_TO_WEIGH})
DONE = frozenset({pk.State.IDLE, pk.State.SIGNED_IN, pk.State.PACKED, pk.State.CANCELLED})


class ItemDesk:
    def __init__(self, parts: Parts, weights: TableWeights):
        self.parts, self.weights = parts, weights
        self.enabled = parts.cfg["weighing.mode"] == "per_item"
        self.config = per_item.ItemConfig(resolution=weights.config.resolution, hold_s=float(parts.cfg["weighing.steady_s"]),
                                          k=weights.config.k)
        self.key: tuple[str, int, str] | None = None
        self.session = per_item.ItemSession()
        self.pending: per_item.ItemSession | None = None
        row = parts.conn.execute("SELECT order_id, carton, box, body FROM per_item_session WHERE one = 1").fetchone()
        self.kept: tuple[tuple[str, int, str], dict] | None = \
            ((row["order_id"], int(row["carton"]), row["box"]), json.loads(row["body"])) if row is not None else None

    def _keep(self) -> None:
        """Write the session when it changed (``None`` key: drop the kept one)."""
        body = self.session.to_dict() if self.key is not None else None
        if (self.kept is None and self.key is None) or (self.kept is not None and self.key == self.kept[0]
                                                         and body == self.kept[1]):
            return
        with write_tx(self.parts.conn) as conn:
            if self.key is None or body is None:
                conn.execute("DELETE FROM per_item_session")
                self.kept = None
                return
            conn.execute("INSERT INTO per_item_session (one, order_id, carton, box, body, at) VALUES (1, ?, ?, ?, ?, ?)"
                         " ON CONFLICT (one) DO UPDATE SET order_id = excluded.order_id, carton = excluded.carton,"
                         " box = excluded.box, body = excluded.body, at = excluded.at",
                         (*self.key, json.dumps(body), isoformat(self.parts.clock.now())))
            self.kept = (self.key, body)

    def _context(self, pack: pk.PackSession) -> per_item.ItemContext | None:
        """The per-item context of the carton in hand, or None when the check does not apply now."""
        if not self.enabled:
            return None
        if (pack.order is None or pack.state in DONE) and (self.key is not None or self.kept is not None):
            # packed, cancelled or given up: nothing to go on with
            self.key, self.session, self.pending = None, per_item.ItemSession(), None
            self._keep()
        if pack.order is None or pack.packaging is None or pack.state not in ACTIVE:
            return None
        box = self.parts.catalog.packaging(pack.packaging)
        if box is None:
            return None
        closed = Counter(u.sku for u in pack.units) - Counter(u.sku for u in pack.open_units)
        ordered = {sku: qty - closed[sku] for sku, qty in pack.order.quantities().items() if qty > closed[sku]}
        skus = {code: self.parts.catalog.sku(code) for code in ordered}
        reference = {code: s.unit_weight_g for code, s in skus.items() if s is not None and s.unit_weight_g is not None}
        if len(reference) != len(ordered):
            return None  # a SKU without a weight: per item cannot judge it (the parcel's weighing says so)
        spread = expectations(reference, self.weights.figures(), self.weights.config)
        units = {code: per_item.Unit(code, skus[code].name if skus[code] else code, *spread[code]) for code in ordered}
        learned_box = self.weights.figures().boxes.get(box.code)
        key = (pack.order.order_id, pack.carton_no, box.code)
        if key != self.key:
            restored = self.kept[1] if self.kept is not None and self.kept[0] == key else None
            self.key, self.pending = key, None
            self.session = per_item.ItemSession.from_dict(restored) if restored else per_item.ItemSession()
        return per_item.ItemContext(units, ordered, box.code, box.tare_g, pack.order.order_id, self.config,
                                    learned_box.sigma_g if learned_box is not None and learned_box.n >= 5 else None)

    def before_scan(self, pack: pk.PackSession, event: pk.Event) -> dict | None:
        """An item scan: the verdict that refuses it, or None (the packing step goes on; ``after_scan`` follows)."""
        ctx = self._context(pack) if isinstance(event, pk.ScanItem) else None
        if ctx is None:
            return None
        assert isinstance(event, pk.ScanItem)
        sku = self.parts.catalog.sku(event.code)
        out = per_item.step(self.session, per_item.Scan(sku.sku if sku is not None else event.code), ctx)
        if out.verdict is None or out.verdict.code != "place_item":
            return out.verdict.as_dict() if out.verdict is not None else None
        self.pending = out.session
        return None

    def after_scan(self, verdict: dict) -> dict:
        """The packing step's answer to an allowed scan: an accepted item now waits for its weight."""
        pending, self.pending = self.pending, None
        if pending is None or verdict.get("code") != "item_accepted":
            return verdict
        self.session = pending
        self._keep()
        placed = pending.waiting or ""
        sku = self.parts.catalog.sku(placed)
        return {**verdict, "per_item": {"waiting": placed, "name": sku.name if sku else placed}}

    def on_reading(self, pack: pk.PackSession, reading: Reading) -> dict | None:
        """A scale reading (stable or not): the per-item verdict it brings, if any."""
        ctx = self._context(pack)
        if ctx is None:
            return None
        grams = reading.grams if reading.status in (Status.OK, Status.MOTION) else None  # motion: settles by time
        out = per_item.step(self.session, per_item.Reading(self.parts.clock.monotonic(), grams, reading.stable), ctx)
        self.session = out.session
        self._keep()
        return out.verdict.as_dict() if out.verdict is not None else None

    def holds(self, pack: pk.PackSession) -> bool:
        """The parcel is not to be weighed yet: its box is not checked, or a scanned item is not placed."""
        return self._context(pack) is not None and self.session.phase in (per_item.Phase.BOX, per_item.Phase.PLACE)

    def view(self) -> dict | None:
        if not self.enabled:
            return None
        if self.key is None:  # after a restart, before the first reading or scan: the session kept for this carton
            if self.kept is None:
                return None
            key, body = self.kept
            return {**body, "order_id": key[0], "carton": key[1], "box": key[2]}
        return {**self.session.to_dict(), "order_id": self.key[0], "carton": self.key[1], "box": self.key[2]}

