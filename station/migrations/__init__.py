"""The schema of station.db: numbered steps recorded in the file, brought up to date before anything reads it.

station.db holds two sets of steps (the runner, the ledger ``schema_migrations`` and adoption are
``sync.common.migrate``): ``sync`` (the outbox and the reference mirror, ``sync/schema.py``) and ``station``
(the station's own tables, ``station/migrations/steps.py``). ``upgrade`` is the one entry point: the agent
calls it first (``upgrade_file``), ``Station`` calls it on its connection (the demo, the tests and every tool
that builds a station), and the commands that only read the file call ``refuse_future``. Invariants:

* Each step runs once, in its own transaction with its ledger row: a failed step rolls back alone and the
  next start resumes with it.
* A file with a step or a set this packgate does not know was written by a newer packgate: it is refused
  (``DatabaseFromTheFutureError``, naming both versions) before anything is written; the agent does not start.
* A file from before the ledger (release f97c1ca and older) is adopted: each step whose tables, indexes,
  triggers and columns are all there is recorded as adopted, without running; the rest run.

Adding a step (returns, learned weights, interception …):

1. Append ``Step(<last + 1>, "what it adds", (SQL, …))`` to ``STATION`` in ``steps.py``, its DDL in a
   constant beside the others. Never edit, renumber or remove a step that shipped: its files exist.
2. Write plain DDL (``CREATE TABLE``, ``ALTER TABLE … ADD COLUMN``): the step runs exactly once, inside its
   transaction. ``IF NOT EXISTS`` belongs only to the legacy steps 1-7. Do not raise ``legacy``.
3. Data to move or compute goes in the same step as a function of the connection (an op like
   ``audit_chain.chain_all``), so the new tables and their contents commit together.
4. The module that owns the tables keeps only its queries; ``tests/station/test_migrations.py`` checks that
   a fresh file, an upgraded previous release and a file at every earlier step all reach the same schema.

A table of the sync package's goes into ``sync/schema.py``'s ``STEPS`` the same way.
"""
from __future__ import annotations

import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from packgate.device.clock import Clock
from packgate.station.errors import DatabaseFromTheFutureError
from packgate.station.migrations.steps import STATION
from packgate.sync import schema as sync_schema
from packgate.sync.common import migrate
from packgate.sync.common.db import connect
from packgate.sync.common.migrate import Done, StepSet
from packgate.sync.errors import SchemaFromTheFutureError

SETS: tuple[StepSet, ...] = (sync_schema.STEPS, STATION)  # in this order: the station's queries join the sync tables


def upgrade(conn: sqlite3.Connection, clock: Clock | None = None) -> list[Done]:
    """Adopt or run every step station.db lacks (sync first), then seal the personal data an older packgate kept in
    clear (``station.privacy.seal_at_rest``, once per file); returns the ledger rows added now."""
    from packgate.station.privacy import seal_at_rest

    try:
        done = migrate.upgrade(conn, SETS, clock, complete=True)
    except SchemaFromTheFutureError as exc:
        raise _from_the_future(exc) from exc
    seal_at_rest(conn)
    return done


def upgrade_file(path: str | Path, clock: Clock | None = None) -> list[Done]:
    """``upgrade`` on a connection of its own (the agent, before it opens anything else)."""
    conn = connect(path)
    try:
        return upgrade(conn, clock)
    finally:
        conn.close()


def refuse_future(conn: sqlite3.Connection) -> None:
    """For the commands that only read station.db: refuse a file a newer packgate wrote (nothing is written)."""
    try:
        migrate.refuse_future(conn, SETS, complete=True)
    except SchemaFromTheFutureError as exc:
        raise _from_the_future(exc) from exc


def status(conn: sqlite3.Connection) -> dict[str, Any]:
    """For site IT (read-only): the steps recorded, the ones the next start adopts or runs, the sets the file is
    ahead in, and the newest version of each set this packgate knows."""
    found = migrate.plan(conn, SETS, complete=True)
    return {"recorded": [asdict(row) for row in migrate.recorded(conn)],
            "pending": [{"owner": s.owner, "version": step.version, "name": step.name, "will": will}
                        for s, step, will in found.todo],
            "ahead": [{"owner": owner, "found": version, "known": known} for owner, version, known in found.ahead],
            "known": {s.owner: s.newest for s in SETS}}


def _from_the_future(exc: SchemaFromTheFutureError) -> DatabaseFromTheFutureError:
    return DatabaseFromTheFutureError(exc.path, exc.owner, exc.found, exc.known)


__all__ = ["SETS", "STATION", "upgrade", "upgrade_file", "refuse_future", "status"]
