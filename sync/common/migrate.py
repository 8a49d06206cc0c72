"""Numbered schema steps of one SQLite file, recorded in the file, each in its own transaction.

A ``StepSet`` is the schema of one owner, numbered 1, 2, 3 … (``sync``: the outbox and the reference mirror,
``sync/schema.py``; ``station``: the station's own tables, ``station/migrations``). The file's ledger,
``schema_migrations``, holds one row per step done: owner, version, name, when (ISO 8601 with offset) and how
(``applied``: its statements ran; ``adopted``: it was found already in place).

Invariants:

* A step is done once: its statements and its ledger row commit in one ``BEGIN IMMEDIATE`` transaction, so a
  step that fails rolls back alone (the steps before it stay done) and the next ``upgrade`` starts with it.
  Steps run in version order; two processes upgrading one file at once each skip what the other recorded.
* A file is refused before anything is written (``SchemaFromTheFutureError``) when its ledger records a version
  above the newest this code has for a set, or, with ``complete=True`` (the caller names every set of the
  file), a set this code does not know: a newer packgate wrote it.
* Adoption: the first ``legacy`` steps of a set are the schema as releases made it before the ledger existed
  (``CREATE … IF NOT EXISTS`` scripts run on every start). Such a step, not recorded, whose every table, index,
  trigger and added column (read from its statements) already exists is recorded as ``adopted`` without
  running; otherwise it runs, and its ``IF NOT EXISTS`` statements complete what an older release left. Steps
  after ``legacy`` always run (no file from before the ledger can hold them), as does a step that creates
  nothing detectable.
* An up-to-date file is only read (no write transaction): a read-only database opens as before.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from typing import Callable, Iterable, Union

from packgate.device.clock import Clock, isoformat
from packgate.sync.common.db import write_tx
from packgate.sync.errors import SchemaFromTheFutureError

LEDGER = "schema_migrations"
LEDGER_DDL = (f"CREATE TABLE IF NOT EXISTS {LEDGER} (owner TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
              " applied_at TEXT NOT NULL, how TEXT NOT NULL CHECK (how IN ('applied', 'adopted')),"
              " PRIMARY KEY (owner, version))")

#: a statement (or a script of several, split on complete statements) or a function of the connection
Op = Union[str, Callable[[sqlite3.Connection], object]]

_CREATES = re.compile(r"^\s*CREATE\s+(?:UNIQUE\s+)?(TABLE|INDEX|TRIGGER|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?[\"`]?(\w+)",
                      re.IGNORECASE)
_ADDS = re.compile(r"^\s*ALTER\s+TABLE\s+[\"`]?(\w+)[\"`]?\s+ADD\s+(?:COLUMN\s+)?[\"`]?(\w+)", re.IGNORECASE)


def statements(script: str) -> list[str]:
    """The statements of ``script`` (a trigger's ``BEGIN … END`` body stays whole); refuses an unfinished one."""
    out: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece
        if sqlite3.complete_statement(current + ";"):
            if current.strip():
                out.append(current.strip())
            current = ""
        else:
            current += ";"
    if current.strip(" \n\t;"):
        raise ValueError(f"an unfinished SQL statement: {current.strip()[:80]!r}")
    return out


@dataclass(frozen=True)
class Step:
    """One numbered change: its ops run in order inside the step's transaction."""

    version: int
    name: str
    ops: tuple[Op, ...]

    def sql(self) -> list[str]:
        return [s for op in self.ops if isinstance(op, str) for s in statements(op)]

    def creates(self) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """What the step leaves behind that can be looked up: {(type, name)} and {(table, added column)}."""
        objects: set[tuple[str, str]] = set()
        columns: set[tuple[str, str]] = set()
        for sql in self.sql():
            if made := _CREATES.match(sql):
                objects.add((made[1].lower(), made[2]))
            elif added := _ADDS.match(sql):
                columns.add((added[1], added[2]))
        return objects, columns

    def in_place(self, conn: sqlite3.Connection) -> bool:
        """Everything the step creates exists already (False for a step that creates nothing detectable)."""
        objects, columns = self.creates()
        if not objects and not columns:
            return False
        found = {(r[0], r[1]) for r in conn.execute("SELECT type, name FROM sqlite_master")}
        return objects <= found and all(
            column in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")} for table, column in columns)

    def run(self, conn: sqlite3.Connection) -> None:
        for op in self.ops:
            if isinstance(op, str):
                for sql in statements(op):
                    conn.execute(sql)
            else:
                op(conn)


@dataclass(frozen=True)
class StepSet:
    """The numbered steps of one owner; steps 1..``legacy`` may be adopted (see the module docstring)."""

    owner: str
    steps: tuple[Step, ...]
    legacy: int = 0

    def __post_init__(self) -> None:
        numbers = [s.version for s in self.steps]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"the {self.owner} steps are numbered {numbers}: they must be 1, 2, 3 … with no gap")
        if not 0 <= self.legacy <= len(numbers):
            raise ValueError(f"the {self.owner} steps: legacy={self.legacy} is not one of them")

    @property
    def newest(self) -> int:
        return len(self.steps)

    def adopts(self, step: Step, conn: sqlite3.Connection) -> bool:
        """``step`` is one of the legacy steps and everything it creates is already in ``conn``'s file."""
        return step.version <= self.legacy and step.in_place(conn)

    def upto(self, version: int) -> StepSet:
        """The set as a release that ended at ``version`` had it (tests build such files)."""
        return StepSet(self.owner, self.steps[:version], min(self.legacy, version))


@dataclass(frozen=True)
class Done:
    """One row of the ledger."""

    owner: str
    version: int
    name: str
    applied_at: str
    how: str


@dataclass(frozen=True)
class Plan:
    """What ``upgrade`` would do now: the steps to adopt or run, in order, and the sets the file is ahead in."""

    todo: list[tuple[StepSet, Step, str]] = field(default_factory=list)  # (set, step, "adopt" | "run")
    ahead: list[tuple[str, int, int]] = field(default_factory=list)  # (owner, version in the file, newest known)


def recorded(conn: sqlite3.Connection) -> list[Done]:
    """The ledger in the order its rows were recorded; empty for a file from before it."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (LEDGER,)).fetchone() is None:
        return []
    rows = conn.execute(f"SELECT owner, version, name, applied_at, how FROM {LEDGER} ORDER BY rowid")
    return [Done(*row) for row in rows]


def plan(conn: sqlite3.Connection, sets: Iterable[StepSet], *, complete: bool = False) -> Plan:
    """Read-only: what ``upgrade`` would do on ``conn`` now."""
    sets = tuple(sets)
    done = recorded(conn)
    newest_done: dict[str, int] = {}
    for row in done:
        newest_done[row.owner] = max(row.version, newest_done.get(row.owner, 0))
    known = {s.owner: s for s in sets}
    result = Plan()
    for owner, version in sorted(newest_done.items()):
        if owner in known and version > known[owner].newest:
            result.ahead.append((owner, version, known[owner].newest))
        elif owner not in known and complete:
            result.ahead.append((owner, version, 0))
    have = {(row.owner, row.version) for row in done}
    for step_set in sets:
        for step in step_set.steps:
            if (step_set.owner, step.version) not in have:
                result.todo.append((step_set, step, "adopt" if step_set.adopts(step, conn) else "run"))
    return result


def refuse_future(conn: sqlite3.Connection, sets: Iterable[StepSet], *, complete: bool = False) -> None:
    """Raise ``SchemaFromTheFutureError`` for a file a newer packgate wrote (read-only)."""
    _refuse(conn, plan(conn, sets, complete=complete))


def upgrade(conn: sqlite3.Connection, sets: Iterable[StepSet], clock: Clock | None = None, *,
            complete: bool = False) -> list[Done]:
    """Adopt or run every step not recorded, each in its own transaction; returns the ledger rows added now.

    ``conn`` must be outside a transaction (an autocommit connection from ``sync.common.db.connect``)."""
    sets = tuple(sets)
    todo = plan(conn, sets, complete=complete)
    _refuse(conn, todo)
    if not todo.todo:
        return []
    clock = clock or Clock()
    conn.execute(LEDGER_DDL)
    added: list[Done] = []
    for step_set, step, _ in todo.todo:
        with write_tx(conn):
            if conn.execute(f"SELECT 1 FROM {LEDGER} WHERE owner = ? AND version = ?",
                            (step_set.owner, step.version)).fetchone():
                continue  # another process did it meanwhile
            adopt = step_set.adopts(step, conn)
            if not adopt:
                step.run(conn)
            row = Done(step_set.owner, step.version, step.name, isoformat(clock.now()), "adopted" if adopt else "applied")
            conn.execute(f"INSERT INTO {LEDGER} (owner, version, name, applied_at, how) VALUES (?, ?, ?, ?, ?)",
                         (row.owner, row.version, row.name, row.applied_at, row.how))
        added.append(row)
    return added


def _refuse(conn: sqlite3.Connection, found: Plan) -> None:
    if found.ahead:
        owner, version, known = found.ahead[0]
        path = str(conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:")
        raise SchemaFromTheFutureError(path, owner, version, known)
