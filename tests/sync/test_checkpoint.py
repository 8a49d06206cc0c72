"""The WAL checkpoint off the commit path: a thread of the agent copies the WAL back, commits do not."""
from __future__ import annotations

import threading

from packgate.sync.common.checkpoint import Checkpointer
from packgate.sync.common.db import BACKSTOP_PAGES, connect, write_tx


def test_commits_leave_the_checkpoint_to_the_checkpointer(tmp_path):
    path = tmp_path / "c.db"
    checkpointer = Checkpointer(path)
    conn = connect(path)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_PAGES
    with write_tx(conn):
        conn.execute("CREATE TABLE t (x)")
    for _ in range(40):  # ~1,200 pages of WAL: SQLite's own checkpoint would have run inside one of these commits
        with write_tx(conn):
            conn.executemany("INSERT INTO t VALUES (?)", [(b"x" * 3000,) for _ in range(30)])
    busy, pages, copied = checkpointer.run_once()
    assert busy == 0 and pages > 1000 and copied == pages
    assert checkpointer.run_once() is None  # nothing committed since: nothing to do
    with write_tx(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    assert checkpointer.run_once() is not None and checkpointer.runs == 2
    checkpointer.stop()
    other = connect(tmp_path / "plain.db")
    assert other.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000


def test_the_checkpointer_thread_runs_and_stops(tmp_path):
    path = tmp_path / "d.db"
    checkpointer = Checkpointer(path, every_s=0.02).start()
    conn = connect(path)
    with write_tx(conn):
        conn.execute("CREATE TABLE t (x)")
    for _ in range(250):
        if checkpointer.runs or threading.Event().wait(0.02):
            break
    checkpointer.stop()
    assert checkpointer.runs >= 1 and not checkpointer._thread.is_alive()


def test_a_checkpoint_a_reader_cut_short_is_tried_again_without_a_new_commit(tmp_path):
    path = tmp_path / "e.db"
    checkpointer = Checkpointer(path)
    conn = connect(path)
    with write_tx(conn):
        conn.execute("CREATE TABLE t (x)")
    reader = connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM t").fetchone()  # holds this snapshot
    with write_tx(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    _, pages, copied = checkpointer.run_once()
    assert copied < pages  # the frame the reader cannot see yet stays in the WAL
    reader.execute("COMMIT")
    _, pages, copied = checkpointer.run_once()  # no commit since, yet it runs again
    assert copied == pages and checkpointer.run_once() is None
    checkpointer.stop()
