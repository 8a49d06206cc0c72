"""The hub's database seam: one ``Dialect`` per engine and a ``Database`` handing out connections.

SQL in ``store.py`` is written once with ``?`` placeholders; ``Dialect.sql`` turns it into the
engine's form. Writers open ``Database.tx()``: on SQLite ``BEGIN IMMEDIATE`` (one writer at a time,
so counters taken inside a transaction are gapless and in commit order); on PostgreSQL ``BEGIN`` and
the row locks named by the dialect (``FOR UPDATE`` on counter rows, ``FOR UPDATE SKIP LOCKED`` when
claiming work), which keep the same guarantees across several hub processes.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from packgate.sync.db import connect, storage_error


@dataclass(frozen=True)
class Dialect:
    name: str
    begin_write: str
    skip_locked: str  # appended to a SELECT that claims rows of work
    serial_pk: str  # DDL of an auto-numbered primary key column
    migration_lock: str  # taken before migrating, so two hubs starting together do not race

    def sql(self, text: str) -> str:
        return text if self.name == "sqlite" else text.replace("?", "%s")


SQLITE = Dialect("sqlite", "BEGIN IMMEDIATE", "", "INTEGER PRIMARY KEY", "")
POSTGRESQL = Dialect("postgresql", "BEGIN", " FOR UPDATE SKIP LOCKED", "BIGSERIAL PRIMARY KEY",
                     "SELECT pg_advisory_xact_lock(7460100)")


class Conn:
    """A connection with the dialect applied to every statement; rows come back as dicts."""

    def __init__(self, raw: sqlite3.Connection, dialect: Dialect):
        self.raw, self.dialect = raw, dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.raw.execute(self.dialect.sql(sql), tuple(params))
        return [dict(row) for row in cur.fetchall()] if cur.description else []

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return next(iter(row.values())) if row else None


class Database:
    """``Database(path)``: one connection per thread; ``tx()`` for writes, ``read()`` for reads."""

    def __init__(self, url: str):
        if url.startswith(("postgres://", "postgresql://")):
            raise ValueError("PostgreSQL support comes with issue 11; the store and dialect are ready for it")
        self.url, self.dialect = url, SQLITE
        self._local = threading.local()

    def _conn(self) -> Conn:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = Conn(connect(self.url), self.dialect)
        if conn.raw.in_transaction:  # a request died mid-transaction: start clean
            conn.raw.execute("ROLLBACK")
        return conn

    @contextmanager
    def tx(self) -> Iterator[Conn]:
        conn = self._conn()
        try:
            conn.raw.execute(self.dialect.begin_write)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc
        try:
            yield conn
        except BaseException as exc:
            if conn.raw.in_transaction:
                conn.raw.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                mapped = storage_error(exc)
                if mapped is not exc:
                    raise mapped from exc
            raise
        try:
            conn.raw.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.raw.in_transaction:
                conn.raw.execute("ROLLBACK")
            raise storage_error(exc) from exc

    @contextmanager
    def read(self) -> Iterator[Conn]:
        """One snapshot for several reads."""
        conn = self._conn()
        conn.raw.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.raw.in_transaction:
                conn.raw.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.raw.close()
            self._local.conn = None
