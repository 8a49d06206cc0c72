"""The station's side of the site hub (``upstream.kind = "hub"``): claims, the change feed, heartbeats.

``SiteLink`` is one more collaborator of ``Station`` (it gets ``parts.Parts``):

* **claims** — ``claim_opened(before, after)`` claims an order at the hub when the kiosk opens it, with the
  client's short deadline (``hub.claim_timeout_s``), and answers the ``claimed_elsewhere`` refusal when
  another table holds it. A hub that does not answer is *offline*: the order opens unclaimed (a station works
  a shift offline) and the next successful heartbeat claims it (the hub records a conflict if two tables
  packed it meanwhile). ``left(before, after)`` queues the release when an order is packed, cancelled
  (stopped) or abandoned by signing out; ``beat()`` sends queued releases, the heartbeat and the renewal.
* **the clock** — every heartbeat carries this station's time; the hub answers with the offset it measured, and
  past the site's threshold (``clock.warn_after_s``) the kiosk shows a warning and /healthz names it.
* **a supervisor's release** — the hub's ``claim_released`` feed event (``why = "supervisor"``), the heartbeat's
  answer and a refused renewal all say the same: the order open here was released from this table. ``released``
  (the station's ``on_released``) drops it, and the table never takes it back by renewing (only a packer opening it
  afresh claims it again). Handling it twice changes nothing.
* **the site's escalations** — ``escalations()`` are the hub's open ones (read at most every ``ESCALATIONS_FRESH_S``;
  None while the hub is unreachable), ``acknowledge`` acknowledges through the hub (audited there, once).
* **the site's conflicts** — ``conflicts()`` are the hub's unresolved ``order_cancelled`` conflicts (a pack or hand-over
  the WMS refused after the hub took it), ``resolve_conflict`` resolves one through the hub (audited there, once).
* **the site's dock** — ``dock_parcel(batch, code, operator)`` asks the hub to hold a parcel of any table for this
  table's batch and answers its facts: ``("site", facts)``, ``("unknown", None)``, ``("offline", None)`` (the
  hub unreachable: only a parcel packed here can still be checked) or ``("standalone", None)``.
* **the change feed** — ``on_change(event)`` (``FeedFollower``'s callback) writes what other tables did into
  the station's own order state: an order picked, packed or cancelled elsewhere has that status here too
  (the station's own changes it already knows; an order open here is the kiosk's to decide); released
  priority shows on the kiosk; lot stock taken at any table counts against the lot here (``SiteLots``); the WMS's
  decisions on orders (``order_status``: held, cancelled, released, changed) are learned by the interception desk
  in the same transaction (``station/interception.py``) and shown at once; a change of the site's learned
  weights or a weight decision (``weights``) wakes the table's weights loop (``station/weights.py``).
* **site-wide lot stock** — ``SiteLots`` wraps the reference rows: a lot's ``qty`` is the WMS's less every
  unit the hub counted as taken anywhere, except units taken for an order open at this station right now
  (the session itself counts those, ``lots.less_taken``).

Without a hub (``hub`` None) every method is a no-op and ``SiteLots`` changes nothing.
"""
from __future__ import annotations

import logging
import threading
from importlib import metadata
from typing import Any, Callable, Protocol

from packgate.device.clock import isoformat
from packgate.station import store
from packgate.station.core import packing as pk
from packgate.station.core.catalog import ReferenceRows
from packgate.station.core.verdicts import make
from packgate.station.parts import Parts
from packgate.station.ports import SiteHub
from packgate.sync.common.db import write_tx
from packgate.sync.errors import ClaimConflictError, SyncError

log = logging.getLogger("packgate.site")

STAGES = ("open", "picking", "picked", "packing", "weighed", "blocked", "packed", "shipped", "cancelled")
SETTLED = ("packed", "shipped", "cancelled")
OFFLINE_S = 3600.0  # after a failed call, skip the network until a heartbeat gets through again
try:
    SOFTWARE_VERSION: str | None = metadata.version("packgate")  # shown beside the table on the site dashboard
except metadata.PackageNotFoundError:
    SOFTWARE_VERSION = None
ESCALATIONS_FRESH_S = 1.0  # the supervisor page's overview and counts share one answer of the hub
Released = Callable[[str, dict[str, Any]], None]


