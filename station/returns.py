"""Returns at the table (逆向物流): receive a returned parcel against its RMA, check, grade and weigh each unit,
close it into the WMS's refund or review.

``ReturnDesk`` is one more collaborator of ``Station`` (it gets ``parts.Parts``). The kiosk in Returns mode and a
PDA at the dock use it (``station/web/returns.py``); the rules are ``core.returns``. The RMAs are the reference
data's (``ref_rmas``, mirrored with the rest, so a return is received while the WMS or the hub cannot be reached);
each return processed here is a row of ``returns`` (its session, outcome and evidence hash) and each of its steps a
row of ``return_steps`` (station step 10).

Invariants: every step is committed before its answer, in ONE transaction with its confirmation (outbox), its
step row, the return's new session, its audit entry and the idempotent answer of its key; a refusal records
nothing but, for an unreadable or unknown code, the input kept for review. A return is open at one terminal at a
time; a closed one is never opened again. The supervisor of a swapped unit (调包) and the second person of a special
item prove their presence with badge and PIN. The evidence record (``evidence``) is built from what was committed;
its SHA-256 over the steps goes into ``return_closed``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sqlite3
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from packgate.device.clock import isoformat
from packgate.device.scanner.barcode import interpret
from packgate.station import evidence as parcel_evidence
from packgate.station import store
from packgate.station.core import returns as rules
from packgate.station.core.effects import AuditEntry, Confirmation, Outcome
from packgate.station.core.models import Employee
from packgate.station.core.verdicts import answer, make
from packgate.station.parts import Parts
from packgate.station.signin import PinCheck
from packgate.sync.common.db import write_tx

log = logging.getLogger("packgate.returns")

KIOSK = "kiosk"
MODES = ("pack", "returns")
SHA256 = re.compile(r"[0-9a-f]{64}")
REASON_MAX = 500
ACTIONS = ("scan", "receive", "item", "approve", "put_aside", "second", "grade", "weigh", "close")
TEXT_MAX = 128
Photo = Callable[[], "str | None"]
Film = Callable[[str, "str | None"], None]  # (rma id, operator): start filming a return at the kiosk
Seal = Callable[[str], "str | None"]  # rma id -> the SHA-256 of its clip, finished and filed
Grams = Callable[[], "Decimal | None"]  # the scale's fresh stable reading, or None


class ReturnDesk:
    def __init__(self, parts: Parts, pins: PinCheck, photo: Photo | None = None, scale: Grams | None = None,
                 film: Film | None = None, seal: Seal | None = None):
        self.p = parts
        self.pins = pins
        self.photo: Photo = photo or (lambda: None)
        self.scale: Grams = scale or (lambda: None)
        self.film: Film = film or (lambda _rma, _who: None)
        self.seal: Seal = seal or (lambda _rma: None)
        self.mode = "pack"  # the kiosk's: "returns" sends the station's own scans here

    def set_mode(self, mode: Any) -> dict:
        if mode not in MODES:
            return answer("return_bad_request", problem=f"mode must be one of {', '.join(MODES)}",
                          problem_zh=f"mode必须是{', '.join(MODES)}之一")
        self.mode = mode
        return {"mode": mode}

    def scan(self, code: str, operator: str | None, device: str | None = None, terminal: str = KIOSK) -> dict:
        """A scan in Returns mode: the return parcel's waybill or RMA when none is open at ``terminal``, else an
        item of it."""
        return self.handle({"action": "scan", "code": code}, operator, terminal, device)

    # ---------------------------------------------------------------------------- reads
    def rma_row(self, code: str) -> dict[str, Any] | None:
        """The RMA whose id or return waybill is ``code``."""
        row = self.p.conn.execute("SELECT data FROM ref_rmas WHERE rma_id = ? OR waybill = ? ORDER BY rma_id = ? DESC"
                                  " LIMIT 1", (code, code, code)).fetchone()
        return json.loads(row[0]) if row else None

    def _row(self, rma_id: str) -> sqlite3.Row | None:
        return self.p.conn.execute("SELECT * FROM returns WHERE rma_id = ?", (rma_id,)).fetchone()

    def _open_at(self, terminal: str) -> sqlite3.Row | None:
        return self.p.conn.execute("SELECT * FROM returns WHERE terminal = ? AND state <> 'closed' ORDER BY opened_at"
                                   " DESC LIMIT 1", (terminal,)).fetchone()

    def session(self, terminal: str) -> rules.ReturnSession:
        row = self._open_at(terminal)
        return rules.ReturnSession.from_dict(json.loads(row["session"])) if row else rules.ReturnSession()

    def view(self, terminal: str = KIOSK) -> dict[str, Any]:
        """What the Returns screen shows: the open return with the original order's outbound evidence beside it."""
        with self.p.lock:
            s = self.session(terminal)
            out: dict[str, Any] = {"terminal": terminal, "session": s.to_dict(), "rma": None, "outbound": None,
                                   "grades": list(rules.GRADES), "grade_reasons": list(rules.GRADE_REASONS)}
            if s.rma is not None:
                out["rma"] = s.rma.as_dict()
                out["remaining"] = s.remaining()
                out["outbound"] = self.outbound(s.rma)
                out["expected_g"] = str(self._expected(s))
            out["recent"] = recent(self.p.conn, 10)
            return out

    def outbound(self, rma: rules.Rma) -> dict[str, Any]:
        """What was packed: this station's evidence record of the order when it was packed here, else what the WMS
        recorded from the order's ``pack`` confirmations (in the RMA)."""
        local = parcel_evidence.record(self.p.conn, rma.order_id)
        shipped = {"units": [dict(u) for u in rma.shipped], **rma.outbound}
        if local is None:
            return {"source": "wms", **shipped}
        return {"source": "station", **shipped, "record": local}

    # ---------------------------------------------------------------------------- the one entry point
    def handle(self, body: Any, operator: str | None, terminal: str = KIOSK, device: str | None = None) -> dict:
        """One step of the return open at ``terminal`` (``body.action``: one of ``ACTIONS``)."""
        if not isinstance(body, dict) or body.get("action") not in ACTIONS:
            return answer("return_bad_request", problem=f"action must be one of {', '.join(ACTIONS)}",
                          problem_zh=f"action必须是{', '.join(ACTIONS)}之一")
        key = body.get("key")
        if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= TEXT_MAX):
            return answer("return_bad_request", problem="key must be a text of 1 to 128 characters",
                          problem_zh="key必须是1到128个字符的文本")
        if not operator or len(operator) > 64:
            return answer("return_not_signed_in")
        request_hash = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != "key"}, sort_keys=True,
                                                 default=str).encode()).hexdigest()
        meta = {"key": key, "request_hash": request_hash, "device": device or self.p.device_id("returns"),
                "terminal": terminal}
        with self.p.lock:
            if key:
                stored = store.stored_answer(self.p.conn, key)
                if stored is not None:
                    if not hmac.compare_digest(stored["request_hash"], request_hash):
                        return answer("key_reused", key=key)
                    return {**stored["response"], "replayed": True}
            return self._dispatch(body, operator, terminal, meta)

    def _dispatch(self, body: dict, operator: str, terminal: str, meta: dict) -> dict:
        s = self.session(terminal)
        action = body["action"]
        given = body.get("payload")
        payload: dict[str, Any] = given if isinstance(given, dict) else {}
        if action == "scan":  # the station's scanner or a page's scan field: a return parcel, or a unit of the open one
            code = body.get("code")
            opened = isinstance(code, str) and s.rma is not None and s.state != rules.State.CLOSED \
                and self.rma_row(code.strip()) is None
            action = "item" if opened else "receive"
        if action == "receive":
            return self._receive(s, body.get("code"), operator, terminal, meta)
        if action == "item":
            code = body.get("code")
            if not isinstance(code, str) or not code.strip() or len(code) > TEXT_MAX:
                return self._bad("code", "the scanned item's barcode (1 to 128 characters)")
            scan = interpret(code.strip(), self.p.patterns, source=meta["device"])
            if scan.error:
                self._keep(code, "bad_barcode", meta)
                return make("bad_barcode", code=code, reason=scan.error, next="scan_return_item").as_dict()
            sku = self.p.catalog.sku(scan.gtin or scan.value)
            found = rules.ItemScan(sku.sku if sku else scan.value, _text(payload.get("serial")) or scan.serial,
                                   _text(payload.get("lot")) or scan.lot)
            outcome = rules.item(s, found, sku, operator)
            if outcome.verdict.code == "return_item_not_in_rma":
                self._keep(code, "return_item_not_in_rma", meta)  # refused: kept for review with the reason
            return self._commit(s, outcome, meta)
        if action == "approve":
            who = self._badge(payload, "supervisor_badge", "supervisor_pin", "return_swap", meta)
            if isinstance(who, dict):
                return who
            reason = payload.get("reason")
            if reason is not None and (not isinstance(reason, str) or len(reason) > REASON_MAX):
                return self._bad("payload.reason", f"a text of at most {REASON_MAX} characters")
            return self._commit(s, rules.approve(s, who, reason or ""), meta)
        if action == "put_aside":
            return self._commit(s, rules.put_aside(s), meta)
        if action == "second":
            who = self._badge(payload, "badge", "pin", "return_second", meta)
            if isinstance(who, dict):
                return who
            return self._commit(s, rules.second(s, who), meta)
        if action == "grade":
            return self._grade(s, payload, meta)
        if action == "weigh":
            return self._weigh(s, payload, meta)
        return self._close(s, meta)

    # ---------------------------------------------------------------------------- steps
    def _receive(self, s: rules.ReturnSession, code: Any, operator: str, terminal: str, meta: dict) -> dict:
        if not isinstance(code, str) or not code.strip() or len(code) > TEXT_MAX:
            return self._bad("code", "the return waybill or the RMA (1 to 128 characters)")
        code = code.strip()
        row = self.rma_row(code)
        rma = rules.Rma.from_row(row) if row else None
        if rma is None:
            self._keep(code, "return_unknown", meta)
            return make("return_unknown", code=code).as_dict()
        kept = self._row(rma.rma_id)
        if kept is not None and kept["state"] == rules.State.CLOSED:
            return make("return_already_closed", rma_id=rma.rma_id, closed_at=kept["closed_at"] or "-").as_dict()
        if kept is not None and kept["terminal"] != terminal:
            return make("return_elsewhere", rma_id=rma.rma_id, where=kept["terminal"]).as_dict()
        if kept is not None:  # open here already: the screen shows it again
            return {**make("return_received", rma_id=rma.rma_id, order_id=rma.order_id,
                           units=sum(rma.lines.values()), reason=rma.reason).as_dict(), "resumed": True}
        received = self._commit(s, rules.receive(s, rma, operator), meta)
        if received["code"] == "return_received" and terminal == KIOSK:
            self.film(rma.rma_id, operator)  # the table's camera films the return until it closes
        return received

    def _grade(self, s: rules.ReturnSession, payload: dict, meta: dict) -> dict:
        index = payload.get("unit")
        if not isinstance(index, int) or isinstance(index, bool):
            return self._bad("payload.unit", "the unit's number (1 for the first unit received)")
        mark = str(payload.get("grade") or "")
        reason = payload.get("reason") if isinstance(payload.get("reason"), str) else None
        unit = s.units[index - 1] if 1 <= index <= len(s.units) else None
        putaway = self._putaway(unit) if unit is not None and mark == "A" else None
        sent = payload.get("image_sha256")
        image = sent if isinstance(sent, str) and SHA256.fullmatch(sent) else None  # else the camera's own
        outcome = rules.grade(s, index - 1, mark, reason, None, putaway)
        if outcome.effects:  # graded: the camera's photo of the unit goes with it, when there is a camera
            photo = image or self.photo()
            if photo:
                outcome = rules.grade(s, index - 1, mark, reason, photo, putaway)
        return self._commit(s, outcome, meta)

    def _putaway(self, unit: rules.ReturnedUnit) -> dict[str, Any]:
        """The lot an A-grade unit goes back to and the bin to put it in: its own lot's; a unit without a lot goes to
        the SKU's newest lot."""
        lots = self.p.catalog.lots_for(unit.sku)
        same = next((lot for lot in lots if lot.lot == unit.lot), None)
        if same is not None:
            return {"lot": same.lot, "bin": same.bin}
        newest = max(lots, key=lambda lot: (lot.produced or date.min, lot.lot), default=None)
        if newest is None or unit.lot is not None:  # a lot this site does not stock: its bin is the WMS's to say
            return {"lot": unit.lot, "bin": newest.bin if newest else None}
        return {"lot": newest.lot, "bin": newest.bin}  # no lot on the unit: the SKU's newest lot

    def _expected(self, s: rules.ReturnSession) -> Decimal:
        return rules.expected_weight(s.units, {u.sku: self.p.catalog.sku(u.sku) for u in s.units})

    def _weigh(self, s: rules.ReturnSession, payload: dict, meta: dict) -> dict:
        value = payload.get("grams")
        if value is None:
            measured = self.scale()
            if measured is None:
                return make("scale_not_responding", seconds=f"{self.p.live.scale.fresh_s:g}",
                            next="weigh_returned").as_dict()
        else:
            try:
                measured = Decimal(str(value))
            except InvalidOperation:
                measured = Decimal(-1)
            if isinstance(value, bool) or not measured.is_finite() or not 0 <= measured <= 1_000_000:
                return self._bad("payload.grams", "a weight in grams from 0 to 1000000")
        expected = self._expected(s)
        cfg = self.p.cfg
        allowed = rules.allowed_gap(expected, Decimal(str(cfg["returns.weight_tolerance_pct"])),
                                    Decimal(str(cfg["returns.weight_tolerance_g"])))
        return self._commit(s, rules.weigh(s, measured, expected, allowed), meta)

    def _close(self, s: rules.ReturnSession, meta: dict) -> dict:
        if s.rma is None:
            return self._commit(s, rules.close(s), meta)
        digest = steps_sha256(self.p.conn, s.rma.rma_id, s)
        if rules.close(s, digest).effects:  # it closes: the clip is finished first, its hash goes with the close
            clip = self.seal(s.rma.rma_id) if meta["terminal"] == KIOSK else None
            return self._commit(s, rules.close(s, digest, clip), meta)
        return self._commit(s, rules.close(s, digest), meta)

    # ---------------------------------------------------------------------------- badges
    def tap(self, uid: str, device: str | None = None, terminal: str = KIOSK) -> dict | None:
        """A badge tapped on the table's own reader in Returns mode: the second person of a special item (presence
        proven by the tap). None when no return at ``terminal`` waits for a second badge (the tap is the pack's)."""
        with self.p.lock:
            s = self.session(terminal)
            if s.state != rules.State.SECOND_BADGE:
                return None
            employee = self.p.catalog.employee_by_badge(uid)
            if employee is None:
                return make("unknown_badge", next="second_badge_pin").as_dict()
            meta = {"key": None, "request_hash": "", "device": device or self.p.device_id("returns"),
                    "terminal": terminal}
            return self._commit(s, rules.second(s, employee), meta)

    def _badge(self, payload: dict, badge_field: str, pin_field: str, purpose: str, meta: dict) -> Employee | dict:
        badge, pin = payload.get(badge_field), payload.get(pin_field)
        if not isinstance(badge, str) or not badge.strip() or not isinstance(pin, str) or not pin:
            return self._bad(f"payload.{badge_field}", f"a badge with its PIN (payload.{pin_field})")
        return self.pins.verify(badge.strip(), pin, purpose, meta["device"])

    # ---------------------------------------------------------------------------- commit
    def _commit(self, before: rules.ReturnSession, outcome: Outcome, meta: dict) -> dict:
        """The outcome's confirmations, step rows, audit, the return's session and the keyed answer: one
        transaction, committed before the answer."""
        after: rules.ReturnSession = outcome.session
        verdict = outcome.verdict.as_dict()
        changed = after != before
        if not changed and not outcome.effects and not meta.get("key"):
            return verdict
        rma = after.rma or before.rma
        at = isoformat(self.p.clock.now())
        ids: list[str] = []
        with write_tx(self.p.conn) as conn:
            if rma is not None and changed:
                self._save(conn, rma, after, meta["terminal"], at)
            for effect in outcome.effects:
                if isinstance(effect, Confirmation):
                    conf = self.p.outbox.enqueue(conn, action=effect.action, object_type=effect.object_type,
                                                 object_id=effect.object_id, operator=effect.operator,
                                                 device=meta["device"], location=self.p.cfg["station.location"],
                                                 payload=effect.payload, image_sha256=effect.image_sha256)
                    ids.append(conf["id"])
                    conn.execute("INSERT INTO return_steps (rma_id, at, step, operator, device, data, image_sha256)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (effect.object_id, at, effect.action, effect.operator, meta["device"],
                                  json.dumps({**effect.payload, "confirmation_id": conf["id"]}, sort_keys=True,
                                             ensure_ascii=False), effect.image_sha256))
                elif isinstance(effect, AuditEntry):
                    store.add_audit(conn, at, effect.who, effect.action, rma.rma_id if rma else None, effect.before,
                                    effect.after, effect.reason, meta["device"])
            if rma is not None and after.weighing is not None and after.weighing != before.weighing:
                conn.execute("INSERT INTO return_steps (rma_id, at, step, operator, device, data) VALUES"
                             " (?, ?, 'return_weighed', ?, ?, ?)", (rma.rma_id, at, after.operator, meta["device"],
                                                                    json.dumps(after.weighing.as_dict())))
            verdict["confirmation_ids"] = ids
            verdict["return"] = after.to_dict()
            if meta.get("key"):
                store.store_answer(conn, meta["key"], meta["request_hash"], verdict, at)
        return verdict

    def _save(self, conn: sqlite3.Connection, rma: rules.Rma, s: rules.ReturnSession, terminal: str, at: str) -> None:
        closed = s.state == rules.State.CLOSED
        outcome = s.outcome()[0] if closed else None
        digest = steps_sha256(conn, rma.rma_id, s) if closed else None
        conn.execute("INSERT INTO returns (rma_id, order_id, terminal, state, operator, reason, opened_at, closed_at,"
                     " outcome, session, evidence_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                     " ON CONFLICT (rma_id) DO UPDATE SET state = excluded.state, closed_at = excluded.closed_at,"
                     " outcome = excluded.outcome, session = excluded.session,"
                     " evidence_sha256 = COALESCE(excluded.evidence_sha256, returns.evidence_sha256)",
                     (rma.rma_id, rma.order_id, terminal, s.state, s.operator, rma.reason, at, at if closed else None,
                      outcome, json.dumps(s.to_dict(), ensure_ascii=False), digest))

    def _keep(self, raw: str, reason: str, meta: dict) -> None:
        with write_tx(self.p.conn) as conn:
            store.record_rejected(conn, isoformat(self.p.clock.now()), meta["device"], raw[:TEXT_MAX], reason)

    @staticmethod
    def _bad(name: str, rule: str) -> dict:
        return answer("return_bad_request", problem=f"{name}: {rule}", problem_zh=f"{name}：{rule}")

    # ---------------------------------------------------------------------------- evidence
    def evidence(self, rma_id: str) -> dict[str, Any] | None:
        with self.p.lock:
            return record(self.p.conn, rma_id)


