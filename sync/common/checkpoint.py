"""Copying the WAL back into the database file from a thread of its own, so that no commit does it.

SQLite checkpoints inside the COMMIT that takes the WAL past 1,000 pages: every few dozen packs one commit
(a scan's, under the station lock) wrote ~4 MB into the database file and synced it, 100-250 ms measured
beside 50 polling PDAs. Here a loop (``Loop``: waits first, then every ``every_s``) looks whether anything
was committed and then runs a PASSIVE checkpoint, which waits for neither readers nor writers. The file's
writers keep SQLite's own checkpoint as a backstop at ``db.BACKSTOP_PAGES`` (if this loop were stopped)."""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from packgate.sync.common.db import checkpoint_in_background, connect_reader
from packgate.sync.common.loop import Loop
from packgate.sync.common.pool import close_quietly

log = logging.getLogger(__name__)


class Checkpointer(Loop[tuple[int, int, int] | None]):
    def __init__(self, path: str | Path, *, every_s: float = 1.0):
        """Create it before the file's other connections are opened (they read the backstop when opened)."""
        checkpoint_in_background(path)
        super().__init__("wal-checkpoint", every_s=every_s, run_at_start=False, logger=log,
                         what=f"background checkpoint of {path}")
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._seen: int | None = None
        self.runs = 0

    def run_once(self) -> tuple[int, int, int] | None:
        """A PASSIVE checkpoint if anything was committed since the last complete one: ``(busy, wal pages,
        copied)``. One a reader's old snapshot cut short is tried again at the next look."""
        if self._conn is None:
            self._conn = connect_reader(self.path)
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        if version == self._seen:
            return None
        busy, pages, copied = (int(x) for x in self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
        self.runs += 1
        if not busy and copied == pages:
            self._seen = version
        return busy, pages, copied

    def release(self) -> None:
        if self._conn is not None:
            close_quietly(lambda c: c.close(), self._conn)
            self._conn = None