class LotLedger:
    """Units taken per (sku, lot) and order, as the hub counted them (its ``lot_taken`` feed events)."""

    def __init__(self) -> None:
        self.units: dict[tuple[str, str], dict[str, int]] = {}

    def load(self, rows: list[dict]) -> None:
        self.units = {}
        for row in rows:
            self.units.setdefault((row["sku"], row["lot"]), {})[row["order_id"]] = int(row["units"])

    def total(self, sku: str, lot: str) -> int:
        return sum(self.units.get((sku, lot), {}).values())

    def record(self, conn: Any, data: dict[str, Any]) -> bool:
        """Take a ``lot_taken`` event (``taken`` is the site's running total); a replayed event adds nothing."""
        sku, lot, order_id, taken = data.get("sku"), data.get("lot"), data.get("order_id"), data.get("taken")
        if not (isinstance(sku, str) and isinstance(lot, str) and isinstance(taken, int)):
            return False
        delta = taken - self.total(sku, lot)
        if delta <= 0:
            return False
        order = order_id if isinstance(order_id, str) else ""
        store.add_site_lot_taken(conn, sku, lot, order, delta)
        per_order = self.units.setdefault((sku, lot), {})
        per_order[order] = per_order.get(order, 0) + delta
        return True

    def left(self, row: dict, open_orders: set[str]) -> dict:
        qty = row.get("qty")
        per_order = self.units.get((row.get("sku"), row.get("lot")))  # type: ignore[arg-type]
        if not per_order or not isinstance(qty, int):
            return row
        elsewhere = sum(units for order, units in per_order.items() if order not in open_orders)
        return {**row, "qty": max(0, qty - elsewhere)}


class SiteLots:
    """``ReferenceRows`` whose lot quantities count the units taken anywhere on the site."""

    def __init__(self, rows: ReferenceRows, ledger: LotLedger, open_orders: Callable[[], set[str]]):
        self.rows, self.ledger, self.open_orders = rows, ledger, open_orders

    def lots_for_sku(self, sku: str) -> list[dict]:
        here = self.open_orders()
        return [self.ledger.left(row, here) for row in self.rows.lots_for_sku(sku)]

    def list_lots(self) -> list[dict]:
        here = self.open_orders()
        return [self.ledger.left(row, here) for row in self.rows.list_lots()]

    def get_sku(self, sku: str) -> dict | None:
        return self.rows.get_sku(sku)

    def sku_by_gtin(self, gtin: str) -> dict | None:
        return self.rows.sku_by_gtin(gtin)

    def get_packaging(self, code: str) -> dict | None:
        return self.rows.get_packaging(code)

    def employee_by_badge(self, uid: str) -> dict | None:
        return self.rows.employee_by_badge(uid)

    def employee_by_id(self, employee_id: str) -> dict | None:
        return self.rows.employee_by_id(employee_id)

    def list_employees(self) -> list[dict]:
        return self.rows.list_employees()

    def get_order(self, order_id: str) -> dict | None:
        return self.rows.get_order(order_id)

    def order_by_tote(self, tote: str) -> dict | None:
        return self.rows.order_by_tote(tote)

    def list_orders(self, status: str | None = None) -> list[dict]:
        return self.rows.list_orders(status)

    def status(self) -> dict:
        return self.rows.status()

    def ambiguity(self, kind: str, key: str) -> str | None:
        return self.rows.ambiguity(kind, key)

    def problems(self) -> dict:
        return self.rows.problems()


class Words(Protocol):
    """The interception desk as the feed sees it (``interception.InterceptDesk``)."""

    def on_feed(self, conn: Any, data: dict[str, Any]) -> bool: ...
    def announce(self) -> None: ...


