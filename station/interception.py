"""Interception at the table (订单拦截): what the WMS last said about each order it held, cancelled, released or
changed, and the steps it stopped.

``InterceptDesk`` is one more collaborator of ``Station`` (it gets ``parts.Parts``). It learns the WMS's word from the
reference data (``on_reference``: the fast pull of a standalone station, ``upstream.orders_s``, and every reference
refresh) and from the hub's feed (``on_feed``: ``order_status`` events); ``refusal`` is what a step of an order
becomes (``core.interception``), ``note`` records it. Its SQL is on the tables of step 8 (``station/migrations``).

Invariants: a word is learned inside the transaction that brought it (the reference page with its cursor, the feed
event with the station's state, the dock's facts with its scan), and only when it is not older than the word kept
(a word without lines, carrier or address keeps those known): a restart neither loses nor
replays a decision, and a slow page never undoes a fast one. The pages hear of it once it is committed
(``announce``). A stopped step is recorded as one ``intercept`` confirmation per (order, step, decision): ``refusal``
leaves the confirmation out when ``intercepts`` has it, and ``note`` adds the row in the refusal's own transaction.

A conflict is a confirmation upstream refused for good because the WMS had cancelled the order (a pack or a dock
hand-over made before the table knew: the dead letter's ``upstream_status`` is ``order_cancelled``); it is listed for
the supervisors until one of them resolves it with a note (``resolve``: audited, once).
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from packgate.device.clock import isoformat, parse_iso
from packgate.station import store
from packgate.station.core import interception as rules
from packgate.station.core import packing as pk
from packgate.station.core.effects import Confirmation, Outcome
from packgate.station.core.order_state import CANCELLED, HELD, INTERCEPT, ORDER_CANCELLED, STOPPING, WmsWord
from packgate.station.core.verdicts import answer
from packgate.station.errors import ReferenceDataError
from packgate.station.parts import Parts
from packgate.sync.common.db import write_tx
from packgate.sync.common.sealing import is_sealed, ring_of
from packgate.sync.reference_screen import is_older

log = logging.getLogger("packgate.interception")

Notify = Callable[[set[str]], None]


class InterceptDesk:
    def __init__(self, parts: Parts, notify: Notify | None = None):
        self.parts = parts
        self.notify: Notify = notify or (lambda _ids: None)
        self._learned: set[str] = set()
        self._guard = threading.Lock()

    # ---- learning ---------------------------------------------------------------------------------------------
    def learn(self, conn: sqlite3.Connection, rows: Iterable[Any], source: str) -> list[str]:
        """Keep the WMS's word on each order of ``rows`` (its order records) inside the caller's transaction; the
        order ids whose word changed."""
        changed = []
        at = isoformat(self.parts.clock.now())
        for row in rows:
            try:
                word = WmsWord.from_row(row) if isinstance(row, dict) else None
            except ReferenceDataError as exc:
                log.warning("ignoring the WMS's word on an order: %s", exc)
                continue
            if word is None:
                continue
            kept = wms_row(conn, word.order_id)
            if kept is None and not word.noteworthy:
                continue
            if kept is not None and (is_older(_key(word.as_dict()), _key(kept)) or _same(kept, word)):
                continue
            held_since, held_s = _hold(kept, word, self.parts.clock.now())
            conn.execute("INSERT INTO wms_orders (order_id, status, reason, at, revision, lines, carrier, address,"
                         " learned_at, source, held_since, held_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                         " ON CONFLICT (order_id) DO UPDATE"
                         " SET status = excluded.status, reason = excluded.reason, at = excluded.at,"
                         " revision = excluded.revision, lines = COALESCE(excluded.lines, wms_orders.lines),"
                         " carrier = COALESCE(excluded.carrier, wms_orders.carrier),"
                         " address = COALESCE(excluded.address, wms_orders.address), learned_at = excluded.learned_at,"
                         " source = excluded.source, held_since = excluded.held_since, held_s = excluded.held_s",
                         (word.order_id, word.status, word.reason, isoformat(word.at) if word.at else None,
                          word.revision, _json(word.as_dict()["lines"]), word.carrier,
                          None if word.address is None else ring_of(conn).seal(word.address), at, source,
                          held_since, held_s))
            changed.append(word.order_id)
        if changed:
            with self._guard:
                self._learned.update(changed)
        return changed

    def on_reference(self, conn: sqlite3.Connection, kept: dict[str, list[dict]]) -> None:
        """``ReferenceCache``'s hook, inside the transaction of a reference page."""
        self.learn(conn, kept.get("orders") or [], "reference")

    def on_feed(self, conn: sqlite3.Connection, data: dict[str, Any]) -> bool:
        """An ``order_status`` event of the hub's feed, inside the transaction that takes it."""
        row = {**data, "status_reason": data.get("reason"), "status_at": data.get("at")}
        return bool(self.learn(conn, [row], "hub"))

    def announce(self) -> None:
        """Tell the pages about the words learned since the last call (after their transaction committed)."""
        with self._guard:
            ids, self._learned = self._learned, set()
        if ids:
            self.notify(ids)

    # ---- at each step -----------------------------------------------------------------------------------------
    def word(self, order_id: str) -> WmsWord | None:
        row = wms_row(self.parts.conn, order_id)
        if row is None:
            return None
        try:
            return WmsWord.from_row({**row, "status_reason": row["reason"], "status_at": row["at"]})
        except ReferenceDataError as exc:
            log.warning("the kept word on %s is unusable: %s", order_id, exc)
            return None

    def refusal(self, session: pk.PackSession, order_id: str, step: str, operator: str | None) -> Outcome | None:
        """What ``step`` of ``order_id`` becomes given the WMS's word (None: go on); its ``intercept`` confirmation
        is left out when this step was already recorded for this decision."""
        outcome = rules.answer(session, order_id, step, self.word(order_id), tz=self.parts.clock.now().tzinfo,
                               operator=operator)
        if outcome is None:
            return None
        effects = [e for e in outcome.effects if not (_is_intercept(e) and self._recorded(e))]
        return Outcome(outcome.session, outcome.verdict, effects)

    def note(self, conn: sqlite3.Connection, outcome: Outcome, at: str) -> None:
        """Record the steps ``outcome`` stopped, inside the transaction that records its refusal."""
        for effect in outcome.effects:
            if _is_intercept(effect):
                assert isinstance(effect, Confirmation)
                conn.execute("INSERT OR IGNORE INTO intercepts (order_id, step, mark, at) VALUES (?, ?, ?, ?)",
                             (effect.object_id, effect.payload["step"], _mark(effect.payload), at))

    def _recorded(self, effect: Any) -> bool:
        return self.parts.conn.execute("SELECT 1 FROM intercepts WHERE order_id = ? AND step = ? AND mark = ?",
                                       (effect.object_id, effect.payload["step"], _mark(effect.payload))
                                       ).fetchone() is not None

    def order_by_tote(self, tote: str) -> str | None:
        """The held or cancelled order in ``tote`` (the reference data no longer lists it as open there)."""
        row = self.parts.conn.execute(
            "SELECT w.order_id FROM wms_orders w JOIN ref_orders r ON r.order_id = w.order_id WHERE w.status IN"
            f" ({','.join('?' * len(STOPPING))}) AND json_extract(r.data, '$.tote') = ? ORDER BY w.at DESC LIMIT 1",
            (*sorted(STOPPING), tote)).fetchone()
        return str(row[0]) if row else None

    def view(self, session: pk.PackSession) -> dict[str, Any] | None:
        """The WMS's word on the order open at the kiosk when it stops or changes it (the kiosk shows it)."""
        if session.order is None or session.state not in pk.ORDER_STATES:
            return None
        word = self.word(session.order.order_id)
        wanted = word.quantities() if word is not None else None
        if word is None or not (word.stops or (wanted is not None and wanted != session.order.quantities())
                                or rules.outdated_label(session, word)):
            return None
        return {**word.as_dict(), "stops": word.stops}


    # ---- conflicts ----------------------------------------------------------------------------------------------
    def resolve(self, confirmation_id: str, by: str, note: Any) -> dict[str, Any]:
        """A supervisor resolves a conflict (what was done with the parcel): audited, and listed no more."""
        if not isinstance(note, str) or not note.strip() or len(note) > 500:
            return answer("conflict_note_missing")
        p = self.parts
        with p.lock:
            found = next((c for c in conflicts(p.conn) if c["id"] == confirmation_id), None)
            if found is None:
                return answer("unknown_conflict", confirmation_id=confirmation_id)
            at = isoformat(p.clock.now())
            with write_tx(p.conn) as conn:
                conn.execute("INSERT INTO conflict_resolutions (confirmation_id, resolved_by, resolved_at, note)"
                             " VALUES (?, ?, ?, ?)", (confirmation_id, by, at, note.strip()))
                store.add_audit(conn, at, by, "conflict_resolved", found["object_id"],
                                {"confirmation": confirmation_id, "action": found["action"],
                                 "refused": found["dead_reason"]}, {"resolved": True}, note.strip(),
                                p.device_id("supervisor"))
        return answer("conflict_resolved", order_id=found["object_id"], action=found["action"])


