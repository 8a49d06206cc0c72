"""The hub's database seam: one ``Dialect`` per engine and a ``Database`` handing out connections.

SQL in ``store.py`` is written once with ``?`` placeholders; ``Dialect.sql`` turns it into the
engine's form. ``Database(url)`` is SQLite for a path, PostgreSQL (psycopg 3) for ``postgresql://…``.
Writers open ``Database.tx()``: on SQLite ``BEGIN IMMEDIATE`` (one writer at a time: this process's writers
queue on a lock first, not in SQLite's busy handler); on PostgreSQL
``BEGIN`` (READ COMMITTED) and the row locks the statements take (``ON CONFLICT``, ``FOR UPDATE SKIP
LOCKED`` when claiming work), which keep the guarantees across several hub processes.

**The feed sequence.** ``Conn.feed_row`` only buffers a change; ``tx()`` writes the buffered rows
just before ``COMMIT`` (``Conn.commit``): it bumps the ``feed`` counter row by their number (a row lock on
PostgreSQL held to the end of the transaction) and inserts them with the numbers it got. So numbers are assigned
in commit order and gapless (a rollback returns them), the counter is the *last* lock every writer
takes (it can never be part of a deadlock), and a transaction holding number n+1 cannot commit before
the one holding n is visible: a reader that has seen n+1 has seen n. Every writer waits for that lock in turn,
so on PostgreSQL it is held as briefly as the server allows: the bump and the rows are one statement, sent with the
``COMMIT`` as one query (one round trip; the hub's thread, which may wait for Python's lock when an answer comes,
no longer does so while holding the counter). ``run(fn)`` repeats a
transaction PostgreSQL aborted as a deadlock or serialization failure.

``Conn.savepoint()`` nests a transaction (the writer queue gives each write of a group its own): an exception
rolls back what ran inside, feed rows included, and the enclosing transaction goes on; when the engine has lost
the enclosing transaction too, it raises ``TransactionLost``. ``tx()`` never reports a transaction committed that
was ended or aborted before its COMMIT.
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, Sequence, TypeVar

from packgate.device.clock import isoformat
from packgate.sync.common.db import connect, storage_error
from packgate.sync.common.jsonbytes import dumps
from packgate.sync.common.outage import OutageLog
from packgate.sync.errors import StorageError

log = logging.getLogger(__name__)
T = TypeVar("T")
POOL_WAIT_S = 10.0
RETRIES = 8
FEED_ROWS_PER_INSERT = 100  # feed rows written by one INSERT (5 parameters each; SQLite allows 32,766)


class TransactionLost(StorageError):
    """The engine aborted the whole transaction (a savepoint could not be rolled back to)."""


@dataclass(frozen=True)
class Dialect:
    name: str
    begin_write: str
    skip_locked: str  # appended to a SELECT that claims rows of work
    for_update: str  # appended to a SELECT whose row the transaction then changes (SQLite: one writer anyway)
    serial_pk: str  # DDL of an auto-numbered primary key column
    migration_lock: str  # taken before migrating, so two hubs starting together do not race

    def sql(self, text: str) -> str:
        return text if self.name == "sqlite" else text.replace("%", "%%").replace("?", "%s")


SQLITE = Dialect("sqlite", "BEGIN IMMEDIATE", "", "", "INTEGER PRIMARY KEY", "")
POSTGRESQL = Dialect("postgresql", "BEGIN", " FOR UPDATE SKIP LOCKED", " FOR UPDATE", "BIGSERIAL PRIMARY KEY",
                     "SELECT pg_advisory_xact_lock(7460100)")


def is_postgresql(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


class Sealer(Protocol):
    """How personal values are kept (``sync.common.sealing.KeyRing``; ``PLAIN`` before the hub sets one)."""

    def seal_record(self, record: Any) -> Any: ...

    def open_record(self, record: Any) -> Any: ...


class _Plain:
    def seal_record(self, record: Any) -> Any:
        return record

    def open_record(self, record: Any) -> Any:
        return record


PLAIN: Sealer = _Plain()
Outlet = Callable[["Conn", list[dict[str, Any]]], None]


class Conn:
    """A connection with the dialect applied to every statement; rows come back as dicts. ``sealer`` keeps the
    personal values sealed; ``outlet`` receives, in the transaction, the feed's changes and the events
    ``publish``ed for the site's subscribers (``sync.hub.subscribers``)."""

    def __init__(self, raw: Any, dialect: Dialect, sealer: Sealer = PLAIN, outlet: Outlet | None = None):
        self.raw, self.dialect, self.sealer, self.outlet = raw, dialect, sealer, outlet
        self.pending_feed: list[tuple[str, str, str, dict[str, Any]]] = []
        self.pending_out: list[dict[str, Any] | int] = []  # in the order made: an event, or a feed row's index
        self.pending_writes: list[tuple[str, Sequence[Any]]] = []
        self._savepoints = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if self.pending_writes:
            self._write_pending()
        cur = self.raw.execute(self.dialect.sql(sql), tuple(params))
        if not cur.description:
            return []
        rows = cur.fetchall()
        return [dict(row) for row in rows]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return next(iter(row.values())) if row else None

    def write_later(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A write whose answer nobody reads: on PostgreSQL it waits for the transaction's next statement (sent just
        before it) or its COMMIT (sent in the same query: one round trip less); on SQLite it runs now."""
        if self.dialect is POSTGRESQL:
            self.pending_writes.append((sql, params))
        else:
            self.execute(sql, params)

    def _write_pending(self) -> None:
        writes, self.pending_writes = self.pending_writes, []
        for sql, params in writes:
            self.raw.execute(self.dialect.sql(sql), tuple(params))

    def feed_row(self, at: Any, kind: str, subject: str, data: dict[str, Any]) -> None:
        """Buffer one change for the feed; it gets its number when the transaction commits."""
        self.pending_out.append(len(self.pending_feed))
        self.pending_feed.append((isoformat(at), kind, subject, data))

    def publish(self, at: Any, kind: str, subject: str, data: dict[str, Any]) -> None:
        """Buffer one event for the subscribers only (not on the stations' feed)."""
        self.pending_out.append({"seq": None, "at": isoformat(at), "kind": kind, "subject": subject, "data": data})

    def commit(self) -> list[dict[str, Any]]:
        """Number and write the buffered changes, hand them and the published events to the outlet, COMMIT; returns
        the changes. On PostgreSQL the counter's bump and the first rows are one statement, sent together with the
        COMMIT in one query when nothing after it needs the numbers (``_with_commit``): the counter's lock, which every
        writer takes in turn, is then held for no round trip to this process. The writes left for later
        (``write_later``) go in that query too, after the statement, or before the COMMIT."""
        rows, self.pending_feed = self.pending_feed, []
        out, self.pending_out = self.pending_out, []
        to_outlet = self.outlet is not None and bool(out)
        sealed = [(at, kind, subject, dumps(self.sealer.seal_record(data)).decode()) for at, kind, subject, data in rows]
        head = 0
        if sealed and self.dialect is POSTGRESQL:
            first = sealed[:FEED_ROWS_PER_INSERT]
            statement = self.dialect.sql(_bump_and_insert(len(first)))
            params = [len(sealed), len(sealed), *(v for index, row in enumerate(first, 1) for v in (index, *row))]
            if len(first) == len(sealed) and not to_outlet:
                writes, self.pending_writes = self.pending_writes, []
                for sql, more in writes:  # after the statement: its row is the query's first answer
                    statement += "; " + self.dialect.sql(sql)
                    params.extend(more)
                return _numbered(int(_with_commit(self.raw, statement, params)["head"]), rows)
            self._write_pending()
            head = int(self.raw.execute(statement, params).fetchone()["head"])
            self._insert_feed(head, sealed, len(first))
        elif sealed:
            head = int(self.value("UPDATE hub_counters SET n = n + ? WHERE name = 'feed' RETURNING n", (len(rows),)))
            self._insert_feed(head, sealed, 0)
        if self.pending_writes:
            self._write_pending()
        events = _numbered(head, rows)
        if to_outlet:
            assert self.outlet is not None
            self.outlet(self, [events[item] if isinstance(item, int) else item for item in out])
        self.raw.execute("COMMIT")
        return events

    def _insert_feed(self, head: int, sealed: list[tuple[str, str, str, str]], start: int) -> None:
        """Insert the numbered rows from ``start`` on, ``FEED_ROWS_PER_INSERT`` per statement."""
        base = head - len(sealed) + 1
        for offset in range(start, len(sealed), FEED_ROWS_PER_INSERT):
            chunk = sealed[offset:offset + FEED_ROWS_PER_INSERT]
            self.execute("INSERT INTO hub_feed (seq, at, kind, subject, data) VALUES "
                         + ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk)),
                         [value for index, row in enumerate(chunk, base + offset) for value in (index, *row)])

    @contextmanager
    def savepoint(self) -> Iterator["Conn"]:
        """A nested transaction: an exception rolls back what ran inside it (feed rows included) and is
        re-raised; the enclosing transaction goes on. Raises ``TransactionLost`` instead when the engine
        has aborted the enclosing transaction too (nothing of it can be committed)."""
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        feed_mark, out_mark = len(self.pending_feed), len(self.pending_out)
        if self.pending_writes:
            self._write_pending()
        self.raw.execute(f"SAVEPOINT {name}")
        try:
            yield self
            if self.pending_writes:
                self._write_pending()  # inside the savepoint: a write that fails is rolled back with it
        except BaseException as exc:
            self.pending_writes = []
            del self.pending_feed[feed_mark:]
            del self.pending_out[out_mark:]
            try:
                self.raw.execute(f"ROLLBACK TO SAVEPOINT {name}")
                self.raw.execute(f"RELEASE SAVEPOINT {name}")
            except Exception as lost:  # noqa: BLE001 - whatever the driver raises: the transaction is gone
                raise TransactionLost(f"the transaction was aborted ({_first_line(lost)})") from exc
            raise
        try:
            self.raw.execute(f"RELEASE SAVEPOINT {name}")
        except Exception as lost:  # noqa: BLE001 - the savepoint went with the whole transaction
            raise TransactionLost(f"the transaction was aborted ({_first_line(lost)})") from lost


