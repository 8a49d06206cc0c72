"""The fast pull of the WMS's decisions about orders (订单拦截): ``GET /v1/orders/changes`` every ``site.orders_s``.

A page's order rows (into the hub's reference mirror, so the stations' reference data carries them too), the WMS
status kept beside each order's floor stage and the ``order_status`` feed events of its decisions (``store.wms_word``)
commit ``CHUNK`` orders per transaction (a wave does not hold the confirmations back), every chunk renewing the
lease (a long wave is not pulled by two hubs at once), the page's last chunk with the cursor and a ``reference``
event when rows were stored (the stations fetch a wave of released orders at once, not at the next reference
refresh; one event per page: each makes every station fetch): a hub killed before that pulls the page again and
never loses a decision, and a decision already kept is not published twice (nor an order row stored as it is given a new version). With
several hubs on one database the lease ``orders`` lets one of them pull at a time. Nothing is pulled before the
first reference refresh set its cursor: that refresh brings every order once, and the pull starts from its cursor.
"""
from __future__ import annotations

import logging
from typing import Any

from packgate.device.clock import Clock
from packgate.sync.client import UpstreamClient
from packgate.sync.errors import SyncError
from packgate.sync.hub import store
from packgate.sync.hub.engine import Database

log = logging.getLogger(__name__)
MAX_PAGES = 100
CHUNK = 1000  # orders per write transaction: a page of a released wave does not hold the confirmations back
LEASE_S = 3.0  # renewed by every pull (each site.orders_s): a hub restarted after a kill pulls again within this


def pull(db: Database, client: UpstreamClient, clock: Clock, holder: str) -> dict[str, Any]:
    """One pull of every order changed since the cursor; ``{"ok", "decisions", "cursor", "error"}``."""
    with db.tx() as conn:
        if not store.take_lease(conn, "orders", holder, clock.now(), LEASE_S):
            return {"ok": True, "decisions": 0, "cursor": None, "error": None, "standby": True}
        cursor = store.get_meta(conn, "wms.orders_cursor") or store.get_meta(conn, "wms.ref_cursor")
    if cursor is None:
        return {"ok": True, "decisions": 0, "cursor": None, "error": None}
    decisions = 0
    try:
        for _ in range(MAX_PAGES):
            page = client.get_order_changes(since=cursor)
            new_cursor = str(page["cursor"])
            rows = page["orders"] if isinstance(page["orders"], list) else []
            stored = 0
            for start in range(0, max(len(rows), 1), CHUNK):
                with db.tx() as conn:
                    if start and not store.take_lease(conn, "orders", holder, clock.now(), LEASE_S):
                        return {"ok": True, "decisions": decisions, "cursor": cursor, "error": None, "standby": True}
                    chunk = rows[start:start + CHUNK]
                    stored += store.upsert_ref(conn, [("orders", row) for row in chunk])
                    decisions += sum(1 for word in store.wms_words(conn, clock.now(), chunk) if word)
                    if start + CHUNK >= len(rows):
                        store.set_meta(conn, "wms.orders_cursor", new_cursor)
                        store.set_meta(conn, "wms.orders_last_error", None)
                        if stored:  # new orders (a released wave): the stations fetch them now, not at the refresh
                            store.feed(conn, clock.now(), "reference", "reference",
                                       {"cursor": str(store.ref_cursor(conn)), "rows": stored})
            if not page.get("more"):
                return {"ok": True, "decisions": decisions, "cursor": new_cursor, "error": None}
            if new_cursor == cursor:
                raise SyncError(f"the WMS said more=true without moving its cursor ({cursor!r})")
            cursor = new_cursor
        return {"ok": True, "decisions": decisions, "cursor": cursor, "error": None}  # the rest next time
    except SyncError as exc:
        log.warning("pulling the WMS's order changes failed: %s", exc)
        with db.tx() as conn:
            store.set_meta(conn, "wms.orders_last_error", str(exc))
        return {"ok": False, "decisions": decisions, "cursor": cursor, "error": str(exc)}