class SiteLink:
    def __init__(self, parts: Parts, hub: SiteHub | None, publish_state: Callable[[], None],
                 released: Released | None = None, words: Words | None = None):
        self.parts, self.hub, self.publish_state, self.words = parts, hub, publish_state, words
        self.released: Released = released or (lambda order_id, decision: None)
        self.reviewed: Callable[[dict], None] = lambda decision: None  # ``Station.on_review_decided``
        self._lists: dict[str, tuple[float, list[dict]]] = {}  # the site's lists last read: (when, rows)
        self.ledger = LotLedger()
        self.ledger.load(store.site_lot_taken(parts.conn))
        self.offline_until = float("-inf")
        self.last_error: str | None = None
        self.wake = threading.Event()
        self._releases: list[str] = []
        self.closed = False
        self.on_weights: Callable[[], None] | None = None  # the learned weights' loop, woken by a ``weights`` event

    @property
    def enabled(self) -> bool:
        return self.hub is not None

    def open_orders(self) -> set[str]:
        """Orders open at this station right now: the kiosk's and every PDA pick session's."""
        live = self.parts.live
        here = {session.order.order_id for session in live.picks.values()}
        if live.pack.order is not None and live.pack.state in pk.ORDER_STATES:
            here.add(live.pack.order.order_id)
        return here

    def lots(self, rows: ReferenceRows) -> SiteLots:
        return SiteLots(rows, self.ledger, self.open_orders)

    # ---- claims -----------------------------------------------------------------------------
    def claim_opened(self, before: pk.PackSession, after: pk.PackSession) -> dict | None:
        """The refusal to show when ``after`` opens an order another table holds; None: go on."""
        if self.hub is None or after.order is None or after.state is not pk.State.ORDER_OPEN:
            return None
        order_id = after.order.order_id
        if before.order is not None and before.order.order_id == order_id and before.state in pk.ORDER_STATES:
            return None
        if self.parts.clock.monotonic() < self.offline_until:
            log.info("hub offline: %s opens unclaimed; the next heartbeat claims it", order_id)
            return None
        try:
            self.hub.claim(order_id, after.operator.employee_id if after.operator else None)
        except ClaimConflictError as exc:
            return self._refusal(order_id, exc.claim)
        except (SyncError, OSError) as exc:
            self._offline(exc)
        return None

    def _refusal(self, order_id: str, claim: dict) -> dict:
        if claim.get("stage"):  # already packed, shipped or cancelled somewhere on the site
            return make("order_not_packable", order_id=order_id, order_status=claim["stage"]).as_dict()
        return make("claimed_elsewhere", order_id=order_id, table=claim.get("table") or claim.get("station") or "?",
                    person=claim.get("operator_name") or claim.get("operator") or "?").as_dict()

    def left(self, before: pk.PackSession, after: pk.PackSession) -> None:
        """Queue the release of the order ``before`` had open if ``after`` no longer has it open."""
        if self.hub is None or before.order is None or before.state not in pk.ORDER_STATES:
            return
        if after.state in pk.ORDER_STATES and after.order is not None and after.order.order_id == before.order.order_id:
            return
        self._releases.append(before.order.order_id)
        self.wake.set()

    def _offline(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.offline_until = self.parts.clock.monotonic() + OFFLINE_S
        log.warning("site hub unreachable, working offline: %s", self.last_error)

    # ---- heartbeat ------------------------------------------------------------------------------
    def beat(self) -> bool:
        """Send queued releases, the heartbeat, and renew (or, after working offline, take) the open claim."""
        if self.hub is None:
            return False
        p = self.parts
        with p.lock:
            live = p.live
            operator = live.pack.operator.employee_id if live.pack.operator else None
            order_id = live.pack.order.order_id if live.pack.order and live.pack.state in pk.ORDER_STATES else None
            state = str(live.pack.state.value)
            devices = {name: str(d.get("state")) for name, d in live.devices.items()}
            outbox = p.outbox.status()
            depth, dead = outbox.get("depth"), outbox.get("dead")
        try:
            while self._releases:
                self.hub.release(self._releases[0])
                self._releases.pop(0)
            released = self.hub.heartbeat(operator=operator, order_id=order_id, state=state, devices=devices,
                                          outbox_depth=depth if isinstance(depth, int) else None,
                                          clock=isoformat(p.clock.now()), version=SOFTWARE_VERSION,
                                          outbox_dead=dead if isinstance(dead, int) else None)
            self._clock_checked(self.hub.last_clock)
            if order_id is not None and not released:
                try:
                    self.hub.renew(order_id, operator)
                except ClaimConflictError as exc:  # released by a supervisor, or opened offline and held elsewhere
                    if isinstance(exc.claim.get("released"), dict):
                        released = [exc.claim["released"]]
                    else:
                        log.warning("claim of %s after working offline: %s", order_id, exc, extra={"order": order_id})
        except (SyncError, OSError) as exc:
            self._offline(exc)
            return False
        self.offline_until, self.last_error = float("-inf"), None
        for decision in released:
            self.released(str(decision.get("order_id") or order_id), decision)
        return True

    def _clock_checked(self, measured: dict[str, Any] | None) -> None:
        """The hub's measure of this station's clock: past the site's threshold the kiosk warns (and /healthz names
        it); the kiosk is told only when that changes."""
        if measured is None:
            return
        offset, warning = float(measured["offset_s"]), bool(measured["warning"])
        p = self.parts
        with p.lock:
            before = p.live.site_clock
            p.live.site_clock = {"offset_s": float(offset), "warning": warning}
            if warning:
                p.live.problems["clock"] = (f"this station's clock differs from the site hub's by {offset:+.1f} s"
                                            " (fix its time: NTP)")
            else:
                p.live.problems.pop("clock", None)
        if (before or {}).get("warning") != warning:
            if warning:
                log.warning("this station's clock differs from the site hub's by %+.1f s; fix its time (NTP)", offset)
            self.publish_state()

    # ---- the site's escalations -----------------------------------------------------------------
    def escalations(self) -> list[dict] | None:
        """The site's escalations sent and not acknowledged, as the supervisor page lists them (``id`` is
        ``<order>~<level>``); None without a hub or while it cannot be reached."""
        return self._site_list("escalations", lambda hub: hub.escalations(), lambda e: {
            "id": f"{e['order_id']}~{e['level']}", "order_id": e["order_id"], "level": e["level"],
            "deadline": e.get("deadline"), "fired_at": e.get("sent_at"), "table": e.get("table"), "site": True})

    def _site_list(self, name: str, fetch: Callable[[SiteHub], list[dict]], shown: Callable[[dict], dict]) -> list[dict] | None:
        """A list of the site's, read from the hub at most every ``ESCALATIONS_FRESH_S`` (the supervisor page asks
        at every refresh) and shaped as the page shows it; None without a hub or while it cannot be reached."""
        if self.hub is None:
            return None
        now = self.parts.clock.monotonic()
        kept = self._lists.get(name)
        if kept is not None and now - kept[0] < ESCALATIONS_FRESH_S:
            return kept[1]
        if now < self.offline_until:
            return None
        try:
            rows = fetch(self.hub)
        except (SyncError, OSError) as exc:
            self._offline(exc)
            return None
        listed = [shown(row) for row in rows]
        self._lists[name] = (now, listed)
        return listed

    def acknowledge(self, order_id: str, level: int, by: str) -> dict | None:
        """Acknowledge through the hub (raises ``SyncError``/``OSError`` when it cannot be reached)."""
        if self.hub is None:
            raise SyncError("no site hub")
        self._lists.pop("escalations", None)
        return self.hub.acknowledge(order_id, level, by)

    # ---- the site's conflicts to resolve ---------------------------------------------------------------
    def conflicts(self) -> list[dict] | None:
        """The site's conflicts no one resolved (a pack or hand-over the WMS refused because it had cancelled the
        order, made at any table), as the supervisor page lists its own (``id`` is ``hub~<n>``); None without a
        hub or while it cannot be reached."""
        return self._site_list("conflicts", lambda hub: hub.conflicts(), lambda c: {
            "id": f"hub~{c['n']}", "action": c.get("action"), "object_type": "order", "object_id": c.get("order_id"),
            "created_at": c.get("at"), "dead_at": c.get("at"), "dead_reason": c.get("reason"),
            "wms_reason": c.get("wms_reason"), "table": c.get("table"), "station": c.get("station"),
            "confirmation": c.get("confirmation"), "site": True})

    def resolve_conflict(self, n: int, by: str, note: str) -> dict | None:
        """Resolve one of the site's conflicts through the hub (raises ``SyncError``/``OSError`` when it cannot be
        reached)."""
        if self.hub is None:
            raise SyncError("no site hub")
        self._lists.pop("conflicts", None)
        return self.hub.resolve_conflict(n, by, note)

    # ---- the site's dock --------------------------------------------------------------------------
    def dock_parcel(self, batch_id: str, code: str, operator: str | None) -> tuple[str, dict | None]:
        """Hold the parcel ``code`` names for ``batch_id`` at the hub; (how it went, the parcel's facts)."""
        if self.hub is None:
            return "standalone", None
        if self.parts.clock.monotonic() < self.offline_until:
            return "offline", None
        try:
            facts = self.hub.hold_parcel(batch_id, code, operator)
        except (SyncError, OSError) as exc:
            self._offline(exc)
            return "offline", None
        return ("site", facts) if facts is not None else ("unknown", None)

    def dock_give_back(self, order_id: str, batch_id: str) -> None:
        """The batch refused the parcel it held: let another batch of the site take it."""
        if self.hub is None:
            return
        try:
            self.hub.give_back(order_id, batch_id)
        except (SyncError, OSError) as exc:  # it stays held by this open batch; the supervisor sees the batch
            log.warning("could not give back %s held for %s: %s", order_id, batch_id, exc, extra={"order": order_id})

    # ---- the change feed ---------------------------------------------------------------------------
    def on_change(self, event: dict[str, Any]) -> None:
        """One change from the hub's feed, merged into the station's own tables (then pushed to the pages)."""
        kind, data = event.get("kind"), event.get("data") or {}
        if not isinstance(data, dict):
            return
        if kind == "weights":  # the site's learned weights or a weight decision changed: take them now
            if self.on_weights is not None:
                self.on_weights()
            return
        if kind == "review_decided":  # a supervisor decided a review of this table's at the hub's dashboard
            if data.get("station") == self.parts.id and isinstance(data.get("order_id"), str):
                self.reviewed(data)
            return
        if kind == "claim_released":  # a supervisor took the order from this table: the station drops it
            if data.get("why") == "supervisor" and data.get("station") == self.parts.id \
                    and isinstance(data.get("order_id"), str):
                self.released(data["order_id"], data)
            return
        p = self.parts
        with p.lock:
            if self.closed:
                raise SyncError("the station is closed; the change is taken again after a restart")
            try:
                with write_tx(p.conn) as conn:
                    at = isoformat(p.clock.now())
                    if kind == "order_stage":
                        changed = self._stage(conn, data, str(event.get("at") or at), at)
                    elif kind == "priority_released":
                        changed = self._priority(conn, data, at)
                    elif kind == "lot_taken":
                        changed = self.ledger.record(conn, data)
                    elif kind == "order_status" and self.words is not None:
                        changed = self.words.on_feed(conn, data)
                    else:
                        changed = False
            except Exception:
                self.ledger.load(store.site_lot_taken(p.conn))  # what was committed, not what was attempted
                raise
            if changed:
                p.bus.publish("site", {"kind": kind, **data})
                if kind == "order_status" and self.words is not None:
                    self.words.announce()  # the kiosk's banner, a label withdrawn; publishes the state
                else:
                    self.publish_state()

    def _stage(self, conn: Any, data: dict, happened: str, at: str) -> bool:
        order_id, stage, station = data.get("order_id"), data.get("stage"), data.get("station")
        if not isinstance(order_id, str) or stage not in STAGES or station == self.parts.id \
                or order_id in self.open_orders():
            return False
        local = store.order_row(conn, order_id) or {}
        if local.get("status") == stage or (local.get("status") in SETTLED
                                            and not (local.get("status") == "packed" and stage == "shipped")):
            return False
        fields: dict[str, Any] = {"status": stage, "station": station}
        if stage == "picked":
            fields["picked_at"] = happened
        elif stage == "packed":
            fields.update(packed_at=happened, priority=0, blocked_reason=None)
        elif stage == "cancelled":
            fields.update(cancelled_at=happened, priority=0)
        store.set_order(conn, order_id, at, **fields)
        return True

    def _priority(self, conn: Any, data: dict, at: str) -> bool:
        order_id = data.get("order_id")
        if not isinstance(order_id, str):
            return False
        local = store.order_row(conn, order_id) or {}
        if local.get("status") in SETTLED or (local.get("priority") or 0) > 0:
            return False
        store.set_order(conn, order_id, at, priority=1)
        return True