def _bump_and_insert(rows: int) -> str:
    """PostgreSQL: the feed counter bumped and the first ``rows`` rows inserted with the numbers it gave, in one
    statement; it returns the counter's new value."""
    return ("WITH head AS (UPDATE hub_counters SET n = n + ? WHERE name = 'feed' RETURNING n) "
            "INSERT INTO hub_feed (seq, at, kind, subject, data) "
            "SELECT head.n - ? + v.o, v.at, v.kind, v.subject, v.data FROM head, (VALUES "
            + ", ".join(["(?::bigint, ?, ?, ?, ?)"] * rows) + ") AS v (o, at, kind, subject, data) "
            "RETURNING (SELECT n FROM head) AS head")


def _with_commit(raw: Any, statement: str, params: Sequence[Any]) -> dict[str, Any]:
    """PostgreSQL: ``statement`` and ``COMMIT`` sent as one query, the parameters bound here (a query of two
    statements cannot carry the server's parameters): one round trip, the server commits right after the statement
    (psycopg's pipeline mode sent the statement before the COMMIT was queued, and waited between). Returns the
    statement's first row."""
    from psycopg import ClientCursor

    cursor = ClientCursor(raw)
    cursor.execute(statement + "; COMMIT", params)
    row = cursor.fetchone()
    assert row is not None  # the statement returns a row per row it inserted, one at least
    return dict(row)