# ---- the tables -------------------------------------------------------------------------------------------------
def wms_row(conn: sqlite3.Connection, order_id: str) -> dict[str, Any] | None:
    """The WMS's word kept on ``order_id`` (lines and address decoded), or None."""
    row = conn.execute("SELECT * FROM wms_orders WHERE order_id = ?", (order_id,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    out["lines"] = json.loads(out["lines"]) if out["lines"] else None
    address = out["address"]
    out["address"] = ring_of(conn).opened(address) if is_sealed(address) else json.loads(address) if address else None
    return out


def intercepted(conn: sqlite3.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Orders the WMS holds or cancelled, with what this station did with them, the latest decision first."""
    rows = conn.execute(
        "SELECT w.order_id, w.status, w.reason, w.at, w.revision, s.status AS local_status, s.station,"
        " (SELECT COUNT(*) FROM intercepts i WHERE i.order_id = w.order_id) AS steps_stopped FROM wms_orders w"
        f" LEFT JOIN order_state s ON s.order_id = w.order_id WHERE w.status IN ({','.join('?' * len(STOPPING))})"
        " ORDER BY w.at DESC LIMIT ?", (*sorted(STOPPING), limit))
    return [dict(r) for r in rows]


def conflicts(conn: sqlite3.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Confirmations upstream refused because the WMS had cancelled their order, not yet resolved, oldest first."""
    rows = conn.execute("SELECT o.id, o.action, o.object_type, o.object_id, o.created_at, o.dead_at, o.dead_reason"
                        " FROM sync_outbox o LEFT JOIN conflict_resolutions r ON r.confirmation_id = o.id"
                        " WHERE o.state = 'dead' AND o.upstream_status = ? AND r.confirmation_id IS NULL"
                        " ORDER BY o.seq LIMIT ?", (ORDER_CANCELLED, limit))
    return [dict(r) for r in rows]


def _hold(kept: dict[str, Any] | None, word: WmsWord, now: datetime) -> tuple[str | None, float]:
    """(since when the WMS holds the order, how long its earlier holds lasted) once ``word`` is kept, on the
    station's clock: a hold begins when the station learns it and ends when it learns of the release."""
    since, total = (kept.get("held_since"), float(kept.get("held_s") or 0)) if kept else (None, 0.0)
    if word.status == HELD:
        return since or isoformat(now), total
    if since:
        total += max((now - parse_iso(since)).total_seconds(), 0.0)
    return None, total


def held_orders(conn: sqlite3.Connection) -> tuple[set[str], dict[str, timedelta]]:
    """The orders the WMS holds or cancelled now (their escalations wait or never come), and how long the others
    were held (their escalations come that much later)."""
    stopped, paused = set(), {}
    for row in conn.execute("SELECT order_id, status, held_s FROM wms_orders WHERE status IN (?, ?) OR held_s > 0",
                            (HELD, CANCELLED)):
        if row["status"] in (HELD, CANCELLED):
            stopped.add(str(row["order_id"]))
        else:
            paused[str(row["order_id"])] = timedelta(seconds=float(row["held_s"]))
    return stopped, paused


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _key(row: dict[str, Any]) -> dict[str, Any]:
    return {"revision": row.get("revision"), "status_at": row.get("at")}


def _same(kept: dict[str, Any], word: WmsWord) -> bool:
    new = word.as_dict()
    return all(kept.get(k) == new.get(k) for k in ("status", "reason", "at", "revision", "lines")
               if k != "lines" or new["lines"] is not None)  # a word without lines (the dock's facts) keeps them


def _is_intercept(effect: Any) -> bool:
    return isinstance(effect, Confirmation) and effect.action == INTERCEPT


def _mark(payload: dict[str, Any]) -> str:
    """One decision of the WMS, as an ``intercept`` payload names it."""
    return f"{payload.get('status')}@{payload.get('at') or '-'}#r{payload.get('revision')}"
