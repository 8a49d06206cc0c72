"""Answers kept until the database changes (the PDAs' order list), and the WAL checkpoint off the commit path."""
from __future__ import annotations

import threading

from packgate.sync.checkpoint import Checkpointer
from packgate.sync.db import BACKSTOP_PAGES, connect, write_tx
from packgate.sync.untilchanged import UntilChanged


def _db(tmp_path):
    path = tmp_path / "a.db"
    conn = connect(path)
    with write_tx(conn):
        conn.execute("CREATE TABLE t (x)")
    return path, conn


def test_an_answer_is_kept_until_any_connection_commits(tmp_path):
    path, writer = _db(tmp_path)
    kept = UntilChanged(path)
    built = []

    def build():
        built.append(writer.execute("SELECT COUNT(*) FROM t").fetchone()[0])
        return built[-1]

    assert [kept.get("n", build) for _ in range(3)] == [0, 0, 0] and len(built) == 1
    with write_tx(writer):
        writer.execute("INSERT INTO t VALUES (1)")
    assert kept.get("n", build) == 1 and kept.get("n", build) == 1 and len(built) == 2
    assert kept.hits == 3 and kept.builds == 2


def test_callers_at_the_same_version_share_one_build(tmp_path):
    path, _ = _db(tmp_path)
    kept = UntilChanged(path)
    release, started = threading.Event(), threading.Event()
    calls, answers = [], []

    def slow():
        calls.append(1)
        started.set()
        release.wait(5)
        return "page"

    first = threading.Thread(target=lambda: answers.append(kept.get("k", slow)))
    first.start()
    started.wait(5)
    waiting = [threading.Thread(target=lambda: answers.append(kept.get("k", slow))) for _ in range(8)]
    for t in waiting:
        t.start()
    release.set()
    for t in [first, *waiting]:
        t.join(5)
    assert answers == ["page"] * 9 and len(calls) == 1


def test_a_failed_build_is_not_kept_and_frees_the_next_caller(tmp_path):
    path, _ = _db(tmp_path)
    kept = UntilChanged(path)

    def fails():
        raise RuntimeError("reader broke")

    for _ in range(2):
        try:
            kept.get("k", fails)
        except RuntimeError:
            pass
    assert kept.get("k", lambda: "fine") == "fine" and kept.builds == 1


def test_only_size_answers_are_kept_and_closing_keeps_none(tmp_path):
    path, _ = _db(tmp_path)
    kept = UntilChanged(path, size=2)
    for key in ("a", "b", "c"):
        kept.get(key, lambda key=key: key)
    assert kept.get("a", lambda: "a again") == "a again"  # the oldest went first
    kept.close()
    assert kept.get("b", lambda: "b built") == "b built" and kept.get("b", lambda: "b rebuilt") == "b rebuilt"


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