def _numbered(head: int, rows: list[tuple[str, str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The feed's changes numbered up to ``head``."""
    base = head - len(rows) + 1
    return [{"seq": base + offset, "at": at, "kind": kind, "subject": subject, "data": data}
            for offset, (at, kind, subject, data) in enumerate(rows)]


class _Engine:
    """What differs between SQLite and PostgreSQL below the SQL: connecting, errors, health."""

    dialect: Dialect

    def connect(self) -> Any:
        raise NotImplementedError

    def in_transaction(self, raw: Any) -> bool:
        raise NotImplementedError

    def broken(self, raw: Any) -> bool:
        return False

    def committable(self, raw: Any) -> bool:
        """A transaction is open and not aborted (its COMMIT would save what it did)."""
        return self.in_transaction(raw)

    def storage_error(self, exc: BaseException) -> BaseException:
        return exc

    def retryable(self, exc: BaseException) -> bool:
        return False

    def errors(self) -> tuple[type[BaseException], ...]:
        raise NotImplementedError

    def changes(self, raw: Any) -> int:
        """A count that grows with every row a connection writes (-1: the engine cannot tell; a commit counts)."""
        return -1


class _SQLite(_Engine):
    dialect = SQLITE

    def __init__(self, path: str):
        self.path = path

    def connect(self) -> Any:
        return connect(self.path)

    def in_transaction(self, raw: Any) -> bool:
        return bool(raw.in_transaction)

    def storage_error(self, exc: BaseException) -> BaseException:
        return storage_error(exc) if isinstance(exc, sqlite3.Error) else exc

    def errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def changes(self, raw: Any) -> int:
        return int(raw.total_changes)


class _PostgreSQL(_Engine):
    dialect = POSTGRESQL

    def __init__(self, url: str):
        import psycopg

        self.psycopg, self.url = psycopg, url

    def connect(self) -> Any:
        from psycopg.rows import dict_row

        try:
            return self.psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=5,
                                        application_name="packgate-site")
        except self.psycopg.OperationalError as exc:
            raise StorageError(f"not saved: the hub database is unreachable ({_first_line(exc)})") from exc

    def in_transaction(self, raw: Any) -> bool:
        return bool(raw.info.transaction_status != self.psycopg.pq.TransactionStatus.IDLE)

    def broken(self, raw: Any) -> bool:
        return bool(raw.closed or raw.broken)

    def committable(self, raw: Any) -> bool:
        return bool(raw.info.transaction_status == self.psycopg.pq.TransactionStatus.INTRANS)

    def storage_error(self, exc: BaseException) -> BaseException:
        failed = isinstance(exc, (self.psycopg.OperationalError, self.psycopg.InterfaceError))
        if failed and not self.retryable(exc):
            return StorageError(f"not saved: the hub database failed ({_first_line(exc)})")
        return exc

    def retryable(self, exc: BaseException) -> bool:
        errors = self.psycopg.errors
        return isinstance(exc, (errors.DeadlockDetected, errors.SerializationFailure))

    def errors(self) -> tuple[type[BaseException], ...]:
        return (self.psycopg.Error,)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class Database:
    """``Database(url)``: a pool of connections; ``tx()`` for writes, ``read()`` for reads, ``run(fn)``
    for a write that is repeated when PostgreSQL aborts it as a deadlock. ``on_feed(head, events)`` is called
    after every commit that wrote the feed (the hub wakes its long-polls with it)."""

    def __init__(self, url: str, *, pool_size: int = 16, outage: OutageLog | None = None):
        self.url = url
        self.outage = outage or OutageLog("hub database", log)  # storage failures and recovery, once each
        self.engine: _Engine = _PostgreSQL(url) if is_postgresql(url) else _SQLite(url)
        self.dialect = self.engine.dialect
        self.on_feed: Callable[[int, list[dict[str, Any]]], None] | None = None
        self.sealer: Sealer = PLAIN  # the hub sets its key ring before anything is written
        self.outlet: Outlet | None = None  # the hub's subscribers, when site.toml names any
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._all: list[Any] = []
        self._lock = threading.Lock()
        # SQLite has one writer at a time: this process's writers queue here rather than in SQLite's busy handler
        # (which sleeps and retries); PostgreSQL's writers run at once and take row locks.
        self._writer = threading.RLock() if self.dialect is SQLITE else None

    @contextmanager
    def _conn(self) -> Iterator[Conn]:
        if not self._slots.acquire(timeout=POOL_WAIT_S):
            raise StorageError(f"not saved: no free database connection within {POOL_WAIT_S:g} s")
        raw = None
        try:
            try:
                raw = self._idle.get_nowait()
            except queue.Empty:
                raw = self.engine.connect()
                with self._lock:
                    self._all.append(raw)
            if self.engine.in_transaction(raw):  # a request died mid-transaction: start clean
                try:
                    raw.execute("ROLLBACK")
                except self.engine.errors() as exc:
                    raise self.engine.storage_error(exc) from exc
            yield Conn(raw, self.dialect, self.sealer, self.outlet)
        finally:
            if raw is not None:
                if self.engine.broken(raw):
                    self._discard(raw)
                else:
                    self._idle.put(raw)
            self._slots.release()

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self._writer is None:
            yield
            return
        if not self._writer.acquire(timeout=POOL_WAIT_S):
            raise StorageError(f"not saved: the database has been busy with another write for {POOL_WAIT_S:g} s")
        try:
            yield
        finally:
            self._writer.release()

    def _discard(self, raw: Any) -> None:
        with self._lock:
            if raw in self._all:
                self._all.remove(raw)
        try:
            raw.close()
        except Exception:  # noqa: BLE001 - already broken
            pass

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        """A write transaction. A storage failure is reported to ``outage`` (and raised); a commit that wrote rows
        ends an outage (an empty one proves nothing: on a full disk it commits)."""
        try:
            with self._tx() as conn:
                yield conn
        except TransactionLost:
            raise  # the work inside ended or aborted it (the writer queue repeats it write by write): no outage
        except StorageError as exc:
            self.outage.failed(str(exc), type(exc).__name__)
            raise

    @contextmanager
    def _tx(self) -> Iterator[Conn]:
        errors = self.engine.errors()
        with self._writer_turn(), self._conn() as conn:
            before = self.engine.changes(conn.raw)
            try:
                conn.raw.execute(self.dialect.begin_write)
            except errors as exc:
                raise self.engine.storage_error(exc) from exc
            try:
                yield conn
                if not self.engine.committable(conn.raw):  # ended or aborted inside: COMMIT would save nothing
                    raise TransactionLost("the transaction was ended or aborted before its COMMIT; nothing was saved")
                events = conn.commit()
            except BaseException as exc:
                conn.pending_feed, conn.pending_out, conn.pending_writes = [], [], []
                self._rollback(conn)
                mapped = self.engine.storage_error(exc)
                if mapped is not exc:
                    raise mapped from exc
                raise
            if before < 0 or self.engine.changes(conn.raw) != before:
                self.outage.ok()
            if events and self.on_feed is not None:  # still this writer's turn: published in commit order
                self.on_feed(events[-1]["seq"], events)

    def _rollback(self, conn: Conn) -> None:
        try:
            if self.engine.in_transaction(conn.raw):
                conn.raw.execute("ROLLBACK")
        except self.engine.errors():
            pass

    def run(self, fn: Callable[[Conn], T]) -> T:
        """``fn(conn)`` in a write transaction, repeated (a few times, with a short pause) when the
        engine aborted it as a deadlock or serialization failure; its effects count once."""
        for attempt in range(RETRIES):
            try:
                with self.tx() as conn:
                    return fn(conn)
            except Exception as exc:  # noqa: BLE001 - only the engine's retryable errors are repeated
                if not self.engine.retryable(exc) or attempt == RETRIES - 1:
                    raise
                log.info("hub transaction aborted (%s); repeating it", _first_line(exc))
                time.sleep(0.002 * (attempt + 1))
        raise AssertionError("unreachable")

    @contextmanager
    def read(self) -> Iterator[Conn]:
        """One snapshot for several reads (a storage failure is reported to ``outage`` and raised)."""
        try:
            with self._read() as conn:
                yield conn
        except StorageError as exc:
            self.outage.failed(str(exc), type(exc).__name__)
            raise

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        errors = self.engine.errors()
        with self._conn() as conn:
            try:
                conn.raw.execute("BEGIN" if self.dialect is SQLITE else
                                 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            except errors as exc:
                raise self.engine.storage_error(exc) from exc
            try:
                yield conn
            except errors as exc:
                self._rollback(conn)
                mapped = self.engine.storage_error(exc)
                if mapped is not exc:
                    raise mapped from exc
                raise
            finally:
                try:
                    if self.engine.in_transaction(conn.raw):
                        conn.raw.execute("COMMIT")
                except errors:
                    pass  # a read-only snapshot: nothing to keep; a broken connection is dropped by the pool

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        while True:
            try:
                self._idle.get_nowait()
            except queue.Empty:
                break
        for raw in conns:
            try:
                raw.close()
            except Exception:  # noqa: BLE001 - closing anyway
                pass
