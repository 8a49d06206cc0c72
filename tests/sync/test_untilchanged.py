"""Answers kept until the database changes (the PDAs' order list)."""
from __future__ import annotations

import threading

from packgate.device.clock import FakeClock
from packgate.sync.common.db import connect, write_tx
from packgate.sync.common.untilchanged import UntilChanged


def _db(tmp_path):
    path = tmp_path / "a.db"
    conn = connect(path)
    with write_tx(conn):
        conn.execute("CREATE TABLE t (x)")
    return path, conn


class HeldBuild:
    """A caller of ``kept.get("k")`` in a thread whose build is held until ``release()``; more callers by ``ask()``."""

    def __init__(self, kept: UntilChanged, value: str):
        self.kept, self.value = kept, value
        self.calls: list[int] = []
        self.answers: list[str] = []
        self._started, self._release = threading.Event(), threading.Event()
        self._first = self.ask()
        self._started.wait(5)

    def _build(self) -> str:
        self.calls.append(1)
        self._started.set()
        self._release.wait(5)
        return self.value

    def ask(self) -> threading.Thread:
        thread = threading.Thread(target=lambda: self.answers.append(self.kept.get("k", self._build)))
        thread.start()
        return thread

    def release(self, *others: threading.Thread) -> None:
        self._release.set()
        for thread in (self._first, *others):
            thread.join(5)


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
    held = HeldBuild(UntilChanged(path), "page")
    held.release(*[held.ask() for _ in range(8)])
    assert held.answers == ["page"] * 9 and len(held.calls) == 1


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


def _insert(writer) -> None:
    with write_tx(writer):
        writer.execute("INSERT INTO t VALUES (1)")


def test_a_fresh_answer_outlives_commits_until_it_ages_or_is_renewed(tmp_path):
    path, writer = _db(tmp_path)
    clock = FakeClock()
    kept = UntilChanged(path, monotonic=clock.monotonic)

    def count():
        return writer.execute("SELECT COUNT(*) FROM t").fetchone()[0]

    assert kept.get("n", count, fresh_s=0.5) == 0
    _insert(writer)
    assert kept.get("n", count, fresh_s=0.5) == 0 and kept.get("n", count) == 1  # young enough; exact asks rebuild
    _insert(writer)
    clock.advance(0.5)
    assert kept.get("n", count, fresh_s=0.5) == 2  # too old
    _insert(writer)
    kept.renew()
    assert kept.get("n", count, fresh_s=0.5) == 3  # young, but built before a change its author must see


def test_a_slow_build_of_an_older_version_does_not_replace_a_newer_answer(tmp_path):
    path, writer = _db(tmp_path)
    held = HeldBuild(UntilChanged(path), "old")
    _insert(writer)
    assert held.kept.get("k", lambda: "new") == "new"
    held.release()
    assert held.answers == ["old"] and held.kept.get("k", lambda: "rebuilt", fresh_s=60) == "new"
