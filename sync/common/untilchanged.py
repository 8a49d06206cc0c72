"""Answers kept until their database changes.

``PRAGMA data_version`` on a connection that never writes moves whenever any connection, of this process or
another, commits to the file; so a read asked again and again between two commits (fifty PDAs polling the
same order list every second) is built once, and nobody is ever served an answer older than the last commit
they could have seen. Callers asking while it is being built for the version they saw wait for that build
instead of starting their own (fifty builds at once after each commit would each take fifty times as long).
A kept answer is shared: callers treat it as read-only.

A caller that can live with an answer up to ``fresh_s`` old (a list a PDA polls every second, while the
packer commits every few milliseconds) is served the kept one while it is that young, whatever was committed
since; ``renew()`` after a commit whose author must see it at once (read-your-writes) ends that for every
answer built before it."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Hashable, TypeVar

from packgate.sync.common.db import connect_reader
from packgate.sync.common.pool import close_quietly

T = TypeVar("T")
BUILD_WAIT_S = 5.0


class UntilChanged:
    def __init__(self, path: str | Path, *, size: int = 64, monotonic: Callable[[], float] = time.monotonic):
        self.size = size
        self._monotonic = monotonic
        self._probe: sqlite3.Connection | None = connect_reader(path)
        self._guard = threading.Lock()
        self._kept: OrderedDict[Hashable, tuple[int, float, object]] = OrderedDict()
        self._floor = 0  # answers built at an older version are not served for being fresh
        self._building: dict[Hashable, tuple[int, threading.Event]] = {}
        self.hits = self.builds = 0

    def version(self) -> int | None:
        """The file's change count as this process last saw it (None once closed: nothing is kept)."""
        with self._guard:
            if self._probe is None:
                return None
            return self._version()

    def _version(self) -> int:
        assert self._probe is not None
        return int(self._probe.execute("PRAGMA data_version").fetchone()[0])

    def renew(self) -> None:
        """A commit just made must be in every answer served from now on, however fresh the kept one."""
        with self._guard:
            if self._probe is not None:
                self._floor = self._version()

    def get(self, key: Hashable, build: Callable[[], T], fresh_s: float = 0.0) -> T:
        """The answer kept for ``key`` if the database has not changed since it was built (or it is younger
        than ``fresh_s`` and no ``renew()`` came after it), else ``build()``."""
        version = self.version()  # read before building: a commit during the build makes the next call rebuild
        if version is None:
            return build()
        asked = self._monotonic()  # the age of an answer counts from the version it was built at
        while True:
            with self._guard:
                kept = self._kept.get(key)
                if kept is not None and (kept[0] == version or (
                        kept[0] >= self._floor and self._monotonic() - kept[1] < fresh_s)):
                    self._kept.move_to_end(key)
                    self.hits += 1
                    return kept[2]  # type: ignore[return-value]
                running = self._building.get(key)
                if running is None or running[0] != version:
                    done = threading.Event()
                    self._building[key] = (version, done)
                    break
            if not running[1].wait(BUILD_WAIT_S):
                return build()  # a build that hangs holds nobody else up
        try:
            value = build()
            with self._guard:
                self.builds += 1
                newer = self._kept.get(key)
                if self._probe is not None and (newer is None or newer[0] <= version):
                    self._kept[key] = (version, asked, value)
                    self._kept.move_to_end(key)
                    while len(self._kept) > self.size:
                        self._kept.popitem(last=False)
            return value
        finally:
            with self._guard:
                if self._building.get(key, (None, None))[1] is done:
                    del self._building[key]
            done.set()

    def close(self) -> None:
        with self._guard:
            probe, self._probe = self._probe, None
            self._kept.clear()
        if probe is not None:
            close_quietly(lambda c: c.close(), probe)
