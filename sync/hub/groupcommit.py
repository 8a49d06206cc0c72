"""The hub's writer queue: the writes of requests that arrive together are committed in one transaction.

``GroupCommit(db).run(fn)`` queues ``fn(conn)`` and returns what it returned once the transaction that ran it
has committed, or raises what it raised. Invariants:

* **Answered only after its own commit.** ``run`` returns after the COMMIT of the transaction that ran ``fn``;
  nothing is answered from a transaction that was rolled back.
* **One transaction per group, no timer.** A caller that finds a free lane leads: it takes the queued writes (its
  own first, at most ``max_group``), runs them in one transaction, commits once, answers them all and hands its
  lane to the first caller still queued. Writers that arrive while every lane is busy wait for
  the next transaction, so a group grows with the load (one fsync, one feed-counter bump for all of them) and a
  lone write is committed at once. SQLite has one writer: one lane. PostgreSQL runs writers side by side (row
  locks; only the feed counter's bump at COMMIT is taken in turn), so it gets ``lanes`` transactions at once: one
  lane would make every statement of every write wait for the round trips of the writes before it.
* **Set-based when it can be.** ``run_many(many, payload)`` is ``run`` of ``many(conn, [payload])[0]``; the writes of a
  group queued one after the other through the same ``many`` run as one call of it with all their payloads (the
  confirmations of several stations stored by one INSERT, their orders read by one SELECT), in the same order.
* **A failure stays with what caused it.** A group runs without savepoints first (writes rarely fail: the hub
  answers a bad confirmation, it does not raise); when one raises, the transaction is rolled back and the group
  runs again with each write in a savepoint of its own: the failing write's caller gets the exception, the rest
  of the group is committed. A transaction that fails as a whole (COMMIT refused, the
  engine aborted it, the connection lost) is repeated write by write, each in a transaction of its own, so
  every caller gets the answer its own write earns; a deadlock or serialization failure repeats the whole
  group first (``Database.run``). So ``fn`` must be repeatable: the hub's are (confirmations are deduplicated
  by (station, key), heartbeats overwrite).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from itertools import groupby
from typing import Any, Callable, Generic, Iterator, TypeVar

from packgate.sync.errors import StorageError
from packgate.sync.hub.engine import Conn, Database, TransactionLost

log = logging.getLogger(__name__)
T = TypeVar("T")
P = TypeVar("P")
MAX_GROUP = 64
POSTGRESQL_LANES = 4  # transactions of the writer queue at once on PostgreSQL


class _Ticket(Generic[T]):
    """One queued write and, once its transaction ended, its outcome."""

    __slots__ = ("fn", "many", "payload", "lead", "result", "error", "woken")

    def __init__(self, fn: Callable[[Conn], T], many: Callable[[Conn, list[Any]], list[T]] | None = None,
                 payload: Any = None):
        self.fn = fn
        self.many = many  # the same write for several payloads at once (``run_many``)
        self.payload = payload
        self.lead = False  # this caller runs the next transaction
        self.result: T | None = None
        self.error: BaseException | None = None
        self.woken = threading.Event()


class GroupCommit:
    def __init__(self, db: Database, *, max_group: int = MAX_GROUP, lanes: int | None = None,
                 observe: Callable[[int, float], None] | None = None):
        self.db = db
        self.max_group = max_group
        self.lanes = lanes if lanes is not None else (1 if db.dialect.name == "sqlite" else POSTGRESQL_LANES)
        self.observe = observe  # called with the size and seconds of every group committed (metrics)
        self._guard = threading.Lock()
        self._queue: deque[_Ticket[Any]] = deque()
        self._leaders = 0

    def run(self, fn: Callable[[Conn], T]) -> T:
        return self._queued(_Ticket(fn))

    def run_many(self, many: Callable[[Conn, list[P]], list[T]], payload: P) -> T:
        """``run(lambda conn: many(conn, [payload])[0])``, called once for the run of a group's writes that came
        through the same ``many`` (compared with ``==``: a bound method will do)."""
        return self._queued(_Ticket(lambda conn: many(conn, [payload])[0], many, payload))

    def _queued(self, ticket: _Ticket[T]) -> T:
        with self._guard:
            self._queue.append(ticket)
            if self._leaders < self.lanes:
                self._leaders += 1
                ticket.lead = True
        if not ticket.lead:
            ticket.woken.wait()
        if ticket.lead:
            self._lead(ticket)
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _lead(self, own: _Ticket[Any]) -> None:
        with self._guard:  # a leader commits its own write first, then the oldest queued
            self._queue.remove(own)
            group = [own] + [self._queue.popleft() for _ in range(min(len(self._queue), self.max_group - 1))]
        try:
            self._commit(group)
        finally:
            with self._guard:
                following = self._queue[0] if self._queue else None
                if following is not None:
                    following.lead = True  # the lane passes on
                else:
                    self._leaders -= 1
            for ticket in group:
                ticket.lead = False
            if following is not None:  # the next transaction first: the group's callers then answer beside it
                following.woken.set()
            for ticket in group:
                ticket.woken.set()

    def _commit(self, group: list[_Ticket[Any]]) -> None:
        began = time.perf_counter()
        try:
            if len(group) == 1:
                outcomes = [(self.db.run(group[0].fn), None)]
            else:
                try:  # the common case first: nothing fails, no savepoints (two statements less per write)
                    outcomes = self.db.run(lambda conn: self._apply_plain(conn, group))
                except Exception:  # noqa: BLE001 - rolled back whole: again, each write in its own savepoint
                    outcomes = self.db.run(lambda conn: self._apply(conn, group))
        except Exception as exc:  # noqa: BLE001 - handed to the callers below
            if len(group) == 1:
                group[0].error = exc
                return
            log.warning("a group of %d writes failed as a whole (%s); each is repeated on its own", len(group), exc)
            for ticket in group:
                try:
                    ticket.result = self.db.run(ticket.fn)
                except Exception as alone:  # noqa: BLE001 - this caller's own answer
                    ticket.error = alone
            return
        except BaseException as exc:  # interrupted: nobody is answered with a result that was not committed
            for ticket in group:
                ticket.error = StorageError(f"not saved: the write was interrupted ({type(exc).__name__})")
            raise
        for ticket, (result, error) in zip(group, outcomes, strict=True):
            ticket.result, ticket.error = result, error
        if self.observe is not None:
            self.observe(len(group), time.perf_counter() - began)

    def _apply_plain(self, conn: Conn, group: list[_Ticket[Any]]) -> list[tuple[Any, BaseException | None]]:
        outcomes: list[tuple[Any, BaseException | None]] = []
        for tickets in _runs(group):
            many = tickets[0].many
            if many is None or len(tickets) == 1:
                outcomes.append((tickets[0].fn(conn), None))
            else:
                outcomes += [(result, None) for result in many(conn, [ticket.payload for ticket in tickets])]
            if not self.db.engine.committable(conn.raw):  # the write ended the transaction: the next must not run
                raise TransactionLost("a write ended the transaction")  # outside it (each would commit alone)
        return outcomes

    def _apply(self, conn: Conn, group: list[_Ticket[Any]]) -> list[tuple[Any, BaseException | None]]:
        """Every write in its own savepoint; returns each one's (result, error). Raises (so the whole group is
        rolled back and repeated) only when the transaction itself is lost or must be repeated."""
        outcomes: list[tuple[Any, BaseException | None]] = []
        for ticket in group:
            try:
                with conn.savepoint():
                    result = ticket.fn(conn)
            except TransactionLost:
                raise
            except Exception as exc:  # noqa: BLE001 - this write's own failure; the others go on
                if self.db.engine.retryable(exc):
                    raise
                outcomes.append((None, self.db.engine.storage_error(exc)))
                continue
            outcomes.append((result, None))
        return outcomes


def _runs(group: list[_Ticket[Any]]) -> Iterator[list[_Ticket[Any]]]:
    """The group's writes in order: those queued one after the other through the same ``many`` together, every
    other write alone."""
    for many, tickets in groupby(group, key=lambda ticket: ticket.many):
        if many is None:
            yield from ([ticket] for ticket in tickets)
        else:
            yield list(tickets)
