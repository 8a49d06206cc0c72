"""Carrier rules at the table (承运商规则): before a label is requested, the order's carrier is checked against the
rules in force (``core.carrier_rules``: the site's ``carriers.rules`` and the WMS's ``carriers`` reference rows). A
suspended or capped carrier is refused with its backup offered (``switch_carrier`` takes it), or switched to the
backup at once when ``carriers.auto_switch`` is on. Each switch is kept in ``carrier_switches`` (step 10), audited and
sent upstream as one ``carrier_switch`` confirmation; the dock checks a parcel against the carrier it was switched to
(``carrier_of``).
"""
from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from packgate.device.clock import isoformat
from packgate.station.core import carrier_rules as cr
from packgate.station.core import packing as pk
from packgate.station.core import review_rules
from packgate.station.core.effects import AuditEntry, Confirmation, Outcome
from packgate.station.core.texts import Word
from packgate.station.core.verdicts import make
from packgate.station.errors import ReferenceDataError
from packgate.station.parts import Parts

log = logging.getLogger("packgate.carriers")
SWITCH = "carrier_switch"


class CarrierDesk:
    def __init__(self, parts: Parts):
        self.parts = parts
        self.auto_switch = bool(parts.cfg["carriers.auto_switch"])
        self.site_rules: dict[str, Any] = dict(parts.cfg["carriers.rules"])
        self.offer: dict[str, Any] | None = None  # the backup offered for the order open here

    # ---- the WMS's rules ---------------------------------------------------------------------------------------
    def on_reference(self, conn: sqlite3.Connection, kept: dict[str, list[dict]]) -> None:
        """``ReferenceCache``'s hook: keep the WMS's carrier rows (inside the page's transaction)."""
        at = isoformat(self.parts.clock.now())
        for row in kept.get("carriers") or []:
            try:
                rule = cr.CarrierRule.from_dict(row)
            except ReferenceDataError as exc:
                log.warning("ignoring a carrier rule of the WMS: %s", exc)
                continue
            conn.execute("INSERT INTO wms_carriers (carrier, data, learned_at) VALUES (?, ?, ?) ON CONFLICT (carrier)"
                         " DO UPDATE SET data = excluded.data, learned_at = excluded.learned_at",
                         (rule.carrier, json.dumps(rule.as_dict(), sort_keys=True), at))

    def rules(self) -> dict[str, cr.CarrierRule]:
        wms = [json.loads(r[0]) for r in self.parts.conn.execute("SELECT data FROM wms_carriers ORDER BY carrier")]
        return cr.merged(self.site_rules, wms)

    # ---- one order -----------------------------------------------------------------------------------------------
    def carrier_of(self, order_id: str) -> str | None:
        """The carrier the order was switched to here (None: as the WMS booked it)."""
        row = self.parts.conn.execute("SELECT carrier FROM carrier_switches WHERE order_id = ?", (order_id,)).fetchone()
        return str(row[0]) if row else None

    def _used_today(self) -> dict[str, int]:
        """Orders labelled today per carrier (the carrier each went with)."""
        day = isoformat(self.parts.clock.now())[:10]
        used: dict[str, int] = {}
        for (order_id,) in self.parts.conn.execute(
                "SELECT DISTINCT order_id FROM label_jobs WHERE substr(requested_at, 1, 10) = ?", (day,)):
            carrier = self.carrier_of(order_id) or (self.parts.catalog.cache.get_order(order_id) or {}).get("carrier")
            if isinstance(carrier, str):
                used[carrier] = used.get(carrier, 0) + 1
        return used

    def check(self, session: pk.PackSession) -> tuple[cr.CarrierCheck, str | None]:
        """The check of the label of the order open in ``session`` and the order's region."""
        assert session.order is not None
        order_id = session.order.order_id
        row = self.parts.catalog.cache.get_order(order_id) or {}
        region = review_rules.order_region(row)
        booked = row.get("carrier") if isinstance(row.get("carrier"), str) else None
        current = self.carrier_of(order_id) or booked
        started = self.parts.conn.execute("SELECT 1 FROM label_jobs WHERE order_id = ?", (order_id,)).fetchone()
        if started is not None:  # a carton of it is labelled already: the parcel stays with its carrier
            return cr.CarrierCheck(cr.GO, current, booked), region
        return cr.decide(current, region, self.rules(), self._used_today(), self.auto_switch), region

    def refusal(self, session: pk.PackSession, check: cr.CarrierCheck, region: str | None) -> dict:
        """The verdict of a refused label (under the lock): the backup is offered when there is one."""
        assert session.order is not None
        because = f": {check.reason}" if check.reason else ""
        data = {"carrier": check.carrier, "region": region or "-", "why": Word(f"word:carrier_{check.why}"),
                "because": because, "order_id": session.order.order_id, "backup": check.backup}
        if check.backup is None:
            self.offer = None
            return make("carrier_suspended_no_backup", **data).as_dict()
        self.offer = {"order_id": session.order.order_id, "backup": check.backup, "booked": check.carrier,
                      "why": check.why}
        return make("carrier_suspended", **data).as_dict()

    def switched(self, session: pk.PackSession, booked: str, carrier: str, why: str, by: str | None,
                 auto: bool) -> Outcome:
        """The switch of the order open in ``session`` to ``carrier``: audited and one ``carrier_switch``."""
        assert session.order is not None
        order_id = session.order.order_id
        who = by or (session.operator.employee_id if session.operator else None)
        payload = {"from": booked, "to": carrier, "why": why, "auto": auto}
        effects: list = [Confirmation(SWITCH, "order", order_id, payload, who)]
        if who:
            effects.append(AuditEntry(SWITCH, who, {"carrier": booked}, {"carrier": carrier}, why))
        self.offer = None
        verdict = make("carrier_switched", next=pk.NEXT_IN_STATE[session.state], order_id=order_id, carrier=carrier,
                       booked=booked, why=Word(f"word:carrier_{why}"))
        return Outcome(session, verdict, effects)

    def note(self, conn: sqlite3.Connection, outcome: Outcome, at: str) -> None:
        for effect in outcome.effects:
            if isinstance(effect, Confirmation) and effect.action == SWITCH:
                p = effect.payload
                conn.execute("INSERT INTO carrier_switches (order_id, booked, carrier, why, auto, by_whom, at) VALUES"
                             " (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET carrier = excluded.carrier,"
                             " why = excluded.why, auto = excluded.auto, by_whom = excluded.by_whom, at = excluded.at",
                             (effect.object_id, p["from"], p["to"], p["why"], int(p["auto"]), effect.operator, at))

    def listing(self, limit: int = 50) -> dict[str, Any]:
        """The rules in force and the latest switches (the supervisor page)."""
        switches = [dict(r) for r in self.parts.conn.execute(
            "SELECT * FROM carrier_switches ORDER BY at DESC LIMIT ?", (limit,))]
        return {"rules": [r.as_dict() for r in self.rules().values()], "switches": switches,
                "auto_switch": self.auto_switch}
