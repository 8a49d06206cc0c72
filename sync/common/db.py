"""SQLite connections with the durability settings every connection needs.

WAL, ``synchronous=FULL`` and a busy timeout are set per connection (``synchronous``
is not persisted in the file); writers use ``BEGIN IMMEDIATE`` through ``write_tx``.
Writers of one database file queue in the process (``write_tx`` holds a per-file lock from BEGIN to
COMMIT), so a writer never waits out SQLite's busy timeout behind another thread of the same process.
Storage failures (disk full, read-only, I/O error) surface as ``sync.errors.StorageError``
subclasses, which are also ``sqlite3.OperationalError``; the transaction is rolled back.
Connections opening one brand-new file at once (threads or processes) all end up in WAL: SQLite answers the
switch's lock conflict at once, without its busy handler, so ``connect`` retries it within the busy timeout.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Union

from packgate.device.clock import Clock
from packgate.sync.errors import ReadOnlyStorageError, StorageError, StorageFullError, StorageIOError

BUSY_TIMEOUT_MS = 10_000
BACKSTOP_PAGES = 20_000  # a file with a background checkpointer: commits checkpoint only past ~80 MB of WAL
_BACKGROUND_CHECKPOINTED: set[str] = set()

ConnFactory = Callable[[], sqlite3.Connection]
DbSpec = Union[str, Path, ConnFactory]

# primary result codes (extended codes carry these in the low byte)
_STORAGE_ERRORS = {13: StorageFullError, 8: ReadOnlyStorageError, 10: StorageIOError, 11: StorageIOError}


def connect(path: str | Path, *, check_same_thread: bool = False, clock: Clock | None = None) -> sqlite3.Connection:
    """Open ``path`` in autocommit mode (transactions are explicit) with WAL + FULL sync; ``clock`` paces
    the retries of the WAL switch."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=check_same_thread,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    _enter_wal(conn, clock or Clock())
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")  # a purged or re-sealed value leaves no copy in the file's free space
    if str(path) != ":memory:":
        private(Path(path))
        if _file_key(path) in _BACKGROUND_CHECKPOINTED:
            conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    return conn


_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED


def _enter_wal(conn: sqlite3.Connection, clock: Clock) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds the lock it needs. Two connections
    switching a new file together each hold a shared lock and want the exclusive one: SQLite fails one of
    them with "database is locked" at once rather than let them wait on each other."""
    deadline = clock.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            if not isinstance(code, int) or code & 0xFF not in _BUSY_CODES or clock.monotonic() >= deadline:
                conn.close()
                raise
        clock.sleep(pause)
        pause = min(pause * 2, 0.05)


def checkpoint_in_background(path: str | Path) -> None:
    """Connections opened to ``path`` from now on leave checkpoints to a ``sync.checkpoint.Checkpointer``
    (SQLite's own runs inside the COMMIT that passes 1,000 pages of WAL)."""
    _BACKGROUND_CHECKPOINTED.add(_file_key(path))


def _file_key(path: str | Path) -> str:
    return str(Path(path).resolve())


READER_CACHE_KIB = 256  # page cache of a view reader (SQLite's default is 2 MiB per connection)


def connect_reader(path: str | Path) -> sqlite3.Connection:
    """A connection for one of many readers (a view reader per web-server thread): ``connect`` with a small
    page cache (the OS caches the file too; a hundred connections with 2 MiB each is memory a station lacks)."""
    conn = connect(path)
    conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
    return conn


def private(path: Path) -> None:
    """The database and its WAL files readable by this user only (they hold audit and personal data)."""
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if part.exists() and part.stat().st_mode & 0o077:
                part.chmod(0o600)
        except OSError:  # read-only file system: nothing to tighten, and nothing to write either
            pass


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """Open ``path`` for reading only, even on a read-only disk or file (no journal mode change, no schema)."""
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, isolation_level=None)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:  # a WAL database whose -shm cannot be created: read the file as it is
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?immutable=1", uri=True, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_GUARD = threading.Lock()


def writer_lock(conn: sqlite3.Connection) -> threading.RLock:
    """The in-process lock every writer of ``conn``'s database file takes (one per file)."""
    path = str(conn.execute("PRAGMA database_list").fetchone()[2] or f":memory:{id(conn)}")
    with _WRITERS_GUARD:
        lock = _WRITERS.get(path)
        if lock is None:
            lock = _WRITERS[path] = threading.RLock()
        return lock


def factory(db: DbSpec) -> ConnFactory:
    """A connection factory from a path or an existing factory."""
    if callable(db):
        return db
    return lambda: connect(db)


def storage_error(exc: sqlite3.Error) -> sqlite3.Error:
    """Map a sqlite error to the matching StorageError (or return it unchanged)."""
    code = getattr(exc, "sqlite_errorcode", None)
    cls = _STORAGE_ERRORS.get(code & 0xFF) if isinstance(code, int) else None
    if cls is None or isinstance(exc, StorageError):
        return exc
    what = {StorageFullError: "the disk is full", ReadOnlyStorageError: "the database is read-only",
            StorageIOError: "the storage failed"}[cls]
    err = cls(f"not saved: {what} ({exc})")
    err.sqlite_errorcode = code
    err.sqlite_errorname = getattr(exc, "sqlite_errorname", None)
    return err


@contextmanager
def write_tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolls back on any exception and re-raises it.

    Only when COMMIT has returned is the change durable; storage failures raise a
    ``StorageError`` subclass after rolling back. Writers of the same file in this process wait
    for each other on ``writer_lock`` first (no busy-timeout race between threads).
    """
    with writer_lock(conn):
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc
        try:
            yield conn
        except BaseException as exc:
            _rollback(conn)
            if isinstance(exc, sqlite3.Error):
                mapped = storage_error(exc)
                if mapped is not exc:
                    raise mapped from exc
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise storage_error(exc) from exc


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
