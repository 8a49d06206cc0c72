"""The learned weight gate's I/O at one table: what each closed carton weighed, learning from it, the snapshot, and
the supervisor's review of suspect catalogue weights.

``core.weight_learning`` learns, ``core.weight_gate`` judges and ``core.weight_review`` lists and decides, all pure;
this module feeds them from station.db (tables of migration step 8) and hands the packing step a ``TableGate``.
Invariants:

* a carton is recorded (``record``) in the transaction that packs it, from its ``pack`` confirmation: a weighing
  that passed teaches (``passed``); a blocked one a supervisor approved is kept apart (``overridden``: evidence
  for the review, never a learned figure by itself); a carton without a box or a stable reading is not recorded;
* learning (``relearn``) runs off the hot path, in the agent's ``weights`` loop: it reads the samples under the
  station's lock, fits without it, then stores the snapshot and swaps it in; the packing step only reads the
  snapshot it finds, so a weighing never waits for a fit;
* the snapshot survives a restart (``weight_learned``), and a station that never learned judges on the catalogue
  exactly as ``weighing.gate = "catalogue"`` does (with ``weighing.gate_floor = "site"``);
* a supervisor's decision (``decide``: accept the learned unit weight, or reset the SKU's learning) needs a
  supervisor present (signed in with badge and PIN), is recorded with its audit entry and, for an acceptance,
  the ``weight_learned`` confirmation upstream, in one transaction; an accepted weight is the gate's reference
  at once, a reset forgets the SKU's parcels at the next learning pass.

In a site (``upstream.kind = "hub"``) the hub holds the learned figures of every table (``sync/hub/weights.py``):

* each learning pass (``tick``) first takes the site's figures and decisions (``site_sync``), then learns from this
  table's parcels and sends its snapshot with the review it computed on the site's figures;
* the gate, the review and the per-item check judge on the site's figures (``figures()``): parcels packed at any
  table teach every table; the last site figures are kept in station.db (``weight_site``), so a restart and a hub
  out of reach leave the table judging on the last ones it had (its own snapshot until it ever had site figures);
* a decision is the site's: taken at the hub (once per SKU and review: another table deciding first is refused
  with ``weight_decided_elsewhere``), which queues the one ``weight_learned`` confirmation for the WMS; this table
  records the decision (with its site number) and its audit entry; with the hub out of reach it is refused
  (``hub_unreachable``), never taken twice. Decisions taken elsewhere are applied here at the next pass, in the
  site's order (a reset forgets this table's parcels of the SKU weighed until then).
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from decimal import Decimal
from typing import Any, Iterable, Mapping

from packgate.device.clock import isoformat
from packgate.device.errors import ProfileError
from packgate.device.profiles import get_profile
from packgate.station import store
from packgate.station.core import weight_review as review
from packgate.station.core.effects import AuditEntry, Confirmation
from packgate.station.core.models import Employee, Role
from packgate.station.core.resolution import Resolution
from packgate.station.core.tolerance import ToleranceConfig
from packgate.station.core.verdicts import answer
from packgate.station.core.weight_gate import GateConfig, TableGate
from packgate.station.core.weight_learning import Learned, Reference, Weighing, items_of, learn
from packgate.station.core.weight_review import Suspect
from packgate.station.parts import Parts, Settings
from packgate.station.ports import SiteHub
from packgate.sync.common.db import write_tx
from packgate.sync.errors import ClaimConflictError, SyncError

log = logging.getLogger(__name__)
WINDOW = 20000  # the most recent cartons learned from (LearnConfig.window)


def scale_resolution(cfg: Settings) -> Resolution:
    """The scale's division: ``weighing.scale_division`` when set, else its firmware profile's (``scale.profile``:
    ``[weighing] division``, else the step its readings carry, at least 1 g), else 1 g when the profile cannot be
    read."""
    text = str(cfg["weighing.scale_division"]).strip()
    if not text:
        try:
            text = get_profile(str(cfg["scale.profile"])).division or "1"
        except ProfileError as exc:
            log.warning("the scale's division is taken as 1 g: %s", exc)
            text = "1"
    return Resolution.parse(text)


def gate_config(cfg: Settings, tolerance: ToleranceConfig) -> GateConfig:
    """The gate's rules from ``weighing.*``: the site's percentage, the floor (the site's table, or divisions), the
    scale's division (``scale_resolution``)."""
    floor = "division" if cfg["weighing.gate_floor"] == "division" else \
        cfg["weighing.floor_table"] if cfg["weighing.use_floor"] else "none"
    return GateConfig(tolerance=tolerance, resolution=scale_resolution(cfg), floor=floor,
                      k=Decimal(str(cfg["weighing.gate_k"])))


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

    def __init__(self, parts: Parts, hub: SiteHub | None = None):
        self.parts, self.hub = parts, hub
        self.enabled = parts.cfg["weighing.gate"] == "learned"
        self.config = gate_config(parts.cfg, parts.tolerance)
        row = parts.conn.execute("SELECT body, decisions FROM weight_learned WHERE one = 1").fetchone()
        self.learned = Learned.from_dict(json.loads(row["body"])) if row is not None else Learned()
        self.decisions_seen = row["decisions"] if row is not None else 0
        site = parts.conn.execute("SELECT version, body, at FROM weight_site WHERE one = 1").fetchone()
        self.site: Learned | None = Learned.from_dict(json.loads(site["body"])) if site is not None else None
        self.site_version = site["version"] if site is not None else -1
        self.site_at: str | None = site["at"] if site is not None else None
        self.posted: str | None = None  # the snapshot and review last sent to the hub (sent again after a restart)
        self.wake = threading.Event()  # set by the hub's ``weights`` feed event: the agent's weights loop runs now
        self.hub_error: str | None = None

    def figures(self) -> Learned:
        """What the gate judges on: the site's figures in a site (the last ones it had), else this table's."""
        return self.site if self.hub is not None and self.site is not None else self.learned

    # ------------------------------------------------------------------ the gate and what teaches it
    def gate(self) -> TableGate | None:
        if not self.enabled:
            return None
        ref = self._reference({})
        accepted = {sku: ref.unit_g[sku] for sku in ref.accepted}  # the rest: the catalogue, as it is now
        return TableGate(self.figures(), Reference(accepted, {}, ref.accepted, ref.forget), self.config)

    def record(self, conn: sqlite3.Connection, order_id: str, payload: Mapping[str, Any], at: str) -> None:
        """Inside the packing transaction: keep a closed carton's weighing for the learning."""
        row = sample_of(payload, order_id, self.config.resolution)
        if row is not None:
            conn.execute("INSERT INTO weight_samples (order_id, carton, box, items, measured_g, division_g, result, at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (*row, at))

    def relearn(self) -> bool:
        """One learning pass (the agent's ``weights`` loop; tests call it directly): fit the recent samples when
        there are new ones, or new decisions, since the snapshot; store and use the result. Returns whether it
        learned."""
        p = self.parts
        with p.lock:
            last = p.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM weight_samples").fetchone()[0]
            decided = p.conn.execute("SELECT COALESCE(MAX(id), 0) FROM weight_decisions").fetchone()[0]
            if last <= self.learned.upto_seq and decided <= self.decisions_seen:
                return False
            rows = p.conn.execute("SELECT * FROM (SELECT * FROM weight_samples ORDER BY seq DESC LIMIT ?) "
                                  "ORDER BY seq", (WINDOW,)).fetchall()
            weighings = [Weighing(r["seq"], f"{r['order_id']}#{r['carton']}", r["box"],
                                  items_of((s, int(q)) for s, q in json.loads(r["items"])), Decimal(r["measured_g"]),
                                  r["result"], Decimal(r["division_g"])) for r in rows]
            reference = self._reference(self._catalogue({s for w in weighings for s, _ in w.items}),
                                        {w.box for w in weighings})
        learned = learn(weighings, reference)
        with p.lock, write_tx(p.conn) as conn:
            conn.execute("INSERT INTO weight_learned (one, upto_seq, decisions, body, at) VALUES (1, ?, ?, ?, ?) "
                         "ON CONFLICT (one) DO UPDATE SET upto_seq = excluded.upto_seq, decisions = excluded.decisions, "
                         "body = excluded.body, at = excluded.at",
                         (learned.upto_seq, decided, learned.to_json(), isoformat(p.clock.now())))
            self.learned, self.decisions_seen = learned, decided
        return True

    def tick(self) -> None:
        self.site_sync()
        self.relearn()
        self.site_post()

    # ------------------------------------------------------------------ the site's figures (a hub)
    def site_sync(self) -> bool:
        """Take the site's figures and decisions from the hub when they changed; keep them (``weight_site``) and
        apply new decisions here. False when there is no hub or it cannot be reached (the last figures stay)."""
        if self.hub is None:
            return False
        try:
            found = self.hub.weights(self.site_version)
        except (SyncError, OSError) as exc:
            self._hub_down(exc)
            return False
        self.hub_error = None
        version = int(found.get("version") or 0)
        if found.get("unchanged") or version == self.site_version:
            return True
        learned = Learned.from_dict(found["learned"])
        p = self.parts
        now = isoformat(p.clock.now())
        with p.lock, write_tx(p.conn) as conn:
            for row in found["decisions"]:
                self._apply_site_decision(conn, row)
            conn.execute("INSERT INTO weight_site (one, version, body, at) VALUES (1, ?, ?, ?) ON CONFLICT (one) "
                         "DO UPDATE SET version = excluded.version, body = excluded.body, at = excluded.at",
                         (version, learned.to_json(), now))
            self.site, self.site_version, self.site_at = learned, version, now
        return True

    def _apply_site_decision(self, conn: sqlite3.Connection, row: Mapping[str, Any]) -> None:
        """One site decision, recorded here once (by its site number); a reset forgets this table's parcels of the
        SKU weighed until now."""
        n, taken = int(row["n"]), row["decision"]
        if conn.execute("SELECT 1 FROM weight_decisions WHERE site_n = ?", (n,)).fetchone() is not None:
            return
        seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM weight_samples").fetchone()[0]
        decision = review.Decision.from_dict({**taken, "seq": seq})
        conn.execute("INSERT INTO weight_decisions (sku, action, body, at, site_n) VALUES (?, ?, ?, ?, ?)",
                     (decision.sku, decision.action, json.dumps(decision.as_dict(), ensure_ascii=False),
                      taken["at"], n))

    def site_post(self) -> bool:
        """Send this table's snapshot and the review it sees to the hub (when either changed, and once after a start)."""
        if self.hub is None:
            return False
        with self.parts.lock:
            decisions_n = self.parts.conn.execute("SELECT COALESCE(MAX(site_n), 0) FROM weight_decisions").fetchone()[0]
        found = [s.as_dict() for s in self.suspects()]
        names = {code: sku.name for code in {s["sku"] for s in found} if (sku := self.parts.catalog.sku(code))}
        review_body = {"suspects": [{**s, "name": names.get(s["sku"], s["sku"])} for s in found],
                       "decisions_n": decisions_n}
        text = json.dumps([self.learned.as_dict(), review_body], sort_keys=True, default=str)
        if text == self.posted:
            return True
        try:
            self.hub.put_figures(self.learned.as_dict(), review_body)
        except (SyncError, OSError) as exc:
            self._hub_down(exc)
            return False
        self.posted = text
        return True

    def _hub_down(self, exc: Exception) -> None:
        if self.hub_error is None:
            log.warning("site hub unreachable for the learned weights; judging on the last figures (%s): %s",
                        self.site_at or "this table's own", exc)
        self.hub_error = f"{type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ the supervisor's review
    def suspects(self) -> list[review.Suspect]:
        """The SKUs whose learned weight leaves their reference beyond the drift bound (``core.weight_review``), but
        those decided since the last learning pass."""
        with self.parts.lock:
            learned = self.figures()
            ref = self._reference(self._catalogue(set(learned.skus) | set(learned.overridden)))
            pending = {r["sku"] for r in self.parts.conn.execute("SELECT sku FROM weight_decisions WHERE id > ?",
                                                                 (self.decisions_seen,))}
        # a SKU decided since the snapshot waits for the next learning pass: never listed (nor decided) twice
        return [s for s in review.suspects(learned, ref, review.ReviewConfig(gate=self.config)) if s.sku not in pending]

    def review(self) -> dict[str, Any]:
        """The supervisor page's list: per SKU its name, the reference, passing and overridden figures apart, n,
        sample parcels and the proposal; and the decisions taken so far, newest first."""
        with self.parts.lock:
            decided = [json.loads(r["body"]) for r in
                       self.parts.conn.execute("SELECT body FROM weight_decisions ORDER BY id DESC LIMIT 50")]
        names = {}
        for s in (found := self.suspects()):
            sku = self.parts.catalog.sku(s.sku)
            names[s.sku] = sku.name if sku is not None else s.sku
        return {"enabled": self.enabled, "parcels": self.figures().parcels, "upto_seq": self.learned.upto_seq,
                "site": None if self.hub is None else {"version": self.site_version, "at": self.site_at,
                                                       "offline": self.hub_error is not None},
                "suspects": [{**s.as_dict(), "name": names[s.sku]} for s in found], "decisions": decided}

    def decide(self, sku: str, action: str, supervisor: Employee | None, reason: str, device: str) -> dict:
        """A supervisor's decision on one line of the review (see the module docstring); returns the verdict."""
        if supervisor is None or supervisor.role is not Role.SUPERVISOR:
            return answer("not_supervisor", problem="Only a supervisor signed in with badge and PIN can decide a "
                          "weight.", problem_zh="只有用工卡和密码登录的主管可以决定重量。")
        if action not in review.ACTIONS:
            return answer("weight_decision_unknown", action=action)
        suspect = next((s for s in self.suspects() if s.sku == sku), None)
        if suspect is None:
            return answer("weight_not_suspect", sku=sku)
        if self.hub is not None:
            return self._decide_for_site(suspect, action, supervisor, reason, device)
        p = self.parts
        now = p.clock.now()
        at = isoformat(now)
        with p.lock, write_tx(p.conn) as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM weight_samples").fetchone()[0]
            decision = review.decide(suspect, action, supervisor.employee_id, now, seq, reason.strip())
            conn.execute("INSERT INTO weight_decisions (sku, action, body, at) VALUES (?, ?, ?, ?)",
                         (sku, action, json.dumps(decision.as_dict(), ensure_ascii=False), at))
            for effect in review.decision_effects(decision, suspect):
                if isinstance(effect, AuditEntry):
                    store.add_audit(conn, at, effect.who, effect.action, sku, effect.before, effect.after,
                                    effect.reason, device)
                elif isinstance(effect, Confirmation):
                    p.outbox.enqueue(conn, action=effect.action, object_type=effect.object_type,
                                     object_id=effect.object_id, operator=effect.operator, device=device,
                                     location=p.location, payload=effect.payload)
        if action == "accept":
            return answer("weight_accepted", sku=sku, value_g=str(decision.value_g),
                          before_g="-" if suspect.reference_g is None else str(suspect.reference_g))
        return answer("weight_reset", sku=sku)

    def _decide_for_site(self, suspect: Suspect, action: str, supervisor: Employee, reason: str,
                         device: str) -> dict:
        """The decision taken at the hub for every table (it sends the ``weight_learned`` confirmation), then
        recorded here with its audit entry."""
        assert self.hub is not None
        p = self.parts
        sku = suspect.sku
        with p.lock:
            prev = p.conn.execute("SELECT COALESCE(MAX(site_n), 0) FROM weight_decisions WHERE sku = ?",
                                  (sku,)).fetchone()[0]
        decision = review.decide(suspect, action, supervisor.employee_id, p.clock.now(), 0, reason.strip())
        evidence = {"passing": suspect.passing.as_dict() if suspect.passing else None,
                    "overridden": suspect.overridden.as_dict() if suspect.overridden else None}
        try:
            taken = self.hub.decide_weight(decision.as_dict(), prev, evidence)
        except ClaimConflictError:
            self.site_sync()
            return answer("weight_decided_elsewhere", sku=sku)
        except (SyncError, OSError) as exc:
            self._hub_down(exc)
            return answer("hub_unreachable", detail=str(exc)[:120])
        with p.lock, write_tx(p.conn) as conn:
            self._apply_site_decision(conn, {"n": taken["n"], "decision": {**decision.as_dict(), "at": taken["at"]}})
            for effect in review.decision_effects(decision, suspect):
                if isinstance(effect, AuditEntry):  # the confirmation is the hub's: one for the site
                    store.add_audit(conn, taken["at"], effect.who, effect.action, sku, effect.before,
                                    {**effect.after, "site_decision": taken["n"]}, effect.reason, device)
        if action == "accept":
            return answer("weight_accepted", sku=sku, value_g=str(decision.value_g),
                          before_g="-" if suspect.reference_g is None else str(suspect.reference_g))
        return answer("weight_reset", sku=sku)

    # ------------------------------------------------------------------ the reference
    def _catalogue(self, skus: set[str]) -> dict[str, Decimal | None]:
        return {code: sku.unit_weight_g if (sku := self.parts.catalog.sku(code)) is not None else None for code in skus}

    def _reference(self, catalogue: Mapping[str, Decimal | None], boxes: Iterable[str] = ()) -> Reference:
        """The catalogue (and the boxes' tares) with the supervisors' decisions applied (``weight_review.reference``)."""
        rows = self.parts.conn.execute("SELECT body FROM weight_decisions ORDER BY id").fetchall()
        tares = {code: p.tare_g for code in boxes if (p := self.parts.catalog.packaging(code)) is not None}
        return review.reference(catalogue, tares, [review.Decision.from_dict(json.loads(r["body"])) for r in rows])
