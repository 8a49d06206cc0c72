"""Pages of reference data for the stations, built once per version of the data and shared.

On a peak day the WMS releases thousands of orders at once and every station, told by the feed, pulls the same
pages from the same cursor. ``ReferencePages.page(since, limit)`` builds a page once (``store.reference_page``:
the rows' stored JSON spliced, never parsed and serialised again) and keeps it while the hub's ``ref`` counter
has not moved (any new or changed row moves it, on any hub); a request for a page being built waits for that
build instead of starting its own. A kept page is never older than the data the request could have seen: it is
served only when built at the counter value read for that request, or later. At most ``size`` pages are kept
(the least recently used goes).
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from packgate.sync.hub import store
from packgate.sync.hub.engine import Database

BUILD_WAIT_S = 10.0


class ReferencePages:
    def __init__(self, db: Database, *, size: int = 16):
        self.db, self.size = db, size
        self._guard = threading.Lock()
        self._kept: OrderedDict[tuple[int, int], tuple[int, bytes]] = OrderedDict()
        self._building: dict[tuple[int, int], tuple[int, threading.Event]] = {}
        self.builds = self.hits = 0

    def page(self, since: int, limit: int) -> bytes:
        key = (since, limit)
        with self.db.read() as conn:
            version = store.ref_cursor(conn)
        while True:
            with self._guard:
                kept = self._kept.get(key)
                if kept is not None and kept[0] >= version:
                    self._kept.move_to_end(key)
                    self.hits += 1
                    return kept[1]
                running = self._building.get(key)
                if running is None or running[0] < version:
                    done = threading.Event()
                    self._building[key] = (version, done)
                    break
            if not running[1].wait(BUILD_WAIT_S):
                return self._build(key)[1]  # a build that hangs holds nobody else up
        try:
            built, body = self._build(key)
            with self._guard:
                self.builds += 1
                newer = self._kept.get(key)
                if newer is None or newer[0] <= built:
                    self._kept[key] = (built, body)
                    self._kept.move_to_end(key)
                    while len(self._kept) > self.size:
                        self._kept.popitem(last=False)
            return body
        finally:
            with self._guard:
                if self._building.get(key, (0, None))[1] is done:
                    del self._building[key]
            done.set()

    def _build(self, key: tuple[int, int]) -> tuple[int, bytes]:
        with self.db.read() as conn:  # one snapshot: the counter and the rows agree
            return store.ref_cursor(conn), store.reference_page(conn, *key)