def _text(value: Any) -> str | None:
    return value.strip()[:TEXT_MAX] if isinstance(value, str) and value.strip() else None


def steps_sha256(conn: sqlite3.Connection, rma_id: str, s: rules.ReturnSession) -> str:
    """SHA-256 over the return's committed steps and its units as closed (canonical JSON): the evidence's seal."""
    steps = [dict(r) for r in conn.execute("SELECT at, step, operator, device, data, image_sha256 FROM return_steps"
                                           " WHERE rma_id = ? ORDER BY id", (rma_id,))]
    body = {"rma_id": rma_id, "steps": steps, "units": [u.as_dict() for u in s.units],
            "weighing": s.weighing.as_dict() if s.weighing else None}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def record(conn: sqlite3.Connection, rma_id: str) -> dict[str, Any] | None:
    """The return's evidence record: the RMA, each step (scans, grades with photos, the weighing) with its
    confirmation and sync state, the audit rows, the original order's outbound evidence and the seal."""
    row = conn.execute("SELECT * FROM returns WHERE rma_id = ?", (rma_id,)).fetchone()
    if row is None:
        return None
    session = json.loads(row["session"])
    confs = {json.loads(r[0])["id"]: {"sync_state": r[1], "sent_at": r[2]} for r in conn.execute(
        "SELECT body, state, sent_at FROM sync_outbox WHERE object_type = 'rma' AND object_id = ? ORDER BY seq",
        (rma_id,))}
    steps = []
    for r in conn.execute("SELECT * FROM return_steps WHERE rma_id = ? ORDER BY id", (rma_id,)):
        data = json.loads(r["data"])
        steps.append({"at": r["at"], "step": r["step"], "operator": r["operator"], "device": r["device"],
                      "image_sha256": r["image_sha256"], "data": data,
                      **confs.get(data.get("confirmation_id") or "", {})})
    audit = [dict(r) for r in conn.execute("SELECT at, who, action, before, after, reason FROM audit"
                                           " WHERE object_id = ? ORDER BY id", (rma_id,))]
    rma = session.get("rma") or {}
    photos = sorted({s["image_sha256"] for s in steps if s["image_sha256"]})
    clips = [str(s["data"]["clip_sha256"]) for s in steps if s["data"].get("clip_sha256")]
    outbound = parcel_evidence.record(conn, row["order_id"])
    shipped = rma.get("shipped") or {}
    return {"kind": "return", "rma_id": rma_id, "order_id": row["order_id"], "reason": row["reason"],
            "state": row["state"], "terminal": row["terminal"], "operator": row["operator"],
            "opened_at": row["opened_at"], "closed_at": row["closed_at"], "outcome": row["outcome"],
            "rma": rma, "units": session.get("units") or [], "weighing": session.get("weighing"),
            "steps": steps, "audit": audit, "photos": photos,
            "clips": sorted(set(clips)), "outbound_clips": sorted(set(shipped.get("clips") or [])),
            # what ``evidence.export`` copies beside evidence.json: the grades' photos and the return's clip, the
            # outbound photo and packing video
            "media": {"photos": sorted({*photos, *(shipped.get("photos") or [])}),
                      "clips": sorted({*clips, *(shipped.get("clips") or [])})},
            "outbound": {"shipped": shipped, "record": outbound},
            "evidence_sha256": row["evidence_sha256"]}


def recent(conn: sqlite3.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Returns processed here, the latest first (the supervisor's and the screen's list)."""
    return [dict(r) for r in conn.execute("SELECT rma_id, order_id, terminal, state, operator, reason, opened_at,"
                                          " closed_at, outcome FROM returns ORDER BY opened_at DESC, rma_id LIMIT ?",
                                          (limit,))]
