"""Order review at the table (订单审核): an order a site rule matches (``core.review_rules``) opens with the amber
"needs a supervisor" verdict and prints no label, packs nothing and ships nothing until a supervisor approves it — a
tap of their badge on this table's reader, or badge + PIN — or refuses it (the order ends at this table).

``ReviewDesk`` is one more collaborator of ``Station`` (it gets ``parts.Parts``). ``opened`` turns the opening of an
order into its review (one ``review`` confirmation, decision ``required``, the first time), ``gate`` refuses the steps
that would let the parcel out, ``decide`` is the supervisor's decision, ``note`` keeps every review and decision in
``order_reviews`` inside the transaction that records its confirmation (step 10, ``station/migrations``).
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from packgate.device.clock import isoformat
from packgate.station.core import labels as lb
from packgate.station.core import packing as pk
from packgate.station.core import review_rules as rules
from packgate.station.core.effects import Confirmation, Outcome
from packgate.station.core.models import Employee
from packgate.station.core.verdicts import make
from packgate.station.parts import Parts
from packgate.sync.common.db import write_tx

REVIEW = "review"
GATED = frozenset({"pack", "label_printed"})  # and, in weigh-and-ship, the weighing that ships (``gate``)
SETTINGS = ("order_value_over", "regions", "weight_over_g", "units_over", "packaging", "customer_flags",
            "categories")


class ReviewDesk:
    def __init__(self, parts: Parts):
        self.parts = parts
        self.rules = rules.ReviewRules.from_settings({k: parts.cfg[f"review.{k}"] for k in SETTINGS})

    def row(self, order_id: str) -> dict[str, Any] | None:
        found = self.parts.conn.execute("SELECT * FROM order_reviews WHERE order_id = ?", (order_id,)).fetchone()
        if found is None:
            return None
        out = dict(found)
        out["rules"] = json.loads(out["rules"])
        return out

    def pending(self, order_id: str | None) -> dict[str, Any] | None:
        """The review of ``order_id`` waiting for a supervisor, or None."""
        row = self.row(order_id) if order_id else None
        return row if row is not None and row["decision"] is None else None

    def opened(self, before: pk.PackSession, outcome: Outcome) -> Outcome:
        """An order just opened: its review when a rule matches (the verdict says which), refused when a supervisor
        refused it before, else as it was."""
        after = outcome.session
        if after.order is None or after.state is not pk.State.ORDER_OPEN or outcome.verdict.status == "error" or \
                (before.order is not None and before.order.order_id == after.order.order_id
                 and before.state in pk.ORDER_STATES):
            return outcome
        order_id = after.order.order_id
        kept = self.row(order_id)
        if kept is not None and kept["decision"] == "refused":
            return Outcome(before, make("review_was_refused", order_id=order_id, supervisor=kept["decided_by"] or "?",
                                        reason=kept["reason"] or "-"), [])
        if kept is not None and kept["decision"] == "approved":
            return outcome
        if kept is None:
            row = self.parts.catalog.cache.get_order(order_id) or {}
            found = [m.as_dict() for m in self.rules.match(row, after.order, self.parts.catalog)] \
                if self.rules.enabled else []
            if not found:
                return outcome
            operator = after.operator.employee_id if after.operator else None
            conf = Confirmation(REVIEW, "order", order_id, {"decision": "required", "rules": found}, operator)
            effects = [*outcome.effects, conf]
        else:
            found, effects = kept["rules"], list(outcome.effects)
        return Outcome(after, make("review_required", order_id=order_id, rules=rules.describe(found, "en"),
                                   rules_zh=rules.describe(found, "zh"), found=found), effects)

    def gate(self, session: pk.PackSession, event_name: str, label_mode: lb.LabelMode) -> dict | None:
        """The refusal of a step that would let the parcel of an order under review out (None: go on)."""
        gated = event_name in GATED or event_name == "label_request" or event_name == "print" or \
            (event_name == "weigh" and label_mode is lb.LabelMode.WEIGH_AND_SHIP)
        if not gated or session.order is None or session.state not in pk.ORDER_STATES:
            return None
        waiting = self.pending(session.order.order_id)
        if waiting is None:
            return None
        return make("review_pending", order_id=session.order.order_id, rules=rules.describe(waiting["rules"], "en"),
                    rules_zh=rules.describe(waiting["rules"], "zh")).as_dict()

    def decide(self, session: pk.PackSession, supervisor: Employee, decision: str, reason: str,
               pending: bool = True) -> Outcome | None:
        """The supervisor's decision on the review of the order open here (None: no review waits; ``pending``
        False: the decision is kept already, made at the hub)."""
        order = session.order
        order_id = order.order_id if order is not None and session.state in pk.ORDER_STATES else None
        waiting = self.pending(order_id) if pending else (self.row(order_id) if order_id else None)
        if waiting is None:
            return None
        return rules.decided(session, supervisor, decision, reason, waiting["rules"])

    def learned(self, order_id: str, decision: dict[str, Any]) -> bool:
        """Keep a decision made at the hub's dashboard (the hub's ``review_decided``); False when none was waiting."""
        with write_tx(self.parts.conn) as conn:
            return conn.execute("UPDATE order_reviews SET decision = ?, decided_by = ?, decided_at = ?, reason = ?,"
                                " via = 'hub' WHERE order_id = ? AND decision IS NULL",
                                (decision["decision"], decision.get("by"), isoformat(self.parts.clock.now()),
                                 decision.get("reason"), order_id)).rowcount > 0

    def note(self, conn: sqlite3.Connection, outcome: Outcome, at: str, via: str) -> None:
        """Keep the reviews and decisions ``outcome`` carries, inside the transaction that records them."""
        for effect in outcome.effects:
            if not (isinstance(effect, Confirmation) and effect.action == REVIEW):
                continue
            p = effect.payload
            if p["decision"] == "required":
                conn.execute("INSERT OR IGNORE INTO order_reviews (order_id, rules, opened_at) VALUES (?, ?, ?)",
                             (effect.object_id, json.dumps(p["rules"], ensure_ascii=False), at))
            else:
                conn.execute("UPDATE order_reviews SET decision = ?, decided_by = ?, decided_at = ?, reason = ?,"
                             " via = ? WHERE order_id = ? AND decision IS NULL",
                             (p["decision"], p["supervisor"], at, p["reason"], via, effect.object_id))

    def listing(self, limit: int = 50) -> list[dict[str, Any]]:
        """The reviews of this table, the waiting ones first, then the latest decisions (the supervisor page)."""
        rows = self.parts.conn.execute(
            "SELECT * FROM order_reviews ORDER BY decision IS NOT NULL, COALESCE(decided_at, opened_at) DESC LIMIT ?",
            (limit,)).fetchall()
        return [{**dict(r), "rules": json.loads(r["rules"])} for r in rows]
