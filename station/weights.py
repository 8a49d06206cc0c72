"""The learned weight gate's I/O at one table: what each closed carton weighed, learning from it, the snapshot.

``core.weight_learning`` learns and ``core.weight_gate`` judges, both pure; this module feeds them from station.db
(tables of migration step 8) and hands the packing step a ``TableGate``. Invariants:

* a carton is recorded (``record``) in the transaction that packs it, from its ``pack`` confirmation: a weighing
  that passed teaches (``passed``); a blocked one a supervisor approved is kept apart (``overridden``: evidence
  for the review, never a learned figure by itself); a carton without a box or a stable reading is not recorded;
* learning (``relearn``) runs off the hot path, in the agent's ``weights`` loop: it reads the samples under the
  station's lock, fits without it, then stores the snapshot and swaps it in; the packing step only reads the
  snapshot it finds, so a weighing never waits for a fit;
* the snapshot survives a restart (``weight_learned``), and a station that never learned judges on the catalogue
  exactly as ``weighing.gate = "catalogue"`` does (with ``weighing.gate_floor = "site"``);
* a supervisor's decisions (``weight_reference``): an accepted unit weight replaces the catalogue's for the gate
  and the learning; a reset forgets the SKU's parcels up to that moment.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from decimal import Decimal
from typing import Any, Mapping

from packgate.device.clock import Clock, isoformat
from packgate.station.core.models import CatalogView
from packgate.station.core.resolution import Resolution
from packgate.station.core.tolerance import ToleranceConfig
from packgate.station.core.weight_gate import GateConfig, TableGate
from packgate.station.core.weight_learning import Learned, Reference, Weighing, items_of, learn
from packgate.station.parts import Settings
from packgate.sync.common.db import write_tx

WINDOW = 20000  # the most recent cartons learned from (LearnConfig.window)


def gate_config(cfg: Settings, tolerance: ToleranceConfig) -> GateConfig:
    """The gate's rules from ``weighing.*``: the site's percentage, the floor (the site's table, or divisions)."""
    floor = "division" if cfg["weighing.gate_floor"] == "division" else \
        cfg["weighing.floor_table"] if cfg["weighing.use_floor"] else "none"
    return GateConfig(tolerance=tolerance, resolution=Resolution.parse(str(cfg["weighing.scale_division"])),
                      floor=floor, k=Decimal(str(cfg["weighing.gate_k"])))


def sample_of(payload: Mapping[str, Any], order_id: str, resolution: Resolution) -> tuple[Any, ...] | None:
    """A ``weight_samples`` row (without seq and time) from a ``pack`` confirmation's payload, or None when the
    carton says nothing about weights (no box, no stable reading, no verdict on a weight)."""
    weight, box = payload.get("weight") or {}, payload.get("packaging")
    measured = weight.get("measured_g")
    result = {"pass": "passed", "fail": "overridden"}.get(weight.get("result") or "")
    if not box or measured is None or result is None or (result == "overridden" and not payload.get("override")):
        return None
    items = items_of((u["sku"], 1) for u in payload.get("units") or ())
    if not items:
        return None
    grams = Decimal(measured)
    return (order_id, int(payload.get("carton") or 1), box, json.dumps([list(i) for i in items]), str(grams),
            str(resolution.division_at(grams)), result)


class TableWeights:
    """The learned gate of one table (see the module docstring). ``gate()`` is None with ``weighing.gate =
    "catalogue"``: the packing step then applies the catalogue rule as it always did."""

    def __init__(self, cfg: Settings, conn: sqlite3.Connection, lock: threading.RLock, catalog: CatalogView,
                 tolerance: ToleranceConfig, clock: Clock):
        self.enabled = cfg["weighing.gate"] == "learned"
        self.config = gate_config(cfg, tolerance)
        self.conn, self.lock, self.catalog, self.clock = conn, lock, catalog, clock
        row = conn.execute("SELECT body FROM weight_learned WHERE one = 1").fetchone()
        self.learned = Learned.from_dict(json.loads(row["body"])) if row is not None else Learned()

    def gate(self) -> TableGate | None:
        return TableGate(self.learned, self._decided()[0], self.config) if self.enabled else None

    def record(self, conn: sqlite3.Connection, order_id: str, payload: Mapping[str, Any], at: str) -> None:
        """Inside the packing transaction: keep a closed carton's weighing for the learning."""
        row = sample_of(payload, order_id, self.config.resolution)
        if row is not None:
            conn.execute("INSERT INTO weight_samples (order_id, carton, box, items, measured_g, division_g, result, at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*row, at))

    def relearn(self) -> bool:
        """One learning pass (the agent's ``weights`` loop; tests call it directly): fit the recent samples when
        there are new ones since the snapshot, store and use the result. Returns whether it learned."""
        with self.lock:
            last = self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM weight_samples").fetchone()[0]
            if last <= self.learned.upto_seq:
                return False
            rows = self.conn.execute("SELECT * FROM (SELECT * FROM weight_samples ORDER BY seq DESC LIMIT ?) "
                                     "ORDER BY seq", (WINDOW,)).fetchall()
            gate_ref, forget = self._decided()
        weighings = [Weighing(r["seq"], f"{r['order_id']}#{r['carton']}", r["box"],
                              items_of((s, int(q)) for s, q in json.loads(r["items"])), Decimal(r["measured_g"]),
                              r["result"], Decimal(r["division_g"])) for r in rows]
        learned = learn(weighings, self._learning_reference(weighings, gate_ref, forget))
        with self.lock, write_tx(self.conn) as conn:
            conn.execute("INSERT INTO weight_learned (one, upto_seq, body, at) VALUES (1, ?, ?, ?) "
                         "ON CONFLICT (one) DO UPDATE SET upto_seq = excluded.upto_seq, body = excluded.body, "
                         "at = excluded.at", (learned.upto_seq, learned.to_json(), isoformat(self.clock.now())))
        self.learned = learned
        return True

    def tick(self) -> None:
        self.relearn()

    def _decided(self) -> tuple[Reference, dict[str, int]]:
        """The supervisors' decisions: the gate's reference (accepted unit weights) and the resets."""
        rows = self.conn.execute("SELECT sku, accepted_g, forget_seq FROM weight_reference").fetchall()
        accepted = {r["sku"]: Decimal(r["accepted_g"]) for r in rows if r["accepted_g"] is not None}
        forget = {r["sku"]: int(r["forget_seq"]) for r in rows if r["forget_seq"] is not None}
        return Reference(unit_g=accepted, tare_g={}, accepted=frozenset(accepted), forget=forget), forget

    def _learning_reference(self, weighings: list[Weighing], gate_ref: Reference, forget: dict[str, int]) -> Reference:
        """What the learning's priors start from: accepted weights, else the catalogue's; the boxes' tares."""
        skus = {s for w in weighings for s, _ in w.items}
        boxes = {w.box for w in weighings}
        unit: dict[str, Decimal | None] = {}
        for code in skus:
            sku = self.catalog.sku(code)
            unit[code] = gate_ref.unit_g.get(code) or (sku.unit_weight_g if sku is not None else None)
        tare = {code: p.tare_g for code in boxes if (p := self.catalog.packaging(code)) is not None}
        return Reference(unit_g=unit, tare_g=tare, accepted=gate_ref.accepted, forget=forget)

