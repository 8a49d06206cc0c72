"""The hub's mirror of the WMS's reference data, served to the stations so the floor keeps working
while the WMS is down.

Same approach as the station's ``sync.reference``: pull ``/v1/reference?since=<cursor>`` page by
page; a page's rows are written ``CHUNK`` at a time, each chunk a transaction of its own (on a peak day a page of
5,000 orders must not hold the stations' confirmations back for the time it takes to write) with the
``order_status`` events of the WMS's decisions on its orders (``store.wms_word``, as the fast pull ``wms_orders``
makes them), and the last one commits the WMS cursor and a ``reference`` feed event with it (a page written in
part is pulled again: the rows are upserted). A page that does not move the cursor while claiming ``more`` is an
error, not a loop.
"""
from __future__ import annotations

import logging
from typing import Any

from packgate.device.clock import Clock, isoformat
from packgate.sync.client import UpstreamClient
from packgate.sync.errors import StorageError, SyncError
from packgate.sync.hub import store
from packgate.sync.hub.engine import Database
from packgate.sync.upstream.store import KINDS

log = logging.getLogger(__name__)
MAX_PAGES = 1000
CHUNK = 1000  # reference rows per write transaction


def refresh(db: Database, client: UpstreamClient, clock: Clock) -> dict[str, Any]:
    """Pull every change since the stored cursor; returns ``{"ok", "changed", "cursor", "error"}``."""
    changed = 0
    with db.read() as conn:
        cursor = store.get_meta(conn, "wms.ref_cursor")
    try:
        for _ in range(MAX_PAGES):
            page = client.get_reference(since=cursor)
            new_cursor = str(page["cursor"])
            rows = [(kind, item) for kind in KINDS for item in page.get(kind) or []]
            count = 0
            for start in range(0, max(len(rows), 1), CHUNK):
                with db.tx() as conn:
                    chunk = rows[start:start + CHUNK]
                    count += store.upsert_ref(conn, chunk)
                    # a decision the fast pull has not seen (the hub was down)
                    store.wms_words(conn, clock.now(), [row for kind, row in chunk if kind == "orders"
                                                        and isinstance(row, dict)])
                    if start + CHUNK < len(rows):
                        continue
                    store.set_meta(conn, "wms.ref_cursor", new_cursor)
                    store.set_meta(conn, "wms.ref_last_refresh", isoformat(clock.now()))
                    store.set_meta(conn, "wms.ref_last_error", None)
                    if count:
                        store.feed(conn, clock.now(), "reference", "reference",
                                   {"cursor": str(store.ref_cursor(conn)), "rows": count})
            changed += count
            if not page.get("more"):
                return {"ok": True, "changed": changed, "cursor": new_cursor, "error": None}
            if new_cursor == cursor:
                raise SyncError(f"the WMS said more=true without moving its cursor ({cursor!r})")
            cursor = new_cursor
        raise SyncError(f"more than {MAX_PAGES} reference pages in one refresh")
    except StorageError:
        raise  # the hub's own database: its OutageLog reports it (and the ticker retries)
    except SyncError as exc:
        log.warning("reference refresh from the WMS failed: %s", exc)
        with db.tx() as conn:
            store.set_meta(conn, "wms.ref_last_error", str(exc))
        return {"ok": False, "changed": changed, "cursor": cursor, "error": str(exc)}
